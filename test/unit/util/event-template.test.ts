/**
 * @module test/unit/util/event-template
 * A text event recognised by its bytes gives exactly what JSON.parse would, or nothing: every case here is checked
 * against JSON.parse of the same event.
 */
import { describe, expect, test } from 'bun:test';
import { heapStats } from 'bun:jsc';
import { EventTemplate, MAX_TEMPLATE_CHARS, NOT_CANONICAL, NO_PREFIX } from '../../../src/util/event-template.ts';

/** OpenAI's chunk layout; `text` is placed as JSON.stringify writes it unless `raw` (a literal as sent) is given. */
function chunk(text: string, opt: { raw?: string; obfuscation?: string; finish?: string | null; id?: string } = {}): string {
  const lit = opt.raw ?? JSON.stringify(text);
  const tail = opt.obfuscation === undefined ? '' : `,"obfuscation":"${opt.obfuscation}"`;
  return `{"id":"${opt.id ?? 'chatcmpl-1'}","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":${lit}},"finish_reason":${opt.finish === undefined || opt.finish === null ? 'null' : JSON.stringify(opt.finish)}}],"usage":null${tail}}`;
}

/** The check a format gives: one choice, index 0, its delta's content is the text, no finish, no usage. */
function plainChunk(ev: unknown, text: string): number | null {
  const c = ev as { choices?: Array<{ index?: number; delta?: { content?: unknown }; finish_reason?: unknown }>; usage?: unknown };
  return Array.isArray(c.choices) && c.choices.length === 1 && c.choices[0]!.delta?.content === text && !c.choices[0]!.finish_reason && !c.usage ? 0 : null;
}

const openai = (max?: number) => new EventTemplate({ key: '"content":', plain: plainChunk, varyingKey: 'obfuscation', maxLearnt: max });

/** What the template reads must be what JSON.parse reads, whenever it reads anything. */
function agrees(t: EventTemplate, data: string): string | undefined {
  const text = t.match(data);
  if (text !== undefined) expect(text).toBe((JSON.parse(data) as { choices: Array<{ delta: { content: string } }> }).choices[0]!.delta.content);
  return text;
}

describe('EventTemplate', () => {
  test('learnt from one text chunk, it reads the next ones: plain, escaped, non-ASCII, surrogate pairs', () => {
    const t = openai();
    expect(t.match(chunk('Hello'))).toBeUndefined(); // nothing learnt yet
    t.learn(chunk('Hello'), 'Hello');
    expect(t.ready).toBe(true);
    for (const text of [' world', 'a "quoted" word', 'back\\slash', 'line\nbreak\ttab', 'é中文', '😀 emoji', '\u2028', '"', '\\', '']) {
      expect(agrees(t, chunk(text))).toBe(text);
    }
    // escapes a provider may write where JSON.stringify would not
    expect(agrees(t, chunk('A/é', { raw: '"\\u0041\\/\\u00e9"' }))).toBe('A/é');
    expect(agrees(t, chunk('😀', { raw: '"\\ud83d\\ude00"' }))).toBe('😀');
  });

  test('anything but the template with one valid string literal in place is left to JSON.parse', () => {
    const t = openai();
    t.learn(chunk('Hello'), 'Hello');
    const refused = [
      chunk('x', { finish: 'stop' }), // another member differs
      chunk('x', { id: 'chatcmpl-2' }),
      chunk('', { raw: 'null' }), chunk('', { raw: '42' }), chunk('', { raw: '["a"]' }), chunk('', { raw: '{"a":1}' }),
      chunk('', { raw: '"a"b"' }), // an unescaped quote: not one literal (JSON.parse fails on it too)
      chunk('', { raw: 'x"' }), chunk('', { raw: '"' }), chunk('', { raw: '' }),
      chunk('', { raw: '"a","content":"b"' }), // a second member slipped in
      chunk('', { raw: '"bad \\x escape"' }),
      chunk('', { raw: '"raw\u0001control"' }), chunk('', { raw: '"raw\nnewline"' }),
      chunk('', { raw: '"unterminated\\"' }),
      chunk('', { raw: '""' }).replace('"usage":null', '"usage":{"total_tokens":3}'),
      chunk('x') + ' ', chunk('x').slice(0, -1), `${chunk('x')}}`,
    ];
    for (const data of refused) expect(t.match(data)).toBeUndefined();
  });

  test("a varying member after the text (OpenAI's obfuscation) is skipped, whatever its length, when it needs no unescaping", () => {
    const t = openai();
    t.learn(chunk('Hello', { obfuscation: 'abc' }), 'Hello');
    expect(agrees(t, chunk(' there', { obfuscation: '' }))).toBe(' there');
    expect(agrees(t, chunk('"x", "obfuscation":"', { obfuscation: 'Zq8-long-random_padding' }))).toBe('"x", "obfuscation":"');
    expect(t.match(chunk('x', { obfuscation: 'a\\"b' }))).toBeUndefined();
    expect(t.match(chunk('x'))).toBeUndefined(); // the member missing: another shape
    expect(t.match(`${chunk('x', { obfuscation: 'abc' }).slice(0, -1)}]`)).toBeUndefined(); // another end, same length
    expect(t.match(chunk('x', { obfuscation: 'ab\u0001c' }))).toBeUndefined(); // a raw control character
    // in the middle of the chunk (Azure sorts its keys)
    const azure = (text: string, o: string) => `{"choices":[{"delta":{"content":${JSON.stringify(text)}},"finish_reason":null,"index":0}],"created":1,"obfuscation":"${o}","object":"chat.completion.chunk","usage":null}`;
    const a = openai();
    a.learn(azure('Cap', 'NNpA6'), 'Cap');
    expect(agrees(a, azure('ital', 'x'))).toBe('ital');
    expect(agrees(a, azure('of', ''))).toBe('of');
    expect(a.match(azure('of', 'x').replace('"created":1', '"created":2'))).toBeUndefined();
  });

  test('not learnt when the check fails on the probe: a duplicate key, a text the format would not read alone', () => {
    // JSON.parse keeps the last of two keys: the template must not read the first
    const dup = '{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}';
    const t = openai();
    t.learn(dup, 'a');
    expect(t.ready).toBe(false);
    t.learn(dup, 'b');
    expect(t.ready).toBe(true);
    expect(agrees(t, dup.replace('"b"', '"c"'))).toBe('c');
    // the text found in the wrong place (inside another member) is not taken
    const elsewhere = '{"choices":[{"index":0,"delta":{"content":"hi"},"logprobs":{"content":"hi"},"finish_reason":null}]}';
    const w = openai();
    w.learn(elsewhere, 'hi');
    expect(w.ready).toBe(false);
    // a chunk that finishes: the format's check refuses it, so nothing is learnt from it
    const f = openai();
    f.learn(chunk('bye', { finish: 'stop' }), 'bye');
    expect(f.ready).toBe(false);
    // written with escapes JSON.stringify would not use: not found, not learnt
    const e = openai();
    e.learn(chunk('A', { raw: '"\\u0041"' }), 'A');
    expect(e.ready).toBe(false);
  });

  test('nothing is learnt from an event longer than MAX_TEMPLATE_CHARS (a hostile upstream cannot make it hold one)', () => {
    const t = openai();
    const big = chunk('x', { id: 'c'.repeat(MAX_TEMPLATE_CHARS) });
    t.learn(big, 'x');
    expect(t.ready).toBe(false);
    const fits = chunk('x', { id: 'c'.repeat(MAX_TEMPLATE_CHARS - 300) });
    expect(fits.length).toBeLessThanOrEqual(MAX_TEMPLATE_CHARS);
    t.learn(fits, 'x');
    expect(t.ready).toBe(true);
  });

  test('learns at most maxLearnt times a stream, and a new lesson replaces the old template', () => {
    const t = openai(2);
    t.learn(chunk('a', { id: 'one' }), 'a');
    expect(t.match(chunk('b', { id: 'one' }))).toBe('b');
    t.learn(chunk('a', { id: 'two' }), 'a');
    expect(t.match(chunk('b', { id: 'one' }))).toBeUndefined();
    expect(t.match(chunk('b', { id: 'two' }))).toBe('b');
    expect(t.learning).toBe(false);
    t.learn(chunk('a', { id: 'three' }), 'a');
    expect(t.match(chunk('b', { id: 'three' }))).toBeUndefined();
    expect(t.match(chunk('b', { id: 'two' }))).toBe('b');
  });

  test('random texts and paddings: the template and JSON.parse always agree', () => {
    const t = openai();
    t.learn(chunk('seed', { obfuscation: 'x' }), 'seed');
    const alphabet = ['a', ' ', '"', '\\', '\n', '\u0000', '\u001f', 'é', '😀', '\ud800', '/', '\u2028', '}', ']', ',', ':'];
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      let text = '';
      // mostly a token's few characters, sometimes a long run (a fast upstream's chunk) with the odd character in it
      for (let k = i % 5 === 0 ? rand(200) : rand(12); k > 0; k--) text += alphabet[rand(i % 5 === 0 ? 2 : alphabet.length)] ?? '';
      if (i % 10 === 0) text += alphabet[rand(alphabet.length)];
      const data = chunk(text, { obfuscation: 'p'.repeat(rand(20)) });
      if (agrees(t, data) !== undefined) read++;
    }
    expect(read).toBe(2000); // every one was a plain text chunk written as JSON.stringify writes it
  });
});

describe('EventTemplate.literalAt: a literal taken as it is, when JSON.stringify would write it so', () => {
  /**
   * `data` placed inside a larger text (as SseParser hands it: the read's text with the event's bounds), read in
   * place; whatever it takes must be exactly JSON.stringify of what match() reads, and what it says begins
   * otherwise must be refused by match() too.
   */
  function literalOf(t: EventTemplate, data: string): string | null {
    const s = `data: ${data}\n\ndata: {"more":"events"}\n\n`;
    const close = t.literalAt(s, 6, 6 + data.length);
    const text = t.match(data);
    if (close === NO_PREFIX) { expect(text).toBeUndefined(); return null; }
    if (close === NOT_CANONICAL) return null;
    const literal = s.slice(6 + t.literalOffset, close + 1);
    expect(text).toBeDefined();
    expect(literal).toBe(JSON.stringify(text));
    expect(t.literalChars).toBe(text!.length);
    return literal;
  }

  test('taken: plain text, the escapes JSON.stringify writes, surrogate pairs; any other spelling is left to match()', () => {
    const t = openai();
    t.learn(chunk('Hello', { obfuscation: 'abc' }), 'Hello');
    for (const text of [' world', 'é中文', '\u2028', 'x'.repeat(500), '/', '}]', ',content:', 'a "quoted" word', 'back\\slash', 'line\nbreak\ttab\r',
      '\b\f', '\u0000\u0001\u001f\u007f', '😀 emoji', '"', '\\', '\n']) {
      expect(literalOf(t, chunk(text, { obfuscation: 'pad' }))).toBe(JSON.stringify(text));
    }
    // other spellings of a text: an escape JSON.stringify does not write, upper-case hex, an escaped pair or surrogate
    for (const [raw, text] of [['"\\u0041"', 'A'], ['"\\/"', '/'], ['"\\u001F"', '\u001f'], ['"\\u000a"', '\n'], ['"\\ud83d\\ude00"', '😀'], ['"\\ud800"', '\ud800']] as const) {
      const data = chunk('', { raw, obfuscation: 'p' });
      expect(t.literalAt(data, 0, data.length)).toBe(NOT_CANONICAL);
      expect(t.match(data)).toBe(text);
    }
    // a raw lone surrogate (a string not decoded from UTF-8): JSON.stringify would escape it
    const lone = chunk('', { raw: '"a\ud800b"', obfuscation: 'p' });
    expect(t.literalAt(lone, 0, lone.length)).toBe(NOT_CANONICAL);
    expect(JSON.stringify(t.match(lone))).not.toBe('"a\ud800b"');
    // not JSON at all: a bad escape, a raw control character, an escape cut short
    for (const raw of ['"a\\x"', '"a\u0001"', '"a\\u00"', '"a\\u00g1"', '"a\\']) {
      const data = chunk('', { raw, obfuscation: 'p' });
      expect(t.literalAt(data, 0, data.length)).toBe(NOT_CANONICAL);
    }
    // the empty text is a literal too: the caller decides what it means
    expect(literalOf(t, chunk('', { obfuscation: 'p' }))).toBe('""');
  });

  test('read within its bounds only: the event must end where the template ends', () => {
    const t = openai();
    t.learn(chunk('Hello'), 'Hello');
    const data = chunk('abc');
    const s = `${data}${data}`;
    expect(t.literalAt(s, 0, data.length)).toBeGreaterThan(0);
    expect(t.literalAt(s, 0, data.length - 1)).toBe(NOT_CANONICAL);
    expect(t.literalAt(s, 0, data.length + 1)).toBe(NOT_CANONICAL);
    expect(t.literalAt(s, data.length, s.length)).toBeGreaterThan(data.length);
    expect(t.literalAt(s, 1, data.length)).toBe(NO_PREFIX);
    expect(openai().literalAt(s, 0, data.length)).toBe(NO_PREFIX); // nothing learnt
    // bounds inside the literal, and with a varying member: one character more or less than the event
    expect(t.literalAt(s, 0, data.indexOf('abc') + 1)).toBe(NOT_CANONICAL);
    const v = openai();
    v.learn(chunk('Hello', { obfuscation: 'pad' }), 'Hello');
    const padded = chunk('abc', { obfuscation: 'xy' });
    const more = `${padded}}${padded}`;
    expect(v.literalAt(more, 0, padded.length)).toBeGreaterThan(0);
    expect(v.literalAt(more, 0, padded.length + 1)).toBe(NOT_CANONICAL);
    expect(v.literalAt(more, 0, padded.length - 1)).toBe(NOT_CANONICAL);
  });

  test('random texts, paddings and edits: taken only as JSON.stringify of what match() reads, refused when match() refuses', () => {
    const t = openai();
    t.learn(chunk('seed', { obfuscation: 'x' }), 'seed');
    const alphabet = ['a', ' ', '"', '\\', '\n', '\u0000', 'é', '😀', '\ud800', '/', '}', ']', ',', ':'];
    let seed = 11;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      let text = '';
      for (let k = rand(12); k > 0; k--) text += alphabet[rand(i % 3 === 0 ? alphabet.length : 2)] ?? '';
      let data = chunk(text, { obfuscation: 'p'.repeat(rand(20)) });
      // one character in three events changed, dropped or added somewhere
      if (i % 3 === 1) {
        const at = rand(data.length);
        const c = alphabet[rand(alphabet.length)]!;
        data = rand(2) ? data.slice(0, at) + c + data.slice(at + 1) : data.slice(0, at) + c + data.slice(at);
      }
      if (literalOf(t, data) !== null) taken++;
    }
    expect(taken).toBeGreaterThan(1000);
  });
});

describe('EventTemplate memory', () => {
  test('a template keeps no slice of the text it was learnt from (a slice would keep the whole read alive)', () => {
    const held: EventTemplate[] = [];
    const measure = () => { Bun.gc(true); return heapStats().heapSize; };
    const before = measure();
    for (let i = 0; i < 100; i++) {
      // a read of ~200 KB whose first event is learnt from, as SseParser hands events out: slices of the read
      const read = `data: ${chunk(`t${i}`)}\n\n${'x'.repeat(200_000)}${i}`;
      const data = read.slice(6, read.indexOf('\n\n'));
      const t = openai();
      t.learn(data, `t${i}`);
      expect(t.ready).toBe(true);
      held.push(t);
    }
    // 100 reads of 200 KB would be ~20 MB if the templates held them
    expect(measure() - before).toBeLessThan(5 * 1024 * 1024);
    expect(held.every((t) => t.match(chunk('again')) === 'again')).toBe(true);
  });
});
