/**
 * @module test/unit/formats/openai-chat/stream-from-hub
 * Hub stream events → chat.completion.chunk SSE. Synthetic event tables for each rule, then every recorded
 * Anthropic stream replayed bytes → sseDecoder → hub events → hubEventsToChatChunks → SSE bytes → the official
 * `openai` SDK's ChatCompletionStream (its real client over a fake fetch: no network), compared with the recording.
 */
import { describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import { hubEventsToChatChunks } from '../../../../src/formats/openai-chat/stream-from-hub.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import { sseDecoder } from '../../../../src/sse/decode.ts';
import { encodeSse, sseEncoder } from '../../../../src/sse/encode.ts';
import type { SseEvent } from '../../../../src/sse/types.ts';
import { fixtureSseBody, listFixtures } from '../../../helpers/fixtures.ts';

const NOW = 1_700_000_000_500;
const ctx = (): TranslateContext => ({ requestedModel: 'my-gpt', upstreamModel: 'claude-sonnet-4-5', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });

/** A stream of the given items (Bun's types do not declare `ReadableStream.from`). */
function streamOf<T>(items: Iterable<T>): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/** Hub events through the converter; returns the SSE events it wrote. */
async function convert(events: RawMessageStreamEvent[], includeUsage = true, context = ctx()): Promise<SseEvent[]> {
  return collect(streamOf(events).pipeThrough(hubEventsToChatChunks(context, { includeUsage, now: () => NOW })));
}

/** The `data` payloads, parsed (`[DONE]` kept as the string). */
async function chunks(events: RawMessageStreamEvent[], includeUsage = true, context = ctx()): Promise<any[]> {
  return (await convert(events, includeUsage, context)).map((e) => (e.data === '[DONE]' ? '[DONE]' : JSON.parse(e.data)));
}

function bytesOf(events: SseEvent[]): Uint8Array {
  return Buffer.concat(events.map(encodeSse));
}

/** The official SDK, whose one request gets `body` as a text/event-stream response. */
function sdk(body: Uint8Array): OpenAI {
  return new OpenAI({
    apiKey: 'sk-test', baseURL: 'http://switchboard.test/v1', maxRetries: 0,
    fetch: async () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
  });
}

async function sdkFinal(body: Uint8Array) {
  return sdk(body).chat.completions
    .stream({ model: 'my-gpt', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } })
    .finalChatCompletion();
}

// ---- synthetic hub events ----------------------------------------------------------------------------------

const start = (usage: Record<string, unknown> = { input_tokens: 10, output_tokens: 1 }): RawMessageStreamEvent => ({
  type: 'message_start',
  message: { id: 'msg_01XYZ', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, stop_sequence: null, usage: usage as never },
});
const textStart = (index: number): RawMessageStreamEvent => ({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
const text = (index: number, t: string): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
const toolStart = (index: number, id: string, name: string, input: unknown = {}): RawMessageStreamEvent => ({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input } });
const json = (index: number, partial: string): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } });
const thinkingStart = (index: number): RawMessageStreamEvent => ({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
const thinking = (index: number, t: string): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: t } });
const signature = (index: number): RawMessageStreamEvent => ({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'sig' } });
const stop = (index: number): RawMessageStreamEvent => ({ type: 'content_block_stop', index });
const delta = (stopReason: string, usage: Record<string, unknown> = { output_tokens: 5 }): RawMessageStreamEvent => ({
  type: 'message_delta', delta: { stop_reason: stopReason as never, stop_sequence: null }, usage: usage as never,
});
const end: RawMessageStreamEvent = { type: 'message_stop' };
const ping: RawMessageStreamEvent = { type: 'ping' };

const base = { id: 'chatcmpl-01XYZ', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'my-gpt' };
const c = (d: Record<string, unknown>, finish: string | null = null, usage = true) => ({
  ...base, choices: [{ index: 0, delta: d, finish_reason: finish }], ...(usage ? { usage: null } : {}),
});

describe('hubEventsToChatChunks: rules', () => {
  test('text stream: role chunk, content deltas, finish chunk, usage chunk, [DONE]', async () => {
    expect(await chunks([start(), textStart(0), ping, text(0, 'Hel'), text(0, 'lo'), stop(0), delta('end_turn'), end])).toEqual([
      c({ role: 'assistant', content: '' }),
      c({ content: 'Hel' }),
      c({ content: 'lo' }),
      c({}, 'stop'),
      { ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } } },
      '[DONE]',
    ]);
  });

  test('without include_usage: no usage chunk and no usage key', async () => {
    expect(await chunks([start(), textStart(0), text(0, 'A'), stop(0), delta('end_turn'), end], false)).toEqual([
      c({ role: 'assistant', content: '' }, null, false),
      c({ content: 'A' }, null, false),
      c({}, 'stop', false),
      '[DONE]',
    ]);
  });

  test('tool calls are indexed 0, 1… by tool call, not by Anthropic block index', async () => {
    const out = await chunks([
      start(), textStart(0), text(0, 'Checking.'), stop(0),
      toolStart(1, 'toolu_a', 'get_weather'), json(1, ''), json(1, '{"city":'), json(1, '"Paris"}'), stop(1),
      toolStart(2, 'toolu_b', 'get_time'), json(2, '{"tz":"CET"}'), stop(2),
      delta('tool_use'), end,
    ], false);
    expect(out).toEqual([
      c({ role: 'assistant', content: '' }, null, false),
      c({ content: 'Checking.' }, null, false),
      c({ tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, null, false),
      c({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null, false),
      c({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null, false),
      c({ tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '' } }] }, null, false),
      c({ tool_calls: [{ index: 1, function: { arguments: '{"tz":"CET"}' } }] }, null, false),
      c({}, 'tool_calls', false),
      '[DONE]',
    ]);
  });

  test.each([
    ['a tool without arguments (one empty delta) gets "{}" when it closes', [toolStart(0, 'toolu_a', 'now'), json(0, ''), stop(0)], '{}'],
    ['a tool without any delta gets "{}"', [toolStart(0, 'toolu_a', 'now'), stop(0)], '{}'],
    ['a tool whose input came whole in content_block_start gets it when it closes', [toolStart(0, 'toolu_a', 'f', { a: 1 }), stop(0)], '{"a":1}'],
    ['a tool cut off by max_tokens keeps the partial arguments', [toolStart(0, 'toolu_a', 'f'), json(0, '{"a": "tru')], '{"a": "tru'],
    ['a tool cut off before any input is closed by message_delta', [toolStart(0, 'toolu_a', 'f')], '{}'],
  ] as const)('%s', async (_name, events, args) => {
    const out = await chunks([start(), ...events, delta('max_tokens'), end], false);
    const fragments = out.flatMap((ch) => (typeof ch === 'string' ? [] : ch.choices.flatMap((x: any) => x.delta.tool_calls ?? [])));
    expect(fragments.map((f: any) => f.function?.arguments ?? '').join('')).toBe(args);
    expect(fragments.every((f: any) => f.index === 0)).toBe(true);
  });

  test('thinking → reasoning_content, never content; signatures dropped', async () => {
    expect(await chunks([start(), thinkingStart(0), thinking(0, 'Let me '), thinking(0, 'think.'), signature(0), stop(0), textStart(1), text(1, 'Answer'), stop(1), delta('end_turn'), end], false)).toEqual([
      c({ role: 'assistant', content: '' }, null, false),
      c({ reasoning_content: 'Let me ' }, null, false),
      c({ reasoning_content: 'think.' }, null, false),
      c({ content: 'Answer' }, null, false),
      c({}, 'stop', false),
      '[DONE]',
    ]);
  });

  test('server-tool blocks and redacted thinking send nothing (their input_json_delta is not a tool call)', async () => {
    const context = ctx();
    const out = await chunks([
      start(),
      { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'xx' } }, stop(0),
      { type: 'content_block_start', index: 1, content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} } },
      json(1, '{"query":"x"}'), stop(1),
      { type: 'content_block_start', index: 2, content_block: { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] } }, stop(2),
      textStart(3), text(3, 'Done'), { type: 'content_block_delta', index: 3, delta: { type: 'citations_delta', citation: {} } }, stop(3),
      delta('end_turn'), end,
    ], false, context);
    expect(out).toEqual([c({ role: 'assistant', content: '' }, null, false), c({ content: 'Done' }, null, false), c({}, 'stop', false), '[DONE]']);
    expect(context.dropped).toEqual(['content.server_tool_use (no Chat Completions equivalent)', 'content.web_search_tool_result (no Chat Completions equivalent)', 'citations']);
  });

  test.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'], ['pause_turn', 'stop'], ['model_context_window_exceeded', 'length'],
  ])('stop_reason %s → finish_reason %s', async (stopReason, finish) => {
    const out = await chunks([start(), delta(stopReason), end], false);
    expect(out.at(-2).choices[0].finish_reason).toBe(finish);
  });

  test.each([
    ['message_start only', { input_tokens: 7, output_tokens: 1 }, { output_tokens: 3 }, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, prompt_tokens_details: { cached_tokens: 0 } }],
    [
      'cache tokens are prompt tokens; cache reads are cached_tokens',
      { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 1 }, { output_tokens: 9 },
      { prompt_tokens: 125, completion_tokens: 9, total_tokens: 134, prompt_tokens_details: { cached_tokens: 100 } },
    ],
    [
      'message_delta input fields override message_start; nulls do not',
      { input_tokens: 0, cache_read_input_tokens: 4, output_tokens: 1 }, { input_tokens: 50, cache_read_input_tokens: null, output_tokens: 2 },
      { prompt_tokens: 54, completion_tokens: 2, total_tokens: 56, prompt_tokens_details: { cached_tokens: 4 } },
    ],
    [
      'thinking tokens → reasoning_tokens',
      { input_tokens: 1, output_tokens: 1 }, { output_tokens: 40, output_tokens_details: { thinking_tokens: 30 } },
      { prompt_tokens: 1, completion_tokens: 40, total_tokens: 41, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 30 } },
    ],
  ])('usage: %s', async (_name, startUsage, deltaUsage, expected) => {
    const out = await chunks([start(startUsage), delta('end_turn', deltaUsage), end]);
    expect(out.at(-2)).toEqual({ ...base, choices: [], usage: expected });
  });

  test('an error event becomes an OpenAI error chunk; nothing follows, no [DONE]', async () => {
    const events: RawMessageStreamEvent[] = [start(), textStart(0), text(0, 'Part'), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, text(0, 'more'), delta('end_turn'), end];
    const out = await chunks(events, false);
    expect(out).toEqual([
      c({ role: 'assistant', content: '' }, null, false),
      c({ content: 'Part' }, null, false),
      { error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' } },
    ]);

    const thrown = await sdkFinal(bytesOf(await convert(events, false))).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(OpenAI.APIError);
    expect((thrown as InstanceType<typeof OpenAI.APIError>).message).toBe('Overloaded');
    expect((thrown as InstanceType<typeof OpenAI.APIError>).code).toBe('overloaded');
  });

  test('an upstream that ends after message_delta without message_stop still finishes', async () => {
    const out = await chunks([start(), textStart(0), text(0, 'A'), delta('end_turn')]);
    expect(out.slice(-3).map((x) => (typeof x === 'string' ? x : x.choices.length ? x.choices[0].finish_reason : 'usage'))).toEqual(['stop', 'usage', '[DONE]']);
  });

  test('an upstream that ends before message_delta is reported as an error, not a complete answer', async () => {
    const events = [start(), textStart(0), text(0, 'A')];
    const out = await chunks(events, true);
    expect(out.at(-1)).toEqual({ error: { message: 'The upstream stream ended before the message was complete', type: 'server_error', param: null, code: null } });
    expect(out).not.toContain('[DONE]');
    const thrown = await sdkFinal(bytesOf(await convert(events))).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(OpenAI.APIError);
  });

  test('events before message_start still get the role chunk first', async () => {
    const out = await chunks([textStart(0), text(0, 'A'), stop(0), delta('end_turn'), end], false);
    expect(out[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(out[0].id).toBe('chatcmpl-switchboard');
  });
});

// ---- recorded Anthropic streams ----------------------------------------------------------------------------

const FINISH: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };

/** What a Chat client should end up with, read straight off the recording's hub events. */
function expectedFrom(events: RawMessageStreamEvent[]) {
  const kinds = new Map<number, string>();
  let content = '';
  let reasoning = '';
  const tools: Array<{ id: string; name: string; args: string }> = [];
  const toolAt = new Map<number, { id: string; name: string; args: string }>();
  let finish: string | undefined;
  const usage: Record<string, any> = {};
  for (const ev of events) {
    if (ev.type === 'message_start') Object.assign(usage, ev.message.usage);
    if (ev.type === 'content_block_start') {
      kinds.set(ev.index, ev.content_block.type);
      if (ev.content_block.type === 'tool_use') {
        const t = { id: (ev.content_block as any).id, name: (ev.content_block as any).name, args: '' };
        tools.push(t);
        toolAt.set(ev.index, t);
      }
      if (ev.content_block.type === 'text') content += (ev.content_block as any).text;
    }
    if (ev.type === 'content_block_delta') {
      const d = ev.delta;
      if (d.type === 'text_delta' && kinds.get(ev.index) === 'text') content += d.text;
      if (d.type === 'thinking_delta') reasoning += d.thinking;
      if (d.type === 'input_json_delta' && toolAt.has(ev.index)) toolAt.get(ev.index)!.args += d.partial_json;
    }
    if (ev.type === 'message_delta') {
      finish = FINISH[ev.delta.stop_reason ?? ''];
      for (const [k, v] of Object.entries(ev.usage)) if (v != null) usage[k] = v;
    }
  }
  const prompt = (usage.input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
  return { content, reasoning, tools: tools.map((t) => ({ ...t, args: t.args || '{}' })), finish, prompt, completion: usage.output_tokens as number };
}

const parseJson = (s: string): unknown => {
  try { return JSON.parse(s); } catch { return s; }
};

/** Bytes in `chunks` → sseDecoder → hub events (each event's data, parsed). */
async function hubEventsOf(chunksIn: Uint8Array[]): Promise<RawMessageStreamEvent[]> {
  const sse = await collect(streamOf(chunksIn).pipeThrough(sseDecoder()));
  return sse.map((e) => JSON.parse(e.data) as RawMessageStreamEvent);
}

/** The whole chain, as the gateway runs it: bytes → decoder → hub events → chunks → encoder → bytes. */
async function chain(chunksIn: Uint8Array[], includeUsage = true): Promise<string> {
  const out = streamOf(chunksIn)
    .pipeThrough(sseDecoder())
    .pipeThrough(new TransformStream<SseEvent, RawMessageStreamEvent>({ transform: (e: SseEvent, ctl) => ctl.enqueue(JSON.parse(e.data)) }))
    .pipeThrough(hubEventsToChatChunks(ctx(), { includeUsage, now: () => NOW }))
    .pipeThrough(sseEncoder());
  return Buffer.concat(await collect(out)).toString('utf8');
}

describe('hubEventsToChatChunks: recorded Anthropic streams through the openai SDK', () => {
  const files = listFixtures('anthropic').filter((f) => /\/stream-.*\.(sse|chunks\.jsonl)$/.test(f));
  test('there are recordings', () => expect(files.length).toBeGreaterThan(10));

  for (const file of files) {
    test(file, async () => {
      const events = await hubEventsOf([new TextEncoder().encode(fixtureSseBody(file))]);
      const expected = expectedFrom(events);
      const sse = await convert(events);
      const bytes = bytesOf(sse);
      expect(new TextDecoder().decode(bytes).endsWith('data: [DONE]\n\n')).toBe(true);

      // the SDK's own accumulator
      const final = await sdkFinal(bytes);
      const choice = final.choices[0];
      expect(final.id).toMatch(/^chatcmpl-/);
      expect(final.model).toBe('my-gpt');
      expect(final.choices).toHaveLength(1);
      expect(choice.message.role).toBe('assistant');
      expect(choice.message.content ?? '').toBe(expected.content);
      expect(choice.finish_reason).toBe(expected.finish as never);
      expect((choice.message.tool_calls ?? []).map((t) => t.type === 'function' && { id: t.id, name: t.function.name, args: parseJson(t.function.arguments) }))
        .toEqual(expected.tools.map((t) => ({ id: t.id, name: t.name, args: parseJson(t.args) })));
      expect(final.usage).toMatchObject({ prompt_tokens: expected.prompt, completion_tokens: expected.completion, total_tokens: expected.prompt + expected.completion });

      // chunk-level invariants the SDK does not check
      const data = sse.slice(0, -1).map((e) => JSON.parse(e.data));
      for (const ch of data) expect(ch).toMatchObject({ id: final.id, object: 'chat.completion.chunk', created: 1_700_000_000, model: 'my-gpt' });
      expect(data[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(data.flatMap((ch) => ch.choices.map((x: any) => x.delta.content ?? '')).join('')).toBe(expected.content);
      expect(data.flatMap((ch) => ch.choices.map((x: any) => x.delta.reasoning_content ?? '')).join('')).toBe(expected.reasoning);
      const toolStarts = data.flatMap((ch) => ch.choices.flatMap((x: any) => (x.delta.tool_calls ?? []).filter((t: any) => t.id)));
      expect(toolStarts.map((t: any) => t.index)).toEqual(expected.tools.map((_, i) => i));
      expect(data.filter((ch) => ch.choices[0]?.finish_reason)).toHaveLength(1);
    });
  }
});

describe('decoder → converter chain is independent of how the input bytes are split', () => {
  const FILES = ['anthropic/stream-tool-use-input-json-delta.sse', 'anthropic/stream-thinking-signature-delta-clear.chunks.jsonl'];
  for (const file of FILES) {
    test(file, async () => {
      const input = new TextEncoder().encode(fixtureSseBody(file));
      expect(input.some((b) => b >= 0x80) || file.endsWith('.sse')).toBe(true); // the second one has multi-byte UTF-8
      const whole = await chain([input]);
      expect(whole.endsWith('data: [DONE]\n\n')).toBe(true);
      // one byte per chunk
      expect(await chain(Array.from(input, (_, i) => input.subarray(i, i + 1)))).toBe(whole);
      // every two-way split
      for (let i = 1; i < input.length; i++) {
        const out = await chain([input.subarray(0, i), input.subarray(i)]);
        if (out !== whole) throw new Error(`output differs when split at byte ${i}`);
      }
    });
  }
});

describe('text, reasoning and argument chunks written from a prefix', () => {
  const texts = ['plain', 'quote " backslash \\ newline \n', 'é ✓ 中文 🎉 \u2028 \ud800', '</script>', '{"a":'.repeat(20)];
  test.each([
    ['text', { type: 'text', text: '' }, (text: string) => ({ type: 'text_delta', text }), (text: string) => ({ content: text })],
    ['thinking', { type: 'thinking', thinking: '', signature: '' }, (thinking: string) => ({ type: 'thinking_delta', thinking }), (text: string) => ({ reasoning_content: text })],
    ['tool_use', { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }, (partial_json: string) => ({ type: 'input_json_delta', partial_json }), (text: string) => ({ tool_calls: [{ index: 0, function: { arguments: text } }] })],
  ] as const)('%s: the same bytes as JSON.stringify of the chunk object, with and without the usage field', async (_name, block, delta, chatDelta) => {
    for (const includeUsage of [true, false]) {
      const events = [
        { type: 'message_start', message: { id: 'msg_01ABC', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } },
        { type: 'content_block_start', index: 0, content_block: block },
        ...texts.map((text) => ({ type: 'content_block_delta', index: 0, delta: delta(text) })),
      ] as RawMessageStreamEvent[];
      const out = await convert(events, includeUsage);
      // the role chunk (and a tool call's opening one), one per delta, then what the cut-off stream ends with
      const first = block.type === 'tool_use' ? 2 : 1;
      const raw = out.slice(first, first + texts.length);
      expect(raw.every((e) => !e.data.includes('"finish_reason":"'))).toBe(true);
      const id = JSON.parse(raw[0]!.data).id;
      expect(id).toContain('ABC');
      for (const [i, e] of raw.entries()) {
        const expected: Record<string, unknown> = { id, object: 'chat.completion.chunk', created: Math.floor(NOW / 1000), model: 'my-gpt', choices: [{ index: 0, delta: chatDelta(texts[i]!), finish_reason: null }] };
        if (includeUsage) expected.usage = null;
        expect(e.data).toBe(JSON.stringify(expected));
      }
    }
  });
});
