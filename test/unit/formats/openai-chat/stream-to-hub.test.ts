/**
 * @module test/unit/formats/openai-chat/stream-to-hub
 * Chat Completions SSE → Anthropic events: every recorded OpenAI-style stream replayed through
 * bytes → sseDecoder() → chatChunksToHubEvents, checked for a valid Anthropic sequence, fed to the official
 * Anthropic SDK's accumulator, and compared with what the recording says; every byte split; then one
 * table-driven case per stream rule.
 */
import { describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { SseParser, sseDecoder } from '../../../../src/sse/decode.ts';
import { encodeSse } from '../../../../src/sse/encode.ts';
import type { SseEvent } from '../../../../src/sse/types.ts';
import type { RawMessageStreamEvent, Usage } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { ChatStreamTranslator, MAX_TOOL_ARGS, chatChunksToHubEvents } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { usageToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { chatFinishToStopReason } from '../../../../src/formats/openai-chat/stop-reason.ts';
import { fixtureSseBody, listFixtures } from '../../../helpers/fixtures.ts';

const enc = new TextEncoder();

function makeCtx(over: Partial<TranslateContext> = {}): TranslateContext {
  return {
    requestedModel: 'claude-sonnet-5-5', upstreamModel: 'upstream-model', dropped: [], estimatedInputTokens: 1234,
    defaultMaxTokens: 4096, thinkingStyle: 'none', ...over,
  };
}
const quirks = (over: Partial<ChatQuirks> = {}): ChatQuirks => ({ ...DEFAULT_CHAT_QUIRKS, ...over });

/** Synchronous pipeline (SseParser + translator), for the many-splits tests. */
function translateChunks(chunks: Array<Uint8Array | string>, q = quirks(), ctx = makeCtx(), templates = true): RawMessageStreamEvent[] {
  const parser = new SseParser();
  const t = new ChatStreamTranslator(ctx, q, MAX_TOOL_ARGS, templates);
  const out: RawMessageStreamEvent[] = [];
  for (const c of chunks) for (const ev of parser.push(c)) out.push(...t.event(ev));
  for (const ev of parser.end()) out.push(...t.event(ev));
  out.push(...t.end());
  return out;
}

/** The real stream pipeline: bytes → sseDecoder() → chatChunksToHubEvents(). */
async function translateStream(chunks: Uint8Array[], q = quirks(), ctx = makeCtx()): Promise<RawMessageStreamEvent[]> {
  const source = new ReadableStream<Uint8Array>({
    start(c) { for (const chunk of chunks) c.enqueue(chunk); c.close(); },
  });
  const out: RawMessageStreamEvent[] = [];
  for await (const ev of source.pipeThrough(sseDecoder()).pipeThrough(chatChunksToHubEvents(ctx, q))) out.push(ev);
  return out;
}

/** Random ids (msg_…, generated toolu_…) differ per run; everything else must be identical. */
function normalizeIds(events: RawMessageStreamEvent[]): string {
  return JSON.stringify(events).replace(/"(msg|toolu)_[A-Za-z0-9]{24}"/g, '"$1_X"');
}

/** Asserts a complete, valid Anthropic event sequence (or a valid prefix ended by one `error` event). */
function assertValidSequence(events: RawMessageStreamEvent[]): void {
  expect(events.length).toBeGreaterThan(0);
  const errored = events.at(-1)!.type === 'error';
  const body = errored ? events.slice(0, -1) : events;
  let next = 0;
  let open: { index: number; type: string; signed: boolean } | null = null;
  let deltaSeen = false;
  body.forEach((ev, i) => {
    const where = `event ${i} (${ev.type})`;
    if (i === 0) expect(ev.type, where).toBe('message_start');
    switch (ev.type) {
      case 'message_start':
        expect(i, `${where}: message_start only first`).toBe(0);
        expect(ev.message.content).toEqual([]);
        expect(ev.message.usage.input_tokens + ev.message.usage.output_tokens, `${where}: usage never all zeros`).toBeGreaterThan(0);
        break;
      case 'content_block_start':
        expect(open, `${where}: a block is already open`).toBeNull();
        expect(ev.index, `${where}: indexes increase by one`).toBe(next++);
        open = { index: ev.index, type: ev.content_block.type, signed: false };
        if (ev.content_block.type === 'thinking') expect(ev.content_block).toHaveProperty('signature');
        break;
      case 'content_block_delta': {
        expect(open, `${where}: delta outside a block`).not.toBeNull();
        expect(ev.index).toBe(open!.index);
        const allowed: Record<string, string[]> = {
          text: ['text_delta', 'citations_delta'], thinking: ['thinking_delta', 'signature_delta'], tool_use: ['input_json_delta'],
        };
        expect(allowed[open!.type], `${where}: ${ev.delta.type} in a ${open!.type} block`).toContain(ev.delta.type);
        if (ev.delta.type === 'text_delta') expect(ev.delta.text, `${where}: empty delta`).not.toBe('');
        if (ev.delta.type === 'thinking_delta') expect(ev.delta.thinking).not.toBe('');
        if (ev.delta.type === 'input_json_delta') expect(ev.delta.partial_json).not.toBe('');
        if (ev.delta.type === 'signature_delta') open!.signed = true;
        else expect(open!.signed, `${where}: content after the signature`).toBe(false);
        break;
      }
      case 'content_block_stop':
        expect(open, `${where}: stop without start`).not.toBeNull();
        expect(ev.index).toBe(open!.index);
        if (open!.type === 'thinking') expect(open!.signed, `${where}: thinking block closed without signature_delta`).toBe(true);
        open = null;
        break;
      case 'message_delta':
        expect(open, `${where}: message_delta with a block open`).toBeNull();
        expect(deltaSeen).toBe(false);
        deltaSeen = true;
        expect(ev.delta.stop_reason).not.toBeNull();
        expect(body[i + 1]?.type, `${where}: message_stop must follow`).toBe('message_stop');
        break;
      case 'message_stop':
        expect(i, `${where}: message_stop last`).toBe(body.length - 1);
        expect(errored).toBe(false);
        break;
      case 'ping': break;
      case 'error': throw new Error(`${where}: error event before the end`);
      default: { const never: never = ev; throw new Error(`unknown event ${JSON.stringify(never)}`); }
    }
  });
  if (!errored) expect(body.at(-1)?.type).toBe('message_stop');
}

/** Encodes hub events as Anthropic SSE and lets the official SDK accumulate them. */
async function sdkFinalMessage(events: RawMessageStreamEvent[]) {
  const bytes = events.map((e) => encodeSse({ event: e.type, data: JSON.stringify(e) }));
  const body = new ReadableStream<Uint8Array>({ start(c) { for (const b of bytes) c.enqueue(b); c.close(); } });
  const client = new Anthropic({
    apiKey: 'test-key', baseURL: 'http://sdk.invalid', maxRetries: 0,
    fetch: (async () => new Response(body, { headers: { 'content-type': 'text/event-stream' } })) as never,
  });
  return client.messages.stream({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
}

/** What a recording says, read naively and independently of the translator. */
function recordingFacts(body: string) {
  const p = new SseParser();
  const facts = {
    text: '', thinking: '', refused: false, error: false, finish: null as string | null, usage: null as Record<string, unknown> | null,
    tools: [] as Array<{ key: string; id: string; name: string; args: string }>,
  };
  for (const ev of [...p.push(body), ...p.end()]) {
    if (facts.error) break;
    if (ev.event === 'error') { facts.error = true; break; }
    if (ev.data.trim() === '[DONE]' || !ev.data.trim()) continue;
    const c = JSON.parse(ev.data);
    if (c.error) { facts.error = true; break; }
    if (c.usage) facts.usage = c.usage;
    else if (c.x_groq?.usage) facts.usage = c.x_groq.usage;
    for (const ch of c.choices ?? []) {
      if ((ch.index ?? 0) !== 0) continue;
      const d = ch.delta ?? {};
      const details = (d.reasoning_details ?? []).filter((x: { type: string }) => x.type === 'reasoning.text').map((x: { text?: string }) => x.text ?? '').join('');
      facts.thinking += d.reasoning_content || d.reasoning || details;
      if (typeof d.content === 'string') facts.text += d.content;
      else for (const part of d.content ?? []) {
        if (part.type === 'text') facts.text += part.text;
        if (part.type === 'thinking') facts.thinking += part.thinking.map((t: { text: string }) => t.text).join('');
      }
      if (d.refusal) { facts.text += d.refusal; facts.refused = true; }
      for (const tc of d.tool_calls ?? []) {
        const key = tc.index !== undefined ? `i${tc.index}` : tc.id ? `id${tc.id}` : facts.tools.at(-1)!.key;
        let t = facts.tools.find((x) => x.key === key);
        if (!t) facts.tools.push(t = { key, id: '', name: '', args: '' });
        if (tc.id && !t.id) t.id = tc.id;
        if (tc.function?.name) t.name ||= tc.function.name;
        t.args += tc.function?.arguments ?? '';
      }
      if (ch.finish_reason) facts.finish = ch.finish_reason;
    }
  }
  return facts;
}

const STREAM_FIXTURES = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')]
  .filter((f) => /\/stream-[^/]+\.(sse|chunks\.jsonl)$/.test(f));

describe('recorded streams', () => {
  test('there are recordings to replay', () => {
    expect(STREAM_FIXTURES.length).toBeGreaterThanOrEqual(30);
  });

  test.each(STREAM_FIXTURES)('%s', async (file) => {
    const body = fixtureSseBody(file);
    const ctx = makeCtx();
    const events = await translateStream([enc.encode(body)], quirks(), ctx);
    assertValidSequence(events);
    const facts = recordingFacts(body);

    if (facts.error) {
      expect(events.at(-1)!.type).toBe('error');
      expect(events.some((e) => e.type === 'message_stop')).toBe(false);
      await expect(sdkFinalMessage(events)).rejects.toThrow();
      return;
    }
    const msg = await sdkFinalMessage(events);
    const texts = msg.content.flatMap((b) => (b.type === 'text' ? [b.text] : []));
    const thinking = msg.content.flatMap((b) => (b.type === 'thinking' ? [b.thinking] : []));
    expect(texts.join('')).toBe(facts.text);
    expect(thinking.join('')).toBe(facts.thinking);
    expect(msg.model).toBe(ctx.requestedModel);

    const tools = msg.content.flatMap((b) => (b.type === 'tool_use' ? [b] : []));
    expect(tools.map((t) => t.name)).toEqual(facts.tools.map((t) => t.name));
    tools.forEach((t, i) => {
      const f = facts.tools[i]!;
      if (f.id) expect(t.id).toBe(f.id);
      else expect(t.id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
      expect(t.input).toEqual(f.args.trim() ? JSON.parse(f.args) : {});
    });

    let stop = chatFinishToStopReason(facts.finish);
    if (facts.tools.length > 0 && stop === 'end_turn') stop = 'tool_use';
    if (facts.refused && stop === 'end_turn') stop = 'refusal'; // the model declined, in so many words
    expect(msg.stop_reason).toBe(stop);

    if (facts.usage) {
      const u: Usage = usageToHub(facts.usage);
      expect(msg.usage.input_tokens).toBe(u.input_tokens);
      expect(msg.usage.output_tokens).toBe(u.output_tokens);
      expect(msg.usage.cache_read_input_tokens ?? 0).toBe(u.cache_read_input_tokens ?? 0);
    } else {
      expect(msg.usage.input_tokens).toBe(ctx.estimatedInputTokens);
      expect(msg.usage.output_tokens).toBeGreaterThan(0); // estimated from the streamed characters
    }
  });
});

describe('every byte split', () => {
  /**
   * The stream to split at every byte: the whole recording when small; for a large one, three windows of
   * whole SSE events (its start, middle and end), each replayed as a stream of its own.
   */
  function splitWindows(body: string): string[] {
    if (body.length <= 8000) return [body];
    const blocks = body.split(/(?<=\n\n)/);
    const windowAt = (from: number) => {
      let w = '';
      for (let i = from; i < blocks.length && w.length < 2500; i++) w += blocks[i];
      return w;
    };
    let tailFrom = blocks.length;
    for (let len = 0; tailFrom > 0 && len < 2500;) len += blocks[--tailFrom]!.length;
    return [windowAt(0), windowAt(Math.floor(blocks.length / 2)), windowAt(tailFrom)];
  }

  test.each(STREAM_FIXTURES)('%s', (file) => {
    for (const window of splitWindows(fixtureSseBody(file))) {
      const bytes = enc.encode(window);
      const whole = normalizeIds(translateChunks([bytes]));
      for (let i = 1; i < bytes.length; i++) {
        const split = normalizeIds(translateChunks([bytes.subarray(0, i), bytes.subarray(i)]));
        if (split !== whole) throw new Error(`${file}: different events when split at byte ${i}`);
      }
    }
  });

  test.each(STREAM_FIXTURES)('%s, one byte per chunk through the stream pipeline', async (file) => {
    const bytes = enc.encode(fixtureSseBody(file));
    const whole = normalizeIds(await translateStream([bytes]));
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    expect(normalizeIds(await translateStream(chunks))).toBe(whole);
  });
});

describe('text chunks read by their bytes (util/event-template.ts)', () => {
  /** Translates `body` with and without templates, counting JSON.parse calls on each side. */
  function both(body: string, q = quirks()) {
    const real = JSON.parse;
    let parses = 0;
    JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => { parses++; return real(text, reviver); }) as typeof JSON.parse;
    try {
      // the events, and what the client is told was dropped
      const run = (templates: boolean) => { const ctx = makeCtx(); return normalizeIds(translateChunks([body], q, ctx, templates)) + JSON.stringify(ctx.dropped).replace(/toolu_[A-Za-z0-9]{24}/g, 'toolu_X'); };
      const fast = run(true);
      const fastParses = parses;
      parses = 0;
      const slow = run(false);
      return { fast, slow, fastParses, slowParses: parses };
    } finally {
      JSON.parse = real;
    }
  }

  test.each(STREAM_FIXTURES)('%s: the same events as parsing every chunk', (file) => {
    const r = both(fixtureSseBody(file));
    expect(r.fast).toBe(r.slow);
    expect(r.fastParses).toBeLessThanOrEqual(r.slowParses + 4); // a probe per template learnt, at most 4
  });

  // OpenAI's own layout (stream-gpt5-service-tier.sse): obfuscation of random length last in every chunk
  const head = '{"id":"chatcmpl-E4R","object":"chat.completion.chunk","created":1784728648,"model":"gpt-5","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":';
  const line = (delta: string, finish = 'null', usage = 'null') => `data: ${head}${delta},"finish_reason":${finish}}],"usage":${usage},"obfuscation":"${'x'.repeat(delta.length % 13)}"}\n\n`;
  const texts = ['Hello', ' "quoted"', ' back\\slash', '\n', ' é中文', ' 😀', '', ' <think>', ' a</think>b', ' end'];

  // a chunk with text and something else, three times running: learnt from, and then read by bytes, it would lose the rest
  test.each([
    ['a refusal', '{"content":"c","refusal":"no"}', 'null', 'null'],
    ['reasoning_content', '{"content":"c","reasoning_content":"r"}', 'null', 'null'],
    ['reasoning', '{"content":"c","reasoning":"r"}', 'null', 'null'],
    ['reasoning_details', '{"content":"c","reasoning_details":[{"type":"reasoning.text","text":"r"}]}', 'null', 'null'],
    ['a tool call', '{"content":"c","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}', 'null', 'null'],
    ['a function_call', '{"content":"c","function_call":{"name":"f","arguments":"{}"}}', 'null', 'null'],
    ['a finish', '{"content":"c"}', '"length"', 'null'],
    ['usage', '{"content":"c"}', 'null', '{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}'],
    ['reasoning and a signature', '{"content":null,"reasoning_content":"r","reasoning_details":[{"type":"reasoning.encrypted","signature":"sig"}]}', 'null', 'null'],
    ['reasoning of both names', '{"reasoning_content":"r","reasoning":"r2"}', 'null', 'null'],
    ['reasoning and a refusal', '{"reasoning":"r","refusal":"no"}', 'null', 'null'],
    ['reasoning and a tool call', '{"reasoning_content":"r","tool_calls":[{"index":0,"function":{"arguments":"x"}}]}', 'null', 'null'],
    ['reasoning and a finish', '{"content":null,"reasoning_content":"r"}', '"stop"', 'null'],
    ['arguments and an id', '{"tool_calls":[{"index":0,"id":"call_2","function":{"arguments":"x"}}]}', 'null', 'null'],
    ['arguments and a name', '{"tool_calls":[{"index":0,"function":{"name":"g","arguments":"x"}}]}', 'null', 'null'],
    ['arguments of two calls', '{"tool_calls":[{"index":0,"function":{"arguments":"x"}},{"index":1,"function":{"arguments":"y"}}]}', 'null', 'null'],
    ['arguments and text', '{"content":"t","tool_calls":[{"index":0,"function":{"arguments":"x"}}]}', 'null', 'null'],
    ['arguments without an index', '{"tool_calls":[{"function":{"arguments":"x"}}]}', 'null', 'null'],
    ['arguments and usage', '{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}', 'null', '{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}'],
  ])('a chunk with %s: never read as one thing alone', (_name, delta, finish, usage) => {
    const body = [line('{"content":"a"}'), line('{"content":"b"}'), line(delta, finish, usage), line(delta, finish, usage), line(delta, finish, usage), line('{"content":"d"}')].join('');
    const r = both(body);
    expect(r.fast).toBe(r.slow);
  });

  // DeepSeek's layout: reasoning with `"content":null`, then text; OpenRouter's `reasoning`; tool calls whose
  // arguments come in fragments named by index (OpenAI), two calls one after the other and one interleaved
  const reasoningContent = ['Let', ' me', ' "think"', ' é', ' a\\b', ' done'].map((t) => line(`{"content":null,"reasoning_content":${JSON.stringify(t)}}`));
  const reasoning = ['Hmm', ' so', '\n', ' ok'].map((t) => line(`{"reasoning":${JSON.stringify(t)}}`));
  const call = (index: number, id: string, name: string, args: string[]) => [
    line(`{"tool_calls":[{"index":${index},"id":"${id}","type":"function","function":{"name":"${name}","arguments":""}}]}`),
    ...args.map((a) => line(`{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(a)}}}]}`)),
  ];
  const args = ['{"', 'path', '":"', 'a\\b.txt', '","', 'text', '":"', 'é \\"x\\"', '"}'];
  test.each([
    ['reasoning_content, then text', [...reasoningContent, ...reasoningContent, ...texts.map((t) => line(`{"content":${JSON.stringify(t)}}`)), 'data: [DONE]\n\n']],
    ['reasoning, then text', [...reasoning, ...reasoning, line('{"content":"answer"}'), line('{"content":" more"}'), 'data: [DONE]\n\n']],
    ['two tool calls one after the other', [line('{"content":"calling"}'), ...call(0, 'call_a', 'write', args), ...call(1, 'call_b', 'read', args), line('{}', '"tool_calls"'), 'data: [DONE]\n\n']],
    ['tool calls interleaved by index', [...call(0, 'call_a', 'write', args.slice(0, 4)), ...call(1, 'call_b', 'read', args.slice(0, 3)), ...call(0, 'call_a', 'write', args.slice(4)).slice(1), ...call(1, 'call_b', 'read', args.slice(3)).slice(1), line('{}', '"tool_calls"')]],
    ['a tool call past its end', [...call(0, 'call_a', 'write', args), line('{"content":"text after"}'), ...call(0, 'call_a', 'write', ['{"late":1}', '{"late":2}']).slice(1), 'data: [DONE]\n\n']],
    // text whose first deltas are whitespace alone is held until it is more (stream-to-hub.ts: blank), and dropped
    // when a call or the end comes first: the template path must hold it the same
    ['whitespace before text, before calls and at the end', [
      ...['\n', '\n', 'Hello', ' world', '\n\n', 'again'].map((t) => line(`{"content":${JSON.stringify(t)}}`)),
      ...call(0, 'call_a', 'write', args), ...['\n', ' ', '\n'].map((t) => line(`{"content":${JSON.stringify(t)}}`)),
      ...call(1, 'call_b', 'read', args), ...['\n\n', 'Done', '.'].map((t) => line(`{"content":${JSON.stringify(t)}}`)),
      ...reasoning, ...['\n', '\n'].map((t) => line(`{"content":${JSON.stringify(t)}}`)), line('{}', '"stop"'), 'data: [DONE]\n\n',
    ]],
  ])('%s: the same events as parsing every chunk, with and without think tags', (_name, lines) => {
    for (const q of [quirks(), quirks({ think_tags: true })]) {
      const r = both(lines.join(''), q);
      expect(r.fast).toBe(r.slow);
    }
  });

  test('reasoning and argument fragments are read by their bytes too: the chunk it learns from, its probe, and literals with escapes', () => {
    const plainArgs = ['{"', 'path', '":"', 'a.txt', '","', 'mode', '":"', 'w', '"}'];
    const escaped = plainArgs.filter((a) => JSON.stringify(a) !== `"${a}"`).length; // 5: fragments of JSON hold quotes
    for (const [lines, slow, fast] of [
      [['Let', ' me', ' think', ' about', ' it'].map((t) => line(`{"content":null,"reasoning_content":"${t}"}`)), 5, 2],
      [['Let', ' me', ' think'].map((t) => line(`{"reasoning":"${t}"}`)), 3, 2],
      // the call's first chunk (id and name), the first fragment (learnt from: '{"'), its probe, the other 4 escaped
      [call(0, 'call_a', 'write', plainArgs), 1 + plainArgs.length, 3 + escaped - 1],
    ] as const) {
      const r = both(lines.join(''));
      expect(r.fast).toBe(r.slow);
      expect(r.slowParses).toBe(slow);
      expect(r.fastParses).toBe(fast);
    }
  });

  test('chunks of other choices, or of two, are never read as text of choice 0', () => {
    const plain = [line('{"content":"a"}'), line('{"content":"b"}'), line('{"content":"c"}')].join('');
    for (const [from, to] of [
      ['"choices":[{"index":0,', '"choices":[{"index":1,'],
      ['"choices":[{"index":0,', '"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,'],
      [',"finish_reason":null}]', ',"finish_reason":null},{"index":1,"delta":{"content":"x"},"finish_reason":null}]'],
    ] as const) {
      const r = both(plain.replaceAll(from, to));
      expect(r.fast).toBe(r.slow);
    }
  });

  test.each([
    ['text only', texts.map((t) => line(`{"content":${JSON.stringify(t)}}`))],
    ['text, reasoning, a tool call and text again', [
      line('{"role":"assistant","content":"","refusal":null}'),
      ...texts.slice(0, 4).map((t) => line(`{"content":${JSON.stringify(t)}}`)),
      line('{"reasoning_content":"think"}'), line('{"content":"after reasoning"}'),
      line('{"content":"with a refusal","refusal":"no"}'),
      line('{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\\"a\\":"}}]}'),
      line('{"content":"held while the call is open"}'),
      line('{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}'),
      ...texts.slice(4).map((t) => line(`{"content":${JSON.stringify(t)}}`)),
      line('{"content":"finishing"}', '"stop"'),
      line('{"content":"after the finish"}'),
      line('{"content":"with usage"}', 'null', '{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}'),
      'data: [DONE]\n\n',
    ]],
  ])('%s: the same events as parsing every chunk, with and without think tags', (_name, lines) => {
    for (const q of [quirks(), quirks({ think_tags: true })]) {
      const r = both(lines.join(''), q);
      expect(r.fast).toBe(r.slow);
    }
    // and the template path was taken: texts with nothing to escape parsed once (to learn) plus the probe
    const plain = texts.filter((t) => JSON.stringify(t) === `"${t}"`);
    const r = both(plain.concat(plain, plain).map((t) => line(`{"content":${JSON.stringify(t)}}`)).join(''));
    expect(r.slowParses).toBe(plain.length * 3);
    expect(r.fastParses).toBe(2);
  });
});

// ---------- rule by rule ----------

type Delta = Record<string, unknown>;
const chunk = (delta: Delta | null, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: delta === null ? [] : [{ index: 0, delta, finish_reason: finish }], ...extra });
const sse = (chunks: unknown[], done = true) => chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
const run = (chunks: unknown[], opts: { done?: boolean; q?: Partial<ChatQuirks>; ctx?: TranslateContext } = {}) =>
  translateChunks([sse(chunks, opts.done ?? true)], quirks(opts.q), opts.ctx ?? makeCtx());

/** A compact picture of a sequence: `start:text`, `text:"Hi"`, `json:"{"`, `stop`, `delta:end_turn`, `message_stop`. */
function shape(events: RawMessageStreamEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case 'message_start': return 'message_start';
      case 'content_block_start': return `start:${e.content_block.type}${e.content_block.type === 'tool_use' ? `(${String((e.content_block as { name: string }).name)})` : ''}`;
      case 'content_block_delta':
        switch (e.delta.type) {
          case 'text_delta': return `text:${JSON.stringify(e.delta.text)}`;
          case 'thinking_delta': return `thinking:${JSON.stringify(e.delta.thinking)}`;
          case 'input_json_delta': return `json:${JSON.stringify(e.delta.partial_json)}`;
          case 'signature_delta': return `sig:${JSON.stringify(e.delta.signature)}`;
          case 'citations_delta': return 'citation';
          default: { const never: never = e.delta; return String(never); }
        }
      case 'content_block_stop': return 'stop';
      case 'message_delta': return `delta:${e.delta.stop_reason}`;
      case 'message_stop': return 'message_stop';
      case 'ping': return 'ping';
      case 'error': return `error:${e.error.type}:${e.error.message}`;
      default: { const never: never = e; return String(never); }
    }
  });
}

describe('stream rules', () => {
  const cases: Array<{ name: string; chunks: unknown[]; done?: boolean; q?: Partial<ChatQuirks>; want: string[] }> = [
    {
      name: 'plain text, finish then usage-only chunk',
      chunks: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' }), chunk({ content: 'lo' }), chunk({}, 'stop'), chunk(null, null, { usage: { prompt_tokens: 5, completion_tokens: 2 } })],
      want: ['message_start', 'start:text', 'text:"Hel"', 'text:"lo"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'empty-choices first chunk (Azure prompt_filter_results)',
      chunks: [{ id: '', model: '', created: 0, choices: [], prompt_filter_results: [] }, chunk({ content: 'ok' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"ok"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'ends without [DONE]',
      chunks: [chunk({ content: 'x' }), chunk({}, 'length')], done: false,
      want: ['message_start', 'start:text', 'text:"x"', 'stop', 'delta:max_tokens', 'message_stop'],
    },
    {
      name: 'ends with neither finish_reason nor [DONE]: cut off, an error event rather than an answer that looks whole',
      chunks: [chunk({ content: 'x' })], done: false,
      want: ['message_start', 'start:text', 'text:"x"', 'error:api_error:upstream stream ended before the answer was complete (no finish_reason, no [DONE])'],
    },
    {
      name: '[DONE] without finish_reason: end_turn',
      chunks: [chunk({ content: 'x' })],
      want: ['message_start', 'start:text', 'text:"x"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'finish_reason without [DONE]: a whole answer',
      chunks: [chunk({ content: 'x' }), chunk({}, 'stop')], done: false,
      want: ['message_start', 'start:text', 'text:"x"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'empty deltas produce no events',
      chunks: [chunk({ content: '' }), chunk({ content: null, reasoning_content: '' }), chunk({ tool_calls: [] }), chunk({ content: 'a' }), chunk({ content: '' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"a"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'reasoning_content then text: signature_delta before the thinking block closes',
      chunks: [chunk({ reasoning_content: 'hmm' }), chunk({ content: 'answer' }), chunk({}, 'stop')],
      want: ['message_start', 'start:thinking', 'thinking:"hmm"', 'sig:""', 'stop', 'start:text', 'text:"answer"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: '`reasoning` (Groq/OpenRouter) with the same text in reasoning_details is not doubled; the provider signature is kept',
      chunks: [
        chunk({ reasoning: 'abc', reasoning_details: [{ type: 'reasoning.text', text: 'abc' }] }),
        chunk({ reasoning: null, reasoning_details: [{ type: 'reasoning.text', signature: 'SIG' }] }),
        chunk({ content: 'done' }), chunk({}, 'stop'),
      ],
      want: ['message_start', 'start:thinking', 'thinking:"abc"', 'sig:"SIG"', 'stop', 'start:text', 'text:"done"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'Mistral typed content parts (thinking, then text)',
      chunks: [chunk({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'th' }] }] }), chunk({ content: [{ type: 'text', text: 'tx' }] }), chunk({ content: '!' }, 'stop')],
      want: ['message_start', 'start:thinking', 'thinking:"th"', 'sig:""', 'stop', 'start:text', 'text:"tx"', 'text:"!"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: '<think> tags split across chunks (quirks.think_tags)',
      q: { think_tags: true },
      chunks: [chunk({ content: '<thi' }), chunk({ content: 'nk>abc</th' }), chunk({ content: 'ink>\n\nans' }), chunk({ content: 'wer' }), chunk({}, 'stop')],
      want: ['message_start', 'start:thinking', 'thinking:"abc"', 'sig:""', 'stop', 'start:text', 'text:"ans"', 'text:"wer"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: '<think> without its closing tag (cut by length) stays thinking',
      q: { think_tags: true },
      chunks: [chunk({ content: '<think>partial </' }), chunk({}, 'length')],
      want: ['message_start', 'start:thinking', 'thinking:"partial "', 'thinking:"</"', 'sig:""', 'stop', 'delta:max_tokens', 'message_stop'],
    },
    {
      name: 'think_tags off: tags are just text',
      chunks: [chunk({ content: '<think>x</think>y' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"<think>x</think>y"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'refusal deltas are text, and the stop reason says the model declined',
      chunks: [chunk({ content: null, refusal: '' }), chunk({ refusal: 'No.' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"No."', 'stop', 'delta:refusal', 'message_stop'],
    },
    {
      name: 'content_filter → refusal',
      chunks: [chunk({ content: 'x' }), chunk({}, 'content_filter')],
      want: ['message_start', 'start:text', 'text:"x"', 'stop', 'delta:refusal', 'message_stop'],
    },
    {
      name: 'tool call in many fragments',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(get)', 'json:"{\\"a\\""', 'json:":1}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'arguments repeated after the object ended (a weak model): only the object reaches the client',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'get', arguments: '{"city":"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(get)', 'json:"{\\"city\\":\\"Paris\\"}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'the object ends inside a fragment: the fragment up to its end is sent, the rest held back',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'get', arguments: '{"a":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '1}  {"a":1}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(get)', 'json:"{\\"a\\":"', 'json:"1}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'arguments that are not JSON at all: sent whole as {"_raw": …} when the block closes, as a JSON answer reads them',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'get', arguments: 'city=' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'Paris' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(get)', 'json:"{\\"_raw\\":\\"city=Paris\\"}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: '`null` arguments: an empty input',
      chunks: [chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'get', arguments: 'null' } }] }), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:tool_use(get)', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'an object that stops being JSON part way: completed where it stopped, the rest held back',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'get', arguments: '{"city": "Pa' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'ris", "n": Paris}' } }] }),
        chunk({ content: 'done' }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(get)', 'json:"{\\"city\\": \\"Pa"', 'json:"ris\\", \\"n\\": "', 'json:"null}"', 'stop', 'start:text', 'text:"done"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'text, then tool call in one piece; finish_reason stop after a tool call reads tool_use',
      chunks: [chunk({ content: 'Let me look.' }), chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{}' } }] }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"Let me look."', 'stop', 'start:tool_use(f)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'parallel calls, one after another',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(f)', 'json:"{\\"x\\":"', 'json:"1}"', 'stop', 'start:tool_use(g)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'calls interleaved by index: the second waits until the first one\'s arguments are complete',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x":' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{"y":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '2}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: [
        'message_start', 'start:tool_use(f)', 'json:"{\\"x\\":"', 'json:"1}"', 'stop',
        'start:tool_use(g)', 'json:"{\\"y\\":"', 'json:"2}"', 'stop', 'delta:tool_use', 'message_stop',
      ],
    },
    {
      name: 'two calls in one delta without index (Mistral: whole calls keyed by id)',
      chunks: [chunk({ tool_calls: [{ id: 'AAAAAAAAA', function: { name: 'f', arguments: '{"a":1}' } }, { id: 'BBBBBBBBB', function: { name: 'g', arguments: '{}' } }] }, 'tool_calls')],
      want: ['message_start', 'start:tool_use(f)', 'json:"{\\"a\\":1}"', 'stop', 'start:tool_use(g)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'no index and no id on continuation fragments',
      chunks: [chunk({ tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{"a"' } }] }), chunk({ tool_calls: [{ function: { arguments: ':2}' } }] }), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:tool_use(f)', 'json:"{\\"a\\""', 'json:":2}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'empty id repeated on every fragment (Alibaba) and index starting at 1',
      chunks: [
        chunk({ tool_calls: [{ index: 1, id: 'call_x', type: 'function', function: { name: 'w', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 1, id: '', type: 'function', function: { arguments: '{"l":"SF"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: '', type: 'function', function: { arguments: '' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(w)', 'json:"{\\"l\\":\\"SF\\"}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'Gemini: calls without index or id-less continuation, a metadata-only fragment, finish_reason stop',
      chunks: [
        chunk({ tool_calls: [{ extra_content: { google: { thought_signature: 'sig' } } }] }),
        chunk({ tool_calls: [{ id: 'g1', type: 'function', function: { name: 'f', arguments: '{"q":' } }] }),
        chunk({ tool_calls: [{ function: { arguments: '"a"}' } }] }),
        chunk({ tool_calls: [{ id: 'g2', type: 'function', function: { name: 'f', arguments: '{"q":"b"}' } }] }),
        chunk({}, 'stop'),
      ],
      want: ['message_start', 'start:tool_use(f)', 'json:"{\\"q\\":"', 'json:"\\"a\\"}"', 'stop', 'start:tool_use(f)', 'json:"{\\"q\\":\\"b\\"}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'a different id at a used index starts a new call',
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'b', function: { name: 'g', arguments: '{}' } }] }),
        chunk({}, 'tool_calls'),
      ],
      want: ['message_start', 'start:tool_use(f)', 'json:"{}"', 'stop', 'start:tool_use(g)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'a call whose name arrives after its first arguments',
      chunks: [chunk({ tool_calls: [{ index: 0, id: 'c', function: { arguments: '{"a":' } }] }), chunk({ tool_calls: [{ index: 0, function: { name: 'late', arguments: '1}' } }] }), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:tool_use(late)', 'json:"{\\"a\\":1}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'n>1: only choice 0',
      chunks: [
        { choices: [{ index: 0, delta: { content: 'zero' } }, { index: 1, delta: { content: 'one' } }] },
        { choices: [{ index: 1, delta: {}, finish_reason: 'stop' }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      ],
      want: ['message_start', 'start:text', 'text:"zero"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'error object inside a chunk (OpenRouter): error event last, no message_stop',
      chunks: [chunk({ content: 'partial' }), { error: { code: 429, message: 'Rate limited upstream' }, choices: [] }, chunk({ content: 'ignored' })],
      want: ['message_start', 'start:text', 'text:"partial"', 'error:rate_limit_error:Rate limited upstream'],
    },
    {
      name: 'error before anything else',
      chunks: [{ error: { message: 'Server overloaded', code: 503 } }],
      want: ['error:overloaded_error:Server overloaded'],
    },
    {
      // OpenRouter: finish_reason "error" when "the model finishes the request with an error", the error on the choice
      name: 'an error on the choice (OpenRouter) ends the stream with that error, not end_turn',
      chunks: [chunk({ content: 'par' }), { choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', error: { code: 502, message: 'Provider disconnected' } }] }],
      want: ['message_start', 'start:text', 'text:"par"', 'error:api_error:Provider disconnected'],
    },
    {
      name: 'finish_reason "error" alone: an error event, not an answer that looks whole',
      chunks: [chunk({ content: 'par' }), chunk({}, 'error')],
      want: ['message_start', 'start:text', 'text:"par"', 'error:api_error:upstream ended the answer with finish_reason "error"'],
    },
    {
      // DeepSeek: "the request is interrupted due to insufficient resource of the inference system"
      name: 'finish_reason "insufficient_system_resource" (DeepSeek): overloaded, not end_turn',
      chunks: [chunk({ content: 'par' }), chunk({}, 'insufficient_system_resource')],
      want: ['message_start', 'start:text', 'text:"par"', 'error:overloaded_error:upstream ended the answer with finish_reason "insufficient_system_resource"'],
    },
    {
      name: 'only [DONE]: an error, not an empty message',
      chunks: [],
      want: ['error:api_error:upstream stream ended without sending any data'],
    },
  ];

  test.each(cases)('$name', ({ chunks, done, q, want }) => {
    const events = run(chunks, { done, q });
    assertValidSequence(events);
    expect(shape(events)).toEqual(want);
  });

  test('event: error (Groq) ends the stream with an Anthropic error event', () => {
    const body = `${sse([chunk({ reasoning: 'We' })], false)}event: error\ndata: {"error":{"message":"Tool call validation failed","type":"invalid_request_error","code":"tool_use_failed","status_code":400}}\n\n${sse([chunk({ content: 'after' })])}`;
    const events = translateChunks([body]);
    assertValidSequence(events);
    expect(shape(events)).toEqual(['message_start', 'start:thinking', 'thinking:"We"', 'error:invalid_request_error:Tool call validation failed']);
  });

  test('a data line that is not JSON ends the stream with api_error', () => {
    const events = translateChunks([`${sse([chunk({ content: 'a' })], false)}data: {not json\n\n`]);
    expect(shape(events).at(-1)).toBe('error:api_error:upstream sent a stream event that is not a JSON object');
  });

  test('missing tool id is generated as toolu_…; upstream ids are kept', () => {
    const events = run([chunk({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '{}' } }, { index: 1, id: 'call_keep', function: { name: 'g', arguments: '{}' } }] }, 'tool_calls')]);
    const starts = events.flatMap((e) => (e.type === 'content_block_start' ? [e.content_block as { id: string }] : []));
    expect(starts[0]!.id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
    expect(starts[1]!.id).toBe('call_keep');
  });

  test('one id for several calls (Xinference derives it from the completion id): each tool_use gets its own, the first keeps it', () => {
    // Anthropic refuses a turn whose tool_use ids repeat ("tool_use ids must be unique"), and a tool result could not say which call it answers
    const events = run([
      chunk({ tool_calls: [{ index: 0, id: 'call_same', function: { name: 'f', arguments: '{"a":1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_same', function: { name: 'g', arguments: '{"b":2}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_same', function: { arguments: '' } }] }, 'tool_calls'),
    ]);
    assertValidSequence(events);
    const ids = events.flatMap((e) => (e.type === 'content_block_start' ? [(e.content_block as { id: string }).id] : []));
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe('call_same');
    expect(ids[1]).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
  });

  test('ids numbered per answer (call_0 on every turn): a call whose id the history holds gets a fresh one', () => {
    // Claude Code drops a call whose id its history holds ("[Tool use interrupted]") and asks again, for ever
    const events = run([
      chunk({ tool_calls: [{ index: 0, id: 'call_0', function: { name: 'f', arguments: '{"a":1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_1', function: { name: 'g', arguments: '{"b":2}' } }] }, 'tool_calls'),
    ], { ctx: makeCtx({ historyToolIds: ['call_0'] }) });
    assertValidSequence(events);
    const ids = events.flatMap((e) => (e.type === 'content_block_start' ? [(e.content_block as { id: string }).id] : []));
    expect(ids[0]).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
    expect(ids[1]).toBe('call_1');
  });

  test('n>1 is reported in ctx.dropped', () => {
    const ctx = makeCtx();
    run([{ choices: [{ index: 1, delta: { content: 'x' } }] }, chunk({ content: 'y' }, 'stop')], { ctx });
    expect(ctx.dropped).toEqual(['choices 1+ (only the first choice is streamed)']);
  });

  describe('usage', () => {
    const start = (events: RawMessageStreamEvent[]) => (events[0] as { message: { usage: Usage } }).message.usage;
    const final = (events: RawMessageStreamEvent[]) => (events.find((e) => e.type === 'message_delta') as { usage: Usage }).usage;

    test('message_start uses the local estimate when the first chunk has no usage', () => {
      const events = run([chunk({ content: 'x' }), chunk({}, 'stop'), chunk(null, null, { usage: { prompt_tokens: 100, completion_tokens: 7 } })]);
      expect(start(events)).toEqual({ input_tokens: 1234, output_tokens: 1, cache_read_input_tokens: 0 });
      expect(final(events)).toEqual({ input_tokens: 100, output_tokens: 7, cache_read_input_tokens: 0 });
    });

    test('message_start uses the first chunk\'s usage when it carries one', () => {
      const events = run([chunk({ content: 'x' }, null, { usage: { prompt_tokens: 50, completion_tokens: 0 } }), chunk({}, 'stop')]);
      expect(start(events).input_tokens).toBe(50);
    });

    test.each([
      ['usage on the finish chunk (Mistral)', [chunk({ content: 'x' }, 'stop', { usage: { prompt_tokens: 10, completion_tokens: 46 } })], { input_tokens: 10, output_tokens: 46, cache_read_input_tokens: 0 }],
      ['x_groq.usage only', [chunk({ content: 'x' }, 'stop', { x_groq: { usage: { prompt_tokens: 210, completion_tokens: 15 } } })], { input_tokens: 210, output_tokens: 15, cache_read_input_tokens: 0 }],
      ['cached tokens apart (OpenAI)', [chunk({ content: 'x' }, 'stop'), chunk(null, null, { usage: { prompt_tokens: 300, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 256 } } })], { input_tokens: 44, output_tokens: 5, cache_read_input_tokens: 256 }],
      ['DeepSeek prompt_cache_hit_tokens', [chunk({ content: 'x' }, 'stop', { usage: { prompt_tokens: 339, completion_tokens: 9, prompt_cache_hit_tokens: 320 } })], { input_tokens: 19, output_tokens: 9, cache_read_input_tokens: 320 }],
      ['reasoning outside completion_tokens (xAI)', [chunk({ content: 'x' }, 'stop', { usage: { prompt_tokens: 291, completion_tokens: 26, total_tokens: 513 } })], { input_tokens: 291, output_tokens: 222, cache_read_input_tokens: 0 }],
      ['no usage at all: output estimated from streamed characters', [chunk({ content: 'abcdefgh' }, 'stop')], { output_tokens: 2 }],
    ] as const)('%s', (_name, chunks, want) => {
      expect(final(run([...chunks]))).toEqual(want as unknown as Usage);
    });
  });

  test('no buffering: each chunk\'s content comes out before the next chunk is read', () => {
    const t = new ChatStreamTranslator(makeCtx(), quirks());
    expect(shape(t.event({ data: JSON.stringify(chunk({ content: 'first' })) }))).toEqual(['message_start', 'start:text', 'text:"first"']);
    expect(shape(t.event({ data: JSON.stringify(chunk({ content: 'second' })) }))).toEqual(['text:"second"']);
    expect(shape(t.event({ data: JSON.stringify(chunk({ tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{"a' } }] })) })))
      .toEqual(['stop', 'start:tool_use(f)', 'json:"{\\"a"']);
    expect(shape(t.event({ data: JSON.stringify(chunk({ tool_calls: [{ index: 0, function: { arguments: '":1}' } }] })) }))).toEqual(['json:"\\":1}"']);
    expect(shape(t.event({ data: JSON.stringify(chunk({}, 'tool_calls')) }))).toEqual(['stop']);
    expect(shape(t.event({ data: '[DONE]' }))).toEqual(['delta:tool_use', 'message_stop']);
    expect(t.end()).toEqual([]);
  });

  test('through the official SDK: interleaved tool calls accumulate to the right inputs', async () => {
    const events = run([
      chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{"y":' } }] }),
      chunk({ content: 'text in between' }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '2}' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assertValidSequence(events);
    const msg = await sdkFinalMessage(events);
    expect(msg.content).toEqual([
      { type: 'tool_use', id: 'a', name: 'f', input: { x: 1 } },
      { type: 'tool_use', id: 'b', name: 'g', input: { y: 2 } },
      { type: 'text', text: 'text in between' },
    ] as never);
    expect(msg.stop_reason).toBe('tool_use');
  });

  test('thinking text reaches the SDK with a signature field', async () => {
    const msg = await sdkFinalMessage(run([chunk({ reasoning_content: 'r' }), chunk({ content: 't' }, 'stop')]));
    expect(msg.content).toEqual([{ type: 'thinking', thinking: 'r', signature: '' }, { type: 'text', text: 't' }] as never);
  });

  test('stream events in, typed SseEvents only (no text parsing outside sse/)', () => {
    const ev: SseEvent = { data: JSON.stringify(chunk({ content: 'x' })) };
    expect(new ChatStreamTranslator(makeCtx(), quirks()).event(ev)[0]!.type).toBe('message_start');
  });
});

describe('text of whitespace alone (Anthropic refuses such a block in the history a client sends back)', () => {
  const call = (id: string, name: string, args: string) => chunk({ tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: args } }] });
  const cases: Array<{ name: string; chunks: unknown[]; q?: Partial<ChatQuirks>; want: string[] }> = [
    {
      name: '"\\n\\n" then a tool call (DeepSeek, Qwen, GLM, Kimi): the call alone, at index 0',
      chunks: [chunk({ role: 'assistant', content: '' }), chunk({ content: '\n\n' }), call('call_1', 'Read', '{"file_path":"a.txt"}'), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:tool_use(Read)', 'json:"{\\"file_path\\":\\"a.txt\\"}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'whitespace, then text: the whitespace first, exactly, in the same block',
      chunks: [chunk({ content: '\n\n' }), chunk({ content: 'Hello' }), chunk({ content: ' there' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"\\n\\n"', 'text:"Hello"', 'text:" there"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'text split into whitespace-first deltas ("\\n", "\\n", "Hello")',
      chunks: [chunk({ content: '\n' }), chunk({ content: '\n' }), chunk({ content: 'Hello' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"\\n"', 'text:"\\n"', 'text:"Hello"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'whitespace alone, then the end: no block at all',
      chunks: [chunk({ content: ' ' }), chunk({ content: '\n\t' }), chunk({}, 'stop')],
      want: ['message_start', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'reasoning, whitespace, a call: the thinking block 0, the call 1',
      chunks: [chunk({ reasoning_content: 'plan' }), chunk({ content: '\n\n' }), call('call_1', 'f', '{}'), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:thinking', 'thinking:"plan"', 'sig:""', 'stop', 'start:tool_use(f)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'whitespace, then reasoning, then text: the whitespace goes with the block it would have been',
      chunks: [chunk({ content: '\n' }), chunk({ reasoning_content: 'r' }), chunk({ content: 'Hi' }), chunk({}, 'stop')],
      want: ['message_start', 'start:thinking', 'thinking:"r"', 'sig:""', 'stop', 'start:text', 'text:"Hi"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'text, a call, whitespace after it: the text and the call',
      chunks: [chunk({ content: 'Reading.' }), call('call_1', 'f', '{}'), chunk({ content: '\n\n' }), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:text', 'text:"Reading."', 'stop', 'start:tool_use(f)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'whitespace inside a block that has text is its text',
      chunks: [chunk({ content: 'Hello' }), chunk({ content: '\n\n' }), chunk({ content: ' ' }), chunk({ content: 'world' }), chunk({}, 'stop')],
      want: ['message_start', 'start:text', 'text:"Hello"', 'text:"\\n\\n"', 'text:" "', 'text:"world"', 'stop', 'delta:end_turn', 'message_stop'],
    },
    {
      name: 'whitespace in a content part (Mistral), then a call',
      chunks: [chunk({ content: [{ type: 'text', text: '\n\n' }] }), call('call_1', 'f', '{}'), chunk({}, 'tool_calls')],
      want: ['message_start', 'start:tool_use(f)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
    {
      name: 'whitespace after </think> then a call (quirks.think_tags)',
      chunks: [chunk({ content: '<think>plan</think>' }), chunk({ content: '\n\n' }), call('call_1', 'f', '{}'), chunk({}, 'tool_calls')], q: { think_tags: true },
      want: ['message_start', 'start:thinking', 'thinking:"plan"', 'sig:""', 'stop', 'start:tool_use(f)', 'json:"{}"', 'stop', 'delta:tool_use', 'message_stop'],
    },
  ];

  test.each(cases)('$name', ({ chunks, q, want }) => {
    for (const templates of [true, false]) {
      const events = translateChunks([sse(chunks)], quirks(q), makeCtx(), templates);
      assertValidSequence(events);
      expect(shape(events)).toEqual(want);
    }
  });

  test('nothing is reported for it', () => {
    const ctx = makeCtx();
    run([chunk({ content: '\n\n' }), call('call_1', 'f', '{}'), chunk({}, 'tool_calls')], { ctx });
    expect(ctx.dropped).toEqual([]);
  });

  test('through the official SDK: "\\n\\n" and two calls; whitespace before text', async () => {
    const calls = run([
      chunk({ role: 'assistant', content: '' }), chunk({ content: '\n\n' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '{"x":1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '{"y":2}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assertValidSequence(calls);
    const msg = await sdkFinalMessage(calls);
    expect(msg.content).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'f', input: { x: 1 } },
      { type: 'tool_use', id: 'call_b', name: 'g', input: { y: 2 } },
    ] as never);
    expect(msg.stop_reason).toBe('tool_use');

    const text = await sdkFinalMessage(run([chunk({ content: '\n' }), chunk({ content: ' \n' }), chunk({ content: 'Hello\n' }), chunk({}, 'stop')]));
    expect(text.content).toEqual([{ type: 'text', text: '\n \nHello\n' }] as never);
  });
});

describe('bounds', () => {
  test('a tool call whose arguments never end: an error event, last, once they pass the limit', () => {
    const t = new ChatStreamTranslator(makeCtx(), quirks(), 100);
    const chunk = (tc: object, finish: string | null = null) => ({ data: JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { tool_calls: [tc] }, finish_reason: finish }] }) });
    const out: RawMessageStreamEvent[] = [];
    out.push(...t.event(chunk({ index: 0, id: 'call_1', type: 'function', function: { name: 'Write', arguments: '{"content":"' } })));
    for (let i = 0; i < 5; i++) out.push(...t.event(chunk({ index: 0, function: { arguments: 'x'.repeat(30) } }, i === 2 ? 'tool_calls' : null))); // the one over the limit also finishes
    out.push(...t.event({ data: '[DONE]' }));
    out.push(...t.end());
    const last = out.at(-1)!;
    expect(last.type).toBe('error');
    expect((last as { error: { message: string } }).error.message).toContain('arguments longer than 100 characters');
    expect(out.filter((e) => e.type === 'error').length).toBe(1);
    const sent = out.filter((e) => e.type === 'content_block_delta').map((e) => (e as any).delta.partial_json).join('');
    expect(sent.length).toBeLessThanOrEqual(100);
  });
});
