/**
 * Browsers (http/cors.ts): the headers a web page needs to read the gateway's answers, on every endpoint and every
 * kind of answer, for the origins `server.cors_origins` allows, and nothing for a request without `Origin`; the
 * preflight a browser sends before them; and the Anthropic SDK in a page, through a fetch that keeps a browser's rules.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { browserFetch } from '../helpers/browser.ts';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';

const NOT_SERVED = 'this gateway does not serve this endpoint; it serves POST /v1/messages, POST /v1/messages/count_tokens, POST /v1/chat/completions and GET /v1/models';

const KEY = 'sk-gw-cors-key-1';
const PAGE = 'https://playground.example.com';
const textMessage = JSON.parse(readFixture('anthropic/response-text.json'));
const chatCompletion = JSON.parse(readFixture('openai-chat/response-text.json'));
const anthropicStream = `${fixtureSseBody('anthropic/stream-text-basic.sse').trimEnd()}\n\n`; // the recording lacks its last blank line
const chatStream = fixtureSseBody('openai-chat/stream-text-usage-chunk.sse');

/** What an upstream may say to browsers itself: never relayed, the gateway's own policy decides. */
const UPSTREAM_CORS = {
  'access-control-allow-origin': 'https://upstream-says.example',
  'access-control-allow-credentials': 'true',
  'access-control-expose-headers': 'x-upstream-secret',
  'access-control-allow-methods': 'DELETE',
};

let anthropicUp: MockUpstream;
let openaiUp: MockUpstream;
/** Keys configured, `cors_origins` absent: every origin. */
let open: TestGateway;
/** Keys configured, one origin listed. */
let listed: TestGateway;
/** No keys, `cors_origins` absent: no CORS. */
let keyless: TestGateway;

const channels = () => [
  { name: 'claude', type: 'anthropic', base_url: anthropicUp.url, api_key: 'sk-ant-up', models: ['claude-opus-5-5'] },
  { name: 'oai', type: 'openai', base_url: `${openaiUp.url}/v1`, api_key: 'sk-oai-up', models: { 'to-openai': 'gpt-up', 'gpt-x': 'gpt-x' } },
];

beforeAll(() => {
  anthropicUp = startMockUpstream(() => json(textMessage, 200, UPSTREAM_CORS));
  openaiUp = startMockUpstream(() => json(chatCompletion, 200, UPSTREAM_CORS));
  const keys = [{ key: KEY, name: 'web' }];
  open = startGateway({ keys, channels: channels(), server: { max_body_bytes: 4096 } });
  listed = startGateway({ keys, channels: channels(), server: { cors_origins: [PAGE, 'http://localhost:5173'] } });
  keyless = startGateway({ channels: channels() });
});
afterAll(async () => {
  await Promise.all([open.stop(), listed.stop(), keyless.stop(), anthropicUp.stop(), openaiUp.stop()]);
});

const message = (model = 'claude-opus-5-5', extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...extra });
const chat = (model = 'gpt-x', extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** A browser's request from `origin` (null: not a browser), with the gateway key unless `key` says otherwise. */
function call(gw: TestGateway, path: string, opts: { origin?: string | null; key?: string | null; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  const origin = opts.origin === undefined ? PAGE : opts.origin;
  if (origin !== null) headers.origin = origin;
  const key = opts.key === undefined ? KEY : opts.key;
  if (key !== null) headers['x-api-key'] = key;
  return fetch(`${gw.url}${path}`, { method: opts.body === undefined ? 'GET' : 'POST', headers, body: opts.body });
}

/** The access-control-* headers of an answer. */
const corsOf = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-')));
/** An answer the page may read, as the gateway allows it to any origin. */
const readableByAny = { 'access-control-allow-origin': '*', 'access-control-expose-headers': '*' };

describe('answers to an allowed origin carry the browser\'s headers, upstream\'s access-control-* never', () => {
  test('a passthrough message; the Origin and Referer are not forwarded upstream', async () => {
    // and what a browser says of itself and of the page's request (Chromium's fetch metadata and client hints)
    const browser = {
      'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty', 'sec-fetch-storage-access': 'none',
      'sec-ch-ua': '"Chromium";v="156"', 'sec-ch-ua-mobile': '?0', 'sec-ch-ua-platform': '"Linux"',
    };
    const res = await call(open, '/v1/messages', { body: message(), headers: { referer: `${PAGE}/chat?id=7`, 'anthropic-dangerous-direct-browser-access': 'true', ...browser } });
    expect(res.status).toBe(200);
    expect(corsOf(res)).toEqual(readableByAny);
    expect(res.headers.get('vary')).toBeNull(); // `*` is the same answer for every origin
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(await res.json()).toEqual(textMessage);
    const got = anthropicUp.requests.at(-1)!;
    expect(got.headers.get('origin')).toBeNull();
    expect(got.headers.get('referer')).toBeNull();
    for (const name of Object.keys(browser)) expect([name, got.headers.get(name)]).toEqual([name, null]);
    expect(got.headers.get('anthropic-dangerous-direct-browser-access')).toBe('true');
  });

  test('a translated message and a passthrough chat completion; neither upstream gets the Origin', async () => {
    const translated = await call(open, '/v1/messages', { body: message('to-openai') });
    expect(translated.status).toBe(200);
    expect(corsOf(translated)).toEqual(readableByAny);
    expect(((await translated.json()) as { type: string }).type).toBe('message');
    const relayed = await call(open, '/v1/chat/completions', { body: chat() });
    expect(relayed.status).toBe(200);
    expect(corsOf(relayed)).toEqual(readableByAny);
    // the gateway's request id (as x-request-id too, for the openai SDK), readable by the page
    expect(relayed.headers.get('request-id')).toMatch(/^req_/);
    expect(relayed.headers.get('x-request-id')).toBe(relayed.headers.get('request-id'));
    expect(openaiUp.requests.slice(-2).map((r) => r.headers.get('origin'))).toEqual([null, null]);
  });

  test('streams: relayed and translated', async () => {
    anthropicUp.handler = () => { const r = sse(sseEvents(anthropicStream)); for (const [k, v] of Object.entries(UPSTREAM_CORS)) r.headers.set(k, v); return r; };
    openaiUp.handler = () => { const r = sse(sseEvents(chatStream)); for (const [k, v] of Object.entries(UPSTREAM_CORS)) r.headers.set(k, v); return r; };
    try {
      for (const [path, body] of [['/v1/messages', message('claude-opus-5-5', { stream: true })], ['/v1/messages', message('to-openai', { stream: true })],
        ['/v1/chat/completions', chat('gpt-x', { stream: true })]] as const) {
        const res = await call(open, path, { body });
        expect(`${path} ${res.status} ${res.headers.get('content-type')}`).toStartWith(`${path} 200 text/event-stream`);
        expect(corsOf(res)).toEqual(readableByAny);
        expect(await res.text()).toContain('data: ');
      }
    } finally {
      anthropicUp.handler = () => json(textMessage, 200, UPSTREAM_CORS);
      openaiUp.handler = () => json(chatCompletion, 200, UPSTREAM_CORS);
    }
  });

  test('count_tokens (relayed, and estimated for an openai channel) and the model list', async () => {
    anthropicUp.handler = () => json({ input_tokens: 9 }, 200, UPSTREAM_CORS);
    try {
      const counted = await call(open, '/v1/messages/count_tokens', { body: message() });
      expect(counted.status).toBe(200);
      expect(corsOf(counted)).toEqual(readableByAny);
      expect(await counted.json()).toEqual({ input_tokens: 9 });
    } finally {
      anthropicUp.handler = () => json(textMessage, 200, UPSTREAM_CORS);
    }
    const estimated = await call(open, '/v1/messages/count_tokens', { body: message('to-openai') });
    expect(estimated.headers.get('x-switchboard-estimate')).toBe('true');
    expect(corsOf(estimated)).toEqual(readableByAny);
    for (const path of ['/v1/models', '/v1/models/gpt-x', '/health', '/ready', '/']) {
      const res = await call(open, path);
      expect(`${path} ${res.status}`).toBe(`${path} 200`);
      expect(corsOf(res)).toEqual(readableByAny);
    }
  });

  test('errors, the gateway\'s own and an upstream\'s, in either dialect', async () => {
    const cases: [string, Promise<Response>, number][] = [
      ['no key', call(open, '/v1/messages', { key: null, body: message() }), 401],
      ['bad key', call(open, '/v1/messages', { key: 'sk-wrong-key-1', body: message() }), 401],
      ['bad key (chat)', call(open, '/v1/chat/completions', { key: 'sk-wrong-key-1', body: chat() }), 401],
      ['bad key (models)', call(open, '/v1/models', { key: 'sk-wrong-key-1' }), 401],
      ['unknown model', call(open, '/v1/messages', { body: message('claude-nonesuch') }), 404],
      ['unknown endpoint', call(open, '/v1/nonesuch', { body: '{}' }), 404],
      ['unknown model id', call(open, '/v1/models/nonesuch'), 404],
      ['invalid body', call(open, '/v1/messages', { body: '{"model":1}' }), 400],
      ['too large', call(open, '/v1/messages', { body: message('claude-opus-5-5', { pad: 'x'.repeat(5000) }) }), 413],
    ];
    for (const [name, answer, status] of cases) {
      const res = await answer;
      expect(`${name}: ${res.status}`).toBe(`${name}: ${status}`);
      expect(corsOf(res)).toEqual(readableByAny);
      expect(res.headers.get('request-id')).toMatch(/^req_/);
    }
    anthropicUp.handler = () => json(JSON.parse(readFixture('anthropic/error-429-rate-limit.json')), 429, { ...UPSTREAM_CORS, 'retry-after': '30' });
    try {
      const res = await call(open, '/v1/messages', { body: message() });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(corsOf(res)).toEqual(readableByAny);
    } finally {
      anthropicUp.handler = () => json(textMessage, 200, UPSTREAM_CORS);
    }
  });
});

describe('origins as configured', () => {
  test('a listed origin is echoed, with Vary: origin', async () => {
    for (const origin of [PAGE, 'http://localhost:5173']) {
      const res = await call(listed, '/v1/messages', { origin, body: message() });
      expect(res.status).toBe(200);
      expect(corsOf(res)).toEqual({ 'access-control-allow-origin': origin, 'access-control-expose-headers': '*' });
      expect(res.headers.get('vary')).toBe('origin');
    }
    const refused = await call(listed, '/v1/messages', { origin: PAGE, key: 'sk-wrong-key-1', body: message() });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  test('another origin gets no browser headers at all (the page cannot read the answer), nor the upstream\'s', async () => {
    for (const origin of ['https://other.example.com', 'https://playground.example.com.evil.example', 'null', PAGE.toUpperCase()]) {
      const res = await call(listed, '/v1/messages', { origin, body: message() });
      expect(res.status).toBe(200);
      expect(corsOf(res)).toEqual({});
      expect(res.headers.get('vary')).toBeNull();
    }
  });

  test('no keys (zero-config): no browser headers, not even for this machine\'s pages, which it serves', async () => {
    for (const origin of [PAGE, 'http://localhost:5173']) {
      const res = await call(keyless, '/v1/messages', { origin, key: null, body: message() });
      expect(res.status).toBe(origin === PAGE ? 403 : 200); // http/auth.ts: a page of another origin is refused
      expect(corsOf(res)).toEqual({});
    }
  });

  test('no keys, this machine\'s pages listed: those are served to the browser, nothing else', async () => {
    const gw = startGateway({ channels: channels(), server: { cors_origins: ['http://localhost:5173'] } });
    try {
      const res = await call(gw, '/v1/messages', { origin: 'http://localhost:5173', key: null, body: message() });
      expect(res.status).toBe(200);
      expect(corsOf(res)).toEqual({ 'access-control-allow-origin': 'http://localhost:5173', 'access-control-expose-headers': '*' });
      const other = await call(gw, '/v1/messages', { origin: 'http://localhost:3000', key: null, body: message() });
      expect(other.status).toBe(200);
      expect(corsOf(other)).toEqual({});
    } finally {
      await gw.stop();
    }
  });

  test('cors_origins: [] turns it off, keys or not', async () => {
    const gw = startGateway({ keys: [{ key: KEY, name: 'web' }], channels: channels(), server: { cors_origins: [] } });
    try {
      const res = await call(gw, '/v1/messages', { body: message() });
      expect(res.status).toBe(200);
      expect(corsOf(res)).toEqual({});
    } finally {
      await gw.stop();
    }
  });
});

describe('a request without Origin (an SDK in Node, Claude Code, curl)', () => {
  test('gets no browser headers, the gateway\'s or an upstream\'s, whatever the gateway allows', async () => {
    for (const [path, body] of [['/v1/messages', message()], ['/v1/messages', message('to-openai')], ['/v1/chat/completions', chat()], ['/v1/models', undefined], ['/v1/messages', message('claude-nonesuch')]] as const) {
      for (const gw of [open, listed]) {
        const res = await call(gw, path, { origin: null, body });
        expect(`${path} ${res.status} ${JSON.stringify(corsOf(res))}`).toMatch(new RegExp(`^${path} (200|404) \\{\\}$`));
        expect(res.headers.get('vary')).toBeNull();
      }
    }
    const unauthorized = await call(open, '/v1/messages', { origin: null, key: null, body: message() });
    expect(unauthorized.status).toBe(401);
    expect(corsOf(unauthorized)).toEqual({});
    expect(anthropicUp.requests.at(-1)!.headers.get('origin')).toBeNull();
  });
});

/** A browser's preflight from `origin` for a POST with these headers (null: a header left out). */
function preflight(gw: TestGateway, path: string, origin: string | null = PAGE, method: string | null = 'POST', requestHeaders: string | null = 'anthropic-version,content-type,x-api-key') {
  const headers: Record<string, string> = {};
  if (origin !== null) headers.origin = origin;
  if (method !== null) headers['access-control-request-method'] = method;
  if (requestHeaders !== null) headers['access-control-request-headers'] = requestHeaders;
  return fetch(`${gw.url}${path}`, { method: 'OPTIONS', headers });
}

describe('preflight', () => {
  const sdkHeaders = 'anthropic-dangerous-direct-browser-access,anthropic-version,content-type,x-api-key,x-stainless-arch,x-stainless-lang,x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,x-stainless-runtime-version,x-stainless-timeout';

  test('an allowed origin, on any path, without a key: 204 with the methods, the headers asked for and how long to keep them; an OPTIONS that is not a preflight: 404', async () => {
    for (const path of ['/v1/messages', '/v1/messages/count_tokens', '/v1/chat/completions', '/v1/models', '/v1/models/gpt-x', '/nonesuch']) {
      const res = await preflight(open, path, PAGE, 'POST', sdkHeaders);
      expect(`${path} ${res.status}`).toBe(`${path} 204`);
      expect(corsOf(res)).toEqual({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
        'access-control-allow-headers': sdkHeaders,
        'access-control-max-age': '86400',
        'access-control-expose-headers': '*',
      });
      expect(await res.text()).toBe('');
    }
    expect(open.requestLogs().at(-1)).toMatchObject({ method: 'OPTIONS', path: '/nonesuch', status: 204 });
    // an OPTIONS that is not a preflight is the 404 it was
    for (const [origin, method] of [[null, null], [PAGE, null], [null, 'POST']] as const) {
      const res = await preflight(open, '/v1/messages', origin, method);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error).toMatchObject({ type: 'not_found_error', message: `OPTIONS /v1/messages: ${NOT_SERVED}` });
      expect(res.headers.get('access-control-allow-methods')).toBeNull();
    }
  });

  test('a listed origin is echoed and the answer varies with it; asking for no header gets the SDKs\' list', async () => {
    const res = await preflight(listed, '/v1/messages', PAGE, 'POST', 'x-api-key');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('vary')).toBe('access-control-request-headers, origin');
    const bare = await preflight(listed, '/v1/models', PAGE, 'GET', null);
    expect(bare.status).toBe(204);
    expect(bare.headers.get('vary')).toBe('origin');
    const allowed = bare.headers.get('access-control-allow-headers')!.split(', ');
    for (const h of ['x-api-key', 'authorization', 'content-type', 'anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access', 'x-stainless-os', 'x-stainless-retry-count', 'x-stainless-timeout']) expect(allowed).toContain(h);
  });

  test('an origin not allowed: 403 in the API\'s envelope, nothing a browser would take as leave', async () => {
    const res = await preflight(listed, '/v1/messages', 'https://other.example.com');
    expect(res.status).toBe(403);
    expect(corsOf(res)).toEqual({});
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'permission_error', message: 'origin "https://other.example.com" may not call this gateway from a web page: it is not in server.cors_origins' } });
    const chatRes = await preflight(listed, '/v1/chat/completions', 'null');
    expect(chatRes.status).toBe(403);
    expect(corsOf(chatRes)).toEqual({});
    expect(((await chatRes.json()) as any).error).toMatchObject({ type: 'permission_error' });
  });

  test('no keys (zero-config): refused, even to this machine\'s pages, unless listed', async () => {
    for (const origin of [PAGE, 'http://localhost:5173']) {
      const res = await preflight(keyless, '/v1/messages', origin);
      expect(res.status).toBe(403);
      expect(corsOf(res)).toEqual({});
      expect(((await res.json()) as any).error.message).toEndWith('with no keys configured, web pages are served only from this machine\'s origins listed in server.cors_origins');
    }
    const gw = startGateway({ channels: channels(), server: { cors_origins: ['http://localhost:5173'] } });
    try {
      expect((await preflight(gw, '/v1/messages', 'http://localhost:5173')).status).toBe(204);
      expect((await preflight(gw, '/v1/messages', 'http://localhost:3000')).status).toBe(403);
    } finally {
      await gw.stop();
    }
  });
});

describe('the Anthropic SDK in a web page (dangerouslyAllowBrowser), through a fetch that keeps the browser\'s rules', () => {
  const sdk = (gw: TestGateway, origin: string) => {
    const browser = browserFetch();
    const client = new Anthropic({ baseURL: gw.url, apiKey: KEY, dangerouslyAllowBrowser: true, maxRetries: 0, defaultHeaders: { origin }, fetch: browser.fetch });
    return { client, browser };
  };
  const params = { model: 'claude-opus-5-5', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };

  test('a message and a stream, relayed and translated; the SDK reads request-id', async () => {
    for (const gw of [open, listed]) {
      const { client, browser } = sdk(gw, PAGE);
      const msg = await client.messages.create(params);
      expect(msg.content).toEqual(textMessage.content);
      expect(msg._request_id).toMatch(/^req_/);
      expect(browser.preflights.at(-1)).toMatchObject({ url: `${gw.url}/v1/messages`, status: 204 });
      expect(browser.preflights.at(-1)!.requestHeaders).toContain('anthropic-dangerous-direct-browser-access');
      expect(anthropicUp.requests.at(-1)!.headers.get('origin')).toBeNull();

      anthropicUp.handler = () => sse(sseEvents(anthropicStream));
      openaiUp.handler = () => sse(sseEvents(chatStream));
      try {
        for (const model of ['claude-opus-5-5', 'to-openai']) {
          const stream = client.messages.stream({ ...params, model });
          const final = await stream.finalMessage();
          expect(final.type).toBe('message');
          expect(final.content.length).toBeGreaterThan(0);
          expect(stream.request_id).toMatch(/^req_/);
        }
      } finally {
        anthropicUp.handler = () => json(textMessage, 200, UPSTREAM_CORS);
        openaiUp.handler = () => json(chatCompletion, 200, UPSTREAM_CORS);
      }
      const counted = await client.messages.countTokens({ model: 'to-openai', messages: params.messages }).withResponse();
      expect(counted.data.input_tokens).toBeGreaterThan(0);
      expect(counted.request_id).toMatch(/^req_/);
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toContain('to-openai');
    }
  });

  test('an API error reaches the SDK as one, with its request id and status', async () => {
    const { client } = sdk(open, PAGE);
    const err: any = await client.messages.create({ ...params, model: 'claude-nonesuch' }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.requestID).toMatch(/^req_/);
    const bad = new Anthropic({ baseURL: open.url, apiKey: 'sk-wrong-key-1', dangerouslyAllowBrowser: true, maxRetries: 0, defaultHeaders: { origin: PAGE }, fetch: browserFetch().fetch });
    expect(await bad.messages.create(params).then(() => null, (e) => e)).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  test('a page of an origin not allowed, or of any origin with no keys, gets nothing: the browser fails the request', async () => {
    for (const [gw, origin] of [[listed, 'https://other.example.com'], [keyless, PAGE], [keyless, 'http://localhost:5173']] as const) {
      const { client, browser } = sdk(gw, origin);
      const before = anthropicUp.requests.length;
      const err = await client.messages.create(params).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIConnectionError);
      expect(browser.lastFailure).toBe('preflight answered 403');
      expect(anthropicUp.requests.length).toBe(before);
    }
  });
});
