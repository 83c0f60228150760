import { describe, expect, test } from 'bun:test';
import { JsonPrefix } from '../../../src/util/json-prefix.ts';

/** `s` pushed in pieces of at most `max` characters: what was taken, what is to be sent of it, and the checker. */
function feed(s: string, max = s.length || 1): { taken: string; sent: string; p: JsonPrefix } {
  const p = new JsonPrefix();
  let taken = '';
  let sent = '';
  for (let at = 0; at < s.length; at += max) {
    const piece = s.slice(at, at + max);
    taken += piece.slice(0, p.push(piece));
    sent += p.lastTaken;
  }
  return { taken, sent, p };
}

let seed = 7;
const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return (seed >> 8) % n; };

/** A random JSON value, nested up to `depth`, with the awkward parts of the grammar (escapes, exponents, empties). */
function randomValue(depth: number): unknown {
  const k = rand(depth > 0 ? 9 : 6);
  switch (k) {
    case 0: return ['', 'a', 'say "hi"', 'back\\slash', 'tab\tnew\nline', 'é中😀', '\u0001', '/'][rand(8)];
    case 1: return [0, -0, 7, -12, 3.25, 1e21, -2.5e-7, 123456789][rand(8)];
    case 2: return [true, false][rand(2)];
    case 3: return null;
    case 4: return rand(1000) / 7;
    case 5: return 'x'.repeat(rand(5));
    case 6: case 7: return Object.fromEntries(Array.from({ length: rand(4) }, (_, i) => [`k${i}${['', '"', '\\', 'é'][rand(4)]}`, randomValue(depth - 1)]));
    default: return Array.from({ length: rand(4) }, () => randomValue(depth - 1));
  }
}
const randomObject = () => JSON.stringify(Object.fromEntries(Array.from({ length: 1 + rand(4) }, (_, i) => [`f${i}`, randomValue(3)])), null, rand(2) ? 1 : undefined);

describe('JsonPrefix', () => {
  test('a JSON object, whole or in pieces of any size, is taken whole and complete; whatever follows it is not taken', () => {
    for (let n = 0; n < 300; n++) {
      const obj = randomObject();
      for (const max of [1, 2, 7, 1000]) {
        const { taken, p } = feed(`  ${obj} {"again":1}`, max);
        expect(taken).toBe(`  ${obj}`);
        expect(p.complete).toBe(true);
        expect(p.broken).toBe(false);
        expect(p.closing()).toBe('');
      }
    }
  });

  test('every prefix of an object is taken whole, and with closing() it is one object', () => {
    for (let n = 0; n < 200; n++) {
      const obj = randomObject();
      for (let cut = 0; cut <= obj.length; cut++) {
        const { taken, p } = feed(obj.slice(0, cut), 3);
        expect(taken).toBe(obj.slice(0, cut));
        expect(p.broken).toBe(false);
        const v = JSON.parse(taken + p.closing());
        expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
      }
    }
  });

  test('an object with one character changed: what is taken is valid, and with closing() one object; taking stops for good', () => {
    const alphabet = '{}[]",:\\ -+.0123456789eEtrufalsn\u0000\u001fxé';
    for (let n = 0; n < 2000; n++) {
      const obj = randomObject();
      const at = rand(obj.length);
      const bad = obj.slice(0, at) + alphabet[rand(alphabet.length)] + obj.slice(at + 1);
      const { taken, sent, p } = feed(bad, 1 + rand(9));
      expect(bad.startsWith(taken)).toBe(true);
      const v = JSON.parse(sent + p.closing());
      expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
      if (p.broken) expect(p.push('}')).toBe(0);
      // a valid whole: taken whole
      let valid = true;
      try { JSON.parse(bad); } catch { valid = false; }
      if (valid && bad.trimStart().startsWith('{')) expect(taken).toBe(bad.trimEnd());
    }
  });

  test.each([
    ['city=Paris', '', true, '{}'],
    ['[1,2]', '', true, '{}'],
    ['"a string"', '', true, '{}'],
    ['null', '', true, '{}'],
    ['{"city": Paris}', '{"city": ', true, 'null}'],
    ['{"a":01}', '{"a":0', true, '}'],
    ['{"a":"x\\q"}', '{"a":"x\\', true, '\\"}'],
    ['{"a":"\\u00zz"}', '{"a":"\\u00', true, '00"}'],
    ['{"a":tru', '{"a":tru', false, 'e}'],
    ['{"a":-', '{"a":-', false, '0}'],
    ['{"a":1.', '{"a":1.', false, '0}'],
    ['{"a":1e+', '{"a":1e+', false, '0}'],
    ['{"a"', '{"a"', false, ':null}'],
    ['{"a', '{"a', false, '":null}'],
    ['{"a":1,', '{"a":1,', false, '"":null}'],
    ['{"a":[1,', '{"a":[1,', false, 'null]}'],
    ['{"a":[1]]', '{"a":[1]', true, '}'],
    ['{"a":"line\nbreak"}', '{"a":"line\nbreak"}', false, ''], // a raw line break in a string: taken, sent escaped (below)
    ['{"a":1,}', '{"a":1,', true, '"":null}'],
  ])('%j: takes %j, broken %p, closed by %j', (input, taken, broken, closing) => {
    const r = feed(input);
    expect(r.taken).toBe(taken);
    expect(r.p.broken).toBe(broken);
    expect(r.p.closing()).toBe(closing);
    expect(JSON.parse(r.sent + r.p.closing())).toBeInstanceOf(Object);
  });

  test('raw control characters inside strings (models write line breaks there) are taken and sent escaped; elsewhere they end it', () => {
    const raw = '{"content":"import os\nos.remove(x)\r\n\tdone\u0001","n":1}';
    for (const max of [1, 3, 1000]) {
      const { taken, sent, p } = feed(raw, max);
      expect([taken, p.complete, p.broken]).toEqual([raw, true, false]);
      expect(JSON.parse(sent)).toEqual({ content: 'import os\nos.remove(x)\r\n\tdone\u0001', n: 1 });
    }
    expect(feed('{"a":\n1}').p.complete).toBe(true); // whitespace between tokens is whitespace
    expect(feed('{"a":1\u0001}').p.broken).toBe(true);
  });
});
