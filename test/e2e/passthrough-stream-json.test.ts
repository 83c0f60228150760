/**
 * A relayed request that asked for no stream, answered with an event stream in the channel's format: an
 * Anthropic-compatible or OpenAI-compatible server or proxy that always streams. The client gets the whole answer
 * its SDK reads (`messages.create`, `chat.completions.create`, not streamed), through the hub: the stream read whole,
 * accumulated into a Message, written in the client's format; logged ok with the stream's usage, the channel counted
 * as a success, what cannot be carried named in x-switchboard-dropped. A stream that carries an error event is that
 * error, which falls back as an opening error does. (The mirror: passthrough-json-stream.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { sse as chunkedSse, startMockUpstream, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-stream-json-1';
let up: MockUpstream;
let good: MockUpstream;
let gw: TestGateway;

const sse = (events: string[]) => new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } });
const ev = (data: unknown) => `event: ${(data as { type: string }).type}\ndata: ${JSON.stringify(data)}\n\n`;
const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

const MESSAGE_TOOL = {
  id: 'msg_01StreamJsonTool', type: 'message', role: 'assistant', model: 'claude-up',
  content: [
    { type: 'thinking', thinking: 'The user wants the weather in Paris.', signature: 'EqQBCkYIBxgCKkBsig==' },
    { type: 'text', text: 'Let me check the weather.' },
    { type: 'tool_use', id: 'toolu_01WeatherCall', name: 'get_weather', input: { city: 'Paris', days: 2, units: { temp: 'C' } } },
  ],
  stop_reason: 'tool_use', stop_sequence: null,
  usage: { input_tokens: 412, output_tokens: 61, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 },
};

/** MESSAGE_TOOL as Anthropic streams it: the thinking and the tool's input in fragments. */
const ANTHROPIC_TOOL_STREAM = [
  ev({ type: 'message_start', message: { ...MESSAGE_TOOL, content: [], stop_reason: null, usage: { ...MESSAGE_TOOL.usage, output_tokens: 1 } } }),
  ev({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'The user wants ' } }),
  ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'the weather in Paris.' } }),
  ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCkYIBxgCKkBsig==' } }),
  ev({ type: 'content_block_stop', index: 0 }),
  ': keep-alive\n\nevent: ping\ndata: {"type":"ping"}\n\n',
  ev({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
  ev({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Let me check ' } }),
  ev({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'the weather.' } }),
  ev({ type: 'content_block_stop', index: 1 }),
  ev({ type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_01WeatherCall', name: 'get_weather', input: {} } }),
  ev({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '' } }),
  ev({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city": "Par' } }),
  ev({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: 'is", "days": 2, "units": {"temp": "C"}}' } }),
  ev({ type: 'content_block_stop', index: 2 }),
  ev({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 61 } }),
  ev({ type: 'message_stop' }),
];

const base = { id: 'chatcmpl-stream-json-1', object: 'chat.completion.chunk', created: 1764300000, model: 'qwen3:8b' };
const CHAT_TOOL_STREAM = [
  chunk({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: 'Paris weather, ' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { reasoning_content: 'then the time.' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { content: 'Checking both.' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_weather1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city": "Pa' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ris", "days": 2}' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_time2', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
  chunk({ ...base, choices: [], usage: { prompt_tokens: 80, completion_tokens: 20, total_tokens: 100 } }),
  'data: [DONE]\n\n',
];

beforeAll(() => {
  up = startMockUpstream(() => sse(ANTHROPIC_TOOL_STREAM));
  good = startMockUpstream((r) => r.path.endsWith('/messages')
    ? Response.json({ id: 'msg_good', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'from good' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 2 } })
    : Response.json({ id: 'chatcmpl-good', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'from good' } }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    routing: { circuit_failures: 100000 },
    channels: [
      { name: 'ant', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-key', models: ['ma', 'ma-alone'], priority: 10 },
      { name: 'ant-paced', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-key', models: ['ma-paced'], stream_idle_timeout_ms: 300 },
      { name: 'oai', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-key', models: ['mo', 'mo-alone'], priority: 10 },
      { name: 'oai-paced', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-key', models: ['mo-paced'], stream_idle_timeout_ms: 300 },
      { name: 'good-ant', type: 'anthropic', base_url: good.url, api_key: 'sk-ant-key', models: ['ma'], priority: 0 },
      { name: 'good-oai', type: 'openai', base_url: `${good.url}/v1`, api_key: 'sk-oai-key', models: ['mo'], priority: 0 },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  await good?.stop();
});

async function lastLine(before: number) {
  await until(() => gw.requestLogs().length === before + 1);
  return gw.requestLogs().at(-1);
}

const anthropic = () => new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
const TOOLS_ANT = [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
const TOOLS_OAI = [
  { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

describe('Messages -> anthropic channel (relayed): an event stream to a request not streamed', () => {
  test('thinking, text and a tool call: messages.create gives the streamed message whole, logged ok with its usage', async () => {
    up.handler = () => sse(ANTHROPIC_TOOL_STREAM);
    const before = gw.requestLogs().length;
    const { data: msg, response } = await anthropic().messages.create({ model: 'ma', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    expect(JSON.parse(JSON.stringify(msg))).toEqual(MESSAGE_TOOL);
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'ant', attempts: 1, status: 200, outcome: 'ok', stream: false, stop_reason: 'tool_use', input_tokens: 412, output_tokens: 61, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 });
    expect(line.dropped).toBeUndefined();
    expect(gw.deps.breaker.snapshot().ant?.failures ?? 0).toBe(0);
  });

  test('an event stream labelled application/json, with its length: the same message', async () => {
    up.handler = () => new Response(ANTHROPIC_TOOL_STREAM.join(''), { headers: { 'content-type': 'application/json' } });
    const msg = await anthropic().messages.create({ model: 'ma', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(JSON.parse(JSON.stringify(msg))).toEqual(MESSAGE_TOOL);
  });

  test('a stream generated over longer than the idle timeout, each event within it: read whole, not cut', async () => {
    up.handler = () => new Response(new ReadableStream<Uint8Array>({
      async start(c) {
        for (const e of ANTHROPIC_TOOL_STREAM) { c.enqueue(new TextEncoder().encode(e)); await Bun.sleep(40); }
        c.close();
      },
    }), { headers: { 'content-type': 'text/event-stream' } });
    const before = gw.requestLogs().length;
    const msg = await anthropic().messages.create({ model: 'ma-paced', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(JSON.parse(JSON.stringify(msg))).toEqual(MESSAGE_TOOL);
    expect(await lastLine(before)).toMatchObject({ channel: 'ant-paced', outcome: 'ok', output_tokens: 61 });
  });

  test('a stream without usage (an Anthropic-compatible server): the local estimate, logged as one', async () => {
    const { usage: _, ...bare } = MESSAGE_TOOL;
    up.handler = () => sse([
      ev({ type: 'message_start', message: { ...bare, content: [], stop_reason: null } }),
      ...ANTHROPIC_TOOL_STREAM.slice(1, -2),
      ev({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null } }),
      ev({ type: 'message_stop' }),
    ]);
    const before = gw.requestLogs().length;
    const msg = await anthropic().messages.create({ model: 'ma', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(JSON.parse(JSON.stringify(msg.content))).toEqual(MESSAGE_TOOL.content);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'ant', outcome: 'ok', usage_estimated: true, input_tokens: msg.usage.input_tokens, output_tokens: msg.usage.output_tokens });
  });

  test('a stream of comments alone: the 502 it was, and the next channel answers', async () => {
    up.handler = () => sse([': keep-alive\n\n', ': keep-alive\n\n']);
    const before = gw.requestLogs().length;
    const msg = await anthropic().messages.create({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'from good' }] as never);
    expect(await lastLine(before)).toMatchObject({ channel: 'good-ant', attempts: 2, outcome: 'ok' });
  });

  test('an error event after some text: the next channel answers, the channel counted as failed', async () => {
    up.handler = () => sse([...ANTHROPIC_TOOL_STREAM.slice(0, 9), ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
    const before = gw.requestLogs().length;
    const failures = gw.deps.breaker.snapshot().ant?.failures ?? 0;
    const msg = await anthropic().messages.create({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'from good' }] as never);
    expect(await lastLine(before)).toMatchObject({ channel: 'good-ant', attempts: 2, status: 200, outcome: 'ok' });
    expect(gw.deps.breaker.snapshot().ant?.failures).toBe(failures + 1);
  });

  test('an error event on the last channel: the error in Anthropic\'s envelope, with its status', async () => {
    up.handler = () => sse([...ANTHROPIC_TOOL_STREAM.slice(0, 3), ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
    const before = gw.requestLogs().length;
    const err = await anthropic().messages.create({ model: 'ma-alone', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(529);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(await lastLine(before)).toMatchObject({ channel: 'ant', status: 529, outcome: 'error', error_type: 'overloaded_error' });
  });
});

describe('a stream to a request not streamed, its connection held open after its last event', () => {
  test('Messages: answered at message_stop, not after the idle timeout (504 before)', async () => {
    up.handler = () => chunkedSse(ANTHROPIC_TOOL_STREAM, { hang: true }); // held open after its last event, as a proxy that keeps it
    const before = gw.requestLogs().length;
    const t0 = performance.now();
    const msg = await anthropic().messages.create({ model: 'ma-paced', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(performance.now() - t0).toBeLessThan(250);
    expect(JSON.parse(JSON.stringify(msg))).toEqual(MESSAGE_TOOL);
    expect(await lastLine(before)).toMatchObject({ channel: 'ant-paced', outcome: 'ok', output_tokens: 61 });
    await until(() => up.requests.at(-1)!.signal.aborted);
  });

  test('Chat: answered at [DONE], not after the idle timeout (504 before)', async () => {
    up.handler = () => chunkedSse(CHAT_TOOL_STREAM, { hang: true }); // held open after its last event, as a proxy that keeps it
    const t0 = performance.now();
    const done = await openai().chat.completions.create({ model: 'mo-paced', tools: TOOLS_OAI, messages: [{ role: 'user', content: 'Weather in Paris, and the time?' }] });
    expect(performance.now() - t0).toBeLessThan(250);
    expect(done.choices[0]!.message.tool_calls).toHaveLength(2);
    await until(() => up.requests.at(-1)!.signal.aborted);
  });
});

describe('Chat -> openai channel (relayed): an event stream to a request not streamed', () => {
  test('reasoning, text and two tool calls: chat.completions.create gives the whole completion, logged ok with its usage', async () => {
    up.handler = () => sse(CHAT_TOOL_STREAM);
    const before = gw.requestLogs().length;
    const { data: done, response } = await openai().chat.completions.create({ model: 'mo', tools: TOOLS_OAI, messages: [{ role: 'user', content: 'Weather in Paris, and the time?' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    expect(done.id).toBe(base.id);
    expect(done.object).toBe('chat.completion');
    expect(done.model).toBe('qwen3:8b');
    expect(done.choices).toHaveLength(1);
    const choice = done.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Checking both.');
    expect((choice.message as { reasoning_content?: string }).reasoning_content).toBe('Paris weather, then the time.');
    expect(choice.message.tool_calls?.map((c) => ({ id: c.id, type: c.type, name: (c as any).function.name, arguments: JSON.parse((c as any).function.arguments) }))).toEqual([
      { id: 'call_weather1', type: 'function', name: 'get_weather', arguments: { city: 'Paris', days: 2 } },
      { id: 'call_time2', type: 'function', name: 'get_time', arguments: {} },
    ]);
    expect(done.usage).toMatchObject({ prompt_tokens: 80, completion_tokens: 20, total_tokens: 100 });
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'oai', attempts: 1, status: 200, outcome: 'ok', stream: false, stop_reason: 'tool_use', input_tokens: 80, output_tokens: 20 });
    expect(line.dropped).toBeUndefined();
    expect(gw.deps.breaker.snapshot().oai?.failures ?? 0).toBe(0);
  });

  test('what the completion cannot carry (system_fingerprint, logprobs): named in x-switchboard-dropped and the log line', async () => {
    up.handler = () => sse([
      chunk({ ...base, system_fingerprint: 'fp_1', choices: [{ index: 0, delta: { role: 'assistant', content: 'Bonjour' }, logprobs: { content: [{ token: 'Bonjour', logprob: -0.1, bytes: null, top_logprobs: [] }] }, finish_reason: null }] }),
      chunk({ ...base, system_fingerprint: 'fp_1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
      'data: [DONE]\n\n',
    ]);
    const before = gw.requestLogs().length;
    const { data: done, response } = await openai().chat.completions.create({ model: 'mo', messages: [{ role: 'user', content: 'Bonjour' }] }).withResponse();
    expect(done.choices[0]!.message.content).toBe('Bonjour');
    const dropped = response.headers.get('x-switchboard-dropped');
    expect(dropped).toContain('system_fingerprint');
    expect(dropped).toContain('choices.0.logprobs');
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'oai', status: 200, outcome: 'ok', stop_reason: 'end_turn' });
    expect(line.dropped).toEqual(expect.arrayContaining(['system_fingerprint', 'choices.0.logprobs']));
    // no usage in the stream: the local estimate, marked
    expect(line.usage_estimated).toBe(true);
    expect(line.input_tokens).toBeGreaterThan(0);
  });

  test('arguments that are not JSON (sent as {"_raw": …}): named in x-switchboard-dropped and the log line, as for a JSON answer', async () => {
    up.handler = () => sse([
      chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_t', type: 'function', function: { name: 'get_time', arguments: 'zone=Europe/Paris' } }] }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
      'data: [DONE]\n\n',
    ]);
    const before = gw.requestLogs().length;
    const { data: done, response } = await openai().chat.completions.create({ model: 'mo', tools: TOOLS_OAI, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const calls = done.choices[0]!.message.tool_calls as Array<{ function: { arguments: string } }>;
    expect(JSON.parse(calls[0]!.function.arguments)).toEqual({ city: 'Paris' });
    expect(JSON.parse(calls[1]!.function.arguments)).toEqual({ _raw: 'zone=Europe/Paris' });
    const named = 'choices.0.message.tool_calls.1.function.arguments (not a JSON object: sent as {"_raw": …})';
    expect(response.headers.get('x-switchboard-dropped')).toContain('choices.0.message.tool_calls.1.function.arguments');
    expect(response.headers.get('x-switchboard-dropped')).not.toContain('tool_calls.0');
    expect((await lastLine(before)).dropped).toEqual([named]);
  });

  test('an error chunk after some text: the next channel answers, the channel counted as failed', async () => {
    up.handler = () => sse([CHAT_TOOL_STREAM[2]!, chunk({ error: { message: 'Rate limit exceeded', code: 429 } })]);
    const before = gw.requestLogs().length;
    const failures = gw.deps.breaker.snapshot().oai?.failures ?? 0;
    const done = await openai().chat.completions.create({ model: 'mo', messages: [{ role: 'user', content: 'hi' }] });
    expect(done.choices[0]!.message.content).toBe('from good');
    expect(await lastLine(before)).toMatchObject({ channel: 'good-oai', attempts: 2, status: 200, outcome: 'ok' });
    expect(gw.deps.breaker.snapshot().oai?.failures).toBe(failures + 1);
  });

  test('an error chunk on the last channel: the error in the OpenAI envelope, with its status', async () => {
    up.handler = () => sse([CHAT_TOOL_STREAM[2]!, chunk({ error: { message: 'Rate limit exceeded', code: 429 } })]);
    const err = await openai().chat.completions.create({ model: 'mo-alone', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(429);
    expect(err.error).toMatchObject({ message: 'Rate limit exceeded' });
  });

  test('a stream cut before its end (no finish_reason, no [DONE]): the next channel answers', async () => {
    up.handler = () => sse([CHAT_TOOL_STREAM[2]!]);
    const done = await openai().chat.completions.create({ model: 'mo', messages: [{ role: 'user', content: 'hi' }] });
    expect(done.choices[0]!.message.content).toBe('from good');
  });
});
