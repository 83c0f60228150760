/**
 * @module test/e2e/relayed-json-errors
 * A relayed JSON answer (Messages client on an anthropic channel, Chat Completions client on an openai channel) that is
 * a 2xx with an error object in it (OpenRouter documents errors inside 200s, https://openrouter.ai/docs/api/errors;
 * vLLM's `{"object":"error",…}`; an Anthropic-compatible proxy's `{"type":"error",…}`), or JSON that is no answer at
 * all (`{}`): the attempt's failure, as the same error with its status would be: counted against the channel, the next
 * channel tried, and on the last one the client's own error envelope with the error's status (from its code, else 502)
 * and the channel named. An answer without usage (some compatible servers omit it) still goes through unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { json, startMockUpstream, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-relayed-json-errors';

const CHAT_ANSWER = {
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-up',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the second channel' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 },
};
const MESSAGE = {
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'Hello from the second channel' }],
  stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 6 },
};

let oa1: MockUpstream;
let oa2: MockUpstream;
let ant1: MockUpstream;
let ant2: MockUpstream;
let gw: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(() => {
  oa1 = startMockUpstream(() => json(CHAT_ANSWER));
  oa2 = startMockUpstream(() => json(CHAT_ANSWER));
  ant1 = startMockUpstream(() => json(MESSAGE));
  ant2 = startMockUpstream(() => json(MESSAGE));
  gw = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    routing: { circuit_failures: 1000, max_retry_after_ms: 0 },
    channels: [
      // `o`, `a`: the first channel, then the second; `o1`, `a1`: the first alone (the last candidate)
      { name: 'oa-first', type: 'openai', provider: 'openai', base_url: `${oa1.url}/v1`, api_key: 'sk-oa-1', models: { o: 'gpt-up', o1: 'gpt-up' }, priority: 10 },
      { name: 'oa-second', type: 'openai', provider: 'openai', base_url: `${oa2.url}/v1`, api_key: 'sk-oa-2', models: { o: 'gpt-up' }, priority: 0 },
      { name: 'ant-first', type: 'anthropic', base_url: ant1.url, api_key: 'sk-ant-1', models: { a: 'claude-up', a1: 'claude-up' }, priority: 10 },
      { name: 'ant-second', type: 'anthropic', base_url: ant2.url, api_key: 'sk-ant-2', models: { a: 'claude-up' }, priority: 0 },
    ],
  });
  openai = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  for (const m of [oa1, oa2, ant1, ant2]) await m?.stop();
});

/** JSON of undeclared length (chunked, as a compressed or proxied answer is read): the gateway's streamed path. */
const chunkedJson = (body: unknown) => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(JSON.stringify(body))); c.close(); } }), { headers: { 'content-type': 'application/json' } });

const failures = (name: string) => gw.deps.breaker.snapshot()[name]?.failures ?? 0;

async function logOf(requestId: string | null | undefined) {
  expect(requestId).toBeTruthy();
  await until(() => gw.requestLogs().some((l) => l.request_id === requestId));
  return gw.requestLogs().find((l) => l.request_id === requestId);
}

/** What the openai SDK makes of the request: its answer, or the APIError it threw. */
async function chat(model: string) {
  try {
    const { data, response } = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    return { data, requestId: response.headers.get('request-id'), error: null as any };
  } catch (error: any) {
    return { data: null, requestId: error.headers?.get?.('request-id') ?? error.headers?.['request-id'], error };
  }
}

async function messages(model: string) {
  try {
    const { data, response } = await anthropic.messages.create({ model, max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    return { data, requestId: response.headers.get('request-id'), error: null as any };
  } catch (error: any) {
    return { data: null, requestId: error.headers?.get?.('request-id') ?? error.headers?.['request-id'], error };
  }
}

const CHAT_ERRORS = [
  { name: 'OpenRouter\'s {"error":{"code":429}}', body: { error: { message: 'Rate limit exceeded: free-models-per-min', code: 429 } }, status: 429, message: 'Rate limit exceeded: free-models-per-min' },
  { name: 'vLLM\'s {"object":"error","code":400}', body: { object: 'error', message: 'This model\'s maximum context length is 4096 tokens', type: 'BadRequestError', param: null, code: 400 }, status: 400, message: 'maximum context length is 4096 tokens' },
  { name: 'an error whose code is no HTTP status', body: { error: { message: 'upstream provider failed', code: 'server_error' } }, status: 502, message: 'upstream provider failed' },
  { name: 'an empty object', body: {}, status: 502, message: 'oa-first' },
  { name: 'an object that is no answer', body: { foo: 1 }, status: 502, message: 'oa-first' },
] as const;

describe('Chat client on an openai channel: a 200 whose JSON is an error or no answer', () => {
  for (const c of CHAT_ERRORS) {
    test(`${c.name}: the last channel's error, in the client's envelope, with its status`, async () => {
      oa1.handler = () => json(c.body);
      const before = failures('oa-first');
      const r = await chat('o1');
      expect(r.data).toBeNull();
      expect(r.error).toBeInstanceOf(OpenAI.APIError);
      expect(r.error.status).toBe(c.status);
      expect(r.error.message).toContain(c.message);
      expect(r.error.message).toContain('oa-first');
      const line = await logOf(r.requestId);
      expect(line.status).toBe(c.status);
      expect(line.error).toBeTruthy();
      // counted against the channel as the same error with its status would be (a 400 is the request's own)
      expect(failures('oa-first')).toBe(c.status === 400 ? 0 : before + 1);
    });
  }

  test('OpenRouter\'s 200 with {"error":{"code":429}} on the first channel: the second one answers', async () => {
    oa1.handler = () => json({ error: { message: 'Rate limit exceeded', code: 429 } });
    const seen = oa2.requests.length;
    const before = failures('oa-first');
    const r = await chat('o');
    expect(r.error).toBeNull();
    expect(r.data!.choices[0]!.message.content).toBe('Hello from the second channel');
    expect(oa2.requests.length).toBe(seen + 1);
    expect(failures('oa-first')).toBe(before + 1);
    const line = await logOf(r.requestId);
    expect(line.channel).toBe('oa-second');
    expect(line.attempts).toBe(2);
  });

  test('the same error in JSON of undeclared length (chunked): the second channel answers; alone, the error', async () => {
    oa1.handler = () => chunkedJson({ error: { message: 'Rate limit exceeded', code: 429 } });
    const r = await chat('o');
    expect(r.data!.choices[0]!.message.content).toBe('Hello from the second channel');
    expect((await logOf(r.requestId)).channel).toBe('oa-second');
    const alone = await chat('o1');
    expect(alone.error?.status).toBe(429);
    expect(alone.error?.message).toContain('oa-first: Rate limit exceeded');
    oa1.handler = () => chunkedJson(CHAT_ANSWER);
    expect((await chat('o1')).data!.choices[0]!.message.content).toBe('Hello from the second channel');
  });

  test('an answer without usage goes through unchanged', async () => {
    const { usage: _, ...noUsage } = CHAT_ANSWER;
    oa1.handler = () => json(noUsage);
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'o1', messages: [{ role: 'user', content: 'Hi' }] }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(noUsage));
    const r = await chat('o1');
    expect(r.data!.choices[0]!.message.content).toBe('Hello from the second channel');
    expect((await logOf(r.requestId)).error).toBeUndefined();
  });

  test('an answer without usage is logged with the local estimate, of declared length or not', async () => {
    const { usage: _, ...noUsage } = CHAT_ANSWER;
    for (const answer of [() => json(noUsage), () => chunkedJson(noUsage)]) {
      oa1.handler = answer;
      const r = await chat('o1');
      expect(r.data!.choices[0]!.message.content).toBe('Hello from the second channel');
      const line = await logOf(r.requestId);
      expect(line.usage_estimated).toBe(true);
      expect(line.input_tokens).toBeGreaterThan(0);
      expect(line.output_tokens).toBeGreaterThan(0);
    }
  });
});

const ANT_ERRORS = [
  { name: 'a proxy\'s {"type":"error","error":{"type":"overloaded_error"}}', body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, status: 529, type: 'overloaded_error', message: 'Overloaded' },
  { name: 'a proxy\'s {"type":"error","error":{"type":"invalid_request_error"}}', body: { type: 'error', error: { type: 'invalid_request_error', message: 'messages: bad' } }, status: 400, type: 'invalid_request_error', message: 'messages: bad' },
  { name: 'an OpenAI-style {"error":{"code":429}} from an Anthropic-compatible proxy', body: { error: { message: 'Rate limit exceeded', code: 429 } }, status: 429, type: 'rate_limit_error', message: 'Rate limit exceeded' },
  { name: 'an empty object', body: {}, status: 502, type: 'api_error', message: 'ant-first' },
  { name: 'an object that is no answer', body: { foo: 1 }, status: 502, type: 'api_error', message: 'ant-first' },
] as const;

describe('Messages client on an anthropic channel: a 200 whose JSON is an error or no answer', () => {
  for (const c of ANT_ERRORS) {
    test(`${c.name}: the last channel's error, in the client's envelope, with its status`, async () => {
      ant1.handler = () => json(c.body);
      const before = failures('ant-first');
      const r = await messages('a1');
      expect(r.data).toBeNull();
      expect(r.error).toBeInstanceOf(Anthropic.APIError);
      expect(r.error.status).toBe(c.status);
      expect(r.error.error?.type).toBe('error');
      expect(r.error.error?.error?.type).toBe(c.type);
      expect(r.error.message).toContain(c.message);
      expect(r.error.message).toContain('ant-first');
      const line = await logOf(r.requestId);
      expect(line.status).toBe(c.status);
      expect(line.error).toBeTruthy();
      expect(failures('ant-first')).toBe(c.status === 400 ? 0 : before + 1);
    });
  }

  test('a proxy\'s 200 with overloaded_error on the first channel: the second one answers', async () => {
    ant1.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const seen = ant2.requests.length;
    const before = failures('ant-first');
    const r = await messages('a');
    expect(r.error).toBeNull();
    expect((r.data!.content[0] as any).text).toBe('Hello from the second channel');
    expect(ant2.requests.length).toBe(seen + 1);
    expect(failures('ant-first')).toBe(before + 1);
    const line = await logOf(r.requestId);
    expect(line.channel).toBe('ant-second');
    expect(line.attempts).toBe(2);
  });

  test('the same error in JSON of undeclared length (chunked): the second channel answers; alone, the error', async () => {
    ant1.handler = () => chunkedJson({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const r = await messages('a');
    expect((r.data!.content[0] as any).text).toBe('Hello from the second channel');
    expect((await logOf(r.requestId)).channel).toBe('ant-second');
    const alone = await messages('a1');
    expect(alone.error?.status).toBe(529);
    expect(alone.error?.message).toContain('ant-first: Overloaded');
    ant1.handler = () => chunkedJson(MESSAGE);
    expect(((await messages('a1')).data!.content[0] as any).text).toBe('Hello from the second channel');
  });

  test('an answer without usage goes through unchanged; count_tokens too', async () => {
    const { usage: _, ...noUsage } = MESSAGE;
    ant1.handler = () => json(noUsage);
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'a1', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(noUsage));
    ant1.handler = () => json({ input_tokens: 12 });
    const count = await anthropic.messages.countTokens({ model: 'a1', messages: [{ role: 'user', content: 'Hi' }] });
    expect(count.input_tokens).toBe(12);
  });
});

describe('the same answers to a translation (Messages client on an openai channel, Chat client on an anthropic one)', () => {
  test('an error object inside the 200 on the first channel: the second one answers, the first counted', async () => {
    oa1.handler = () => json({ error: { message: 'Rate limit exceeded', code: 429 } });
    const before = failures('oa-first');
    const r = await messages('o');
    expect(r.error).toBeNull();
    expect((r.data!.content[0] as any).text).toBe('Hello from the second channel');
    expect(failures('oa-first')).toBe(before + 1);
    expect((await logOf(r.requestId)).channel).toBe('oa-second');

    ant1.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const c = await chat('a');
    expect(c.error).toBeNull();
    expect(c.data!.choices[0]!.message.content).toBe('Hello from the second channel');
    expect((await logOf(c.requestId)).channel).toBe('ant-second');
  });

  test('on the last channel: its status, the channel named, counted as the status says', async () => {
    oa1.handler = () => json({ error: { message: 'Rate limit exceeded', code: 429 } });
    const before = failures('oa-first');
    const r = await messages('o1');
    expect(r.error?.status).toBe(429);
    expect(r.error?.error?.error?.type).toBe('rate_limit_error');
    expect(r.error?.message).toContain('oa-first: Rate limit exceeded');
    expect(failures('oa-first')).toBe(before + 1);
    ant1.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const c = await chat('a1');
    expect(c.error?.status).toBe(529);
    expect(c.error?.message).toContain('ant-first: Overloaded');
  });
});

describe('a relayed stream request answered with JSON that is an error object (an upstream that ignores `stream`)', () => {
  test('on the last channel: the error\'s status in the client\'s envelope, not a 502 about its content-type', async () => {
    ant1.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const err: any = await anthropic.messages.stream({ model: 'a1', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(529);
    expect(err.message).toContain('ant-first: Overloaded');

    oa1.handler = () => json({ error: { message: 'Rate limit exceeded', code: 429 } });
    const before = failures('oa-first');
    const e2: any = await (async () => { for await (const _ of await openai.chat.completions.create({ model: 'o1', stream: true, messages: [{ role: 'user', content: 'Hi' }] })); })().then(() => null, (e) => e);
    expect(e2).toBeInstanceOf(OpenAI.APIError);
    expect(e2.status).toBe(429);
    expect(e2.message).toContain('oa-first: Rate limit exceeded');
    expect(failures('oa-first')).toBe(before + 1);
  });

  test('on the first channel: the second one answers', async () => {
    oa1.handler = () => json({ error: { message: 'Rate limit exceeded', code: 429 } });
    let text = '';
    for await (const c of await openai.chat.completions.create({ model: 'o', stream: true, messages: [{ role: 'user', content: 'Hi' }] })) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from the second channel');
  });
});
