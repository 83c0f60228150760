/**
 * An `anthropic` channel pointed at an Anthropic-COMPATIBLE endpoint (DeepSeek's, Z.ai's, Kimi's, a Console or
 * corporate proxy, SGLang, LM Studio), not at api.anthropic.com: they speak Messages, but report usage in other events
 * and may not serve count_tokens. Mock upstreams answer as those endpoints are reported to.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-anthropic-compatible-1';
let up: MockUpstream;
let second: MockUpstream;
let gw: TestGateway;
let an: Anthropic;
let oa: OpenAI;

beforeAll(() => {
  up = startMockUpstream(() => new Response('no handler', { status: 500 }));
  second = startMockUpstream(() => json({ input_tokens: 77 }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'compat', type: 'anthropic', base_url: `${up.url}/anthropic`, api_key: 'sk-compat-upstream-1', models: ['m', 'both'] },
      { name: 'counts', type: 'anthropic', base_url: second.url, api_key: 'sk-counts-upstream-1', models: ['both'], priority: -1 },
    ],
  });
  an = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
  oa = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  await second?.stop();
});

const logLine = async (n: number) => {
  await until(() => gw.requestLogs().length >= n);
  return gw.requestLogs()[n - 1];
};

/** A short Messages stream whose two usage objects are `start` (message_start's) and `delta` (message_delta's). */
function stream(start: Record<string, number>, delta: Record<string, number>): string[] {
  const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  return [
    ev('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: start } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello there' } }),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: delta }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

describe('usage reported in other events than Anthropic reports it in', () => {
  test('input_tokens only in message_delta (Z.ai, SGLang before its fix: message_start says 0): the log has message_delta\'s', async () => {
    const n = gw.requestLogs().length;
    up.handler = () => sse(stream({ input_tokens: 0, output_tokens: 0 }, { input_tokens: 14, output_tokens: 3, cache_read_input_tokens: 5 }));
    await an.messages.stream({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'Say OK' }] }).finalMessage();
    expect(await logLine(n + 1)).toMatchObject({ input_tokens: 14, output_tokens: 3, cache_read_input_tokens: 5 });
  });

  test('input_tokens only in message_delta, the stream cut before it (Claude Code\'s Esc): the input estimated, not 0', async () => {
    // message_start says 0 and message_delta, which would say the input, never comes: the provider billed the prompt
    const cut = stream({ input_tokens: 0, output_tokens: 0 }, {}).slice(0, 3);
    const prompt = 'Summarise the history of the lighthouse at Alexandria, its builders and its fall. '.repeat(20);
    const n = gw.requestLogs().length;
    up.handler = () => sse(cut);
    await an.messages.stream({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: prompt }] }).finalMessage().catch(() => {});
    up.handler = (r) => sse(cut, { delayMs: 1, signal: r.signal });
    await an.messages.stream({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: prompt }] }).finalMessage().catch(() => {});
    const chunks = await oa.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: prompt }], stream: true });
    await (async () => { for await (const _ of chunks) { /* to the cut */ } })().catch(() => {});
    for (const i of [1, 2, 3]) {
      const log = await logLine(n + i);
      expect(log).toMatchObject({ usage_estimated: true, output_tokens: 3 });
      expect(log.input_tokens).toBeGreaterThan(300);
    }
  });

  test('message_delta with input_tokens 0 (SGLang sgl-project/sglang#20830): message_start\'s count is kept, in the log and for a Chat client', async () => {
    const n = gw.requestLogs().length;
    up.handler = () => sse(stream({ input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 100 }, { input_tokens: 0, output_tokens: 9, cache_read_input_tokens: 0 }));
    await an.messages.stream({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(await logLine(n + 1)).toMatchObject({ input_tokens: 25, output_tokens: 9, cache_read_input_tokens: 100 });

    const chunks = await oa.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of chunks) if (c.usage) usage = c.usage;
    expect(usage).toMatchObject({ prompt_tokens: 125, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 100 } });
    expect(await logLine(n + 2)).toMatchObject({ input_tokens: 25, output_tokens: 9, cache_read_input_tokens: 100 });
  });
});

describe('count_tokens on an endpoint that does not serve it', () => {
  // a Console account (Wei-Shaw/claude-relay-service#731), LM Studio (lmstudio-ai/lmstudio-bug-tracker#2055): 404
  const notServed = () => json({ error: { message: 'Invalid URL (POST /anthropic/v1/messages/count_tokens)', type: 'invalid_request_error' } }, 404);

  test('the only channel answers 404: the local estimate, marked so, not a 404 for Claude Code', async () => {
    up.handler = (r) => (r.path.endsWith('/count_tokens') ? notServed() : new Response('no', { status: 500 }));
    const n = gw.requestLogs().length;
    const { data, response } = await an.beta.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'How many tokens is this sentence, roughly?' }] }).withResponse();
    expect(data.input_tokens).toBeGreaterThan(5);
    expect(response.headers.get('x-switchboard-estimate')).toBe('true');
    expect(up.requests.at(-1)!.path).toBe('/anthropic/v1/messages/count_tokens');
    expect(await logLine(n + 1)).toMatchObject({ status: 200, channel: 'compat', input_tokens: data.input_tokens, usage_estimated: true });
  });

  // bodies that are no JSON error (a proxy routing only /v1/messages, a bare server): since 797865f upstreamError
  // throws the client's envelope for such a body, and count_tokens answered it rather than the estimate
  test.each([
    ['a 405 (the path\'s method refused) with a text body', 405, 'Method Not Allowed'],
    ['a 404 with an empty body', 404, ''],
    ['a 404 with an HTML page', 404, '<html><body><h1>404 Not Found</h1></body></html>'],
  ])('%s is the local estimate too, and a warn line names the channel', async (_, status, page) => {
    up.handler = (r) => (r.path.endsWith('/count_tokens') ? new Response(page, { status, headers: { 'content-type': page.startsWith('<') ? 'text/html' : 'text/plain' } }) : new Response('no', { status: 500 }));
    const n = gw.requestLogs().length;
    const { data, response } = await an.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'How many tokens is this sentence, roughly?' }] }).withResponse();
    expect(data.input_tokens).toBeGreaterThan(5);
    expect(response.headers.get('x-switchboard-estimate')).toBe('true');
    expect(await logLine(n + 1)).toMatchObject({ status: 200, channel: 'compat', usage_estimated: true, outcome: 'ok' });
    expect(gw.logs.filter((l) => l.level === 'warn' && l.msg.includes('count_tokens')).at(-1)).toMatchObject({ channel: 'compat', status });
  });

  test('a 404 that names the model (Anthropic\'s for a model it does not have) is the answer, not an estimate', async () => {
    const unknownModel = json({ type: 'error', error: { type: 'not_found_error', message: 'model: up-retired' } }, 404);
    up.handler = (r) => (r.path.endsWith('/count_tokens') ? unknownModel : new Response('no', { status: 500 }));
    const n = gw.requestLogs().length;
    const err = await an.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error.error.message).toBe('model: up-retired');
    expect(err.headers.get('x-switchboard-estimate')).toBeNull();
    expect(await logLine(n + 1)).toMatchObject({ status: 404, channel: 'compat', error: 'upstream HTTP 404' });
  });

  test('a later channel that counts is still asked first', async () => {
    up.handler = () => notServed();
    const counted = await an.messages.countTokens({ model: 'both', messages: [{ role: 'user', content: 'hi' }] });
    expect(counted.input_tokens).toBe(77);
  });
});

test('an upstream that takes `Authorization: Bearer` (a corporate proxy, LiteLLM): the key in `headers`, no api_key, is the only credential sent', async () => {
  const mock = startMockUpstream(() => json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } }));
  const bearer = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [{ name: 'proxy', type: 'anthropic', base_url: mock.url, headers: { Authorization: 'Bearer proxy-token-123456' }, models: ['m'] }],
  });
  try {
    const client = new Anthropic({ apiKey: KEY, baseURL: bearer.url, maxRetries: 0 });
    await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    await client.messages.countTokens({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch(() => null);
    for (const r of mock.requests) {
      expect(r.headers.get('authorization')).toBe('Bearer proxy-token-123456');
      expect(r.headers.get('x-api-key')).toBeNull();
    }
  } finally {
    await bearer.stop();
    await mock.stop();
  }
});

test('a proxy that refuses Claude Code\'s beta flags (Bedrock, Vertex, LiteLLM: 400 "invalid beta flag"): `headers: {anthropic-beta: null}` sends none', async () => {
  const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } };
  // as Bedrock-backed proxies answer (anthropics/claude-code#30926)
  const mock = startMockUpstream((r) => (r.headers.has('anthropic-beta')
    ? json({ type: 'error', error: { type: 'invalid_request_error', message: 'invalid beta flag' } }, 400)
    : json(message)));
  const beta = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'bedrock-proxy', type: 'anthropic', base_url: mock.url, api_key: 'sk-proxy-upstream-1', headers: { 'Anthropic-Beta': null }, models: ['m'] },
      { name: 'as-is', type: 'anthropic', base_url: mock.url, api_key: 'sk-proxy-upstream-1', models: ['plain'] },
    ],
  });
  try {
    const client = new Anthropic({ apiKey: KEY, baseURL: beta.url, maxRetries: 0 });
    const betas = ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'];
    const answer = await client.beta.messages.create({ model: 'm', max_tokens: 8, betas, messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.content.map((b) => (b.type === 'text' ? b.text : b.type))).toEqual(['ok']);
    expect(mock.requests.at(-1)!.headers.get('anthropic-beta')).toBeNull();
    expect(mock.requests.at(-1)!.headers.get('x-api-key')).toBe('sk-proxy-upstream-1'); // the rest as before
    // without the setting, the client's flags go upstream as they came (and this upstream refuses them)
    const refused = await client.beta.messages.create({ model: 'plain', max_tokens: 8, betas, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect(mock.requests.at(-1)!.headers.get('anthropic-beta')).toBe(betas.join(','));
  } finally {
    await beta.stop();
    await mock.stop();
  }
});

test('a credential set in `headers` (no api_key) is masked by its value where an upstream quotes it back, the token of `Bearer <token>` alone too', async () => {
  const token = 'corp9f8e7d6c5b4a3210'; // no shape a credential pattern knows
  const mock = startMockUpstream((r) => json({ type: 'error', error: { type: 'invalid_request_error', message: `token ${r.headers.get('authorization')?.slice(7)} (${r.headers.get('x-corp-auth')}) has expired` } }, 400));
  const g = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [{ name: 'proxy', type: 'anthropic', base_url: mock.url, headers: { Authorization: `Bearer ${token}`, 'X-Corp-Auth': 'corp-session-42424242' }, models: ['m'] }],
  });
  try {
    const client = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
    const err = await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toBe('token [redacted] ([redacted]) has expired');
  } finally {
    await g.stop();
    await mock.stop();
  }
});
