/** quoteJson: the same bytes as JSON.stringify for every kind of string, on its fast path and off it. */
import { describe, expect, test } from 'bun:test';
import { quoteJson } from '../../src/util/quote-json.ts';

describe('quoteJson', () => {
  test('equals JSON.stringify: plain tokens, escapes, control characters, surrogates (paired and lone), U+2028, long text', () => {
    const cases = [
      '', 'lore', 'm ip', ' ', 'é ok', '日本語', 'a"b', 'back\\slash', 'line\nbreak', 'tab\t', '\u0000', '\u001f', '\u007f',
      '\u2028\u2029', '😀', 'x\ud83dy', '\udc00', '\ud83d', 'a'.repeat(64), 'a'.repeat(65), `${'a'.repeat(70)}"`,
      '</script>', 'emoji 😀 and "quotes"',
    ];
    for (const s of cases) expect(`${JSON.stringify(s)} → ${quoteJson(s)}`).toBe(`${JSON.stringify(s)} → ${JSON.stringify(s)}`);
  });

  test('every code unit alone, and next to plain text', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const s = String.fromCharCode(c);
      if (quoteJson(s) !== JSON.stringify(s) || quoteJson(`ab${s}cd`) !== JSON.stringify(`ab${s}cd`)) throw new Error(`differs at U+${c.toString(16)}`);
    }
  });
});
