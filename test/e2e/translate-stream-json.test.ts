/**
 * A translated request that asked for no stream (a Messages client on an openai channel, a Chat Completions client on
 * an anthropic channel), answered with an event stream in the channel's format: a server or proxy that always
 * streams. The client gets the whole answer its SDK reads (`messages.create`, `chat.completions.create`, not
 * streamed): the stream read whole, translated as the same stream streamed would be (the channel's quirks applied),
 * accumulated into a Message, written in the client's format; logged ok with the stream's usage (the estimate without
 * it), the channel counted as a success. A stream that carries an error event is that error: the next channel, or the
 * error in the client's envelope. (The relayed mirror: passthrough-stream-json.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { sse as chunkedSse, startMockUpstream, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-trans-stream-json-1';
let up: MockUpstream;
let good: MockUpstream;
let gw: TestGateway;

const sse = (events: string[]) => new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } });
const ev = (data: unknown) => `event: ${(data as { type: string }).type}\ndata: ${JSON.stringify(data)}\n\n`;
const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

const base = { id: 'chatcmpl-trans-json-1', object: 'chat.completion.chunk', created: 1764300000, model: 'qwen3:8b' };
/** An OpenAI-compatible stream: reasoning_content, content, a tool call whose arguments came in fragments, usage. */
const CHAT_STREAM = [
  chunk({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: 'Paris weather, ' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { reasoning_content: 'in Celsius.' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { content: 'Let me check ' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { content: 'the weather.' }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_weather1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city": "Pa' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ris", "days": 2}' } }] }, finish_reason: null }] }),
  chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
  chunk({ ...base, choices: [], usage: { prompt_tokens: 80, completion_tokens: 20, total_tokens: 100 } }),
  'data: [DONE]\n\n',
];

const MESSAGE = {
  id: 'msg_01TransStreamJson', type: 'message', role: 'assistant', model: 'claude-up',
  content: [], stop_reason: null, stop_sequence: null,
  usage: { input_tokens: 412, output_tokens: 1, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 },
};
/** An Anthropic stream: thinking with its signature, text, a tool_use whose input came in input_json deltas. */
const ANTHROPIC_STREAM = [
  ev({ type: 'message_start', message: MESSAGE }),
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

beforeAll(() => {
  up = startMockUpstream((r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM));
  good = startMockUpstream((r) => r.path.endsWith('/messages')
    ? Response.json({ id: 'msg_good', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'from good' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 2 } })
    : Response.json({ id: 'chatcmpl-good', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'from good' } }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    routing: { circuit_failures: 100000 },
    channels: [
      { name: 'oai', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-key', models: ['xm', 'xm-alone'], priority: 10 },
      { name: 'oai-paced', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-key', models: ['xm-paced'], stream_idle_timeout_ms: 300 },
      { name: 'ant', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-key', models: ['xc', 'xc-alone'], priority: 10 },
      { name: 'ant-paced', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-key', models: ['xc-paced'], stream_idle_timeout_ms: 300 },
      { name: 'good-oai', type: 'openai', base_url: `${good.url}/v1`, api_key: 'sk-oai-key', models: ['xm'], priority: 0 },
      { name: 'good-ant', type: 'anthropic', base_url: good.url, api_key: 'sk-ant-key', models: ['xc'], priority: 0 },
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
const TOOLS_OAI = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const ASK_ANT = { max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] };
const ASK_OAI = { tools: TOOLS_OAI, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] };
/** A message without its id (each translation of a Chat stream names its own), nor the SDK helper's `parsed_output`. */
const body = (m: unknown) => { const { id: _, parsed_output: __, ...rest } = JSON.parse(JSON.stringify(m)); return rest; };

describe('Messages -> openai channel (translated): an event stream to a request not streamed', () => {
  test('reasoning, text and a tool call in fragments: messages.create gives the message the stream carries, logged ok with its usage', async () => {
    const before = gw.requestLogs().length;
    const { data: msg, response } = await anthropic().messages.create({ model: 'xm', ...ASK_ANT }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(msg.type).toBe('message');
    expect(msg.model).toBe('xm');
    expect(msg.stop_reason).toBe('tool_use');
    expect(JSON.parse(JSON.stringify(msg.content))).toMatchObject([
      { type: 'thinking', thinking: 'Paris weather, in Celsius.' },
      { type: 'text', text: 'Let me check the weather.' },
      { type: 'tool_use', id: 'call_weather1', name: 'get_weather', input: { city: 'Paris', days: 2 } },
    ]);
    expect(msg.usage).toMatchObject({ input_tokens: 80, output_tokens: 20 });
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'oai', attempts: 1, status: 200, outcome: 'ok', stream: false, stop_reason: 'tool_use', input_tokens: 80, output_tokens: 20 });
    expect(line.usage_estimated).toBeUndefined();
    expect(gw.deps.breaker.snapshot().oai?.failures ?? 0).toBe(0);
    // the same as the same stream streamed: messages.stream().finalMessage()
    const streamed = await anthropic().messages.stream({ model: 'xm', ...ASK_ANT }).finalMessage();
    expect(body(msg)).toEqual(body(streamed));
  });

  test('a stream generated over longer than the idle timeout, each chunk within it: read whole, not cut', async () => {
    up.handler = () => new Response(new ReadableStream<Uint8Array>({
      async start(c) {
        for (const e of CHAT_STREAM) { c.enqueue(new TextEncoder().encode(e)); await Bun.sleep(40); }
        c.close();
      },
    }), { headers: { 'content-type': 'text/event-stream' } });
    try {
      const before = gw.requestLogs().length;
      const msg = await anthropic().messages.create({ model: 'xm-paced', ...ASK_ANT });
      expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
      expect(await lastLine(before)).toMatchObject({ channel: 'oai-paced', outcome: 'ok', output_tokens: 20 });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('a stream without usage (the request did not ask for it): the local estimate, logged as one', async () => {
    up.handler = () => sse([...CHAT_STREAM.slice(0, -2), 'data: [DONE]\n\n']);
    try {
      const before = gw.requestLogs().length;
      const msg = await anthropic().messages.create({ model: 'xm', ...ASK_ANT });
      expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
      expect(msg.usage.input_tokens).toBeGreaterThan(1);
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
      const line = await lastLine(before);
      expect(line).toMatchObject({ channel: 'oai', outcome: 'ok', usage_estimated: true, input_tokens: msg.usage.input_tokens, output_tokens: msg.usage.output_tokens });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('what the message cannot carry (a second choice): named in x-switchboard-dropped', async () => {
    up.handler = () => sse([
      chunk({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Bonjour' }, finish_reason: null }, { index: 1, delta: { role: 'assistant', content: 'Salut' }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }, { index: 1, delta: {}, finish_reason: 'stop' }] }),
      'data: [DONE]\n\n',
    ]);
    try {
      const before = gw.requestLogs().length;
      const { data: msg, response } = await anthropic().messages.create({ model: 'xm', ...ASK_ANT }).withResponse();
      expect(msg.content).toEqual([{ type: 'text', text: 'Bonjour' }] as never);
      expect(response.headers.get('x-switchboard-dropped')).toContain('choices 1+');
      expect((await lastLine(before)).dropped).toEqual([expect.stringContaining('choices 1+')]);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('an error chunk after some text: the next channel answers, the channel counted as failed', async () => {
    up.handler = () => sse([CHAT_STREAM[2]!, chunk({ error: { message: 'Rate limit exceeded', code: 429 } })]);
    try {
      const before = gw.requestLogs().length;
      const failures = gw.deps.breaker.snapshot().oai?.failures ?? 0;
      const msg = await anthropic().messages.create({ model: 'xm', ...ASK_ANT });
      expect(msg.content).toEqual([{ type: 'text', text: 'from good' }] as never);
      expect(await lastLine(before)).toMatchObject({ channel: 'good-oai', attempts: 2, status: 200, outcome: 'ok' });
      expect(gw.deps.breaker.snapshot().oai?.failures).toBe(failures + 1);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('an error chunk on the last channel: the error in Anthropic\'s envelope, with its status; the key masked', async () => {
    up.handler = () => sse([CHAT_STREAM[2]!, chunk({ error: { message: 'Rate limit exceeded for sk-oai-key', code: 429 } })]);
    try {
      const before = gw.requestLogs().length;
      const err = await anthropic().messages.create({ model: 'xm-alone', ...ASK_ANT }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err.status).toBe(429);
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(JSON.stringify(err.error)).not.toContain('sk-oai-key');
      expect(await lastLine(before)).toMatchObject({ channel: 'oai', status: 429, outcome: 'error' });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('a stream cut before its end (no finish_reason, no [DONE]): the next channel answers', async () => {
    up.handler = () => sse(CHAT_STREAM.slice(0, 4));
    try {
      const msg = await anthropic().messages.create({ model: 'xm', ...ASK_ANT });
      expect(msg.content).toEqual([{ type: 'text', text: 'from good' }] as never);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });
});

describe('Chat -> anthropic channel (translated): an event stream to a request not streamed', () => {
  test('thinking, text and a tool_use in input_json deltas: chat.completions.create gives the whole completion, logged ok', async () => {
    const before = gw.requestLogs().length;
    const { data: done, response } = await openai().chat.completions.create({ model: 'xc', ...ASK_OAI }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('application/json');
    expect(done.object).toBe('chat.completion');
    expect(done.model).toBe('xc');
    expect(done.choices).toHaveLength(1);
    const choice = done.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Let me check the weather.');
    expect((choice.message as { reasoning_content?: string }).reasoning_content).toBe('The user wants the weather in Paris.');
    expect(choice.message.tool_calls?.map((c) => ({ id: c.id, type: c.type, name: (c as any).function.name, arguments: JSON.parse((c as any).function.arguments) }))).toEqual([
      { id: 'toolu_01WeatherCall', type: 'function', name: 'get_weather', arguments: { city: 'Paris', days: 2, units: { temp: 'C' } } },
    ]);
    expect(done.usage).toMatchObject({ prompt_tokens: 512, completion_tokens: 61 });
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'ant', attempts: 1, status: 200, outcome: 'ok', stream: false, stop_reason: 'tool_use', input_tokens: 412, output_tokens: 61, cache_read_input_tokens: 100 });
    expect(gw.deps.breaker.snapshot().ant?.failures ?? 0).toBe(0);
    // the same as the same stream streamed: the stream helper's finalChatCompletion
    const streamed = await openai().chat.completions.stream({ model: 'xc', ...ASK_OAI, stream_options: { include_usage: true } }).finalChatCompletion();
    // (the helper keeps only the last fragment of a field it does not know, reasoning_content; arguments as JSON)
    const s = streamed.choices[0]!;
    expect(choice.finish_reason).toBe(s.finish_reason);
    expect(choice.message.content).toBe(s.message.content);
    expect(choice.message.tool_calls?.map((c) => [c.id, JSON.parse((c as any).function.arguments)])).toEqual(s.message.tool_calls!.map((c) => [c.id, JSON.parse((c as any).function.arguments)]));
    expect(done.usage).toMatchObject(JSON.parse(JSON.stringify(streamed.usage)));
  });

  test('an event stream labelled application/json, with its length: the same completion', async () => {
    up.handler = () => new Response(ANTHROPIC_STREAM.join(''), { headers: { 'content-type': 'application/json' } });
    try {
      const done = await openai().chat.completions.create({ model: 'xc', ...ASK_OAI });
      expect(done.choices[0]!.finish_reason).toBe('tool_calls');
      expect(done.choices[0]!.message.content).toBe('Let me check the weather.');
      expect(done.usage).toMatchObject({ prompt_tokens: 512, completion_tokens: 61 });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('a stream of comments alone: the 502 it was, and the next channel answers', async () => {
    up.handler = () => sse([': keep-alive\n\n', ': keep-alive\n\n']);
    try {
      const before = gw.requestLogs().length;
      const done = await openai().chat.completions.create({ model: 'xc', ...ASK_OAI });
      expect(done.choices[0]!.message.content).toBe('from good');
      expect(await lastLine(before)).toMatchObject({ channel: 'good-ant', attempts: 2, outcome: 'ok' });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('an overloaded_error event after some text: the next channel answers, the channel counted as failed', async () => {
    up.handler = () => sse([...ANTHROPIC_STREAM.slice(0, 9), ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
    try {
      const before = gw.requestLogs().length;
      const failures = gw.deps.breaker.snapshot().ant?.failures ?? 0;
      const done = await openai().chat.completions.create({ model: 'xc', ...ASK_OAI });
      expect(done.choices[0]!.message.content).toBe('from good');
      expect(await lastLine(before)).toMatchObject({ channel: 'good-ant', attempts: 2, status: 200, outcome: 'ok' });
      expect(gw.deps.breaker.snapshot().ant?.failures).toBe(failures + 1);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('an overloaded_error event on the last channel: the error in the OpenAI envelope, with its status', async () => {
    up.handler = () => sse([...ANTHROPIC_STREAM.slice(0, 3), ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
    try {
      const before = gw.requestLogs().length;
      const err = await openai().chat.completions.create({ model: 'xc-alone', ...ASK_OAI }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(529);
      expect(err.error).toMatchObject({ message: 'Overloaded' });
      expect(await lastLine(before)).toMatchObject({ channel: 'ant', status: 529, outcome: 'error', error_type: 'overloaded_error' });
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });
});

describe('a translation not streamed answered by a stream whose connection is held open after its last event', () => {
  test('Messages -> openai: answered at [DONE], not after the idle timeout, and the upstream request let go', async () => {
    up.handler = () => chunkedSse(CHAT_STREAM, { hang: true }); // held open after its last event, as a proxy that keeps it
    try {
      const before = gw.requestLogs().length;
      const t0 = performance.now();
      const msg = await anthropic().messages.create({ model: 'xm-paced', ...ASK_ANT });
      expect(performance.now() - t0).toBeLessThan(250);
      expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
      expect(await lastLine(before)).toMatchObject({ channel: 'oai-paced', outcome: 'ok', output_tokens: 20 });
      await until(() => up.requests.at(-1)!.signal.aborted);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });

  test('Chat -> anthropic: answered at message_stop, not after the idle timeout, and the upstream request let go', async () => {
    up.handler = () => chunkedSse(ANTHROPIC_STREAM, { hang: true }); // held open after its last event, as a proxy that keeps it
    try {
      const before = gw.requestLogs().length;
      const t0 = performance.now();
      const done = await openai().chat.completions.create({ model: 'xc-paced', ...ASK_OAI });
      expect(performance.now() - t0).toBeLessThan(250);
      expect(done.choices[0]!.message.tool_calls?.[0]).toMatchObject({ id: 'toolu_01WeatherCall', function: { name: 'get_weather' } });
      expect(await lastLine(before)).toMatchObject({ channel: 'ant-paced', outcome: 'ok', output_tokens: 61 });
      await until(() => up.requests.at(-1)!.signal.aborted);
    } finally {
      up.handler = (r) => sse(r.path.endsWith('/messages') ? ANTHROPIC_STREAM : CHAT_STREAM);
    }
  });
});
