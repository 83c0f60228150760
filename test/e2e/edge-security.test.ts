/**
 * What a client cannot make the gateway do with the channel's credentials: call a URL the operator did not configure
 * (a model name that is a path segment of its own), or read them back in the headers an upstream answers with.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-edge-security-1';
let azure: MockUpstream;
let other: MockUpstream;

beforeAll(() => {
  azure = startMockUpstream(() => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
  other = startMockUpstream(() => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
});
afterAll(async () => { await azure.stop(); await other.stop(); });

function gateway(channels: unknown[]): TestGateway {
  return startGateway({ keys: [{ key: KEY, name: 'k' }], channels });
}

const deployments = () => ({
  name: 'az', type: 'openai', provider: 'azure', base_url: `${azure.url}/openai/deployments/{model}`, api_key: 'azure-channel-secret', models: ['*'],
});

test('a deployment URL ({model} in base_url): a model that is a path segment of its own (".", "..") is refused, never sent where the URL leads', async () => {
  const gw = gateway([deployments()]);
  try {
    const chat = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const messages = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
    for (const model of ['..', '.']) {
      const viaChat = await chat.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
      expect(viaChat).toBeInstanceOf(OpenAI.BadRequestError);
      expect(viaChat.error.param).toBe('model');
      expect(viaChat.message).toContain(`model: "${model}" cannot be put in channel az's URL`);
      const viaMessages = await messages.messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
      expect(viaMessages).toBeInstanceOf(Anthropic.BadRequestError);
      expect(viaMessages.error.error.message).toContain(`model: "${model}" cannot be put in channel az's URL`);
    }
    expect(azure.requests.map((r) => r.path)).toEqual([]);
    // a name with dots that is not a dot segment is one deployment, as ever
    await chat.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    await chat.chat.completions.create({ model: '...', messages: [{ role: 'user', content: 'hi' }] });
    expect(azure.requests.map((r) => r.path)).toEqual(['/openai/deployments/gpt-4.1/chat/completions', '/openai/deployments/.../chat/completions']);
  } finally {
    azure.requests.length = 0;
    await gw.stop();
  }
});

test('a refused model on a deployment URL falls to the next candidate, which takes it', async () => {
  const gw = gateway([deployments(), { name: 'o', type: 'openai', base_url: `${other.url}/v1`, api_key: 'other-secret', models: ['*'], priority: -1 }]);
  try {
    const chat = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const answer = await chat.chat.completions.create({ model: '..', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0]!.message.content).toBeString();
    expect(azure.requests).toEqual([]);
    expect(other.requests.map((r) => [r.path, r.json.model])).toEqual([['/v1/chat/completions', '..']]);
    expect(gw.requestLogs().map((l) => [l.status, l.channel, l.attempts])).toEqual([[200, 'o', 1]]);
  } finally {
    other.requests.length = 0;
    await gw.stop();
  }
});

/** An upstream that quotes the credentials it was sent back in its answer's headers, as some proxies and debug builds do. */
function echoing(body: () => unknown, status = 200) {
  return (req: { headers: Headers }) => json(body(), status, {
    'x-api-key': req.headers.get('x-api-key') ?? '',
    'api-key': req.headers.get('api-key') ?? '',
    authorization: req.headers.get('authorization') ?? '',
    'www-authenticate': 'Bearer realm="upstream", error="invalid_token"',
    'authentication-info': 'nextnonce="x"',
    'x-ratelimit-remaining-requests': '99',
  });
}

test('credentials an upstream echoes in its answer\'s headers never reach the client, nor its auth challenge, answers and relayed errors alike; other headers do', async () => {
  const anthropicUp = startMockUpstream(echoing(() => JSON.parse(readFixture('anthropic/response-text.json'))));
  const chatUp = startMockUpstream(echoing(() => JSON.parse(readFixture('openai-chat/response-text.json'))));
  const limiting = startMockUpstream(echoing(() => ({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }), 429));
  const gw = gateway([
    { name: 'a', type: 'anthropic', base_url: anthropicUp.url, api_key: 'anthropic-channel-secret', models: ['to-anthropic'] },
    { name: 'o', type: 'openai', base_url: `${chatUp.url}/v1`, api_key: 'openai-channel-secret', models: ['to-openai'] },
    { name: 'z', type: 'openai', provider: 'azure', base_url: `${chatUp.url}/openai/deployments/{model}`, api_key: 'azure-channel-secret', models: ['to-azure'] },
    { name: 'r', type: 'anthropic', base_url: limiting.url, api_key: 'refused-channel-secret', models: ['refused'] },
  ]);
  try {
    const messages = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
    const chat = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const seen: Headers[] = [];
    for (const model of ['to-anthropic', 'to-openai', 'to-azure']) {
      seen.push((await messages.messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).withResponse()).response.headers);
      seen.push((await chat.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse()).response.headers);
    }
    const refused = await messages.messages.create({ model: 'refused', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    seen.push(refused.headers);
    const refusedChat = await chat.chat.completions.create({ model: 'refused', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    expect(refusedChat).toBeInstanceOf(OpenAI.RateLimitError);
    seen.push(refusedChat.headers);
    for (const headers of seen) {
      const all = JSON.stringify([...headers]);
      expect(all).not.toContain('channel-secret');
      for (const name of ['x-api-key', 'api-key', 'authorization', 'www-authenticate', 'authentication-info']) expect(headers.get(name)).toBeNull();
    }
    // a relayed answer's and a relayed error's other headers as they came (the passthrough ones: Messages to the
    // anthropic channel, Chat to the openai and azure ones, the 429 to the Messages client)
    expect([0, 3, 5, 6].map((i) => seen[i]!.get('x-ratelimit-remaining-requests'))).toEqual(['99', '99', '99', '99']);
  } finally {
    await gw.stop();
    await anthropicUp.stop();
    await chatUp.stop();
    await limiting.stop();
  }
});

test('a refused model takes no attempt: with max_attempts 1 the next candidate still takes it (the refusal was the answer)', async () => {
  const gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    routing: { max_attempts: 1 },
    channels: [deployments(), { name: 'o', type: 'openai', base_url: `${other.url}/v1`, api_key: 'other-secret', models: ['*'], priority: -1 }],
  });
  try {
    const chat = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const answer = await chat.chat.completions.create({ model: '..', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0]!.message.content).toBeString();
    expect(azure.requests).toEqual([]);
    expect(other.requests.map((r) => [r.path, r.json.model])).toEqual([['/v1/chat/completions', '..']]);
    expect(gw.requestLogs().map((l) => [l.status, l.channel, l.attempts])).toEqual([[200, 'o', 1]]);
    // a name the first candidate takes is still one attempt, on it alone
    await chat.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    expect(azure.requests.map((r) => r.path)).toEqual(['/openai/deployments/gpt-4.1/chat/completions']);
    expect(other.requests.length).toBe(1);
  } finally {
    other.requests.length = 0;
    azure.requests.length = 0;
    await gw.stop();
  }
});

test('a credential the channel sends in a header of its own (`headers`: a gateway\'s or an API manager\'s token) is not relayed when an upstream echoes it back either', async () => {
  const names = ['cf-aig-authorization', 'ocp-apim-subscription-key', 'x-portkey-api-key'];
  const echoed: string[] = [];
  const echoingAll = (body: () => unknown) => (req: { headers: Headers }) => json(body(), 200, {
    ...Object.fromEntries(names.map((n) => {
      const value = req.headers.get(n) ?? '';
      echoed.push(value);
      return [n, value];
    })),
    'x-ratelimit-remaining-requests': '99',
  });
  const anthropicUp = startMockUpstream(echoingAll(() => JSON.parse(readFixture('anthropic/response-text.json'))));
  const chatUp = startMockUpstream(echoingAll(() => JSON.parse(readFixture('openai-chat/response-text.json'))));
  const headers = { 'CF-AIG-Authorization': 'Bearer cf-gateway-secret-1', 'Ocp-Apim-Subscription-Key': 'apim-secret-2', 'x-portkey-api-key': 'portkey-secret-3' };
  const gw = gateway([
    { name: 'a', type: 'anthropic', base_url: anthropicUp.url, api_key: 'anthropic-channel-secret', headers, models: ['to-anthropic'] },
    { name: 'o', type: 'openai', base_url: `${chatUp.url}/v1`, api_key: 'openai-channel-secret', headers, models: ['to-openai'] },
  ]);
  try {
    const messages = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
    const chat = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const seen: Headers[] = [];
    for (const model of ['to-anthropic', 'to-openai']) {
      seen.push((await messages.messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).withResponse()).response.headers);
      seen.push((await chat.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse()).response.headers);
    }
    // the upstreams got them (the echo is real), the clients did not
    expect(echoed.slice(0, 3)).toEqual(['Bearer cf-gateway-secret-1', 'apim-secret-2', 'portkey-secret-3']);
    for (const h of seen) expect(JSON.stringify([...h])).not.toContain('secret');
    // the relayed answers' other headers as they came (Messages to the anthropic channel, Chat to the openai one)
    expect([0, 3].map((i) => seen[i]!.get('x-ratelimit-remaining-requests'))).toEqual(['99', '99']);
  } finally {
    await gw.stop();
    await anthropicUp.stop();
    await chatUp.stop();
  }
});
