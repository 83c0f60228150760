/**
 * Shapes of Chat Completions answers that real OpenAI-compatible servers send and OpenAI's own API does not, each
 * replayed through Switchboard to a Messages client (the Anthropic SDK) against a mock openai upstream: tool calls
 * whose deltas carry no `index`, arguments sent as a JSON object, an event stream that starts with a byte order mark,
 * line breaks other than LF, `data:` without its space, events split inside a UTF-8 character, usage and finish in
 * one chunk or none, empty `choices` mid-stream. Each names the report it comes from where there is one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-answer-shapes-1';
let upstream: MockUpstream;
let gateway: TestGateway;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(() => {
  upstream = startMockUpstream(() => json({}));
  gateway = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    channels: [
      { name: 'chat', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { m: 'up-model' } },
      { name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: 'sk-up', models: ['claude-sonnet-4-5'] },
    ],
  });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: KEY, maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gateway.stop(); await upstream.stop(); });

const TOOLS: Anthropic.Tool[] = [
  { name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
  { name: 'list_dir', description: 'List a directory', input_schema: { type: 'object', properties: {} } },
];
const USAGE = { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 };
const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'up-model' };
const chunk = (delta: unknown, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
const usageChunk = { ...base, choices: [], usage: USAGE };
const events = (chunks: unknown[], done = true) => [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), ...(done ? ['data: [DONE]\n\n'] : [])];
const enc = new TextEncoder();

/** The request log line of the request made by `run`, once written (a stream's at its end). */
async function logged(run: () => Promise<unknown>): Promise<any> {
  const before = gateway.requestLogs().length;
  await run();
  await until(() => gateway.requestLogs().length > before);
  return gateway.requestLogs().at(-1);
}

/** An event stream written as the given byte pieces, one read each (as a server's writes may fall). */
function bytes(pieces: (string | Uint8Array)[]): Response {
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const p of pieces) { controller.enqueue(typeof p === 'string' ? enc.encode(p) : p); await Bun.sleep(1); }
      controller.close();
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
}
const completion = (message: Record<string, unknown>, finish: string) =>
  json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }], usage: USAGE });
const params = { model: 'm', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user' as const, content: 'look around' }] };
const streamed = () => anthropic.messages.stream(params).finalMessage();
const calls = (m: Anthropic.Message) => m.content.flatMap((b) => (b.type === 'tool_use' ? [[b.name, b.input]] : []));
const text = (m: Anthropic.Message) => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

describe('a. tool call deltas without `index` (ollama/ollama#7881, router-for-me/CLIProxyAPI#5058, chatanywhere/GPT_API_free#254)', () => {
  test('two whole calls in one delta, each with its id: two tool_use blocks', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', content: null, tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } },
        { id: 'call_b', type: 'function', function: { name: 'list_dir', arguments: '{}' } },
      ] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    const m = await streamed();
    expect(calls(m)).toEqual([['read_file', { path: 'a.ts' }], ['list_dir', {}]]);
    expect(m.stop_reason).toBe('tool_use');
  });

  test('two whole calls in one delta, no ids, the same function: two calls', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [
        { type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } },
        { type: 'function', function: { name: 'read_file', arguments: '{"path":"b.ts"}' } },
      ] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
  });

  test('each call in its own delta, its id on the first fragment only: each call whole, in order', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '"a.ts"}' } }] }),
      chunk({ tool_calls: [{ id: 'call_b', type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '{"path":"b.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    const m = await streamed();
    expect(calls(m)).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
    expect(m.content.flatMap((b) => (b.type === 'tool_use' ? [b.id] : []))).toEqual(['call_a', 'call_b']);
  });

  test('no ids, the function named on every fragment of one call (as some servers repeat it): one call, not several', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ type: 'function', function: { name: 'read_file', arguments: '"a.ts"}' } }] }),
      chunk({ tool_calls: [{ type: 'function', function: { name: 'read_file', arguments: '{"path":"b.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
  });

  test('no ids, the id repeated on every fragment of one call: one call', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '"a.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }]]);
  });
});

describe('b. arguments as a JSON object, or missing, null, "" (ggml-org/llama.cpp#20198, sipeed/picoclaw#1379)', () => {
  test('streamed: an object is the input; missing, null and "" are {}', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'read_file', arguments: { path: 'a.ts' } } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'list_dir' } }] }),
      chunk({ tool_calls: [{ index: 2, id: 'call_c', type: 'function', function: { name: 'list_dir', arguments: null } }] }),
      chunk({ tool_calls: [{ index: 3, id: 'call_d', type: 'function', function: { name: 'list_dir', arguments: '' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }], ['list_dir', {}], ['list_dir', {}], ['list_dir', {}]]);
  });

  test('streamed without indexes: an object is the input', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: { path: 'a.ts' } } },
        { id: 'call_b', type: 'function', function: { name: 'read_file', arguments: { path: 'b.ts' } } },
      ] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
  });

  test('the same function twice with object arguments, no ids (at index 0, and with no index): two calls', async () => {
    for (const at of [{ index: 0 }, {}]) {
      upstream.handler = () => bytes(events([
        chunk({ role: 'assistant', tool_calls: [{ ...at, type: 'function', function: { name: 'read_file', arguments: { path: 'a.ts' } } }] }),
        chunk({ tool_calls: [{ ...at, type: 'function', function: { name: 'read_file', arguments: { path: 'b.ts' } } }] }),
        chunk({}, 'tool_calls'), usageChunk,
      ]));
      expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
    }
  });

  // vLLM's hermes parser with Granite 4, which writes its arguments as JSON text already (vllm-project/vllm#54964)
  const twice = JSON.stringify(JSON.stringify({ path: 'a.ts' }, null, 2));
  test('arguments encoded twice (a JSON string of the object\'s text), streamed in fragments: the object', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      ...[twice.slice(0, 7), twice.slice(7)].map((a) => chunk({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
      chunk({}, 'tool_calls'), usageChunk,
    ]));
    expect(calls(await streamed())).toEqual([['read_file', { path: 'a.ts' }]]);
  });

  test('arguments encoded twice, not streamed: the object', async () => {
    upstream.handler = () => completion({ content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'read_file', arguments: twice } }] }, 'tool_calls');
    expect(calls(await anthropic.messages.create(params))).toEqual([['read_file', { path: 'a.ts' }]]);
  });

  test('not streamed: the same', async () => {
    upstream.handler = () => completion({ content: null, tool_calls: [
      { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: { path: 'a.ts' } } },
      { id: 'call_b', type: 'function', function: { name: 'list_dir' } },
      { id: 'call_c', type: 'function', function: { name: 'list_dir', arguments: null } },
      { id: 'call_d', type: 'function', function: { name: 'list_dir', arguments: '' } },
    ] }, 'tool_calls');
    const m = await anthropic.messages.create(params);
    expect(calls(m)).toEqual([['read_file', { path: 'a.ts' }], ['list_dir', {}], ['list_dir', {}], ['list_dir', {}]]);
    expect(m.stop_reason).toBe('tool_use');
  });
});

describe('c. a byte order mark before the first event (WHATWG: stream = [ bom ] *event; openai/openai-python#3819)', () => {
  const textEvents = events([chunk({ role: 'assistant', content: 'Hel' }), chunk({ content: 'lo' }), chunk({}, 'stop'), usageChunk]);
  const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);

  test('translated, streamed: the first event is read', async () => {
    upstream.handler = () => bytes(['\uFEFF' + textEvents[0], ...textEvents.slice(1)]);
    expect(text(await streamed())).toBe('Hello');
  });

  test('translated, its three bytes in reads of their own: the first event is read', async () => {
    upstream.handler = () => bytes([BOM.subarray(0, 1), BOM.subarray(1), ...textEvents]);
    expect(text(await streamed())).toBe('Hello');
  });

  test('translated, a stream to a client that asked for none: the first event is read', async () => {
    upstream.handler = () => bytes(['\uFEFF' + textEvents[0], ...textEvents.slice(1)]);
    expect(text(await anthropic.messages.create(params))).toBe('Hello');
  });

  test('relayed to a Chat client that asked for none (an openai channel): the first event is read', async () => {
    upstream.handler = () => bytes(['\uFEFF' + textEvents[0], ...textEvents.slice(1)]);
    const c = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(c.choices[0]!.message.content).toBe('Hello');
    expect(c.usage?.prompt_tokens).toBe(12);
  });

  test('relayed to a Chat client, streamed: the first event reaches it, the usage is logged', async () => {
    upstream.handler = () => bytes(['\uFEFF' + textEvents[0], ...textEvents.slice(1)]);
    let out = '';
    const line = await logged(async () => {
      const stream = await openai.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
      for await (const c of stream) out += c.choices[0]?.delta.content ?? '';
    });
    expect(out).toBe('Hello');
    expect(line).toMatchObject({ outcome: 'ok', input_tokens: 12, output_tokens: 4 });
  });

  const msg = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } };
  const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`;
  const anthropicEvents = [
    '\uFEFF' + ev('message_start', { message: msg }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } }),
    ev('message_stop', {}),
  ];
  const claudeParams = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };

  test('relayed to a Messages client (an anthropic channel), streamed: its message, the usage logged', async () => {
    upstream.handler = () => bytes(anthropicEvents);
    let m: Anthropic.Message | undefined;
    const line = await logged(async () => { m = await anthropic.messages.stream(claudeParams).finalMessage(); });
    expect([text(m!), m!.usage.input_tokens]).toEqual(['Hi', 9]);
    expect(line).toMatchObject({ outcome: 'ok', input_tokens: 9, output_tokens: 2 });
  });

  test('relayed to a Messages client that asked for no stream: its message', async () => {
    upstream.handler = () => bytes(anthropicEvents);
    const m = await anthropic.messages.create(claudeParams);
    expect([text(m), m.usage.input_tokens]).toEqual(['Hi', 9]);
  });

  test('a Chat client on an anthropic channel, not streamed: the first event (message_start) is read', async () => {
    upstream.handler = () => bytes(anthropicEvents);
    const c = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] });
    expect([c.choices[0]!.message.content, c.usage?.prompt_tokens]).toEqual(['Hi', 9]);
  });

  test('a Chat client on an anthropic channel: the first event (message_start) is read', async () => {
    upstream.handler = () => bytes(anthropicEvents);
    let out = '';
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    for await (const c of stream) { out += c.choices[0]?.delta.content ?? ''; if (c.usage) usage = c.usage; }
    expect(out).toBe('Hi');
    expect(usage?.prompt_tokens).toBe(9);
  });
});

describe('d. line breaks, `data:` without its space, a UTF-8 character split between reads', () => {
  const textEvents = events([chunk({ role: 'assistant', content: '你好 ' }), chunk({ content: '😀 ok' }), chunk({}, 'stop'), usageChunk]);

  test.each([
    ['CRLF', (s: string) => s.replaceAll('\n', '\r\n')],
    ['a lone CR', (s: string) => s.replaceAll('\n', '\r')],
    ['`data:` without the space', (s: string) => s.replaceAll('data: ', 'data:')],
  ])('%s', async (_name, shape) => {
    upstream.handler = () => bytes(textEvents.map(shape));
    const m = await streamed();
    expect(text(m)).toBe('你好 😀 ok');
    expect(m.stop_reason).toBe('end_turn');
  });

  test('CRLF with the CR and the LF in different reads', async () => {
    const body = textEvents.join('').replaceAll('\n', '\r\n');
    const cuts = [...body.matchAll(/\r/g)].map((x) => x.index! + 1);
    const pieces: string[] = [];
    let from = 0;
    for (const c of cuts) { pieces.push(body.slice(from, c)); from = c; }
    pieces.push(body.slice(from));
    upstream.handler = () => bytes(pieces);
    expect(text(await streamed())).toBe('你好 😀 ok');
  });

  test('every read one byte: each character whole', async () => {
    const all = enc.encode(textEvents.join(''));
    upstream.handler = () => bytes(Array.from(all, (_, i) => all.subarray(i, i + 1)));
    expect(text(await streamed())).toBe('你好 😀 ok');
  });
});

describe('e. how the stream ends', () => {
  test('finish_reason and usage in one chunk: the stop reason and the usage', async () => {
    upstream.handler = () => bytes(events([chunk({ role: 'assistant', content: 'Hi' }), chunk({}, 'stop', { usage: USAGE })]));
    const m = await streamed();
    expect([text(m), m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(['Hi', 'end_turn', 12, 4]);
  });

  test('usage in a final chunk with choices []: the same', async () => {
    upstream.handler = () => bytes(events([chunk({ role: 'assistant', content: 'Hi' }), chunk({}, 'stop'), usageChunk]));
    const m = await streamed();
    expect([text(m), m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(['Hi', 'end_turn', 12, 4]);
  });

  test('[DONE] with no finish_reason: the answer ends with a stop reason', async () => {
    upstream.handler = () => bytes(events([chunk({ role: 'assistant', content: 'Hi' }), chunk({ content: ' there' })]));
    const m = await streamed();
    expect([text(m), m.stop_reason]).toEqual(['Hi there', 'end_turn']);
  });

  test('[DONE] with no finish_reason after a tool call: tool_use', async () => {
    upstream.handler = () => bytes(events([chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'list_dir', arguments: '{}' } }] })]));
    const m = await streamed();
    expect([calls(m), m.stop_reason]).toEqual([[['list_dir', {}]], 'tool_use']);
  });
});

describe('e. finish and usage, as other servers write them', () => {
  test('finish_reason "tool_calls", then "stop" again with the usage (Gemini through a proxy, router-for-me/CLIProxyAPI#876): tool_use', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'list_dir', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'), chunk({}, 'stop', { usage: USAGE }),
    ]));
    const m = await streamed();
    expect([calls(m), m.stop_reason, m.usage.output_tokens]).toEqual([[['list_dir', {}]], 'tool_use', 4]);
  });

  test('`usage: {}` on the finish chunk, the real usage on a chunk whose choice has an empty delta (higress-group/higress#1061)', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', content: 'Hi' }),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: {} },
      { ...base, choices: [{ index: 0, delta: {} }], usage: USAGE },
    ]));
    const m = await streamed();
    expect([text(m), m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(['Hi', 'end_turn', 12, 4]);
  });

  test('usage so far on every chunk (vLLM continuous_usage_stats): the last', async () => {
    const u = (n: number) => ({ prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n });
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', content: 'a' }, null, { usage: u(1) }), chunk({ content: 'b' }, null, { usage: u(2) }),
      chunk({ content: 'c' }, null, { usage: u(3) }), chunk({}, 'stop', { usage: u(3) }),
    ]));
    const m = await streamed();
    expect([text(m), m.usage.input_tokens, m.usage.output_tokens]).toEqual(['abc', 12, 3]);
  });
});

describe('f. odd deltas and chunks', () => {
  test('content null with tool_calls, role in every chunk: the call alone', async () => {
    upstream.handler = () => bytes(events([
      chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }),
      chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, function: { arguments: '"a.ts"}' } }] }),
      chunk({ role: 'assistant', content: null }, 'tool_calls'), usageChunk,
    ]));
    const m = await streamed();
    expect(m.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(calls(m)).toEqual([['read_file', { path: 'a.ts' }]]);
  });

  test('Azure: prompt_filter_results first with choices [], content-filter chunks with choices [] mid-stream', async () => {
    const filter = { hate: { filtered: false, severity: 'safe' } };
    upstream.handler = () => bytes(events([
      { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }] },
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hel' }),
      { ...base, choices: [] },
      chunk({ content: 'lo' }),
      { id: '', object: '', created: 0, model: '', choices: [{ index: 0, finish_reason: null, content_filter_results: filter }] },
      chunk({}, 'stop'), usageChunk,
    ]));
    const m = await streamed();
    expect([text(m), m.stop_reason, m.usage.output_tokens]).toEqual(['Hello', 'end_turn', 4]);
  });
});
