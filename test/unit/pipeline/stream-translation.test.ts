/**
 * @module test/unit/pipeline/stream-translation
 * A translated stream's tokens taken from the upstream's event text as their literals (formats/types.ts:
 * HubDeltaReader, HubDeltaWriter) give the client exactly the stream the ordinary path gives, both ways (Chat
 * Completions upstream to a Messages client, Anthropic upstream to a Chat client): every recorded stream and a set
 * of written ones, whole and split at random, compared with the same translation made event by event
 * (`literals: false`), usage, stop reason and what was dropped included.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { StreamTranslation } from '../../../src/pipeline/translate.ts';
import { ChatStreamTranslator } from '../../../src/formats/openai-chat/stream-to-hub.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../src/formats/openai-chat/quirks.ts';
import type { FormatId, TranslateContext } from '../../../src/formats/types.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';

const enc = new TextEncoder();

const makeCtx = (over: Partial<TranslateContext> = {}): TranslateContext => ({
  requestedModel: 'claude-sonnet-5-5', upstreamModel: 'upstream-model', dropped: [], estimatedInputTokens: 321,
  defaultMaxTokens: 4096, thinkingStyle: 'none', ...over,
});
const quirks = (over: Partial<ChatQuirks> = {}): ChatQuirks => ({ ...DEFAULT_CHAT_QUIRKS, ...over });

// how many deltas went the literal way (the comparison alone would pass if none did)
const deltaLiteral = ChatStreamTranslator.prototype.deltaLiteral;
let literals = 0;
ChatStreamTranslator.prototype.deltaLiteral = function (this: ChatStreamTranslator, s: string, start: number, end: number, named: boolean) {
  const literal = deltaLiteral.call(this, s, start, end, named);
  if (literal !== null) literals++;
  return literal;
};
afterAll(() => { ChatStreamTranslator.prototype.deltaLiteral = deltaLiteral; });

// and the Anthropic reader's (an object per stream: its format's streamToHub wrapped)
const anthropicStreamToHub = FORMATS.anthropic.streamToHub;
FORMATS.anthropic.streamToHub = (ctx, q) => {
  const stage = anthropicStreamToHub(ctx, q);
  const read = stage.deltaLiteral!;
  return Object.assign(stage, {
    deltaLiteral(s: string, start: number, end: number, named: boolean) {
      const literal = read.call(stage, s, start, end, named);
      if (literal !== null) literals++;
      return literal;
    },
  });
};
afterAll(() => { FORMATS.anthropic.streamToHub = anthropicStreamToHub; });

/** The client's whole stream (ids normalised), its usage and stop reason, and what was dropped. */
function translate(chunks: Uint8Array[], withLiterals: boolean, q: ChatQuirks, ctxOver: Partial<TranslateContext>, client: FormatId = 'anthropic'): string {
  const ctx = makeCtx(ctxOver);
  const t = new StreamTranslation(client, client === 'anthropic' ? 'openai-chat' : 'anthropic', ctx, q, withLiterals);
  let text = '';
  for (const c of chunks) text += t.translate(c) ?? '';
  text += t.translate(null) ?? '';
  return `${text}\n${JSON.stringify(t.usage)} ${t.stopReason} ${JSON.stringify(ctx.dropped)}`.replace(/(msg|toolu)_[A-Za-z0-9]{24}/g, '$1_X').replace(/"created":\d+/g, '"created":0');
}

let seed = 99;
const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return (seed >> 8) % n; };

/** The body whole, then split at random offsets three ways: literal and ordinary translations the same. */
function expectSame(body: string, q = quirks(), ctx: Partial<TranslateContext> = {}, client: FormatId = 'anthropic'): string {
  const bytes = enc.encode(body);
  const whole = translate([bytes], false, q, ctx, client);
  expect(translate([bytes], true, q, ctx, client)).toBe(whole);
  for (const max of [3, 40, 700]) {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length;) { const n = 1 + rand(max); chunks.push(bytes.subarray(at, at + n)); at += n; }
    expect(translate(chunks, true, q, ctx, client)).toBe(whole);
  }
  return whole;
}

const STREAM_FIXTURES = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')]
  .filter((f) => /\/stream-[^/]+\.(sse|chunks\.jsonl)$/.test(f));

describe('a stream translated with token literals is the stream translated event by event', () => {
  test.each(STREAM_FIXTURES)('%s', (file) => {
    expectSame(fixtureSseBody(file));
    expectSame(fixtureSseBody(file), quirks({ think_tags: true }));
    expectSame(fixtureSseBody(file), quirks(), { omitThinking: true });
  });

  test('the recordings were read by literals (most of their text deltas)', () => {
    literals = 0;
    for (const file of STREAM_FIXTURES) translate([enc.encode(fixtureSseBody(file))], true, quirks(), {});
    expect(literals).toBeGreaterThan(200);
  });

  // OpenAI's layout: obfuscation of random length last in every chunk
  const head = '{"id":"chatcmpl-E4R","object":"chat.completion.chunk","created":1784728648,"model":"gpt-5","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":';
  const line = (delta: string, finish = 'null', usage = 'null') => `data: ${head}${delta},"finish_reason":${finish}}],"usage":${usage},"obfuscation":"${'x'.repeat(delta.length % 13)}"}\n\n`;
  const text = (t: string) => line(`{"content":${JSON.stringify(t)}}`);
  const texts = ['Hello', ' world', ' "quoted"', ' back\\slash', '\n', ' é中文', ' 😀', '', ' <think>', ' a</think>b', ' end', ' more', ' text'];
  const reasoningContent = (t: string) => line(`{"content":null,"reasoning_content":${JSON.stringify(t)}}`);
  const reasoning = (t: string) => line(`{"reasoning":${JSON.stringify(t)}}`);
  const usage = '{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}';
  const call = (index: number, id: string, name: string, args: string[]) => [
    line(`{"tool_calls":[{"index":${index},"id":"${id}","type":"function","function":{"name":"${name}","arguments":""}}]}`),
    ...args.map((a) => line(`{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(a)}}}]}`)),
  ];
  const args = ['{"', 'path', '":"', 'a.txt', '"}'];

  test.each([
    ['text, no usage (output tokens estimated from what was streamed)', [line('{"role":"assistant","content":""}'), ...texts.map(text), ...texts.map(text), line('{}', '"stop"'), 'data: [DONE]\n\n']],
    ['text with usage', [...texts.map(text), line('{}', '"length"'), line('{}', 'null', usage), 'data: [DONE]\n\n']],
    ['reasoning_content, then text', [...['Let', ' me', ' think', ' "a"', ' b'].map(reasoningContent), ...texts.map(text), 'data: [DONE]\n\n']],
    ['reasoning, then text, then reasoning again', [...['Hmm', ' so', ' ok'].map(reasoning), ...texts.slice(0, 4).map(text), ...['back', ' again'].map(reasoning), text('last'), 'data: [DONE]\n\n']],
    ['text around tool calls, one after the other and interleaved', [
      text('calling'), text(' now'), ...call(0, 'call_a', 'write', args.slice(0, 3)), text('held'), text(' while open'),
      ...call(1, 'call_b', 'read', args), ...call(0, 'call_a', 'write', args.slice(3)).slice(1), text('after'), text(' the calls'),
      line('{}', '"tool_calls"'), 'data: [DONE]\n\n',
    ]],
    ['text after the finish, then an upstream error', [text('a'), text('b'), line('{"content":"c"}', '"stop"'), text('late'), text(' later'), 'event: error\ndata: {"error":{"message":"boom"}}\n\n']],
    ['no [DONE]', [text('a'), text('b'), text('c')]],
    // a text block opened by a refusal before the think tags open: the tags' text still goes through the splitter
    ['a refusal, then think tags', [line('{"refusal":"no"}'), text('<think>'), text('deep'), text(' thought'), text('</think>'), text('answer'), text(' more'), 'data: [DONE]\n\n']],
    // arguments of a finished call arriving while a thinking block is open: dropped, never thinking
    ['arguments after their call, in a thinking block', [...call(0, 'call_a', 'f', ['{', '}']), reasoningContent('think'), reasoningContent(' more'), ...call(0, 'call_a', 'f', ['x', 'y']).slice(1), 'data: [DONE]\n\n']],
    // arguments that do not stay one JSON object (weak models): what the client gets is the same either way
    ['arguments repeated after their object ended', [...call(0, 'call_a', 'f', ['{"a":', '1}', '{"a":', '1}']), text('after'), line('{}', '"tool_calls"'), 'data: [DONE]\n\n']],
    ['arguments that are not JSON', [...call(0, 'call_a', 'f', ['city', '=', 'Paris']), ...call(1, 'call_b', 'g', ['{}']), line('{}', '"tool_calls"'), 'data: [DONE]\n\n']],
    ['arguments that stop being JSON part way', [...call(0, 'call_a', 'f', ['{"a":', ' "x', 'y", "b": ', 'oops', '}']), text('after'), line('{}', '"tool_calls"'), 'data: [DONE]\n\n']],
    // Groq names its errors: an `error` event is one whatever its data looks like
    ['an error event whose data is a text chunk', [text('a'), text('b'), `event: error\n${text('c')}`, text('d')]],
    ['CRLF line breaks (read line by line)', [text('a'), text('b'), text('c'), 'data: [DONE]\n\n'].map((l) => l.replaceAll('\n', '\r\n'))],
  ])('%s', (_name, lines) => {
    for (const [q, ctx] of [[quirks(), {}], [quirks({ think_tags: true }), {}], [quirks(), { omitThinking: true }]] as const) {
      expectSame(lines.join(''), q, ctx);
    }
  });

  test("a tool call's arguments go the literal way, escapes and all; held behind an unfinished call or past the limit, they do not", () => {
    const args = ['{"', 'path', '":"', 'src/a b.ts', '","', 'text', '', '":"', 'line 1\\nline \\"2\\"', '"}', ''];
    literals = 0;
    expectSame([text('calling'), ...call(0, 'call_a', 'write', args), ...call(1, 'call_b', 'read', args), line('{}', '"tool_calls"'), 'data: [DONE]\n\n'].join(''));
    expect(literals).toBeGreaterThanOrEqual(4 * 2 * (args.length - 4)); // all but the empty ones and the one each template is learnt from
    // a second call at the same index, not yet named: its arguments are its own, not the open call's
    expectSame([...call(0, 'call_a', 'write', ['{"a":', '1}']), line('{"tool_calls":[{"index":0,"id":"call_b","function":{"arguments":""}}]}'),
      ...['{"b":', '2', '}'].map((a) => line(`{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(a)}}}]}`)), line('{}', '"tool_calls"'), 'data: [DONE]\n\n'].join(''));
    // a call whose arguments would pass the limit: the ordinary way ends the stream with an error
    const streamToHub = FORMATS['openai-chat'].streamToHub;
    FORMATS['openai-chat'].streamToHub = (ctx, q) => new ChatStreamTranslator(ctx, q as ChatQuirks, 40);
    try {
      const out = expectSame([...call(0, 'call_a', 'write', [...args, ...args]), 'data: [DONE]\n\n'].join(''));
      expect(out).toContain('longer than 40 characters');
    } finally {
      FORMATS['openai-chat'].streamToHub = streamToHub;
    }
  });

  test('a text-only stream goes almost all the literal way, and what the client gets is what the ordinary path writes', () => {
    literals = 0;
    const body = [line('{"role":"assistant","content":""}'), ...Array.from({ length: 50 }, (_, i) => text(` word${i}`)), line('{}', '"stop"'), 'data: [DONE]\n\n'].join('');
    const out = expectSame(body);
    expect(literals).toBeGreaterThanOrEqual(4 * 48); // four literal runs of expectSame, each all but the first text (learnt from)
    expect(out).toContain('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word49"}}\n\n');
    // the output estimate counts the literal deltas' characters: 50 words of 6-7 characters
    expect(out).toContain('"output_tokens":85');
  });
});

describe('Anthropic upstream, Chat Completions client: the same', () => {
  const ANTHROPIC_STREAMS = listFixtures('anthropic').filter((f) => /\/stream-[^/]+\.(sse|chunks\.jsonl)$/.test(f));

  test.each(ANTHROPIC_STREAMS)('%s', (file) => {
    for (const streamUsage of [false, true]) expectSame(fixtureSseBody(file), quirks(), { streamUsage }, 'openai-chat');
  });

  test('the recordings were read by literals', () => {
    literals = 0;
    for (const file of ANTHROPIC_STREAMS) translate([enc.encode(fixtureSseBody(file))], true, quirks(), {}, 'openai-chat');
    expect(literals).toBeGreaterThan(20);
  });

  const ev = (e: Record<string, unknown>) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`;
  const start = ev({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });
  const blockStart = (index: number, type: string) => ev({ type: 'content_block_start', index, content_block: type === 'text' ? { type, text: '' } : type === 'thinking' ? { type, thinking: '', signature: '' } : type === 'tool_use' ? { type, id: `toolu_${index}`, name: 'search', input: {} } : { type, id: 'srvtoolu_1', name: 'web_search', input: {} } });
  const text = (index: number, t: string) => ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
  const thinking = (index: number, t: string) => ev({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: t } });
  const stop = (index: number) => ev({ type: 'content_block_stop', index });
  const json = (index: number, j: string) => ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: j } });
  const end = ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }) + ev({ type: 'message_stop' });
  const words = ['Hello', ' world', ' "quoted"', ' é中文', ' 😀', '', ' more', ' text'];

  test.each([
    ['thinking, then text', [start, blockStart(0, 'thinking'), ...words.map((w) => thinking(0, w)), stop(0), blockStart(1, 'text'), ...words.map((w) => text(1, w)), stop(1), end]],
    // deltas the Chat side writes otherwise or not at all: into a block of the other kind, an ignored block, after the end
    ['deltas into blocks of another kind', [start, blockStart(0, 'text'), text(0, 'a'), text(0, 'b'), thinking(0, 'x'), thinking(0, 'y'), stop(0), blockStart(1, 'server_tool_use'), text(1, 'c'), text(1, 'd'), blockStart(2, 'text'), text(2, 'e'), text(2, 'f'), end]],
    ['deltas after the message stopped', [start, blockStart(0, 'text'), text(0, 'a'), text(0, 'b'), end, text(0, 'late'), text(0, 'later')]],
    ['deltas after an error event', [start, blockStart(0, 'text'), text(0, 'a'), text(0, 'b'), ev({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } }), text(0, 'late'), text(0, 'later')]],
    ['deltas before any block or message_start', [text(0, 'early'), text(0, 'earlier'), start, blockStart(0, 'text'), text(0, 'a'), text(0, 'b'), end]],
    ['no event names', [start, blockStart(0, 'text'), ...words.map((w) => text(0, w)), end].map((e) => e.replace(/^event: [a-z_]+\n/, ''))],
    ['tool input in fragments, and into a block of another kind', [start, blockStart(0, 'text'), text(0, 'a'), blockStart(1, 'tool_use'), ...['{"', 'q', '":"', 'x \\"y\\"', '"}'].map((j) => json(1, j)), stop(1), json(0, 'stray'), json(0, 'strays'), blockStart(2, 'tool_use'), json(2, '{}'), json(2, ''), stop(2), end]],
  ])('%s', (_name, events) => {
    for (const streamUsage of [false, true]) expectSame(events.join(''), quirks(), { streamUsage }, 'openai-chat');
  });

  test('a text-only stream goes almost all the literal way', () => {
    literals = 0;
    const body = [start, blockStart(0, 'text'), ...Array.from({ length: 40 }, (_, i) => text(0, ` word${i}`)), stop(0), end].join('');
    const out = expectSame(body, quirks(), {}, 'openai-chat');
    expect(literals).toBeGreaterThanOrEqual(4 * 39);
    expect(out).toContain('"choices":[{"index":0,"delta":{"content":" word39"},"finish_reason":null}]}');
  });
});

describe('a client writer that declines a delta', () => {
  test('the delta goes to its push() as the hub event the literal stands for: the same stream', () => {
    // the Anthropic writer never declines; one that always does must still give the ordinary stream
    const streamFromHub = FORMATS.anthropic.streamFromHub;
    let declined = 0;
    FORMATS.anthropic.streamFromHub = (ctx) => Object.assign(streamFromHub(ctx), { deltaEvent: () => { declined++; return null; } });
    try {
      const head = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":';
      const line = (delta: string) => `data: ${head}${delta},"finish_reason":null}]}\n\n`;
      const body = [line('{"role":"assistant","content":""}'), ...['Let', ' me', ' see'].map((t) => line(`{"reasoning_content":"${t}"}`)), ...['a', ' b', ' c', ' d'].map((t) => line(`{"content":"${t}"}`)), 'data: [DONE]\n\n'].join('');
      expectSame(body);
      expect(declined).toBeGreaterThan(4 * 4);
    } finally {
      FORMATS.anthropic.streamFromHub = streamFromHub;
    }
  });
});
