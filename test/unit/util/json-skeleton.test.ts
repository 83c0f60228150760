/**
 * util/json-skeleton: translating from a skeleton (long strings left as bytes) gives exactly the bytes of the
 * ordinary path, for every shape of request the converters take, in both directions; placeholders that cannot be
 * put back are refused, and converters that need a string's content ask for the full parse.
 */
import { describe, expect, test } from 'bun:test';
import { FORMATS } from '../../../src/formats/index.ts';
import type { FormatId, TranslateContext } from '../../../src/formats/types.ts';
import { resolveQuirks } from '../../../src/channels/openai/presets.ts';
import { MAX_NESTING, NeedsFullParse, NestingTooDeep, RawStrings, hasPlaceholder, skeletonize, splice, valuePlaceholder } from '../../../src/util/json-skeleton.ts';
import { estimateInputTokens } from '../../../src/accounting/estimate-tokens.ts';
import { requestBody } from '../../../bench/payloads.ts';
import { scanTopLevel, stringsOf } from '../../../src/util/json.ts';

const ctx = (): TranslateContext => ({ requestedModel: 'm', upstreamModel: 'up', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });
const quirksFor = (to: FormatId) => (to === 'openai-chat' ? resolveQuirks('openai', { pdf: true }) : undefined);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The ordinary path: parse, convert, serialise. */
function full(from: FormatId, to: FormatId, body: string): string {
  const c = ctx();
  return JSON.stringify(FORMATS[to].requestFromHub(FORMATS[from].requestToHub(JSON.parse(body), c), c, quirksFor(to) as never));
}

/**
 * The skeleton path, as pipeline/handle.ts runs it; `null` where it declines (no skeleton, or a fallback).
 * `scanned`: the body's top level was scanned first (pipeline/inbound.ts does), so the skeleton takes the string
 * ends the scan noted instead of searching for them.
 */
function viaSkeleton(from: FormatId, to: FormatId, body: string, min: number, scanned = false): string | null {
  const bytes = enc.encode(body);
  if (scanned) {
    expect(scanTopLevel(bytes)).not.toBeNull();
    expect(stringsOf(bytes)).not.toBeNull();
  }
  const sk = skeletonize(bytes, FORMATS[from].verbatimText, min);
  if (!sk) return null;
  const c = ctx();
  try {
    const out = splice(JSON.stringify(FORMATS[to].requestFromHub(FORMATS[from].requestToHub(JSON.parse(sk.text), c), c, quirksFor(to) as never)), sk.spans);
    return out && dec.decode(out);
  } catch (e) {
    if (e instanceof NeedsFullParse) return null;
    throw e;
  }
}

// text with everything JSON escapes, and more than one placeholder's worth
const awkward = (tag: string) => `${tag}: "quoted" \\back\\slash\\ \n new line \t tab \u0001 ctrl é ✓ 中文 🎉 </script> ${'x'.repeat(300)} ${tag} end`;
const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452000001000000008008020000', 'hex'), Buffer.alloc(2000, 7)]).toString('base64');
const pdf = Buffer.from(`%PDF-1.4\n${'stream data '.repeat(200)}`).toString('base64');
const textDoc = Buffer.from(awkward('a text/plain document')).toString('base64');

const anthropicRequests: Record<string, unknown> = {
  'string content and system string': { model: 'm', max_tokens: 10, system: awkward('system'), messages: [{ role: 'user', content: awkward('user') }] },
  'system blocks, text blocks joined': {
    model: 'm', max_tokens: 10, system: [{ type: 'text', text: awkward('s1') }, { type: 'text', text: awkward('s2'), cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: awkward('t1') }, { type: 'text', text: awkward('t2') }] }, { role: 'assistant', content: [{ type: 'text', text: awkward('a1') }] }, { role: 'user', content: 'short' }],
  },
  'tool loop: long tool input stays in the skeleton, long results do not': {
    model: 'm', max_tokens: 10,
    tools: [{ name: 'Write', description: awkward('tool description'), input_schema: { type: 'object', properties: { content: { type: 'string', description: awkward('param description') }, file_path: { type: 'string' } }, required: ['content'] } }],
    messages: [
      { role: 'user', content: 'write it' },
      { role: 'assistant', content: [{ type: 'text', text: awkward('plan') }, { type: 'tool_use', id: 'toolu_1', name: 'Write', input: { file_path: '/tmp/a', content: awkward('file body'), text: awkward('nested text key') } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: awkward('result string') }, { type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: [{ type: 'text', text: awkward('result block') }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] }] },
    ],
  },
  'images and PDFs': {
    model: 'm', max_tokens: 10,
    messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'document', title: 'spec', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: awkward('text source') } },
      { type: 'text', text: awkward('question') },
    ] }],
  },
  'thinking in history, metadata': {
    model: 'm', max_tokens: 10, metadata: { user_id: awkward('user id') },
    messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'thinking', thinking: awkward('thought'), signature: 'sig' }, { type: 'text', text: awkward('answer') }] }, { role: 'user', content: 'again' }],
  },
};

const chatRequests: Record<string, unknown> = {
  'string content, system and developer': { model: 'm', messages: [{ role: 'system', content: awkward('system') }, { role: 'developer', content: awkward('dev') }, { role: 'user', content: awkward('user') }] },
  'content parts, image and PDF data URLs': {
    model: 'm', messages: [{ role: 'user', content: [
      { type: 'text', text: awkward('part') },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'high' } },
      { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
    ] }],
  },
  'tool calls and results, schemas with descriptions': {
    model: 'm',
    tools: [{ type: 'function', function: { name: 'Write', description: awkward('tool'), parameters: { type: 'object', properties: { content: { type: 'string', description: awkward('param') } } } } }],
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: awkward('calling'), tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Write', arguments: JSON.stringify({ content: awkward('args') }) } }] },
      { role: 'tool', tool_call_id: 'call_1', content: awkward('tool output') },
    ],
    response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object', properties: { a: { type: 'string', description: awkward('schema') } } } } },
  },
};

describe('json-skeleton: the same bytes as the ordinary path', () => {
  const cases: Array<[FormatId, FormatId, string, unknown]> = [
    ...Object.entries(anthropicRequests).map(([name, r]) => ['anthropic', 'openai-chat', name, r] as [FormatId, FormatId, string, unknown]),
    ...Object.entries(chatRequests).map(([name, r]) => ['openai-chat', 'anthropic', name, r] as [FormatId, FormatId, string, unknown]),
  ];
  for (const [from, to, name, request] of cases) {
    test(`${from} → ${to}: ${name}`, () => {
      const body = JSON.stringify(request);
      const expected = full(from, to, body);
      for (const min of [1, 64, 256]) {
        for (const scanned of [false, true]) {
          const got = viaSkeleton(from, to, body, min, scanned);
          expect(got).not.toBeNull();
          expect(got!).toBe(expected);
        }
      }
    });
  }

  for (const kind of ['conversation', 'image'] as const) {
    test(`bench payload: ${kind}, both directions`, () => {
      for (const [from, to, client] of [['anthropic', 'openai-chat', 'anthropic'], ['openai-chat', 'anthropic', 'openai']] as const) {
        const body = requestBody(client, kind, 'm', false);
        const sk = skeletonize(enc.encode(body), FORMATS[from].verbatimText)!;
        expect(sk.text.length).toBeLessThan(body.length / 4); // the point: most of the body stays bytes
        expect(viaSkeleton(from, to, body, 256)).toBe(full(from, to, body));
        expect(viaSkeleton(from, to, body, 256, true)).toBe(full(from, to, body));
      }
    });
  }
});

describe('json-skeleton: the string ends noted by the top-level scan', () => {
  test('every string of the body, in order, for the buffer scanned last only', () => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'a "quoted" \\ end' }] }], '': '', k: ['x', { y: 'z' }] });
    const bytes = enc.encode(body);
    scanTopLevel(bytes);
    const noted = stringsOf(bytes)!;
    const strings: string[] = [];
    for (let p = 0; p < noted.length; p += 2) {
      expect(bytes[noted.pairs[p]!]).toBe(34);
      expect(bytes[noted.pairs[p + 1]!]).toBe(34);
      strings.push(JSON.parse(dec.decode(bytes.subarray(noted.pairs[p]!, noted.pairs[p + 1]! + 1))));
    }
    expect(strings).toEqual(['model', 'm', 'messages', 'role', 'user', 'content', 'type', 'text', 'text', 'a "quoted" \\ end', '', '', 'k', 'x', 'y', 'z']);
    // another buffer with the same bytes, or any buffer once another was scanned: nothing noted for it
    expect(stringsOf(enc.encode(body))).toBeNull();
    scanTopLevel(enc.encode('{"a":"b"}'));
    expect(stringsOf(bytes)).toBeNull();
  });

  test('a skeleton made with the notes of a partial scan (malformed tail) is the one made without', () => {
    const good = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: awkward('u') }], system: awkward('s') });
    const bytes = enc.encode(`${good.slice(0, -1)},"tail":[}`);
    expect(scanTopLevel(bytes)).toBeNull(); // stops part-way: what it noted is still true of these bytes
    const withNotes = skeletonize(bytes, FORMATS.anthropic.verbatimText, 64);
    const without = skeletonize(enc.encode(dec.decode(bytes)), FORMATS.anthropic.verbatimText, 64);
    expect(withNotes?.text).toBe(without?.text);
  });
});

describe('json-skeleton: what it refuses', () => {
  test('a converter that reads a placeholder (a base64 text document) asks for the full parse', () => {
    const body = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'text/plain', data: textDoc } }] }] });
    expect(viaSkeleton('anthropic', 'openai-chat', body, 1)).toBeNull();
    const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.txt', file_data: `data:text/plain;base64,${textDoc}` } }] }] });
    expect(viaSkeleton('openai-chat', 'anthropic', chat, 1)).toBeNull();
  });

  test('a body whose kept text holds the placeholder marker itself gets no skeleton; inside a replaced string it is harmless', () => {
    const rules = FORMATS.anthropic.verbatimText;
    // in a string too short to be replaced, in a key, a bare escaped backslash before "u0000", a placeholder look-alike
    for (const kept of ['nul \u0000 here', '\u00000\u0001']) {
      const body = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: kept }, { type: 'text', text: 'x'.repeat(500) }] }] });
      expect(body).toContain('\\u0000');
      expect(skeletonize(enc.encode(body), rules, 256)).toBeNull();
    }
    const keyed = JSON.stringify({ model: 'm', max_tokens: 10, metadata: { 'k\u0000': 1 }, messages: [{ role: 'user', content: 'x'.repeat(500) }] });
    expect(skeletonize(enc.encode(keyed), rules, 256)).toBeNull();
    const slash = JSON.stringify({ model: 'm', max_tokens: 10, system: '\\u0000', messages: [{ role: 'user', content: 'x'.repeat(500) }] });
    expect(slash).toContain('\\\\u0000');
    expect(skeletonize(enc.encode(slash), rules, 256)).toBeNull();
    // in the long text a placeholder replaces: the same bytes as the ordinary path, the NUL escaped as it came
    const inside = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: `nul \u0000 here, and \u00000\u0001 too ${'x'.repeat(500)}` }] });
    expect(skeletonize(enc.encode(inside), rules, 256)!.spans.length).toBe(1);
    const got = viaSkeleton('anthropic', 'openai-chat', inside, 256);
    expect(got).toBe(full('anthropic', 'openai-chat', inside));
    expect(got).toContain('nul \\u0000 here, and \\u00000\\u0001 too');
  });

  test('a placeholder serialised twice (inside a JSON string) cannot be spliced', () => {
    const sk = skeletonize(enc.encode(JSON.stringify({ content: 'y'.repeat(300) })), { text: new Set(['content']), dataUrl: new Set(), opaque: new Set() })!;
    const once = JSON.parse(sk.text);
    expect(hasPlaceholder(once.content)).toBe(true);
    expect(splice(JSON.stringify({ args: JSON.stringify(once) }), sk.spans)).toBeNull();
    expect(dec.decode(splice(JSON.stringify(once), sk.spans)!)).toBe(JSON.stringify({ content: 'y'.repeat(300) }));
  });

  test('splice puts spans back by byte position, non-ASCII text around them, whole values with their quotes', () => {
    const spans = [enc.encode('first span'), enc.encode('[{"a":1}]'), enc.encode('zweite Spanne: \\"ü\\"')];
    const ph = (id: number) => `\u0000${id}\u0001`;
    const json = JSON.stringify({ a: `é ${ph(0)} 漢字 😀`, tools: valuePlaceholder(1), b: [`${ph(2)}${ph(0)}`, 'ß'] });
    const want = `{"a":"é first span 漢字 😀","tools":[{"a":1}],"b":["zweite Spanne: \\"ü\\"first span","ß"]}`;
    // twice, after a longer text: the shared scratch space holds stale bytes past the text the second time
    splice(JSON.stringify({ x: 'y'.repeat(5000) + ph(0) + 'z'.repeat(5000) }), spans);
    expect(dec.decode(splice(json, spans)!)).toBe(want);
    expect(JSON.parse(want).b[0]).toBe('zweite Spanne: "ü"first span');
    // the buffer asked for has exactly the spliced size
    let asked = -1;
    const out = splice(json, spans, (n) => { asked = n; return new Uint8Array(n); })!;
    expect(asked).toBe(enc.encode(want).length);
    expect(out.length).toBe(asked);
  });

  test('splice refuses placeholders it cannot restore: unknown id, no digits, wrong end mark, a value mark inside a string', () => {
    const spans = [enc.encode('s')];
    for (const s of ['\u00009\u0001', '\u0000\u0001', '\u00000\u0003', '\u00000x\u0001', `text ${valuePlaceholder(0)}`, '\u000012345678901\u0001']) {
      expect(splice(JSON.stringify({ v: s }), spans)).toBeNull();
    }
    // and the same text with a known id and the right mark is spliced
    expect(dec.decode(splice(JSON.stringify({ v: '\u00000\u0001' }), spans)!)).toBe('{"v":"s"}');
  });

  test('no skeleton for non-objects, unterminated strings, or nothing long', () => {
    const rules = FORMATS.anthropic.verbatimText;
    for (const b of ['[1,2]', '{"content": "abc', '{"content": "short"}', '']) expect(skeletonize(enc.encode(b), rules, 8)).toBeNull();
  });

  test('escaped quotes and backslash runs end strings where JSON says', () => {
    const value = 'a\\"b\\\\"c'.repeat(40) + '\\\\';
    const body = JSON.stringify({ content: value, after: 'ok' });
    const sk = skeletonize(enc.encode(body), { text: new Set(['content']), dataUrl: new Set(), opaque: new Set() }, 1)!;
    expect(JSON.parse(sk.text).after).toBe('ok');
    expect(dec.decode(splice(sk.text, sk.spans)!)).toBe(body);
  });
});

describe('json-skeleton: the token estimate reads placeholders', () => {
  test('within 3% of the estimate on the real strings (fast mode), images included', () => {
    for (const kind of ['conversation', 'image'] as const) {
      const body = requestBody('anthropic', kind, 'm', false);
      const sk = skeletonize(enc.encode(body), FORMATS.anthropic.verbatimText)!;
      const real = estimateInputTokens(JSON.parse(body), { fast: true });
      const fromSkeleton = estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new RawStrings(sk.spans) });
      expect(Math.abs(fromSkeleton - real) / real).toBeLessThan(0.03);
      // without the spans the conversation's placeholders would count for almost nothing
      if (kind === 'conversation') expect(estimateInputTokens(JSON.parse(sk.text), { fast: true })).toBeLessThan(real / 2);
    }
  });

  test('a window priced before gives the same figure again; other windows of the same length get their own', () => {
    // windows never seen before (a fresh nonce throughout): priced the first time, remembered the second
    const nonce = crypto.randomUUID();
    const body = JSON.stringify({ model: 'm', max_tokens: 5, messages: [1, 2, 3].map((i) => ({ role: i === 2 ? 'assistant' : 'user', content: `${nonce} ${'CamelCase words_and 123 {"json": true}\n'.repeat(20 * i)}` })) });
    const sk = skeletonize(enc.encode(body), FORMATS.anthropic.verbatimText)!;
    expect(sk.spans).toHaveLength(3);
    const first = estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new RawStrings(sk.spans) });
    expect(estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new RawStrings(sk.spans) })).toBe(first);
    expect(first).toBeGreaterThan(1000);
    // the same byte length, priced very differently: remembered by their bytes, each keeps its own figure
    const texts = ['plain words, '.repeat(90), '一二三四五六七八九十'.repeat(39), '\n\t'.repeat(292), 'x'.repeat(1170)];
    for (const text of [...texts, ...texts]) {
      const one = JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: text }] });
      const skOne = skeletonize(enc.encode(one), FORMATS.anthropic.verbatimText)!;
      expect(skOne.spans[0]!.length).toBeGreaterThan(1160);
      const viaRaw = estimateInputTokens(JSON.parse(skOne.text), { fast: true, raw: new RawStrings(skOne.spans) });
      const direct = estimateInputTokens(JSON.parse(one), { fast: true });
      expect(Math.abs(viaRaw - direct) / direct).toBeLessThan(0.1);
    }
  });

  test('a string that is one placeholder is read as its span at once; the estimate is the same either way', () => {
    const spans = [enc.encode('a'), enc.encode('b'), enc.encode('c')];
    const raw = new RawStrings(spans);
    expect(raw.whole('\u00002\u0001')).toBe(spans[2]);
    expect(raw.whole('\u00000\u0001')).toBe(spans[0]);
    for (const s of ['\u00001\u0001\n\n\u00002\u0001', 'x\u00001\u0001', '\u00001\u0001x', '\u00007\u0001', '\u0000\u0001', '\u0000-1\u0001', '1', '']) expect(raw.whole(s)).toBeUndefined();
    // the estimate of a whole conversation, through this shortcut and through `pieces` alone
    const body = requestBody('anthropic', 'conversation', 'm', false);
    const sk = skeletonize(enc.encode(body), FORMATS.anthropic.verbatimText)!;
    class PiecesOnly extends RawStrings { override whole(): undefined { return undefined; } }
    const viaWhole = estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new RawStrings(sk.spans) });
    expect(estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new PiecesOnly(sk.spans) })).toBe(viaWhole);
  });

  test('image sizes and PDF pages are read through the placeholders', () => {
    const body = JSON.stringify(anthropicRequests['images and PDFs']);
    const sk = skeletonize(enc.encode(body), FORMATS.anthropic.verbatimText)!;
    expect(sk.spans.length).toBeGreaterThanOrEqual(3);
    // text is sampled from bytes on one side and characters on the other (within 1%); an image or a PDF read wrong
    // through its placeholder would be off by hundreds or thousands of tokens
    const viaRaw = estimateInputTokens(JSON.parse(sk.text), { fast: true, raw: new RawStrings(sk.spans) });
    const direct = estimateInputTokens(JSON.parse(body), { fast: true });
    expect(Math.abs(viaRaw - direct) / direct).toBeLessThan(0.01);
  });
});

describe('nesting', () => {
  test('past MAX_NESTING levels skeletonize refuses with NestingTooDeep; at the limit it works', () => {
    const rules = { text: new Set(['content']), dataUrl: new Set<string>(), opaque: new Set<string>() };
    const nest = (n: number) => `{"content":"${'x'.repeat(300)}","deep":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(skeletonize(enc.encode(nest(MAX_NESTING - 1)), rules)).not.toBeNull();
    expect(() => skeletonize(enc.encode(nest(MAX_NESTING)), rules)).toThrow(NestingTooDeep);
  });
});
