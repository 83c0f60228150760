/**
 * A relayed stream request answered with a whole JSON answer in the channel's format: an OpenAI-compatible server
 * that ignores `stream` (older Ollama with tools, a proxy that buffers), an Anthropic-compatible proxy that does the
 * same. The client gets the stream that carries the same answer, through the hub as a translation's JSON answer does:
 * the official SDKs' stream helpers give back what the JSON held, the log line has its usage and stop reason, and
 * what the hub cannot carry (logprobs, system_fingerprint, a second choice…) is named in x-switchboard-dropped. A JSON
 * that is no answer (an error envelope inside the 200, no choices, no content) is still the attempt's failure.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-json-stream-1';
let up: MockUpstream;
let good: MockUpstream;
let gw: TestGateway;

/** The body as one write with its length, or chunked without one (a proxy that streams its JSON). */
const json = (body: unknown, chunked = false) => chunked
  ? new Response(new ReadableStream<Uint8Array>({ start(c) { const b = new TextEncoder().encode(JSON.stringify(body)); c.enqueue(b.subarray(0, 7)); c.enqueue(b.subarray(7)); c.close(); } }), { headers: { 'content-type': 'application/json' } })
  : new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json; charset=utf-8' } });

const MESSAGE_TOOL = {
  id: 'msg_01JsonStreamTool', type: 'message', role: 'assistant', model: 'claude-up',
  content: [
    { type: 'thinking', thinking: 'The user wants the weather in Paris.', signature: 'EqQBCkYIBxgCKkBsig==' },
    { type: 'text', text: 'Let me check the weather.' },
    { type: 'tool_use', id: 'toolu_01WeatherCall', name: 'get_weather', input: { city: 'Paris', days: 2, units: { temp: 'C' } } },
  ],
  stop_reason: 'tool_use', stop_sequence: null,
  usage: { input_tokens: 412, output_tokens: 61, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 },
};

const MESSAGE_TEXT = {
  id: 'msg_01JsonStreamText', type: 'message', role: 'assistant', model: 'claude-up',
  content: [{ type: 'text', text: 'Hello! How can I help you today? 🌍' }],
  stop_reason: 'end_turn', stop_sequence: null,
  usage: { input_tokens: 9, output_tokens: 12 },
};

const COMPLETION_TOOLS = {
  id: 'chatcmpl-json-stream-tools', object: 'chat.completion', created: 1764300000, model: 'qwen3:8b',
  choices: [{
    index: 0, finish_reason: 'tool_calls',
    message: { role: 'assistant', content: '', tool_calls: [
      { id: 'call_weather1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' } },
      { id: 'call_time2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ] },
  }],
  usage: { prompt_tokens: 80, completion_tokens: 20, total_tokens: 100 },
};

const COMPLETION_TEXT = {
  id: 'chatcmpl-json-stream-text', object: 'chat.completion', created: 1764300000, model: 'qwen3:8b',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Bonjour! Comment puis-je vous aider? 🌍' } }],
  usage: { prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 },
};

beforeAll(() => {
  up = startMockUpstream(() => json(MESSAGE_TEXT));
  good = startMockUpstream((r) => r.path.endsWith('/messages')
    ? new Response(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { ...MESSAGE_TEXT, id: 'msg_good', content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } })}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"from good"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`, { headers: { 'content-type': 'text/event-stream' } })
    : new Response(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"from good"},"finish_reason":null}]}\n\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`, { headers: { 'content-type': 'text/event-stream' } }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    routing: { circuit_failures: 100000 },
    channels: [
      { name: 'ant', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-key', models: ['ma'], priority: 10 },
      { name: 'oai', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-key', models: ['mo'], priority: 10 },
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

/** The SDK's message as JSON, without the `parsed_output` its helper adds to every message (structured outputs). */
function asJson(msg: Anthropic.Message): unknown {
  const { parsed_output: _, ...rest } = JSON.parse(JSON.stringify(msg));
  return rest;
}

const anthropic = () => new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
const TOOLS_ANT = [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
const TOOLS_OAI = [
  { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

describe('Messages -> anthropic channel (relayed): a JSON Message to a streamed request', () => {
  for (const chunked of [false, true]) {
    test(`thinking, text and a tool call${chunked ? ', the JSON chunked' : ''}: finalMessage is the JSON's message, logged ok with its usage`, async () => {
      up.handler = () => json(MESSAGE_TOOL, chunked);
      const before = gw.requestLogs().length;
      const { data: stream, response } = await anthropic().messages.stream({ model: 'ma', max_tokens: 200, tools: TOOLS_ANT, messages: [{ role: 'user', content: 'Weather in Paris?' }] }).withResponse();
      const msg = await stream.finalMessage();
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toStartWith('text/event-stream');
      expect(response.headers.get('x-switchboard-dropped')).toBeNull();
      expect(asJson(msg)).toEqual(MESSAGE_TOOL);
      const line = await lastLine(before);
      expect(line).toMatchObject({ channel: 'ant', attempts: 1, status: 200, outcome: 'ok', stream: true, stop_reason: 'tool_use', input_tokens: 412, output_tokens: 61, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 });
      expect(line.dropped).toBeUndefined();
      expect(line.usage_estimated).toBeUndefined();
      expect(gw.deps.breaker.snapshot().ant?.failures ?? 0).toBe(0);
    });
  }

  test('a cited text: finalMessage holds its citations', async () => {
    const cited = { ...MESSAGE_TEXT, content: [{ type: 'text', text: 'The grass is green.', citations: [{ type: 'char_location', cited_text: 'The grass is green.', document_index: 0, document_title: 'Facts', start_char_index: 0, end_char_index: 19 }] }] };
    up.handler = () => json(cited);
    const msg = await anthropic().messages.stream({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'What color is the grass?' }] }).finalMessage();
    expect(asJson(msg)).toEqual(cited);
  });

  test('a refusal with its stop_details: finalMessage holds them', async () => {
    const refused = { ...MESSAGE_TEXT, content: [], stop_reason: 'refusal', stop_details: { type: 'refusal', category: 'cyber', explanation: 'This request was declined.' } };
    up.handler = () => json(refused);
    const msg = await anthropic().messages.stream({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(asJson(msg)).toEqual(refused);
  });

  test('a message without usage (some compatible servers): answered, with the local estimate, logged as one', async () => {
    const { usage: _, ...bare } = MESSAGE_TEXT;
    up.handler = () => json(bare);
    const before = gw.requestLogs().length;
    const msg = await anthropic().messages.stream({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'Say hello to the whole wide world, please.' }] }).finalMessage();
    expect(JSON.parse(JSON.stringify(msg.content))).toEqual(MESSAGE_TEXT.content);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'ant', attempts: 1, status: 200, outcome: 'ok', usage_estimated: true, input_tokens: msg.usage.input_tokens, output_tokens: msg.usage.output_tokens });
  });

  test('text: the SDK streams its text, and finalMessage is the JSON\'s message', async () => {
    up.handler = () => json(MESSAGE_TEXT);
    const before = gw.requestLogs().length;
    const stream = anthropic().messages.stream({ model: 'ma', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const msg = await stream.finalMessage();
    expect(text).toBe(MESSAGE_TEXT.content[0]!.text);
    expect(asJson(msg)).toEqual(MESSAGE_TEXT);
    expect(await lastLine(before)).toMatchObject({ channel: 'ant', status: 200, outcome: 'ok', stop_reason: 'end_turn', input_tokens: 9, output_tokens: 12 });
  });
});

describe('Chat -> openai channel (relayed): a JSON completion to a streamed request', () => {
  for (const chunked of [false, true]) {
    test(`tool calls${chunked ? ', the JSON chunked' : ''}: finalChatCompletion holds the calls and finish_reason, logged ok with its usage`, async () => {
      up.handler = () => json(COMPLETION_TOOLS, chunked);
      const before = gw.requestLogs().length;
      const stream = openai().chat.completions.stream({ model: 'mo', tools: TOOLS_OAI, messages: [{ role: 'user', content: 'Weather in Paris, and the time?' }] });
      const done = await stream.finalChatCompletion();
      const choice = done.choices[0]!;
      expect(done.choices).toHaveLength(1);
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content || null).toBeNull();
      expect(choice.message.tool_calls?.map((c) => ({ id: c.id, type: c.type, name: (c as any).function.name, arguments: JSON.parse((c as any).function.arguments) }))).toEqual([
        { id: 'call_weather1', type: 'function', name: 'get_weather', arguments: { city: 'Paris', days: 2 } },
        { id: 'call_time2', type: 'function', name: 'get_time', arguments: {} },
      ]);
      expect(done.model).toBe('qwen3:8b');
      expect(done.id).toBe(COMPLETION_TOOLS.id);
      const line = await lastLine(before);
      expect(line).toMatchObject({ channel: 'oai', attempts: 1, status: 200, outcome: 'ok', stream: true, stop_reason: 'tool_use', input_tokens: 80, output_tokens: 20 });
      expect(line.dropped).toBeUndefined();
      expect(gw.deps.breaker.snapshot().oai?.failures ?? 0).toBe(0);
    });
  }

  test('text, iterated with include_usage: the content, finish_reason and a usage chunk, nothing dropped', async () => {
    up.handler = () => json(COMPLETION_TEXT);
    const before = gw.requestLogs().length;
    const { data: stream, response } = await openai().chat.completions.create({ model: 'mo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Bonjour' }] }).withResponse();
    let content = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) { content += c.delta.content ?? ''; finish = c.finish_reason ?? finish; }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(response.headers.get('content-type')).toStartWith('text/event-stream');
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    expect(content).toBe(COMPLETION_TEXT.choices[0]!.message.content);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 });
    expect(await lastLine(before)).toMatchObject({ channel: 'oai', status: 200, outcome: 'ok', stop_reason: 'end_turn', input_tokens: 11, output_tokens: 9 });
  });

  test('text, the finalChatCompletion helper, no usage asked: no usage chunk', async () => {
    up.handler = () => json(COMPLETION_TEXT);
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    const stream = openai().chat.completions.stream({ model: 'mo', messages: [{ role: 'user', content: 'Bonjour' }] });
    stream.on('chunk', (c) => chunks.push(c));
    const done = await stream.finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe(COMPLETION_TEXT.choices[0]!.message.content);
    expect(done.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  test('what the hub cannot carry (logprobs, system_fingerprint, a second choice, refusal): named in x-switchboard-dropped and the log line', async () => {
    const body = {
      ...COMPLETION_TEXT, system_fingerprint: 'fp_ollama',
      choices: [
        { ...COMPLETION_TEXT.choices[0]!, logprobs: { content: [{ token: 'Bonjour', logprob: -0.1, bytes: null, top_logprobs: [] }] } },
        { index: 1, finish_reason: 'stop', message: { role: 'assistant', content: 'Salut!' } },
      ],
    };
    up.handler = () => json(body);
    const before = gw.requestLogs().length;
    const { data: stream, response } = await openai().chat.completions.create({ model: 'mo', stream: true, messages: [{ role: 'user', content: 'Bonjour' }] }).withResponse();
    let content = '';
    for await (const chunk of stream) for (const c of chunk.choices) content += c.delta.content ?? '';
    expect(content).toBe(COMPLETION_TEXT.choices[0]!.message.content);
    const dropped = response.headers.get('x-switchboard-dropped');
    expect(dropped).toContain('choices 1+');
    expect(dropped).toContain('choices.0.logprobs');
    expect(dropped).toContain('system_fingerprint');
    const line = await lastLine(before);
    expect(line).toMatchObject({ channel: 'oai', status: 200, outcome: 'ok' });
    expect(line.dropped).toEqual(expect.arrayContaining(['system_fingerprint', 'choices.0.logprobs']));
  });

  test('a refusal: its text as content, and both changes named', async () => {
    up.handler = () => json({ ...COMPLETION_TEXT, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' } }] });
    const { data: stream, response } = await openai().chat.completions.create({ model: 'mo', stream: true, messages: [{ role: 'user', content: 'Bonjour' }] }).withResponse();
    let content = '';
    for await (const chunk of stream) for (const c of chunk.choices) content += c.delta.content ?? '';
    expect(content).toBe('I cannot help with that.');
    expect(response.headers.get('x-switchboard-dropped')).toBe('choices.0.message.refusal (sent as content), choices.0.finish_reason stop (sent as content_filter)');
  });
});

/** A JSON object that is no answer in the channel's format: the 502 and the next channel, as before. */
describe('a JSON that is no answer, to a relayed stream request: the next channel answers', () => {
  const NONE: Record<string, unknown> = {
    'an error envelope': { error: { message: 'model "x" not found, try pulling it first', type: 'api_error' } },
    'Anthropic\'s error envelope': { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    'no choices': { id: 'x', object: 'chat.completion', choices: [] },
  };
  for (const [name, body] of Object.entries(NONE)) {
    for (const mode of [{ client: 'anthropic', model: 'ma', channel: 'ant' }, { client: 'openai', model: 'mo', channel: 'oai' }] as const) {
      test(`${mode.client} client, ${name}`, async () => {
        up.handler = () => json(body);
        const before = gw.requestLogs().length;
        const failures = gw.deps.breaker.snapshot()[mode.channel]?.failures ?? 0;
        const text = mode.client === 'anthropic'
          ? (await anthropic().messages.stream({ model: mode.model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).finalMessage()).content.map((b) => (b.type === 'text' ? b.text : '')).join('')
          : (await openai().chat.completions.stream({ model: mode.model, messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion()).choices[0]!.message.content;
        expect(text).toBe('from good');
        expect(await lastLine(before)).toMatchObject({ channel: `good-${mode.channel}`, attempts: 2, status: 200, outcome: 'ok' });
        expect(gw.deps.breaker.snapshot()[mode.channel]?.failures).toBe(failures + 1);
      });
    }
  }
});
