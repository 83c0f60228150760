/**
 * Native Anthropic passthrough driven by the official @anthropic-ai/sdk: bytes in, bytes out.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, listFixtures, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-test-key-1';
const UPSTREAM_KEY = 'sk-ant-upstream-secret';
let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

const textMessage = JSON.parse(readFixture('anthropic/response-text.json'));

beforeAll(() => {
  upstream = startMockUpstream(() => json(textMessage));
  gw = startGateway({
    keys: [{ key: KEY, name: 'team-a' }],
    channels: [
      { name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: UPSTREAM_KEY,
        models: ['claude-opus-5-5', 'claude-sonnet-5-5'], headers: { 'x-extra': 'yes' } },
      { name: 'mapped', type: 'anthropic', base_url: upstream.url, api_key: UPSTREAM_KEY, models: { 'team-model': 'claude-haiku-4-5' } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

describe('request forwarding', () => {
  test('body bytes reach the upstream unchanged, with the channel key and versions', async () => {
    upstream.handler = () => json(textMessage);
    const body = '{"model":"claude-opus-5-5", "max_tokens":  64,"messages":[{"role":"user","content":"héllo ✓"}],"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"output_config":{"effort":"medium"},"tools":[{"name":"X","description":"d","input_schema":{"type":"object"},"defer_loading":true}]}';
    const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'anthropic-beta': 'context-management-2025-06-27', 'x-app': 'cli', connection: 'keep-alive', 'anthropic-version': '2023-06-01' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const got = upstream.requests.at(-1)!;
    expect(got.path).toBe('/v1/messages');
    expect(got.search).toBe('?beta=true');
    expect(got.text).toBe(body);
    expect(got.headers.get('x-api-key')).toBe(UPSTREAM_KEY);
    expect(got.headers.get('authorization')).toBeNull();
    expect(got.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(got.headers.get('anthropic-beta')).toBe('context-management-2025-06-27');
    expect(got.headers.get('x-app')).toBe('cli');
    expect(got.headers.get('x-extra')).toBe('yes');
    expect(got.headers.get('x-switchboard-hop')).toBeTruthy();
    // answers uncompressed: a compressed one could not be relayed in one write (bench/FINDINGS.md "Compressed answers")
    expect(got.headers.get('accept-encoding')).toBe('identity');
    expect(await res.json()).toEqual(textMessage);
  });

  test('toolsets, which have no name (the MCP connector\'s mcp_toolset, browser and computer toolsets), reach the upstream as sent', async () => {
    upstream.handler = () => json(textMessage);
    const params = {
      model: 'claude-opus-5-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'List my issues' }],
      mcp_servers: [{ type: 'url' as const, url: 'https://mcp.example.test/sse', name: 'tracker' }],
      tools: [{ type: 'mcp_toolset' as const, mcp_server_name: 'tracker' }, { type: 'browser_toolset_20260801' }, { type: 'computer_toolset_20260801' }] as any[],
    };
    const res = await client.beta.messages.create(params);
    expect(res.content).toEqual(textMessage.content);
    expect(JSON.parse(upstream.requests.at(-1)!.text).tools).toEqual(params.tools);
    // a client tool still needs its name
    const err: any = await client.beta.messages.create({ ...params, tools: [{ input_schema: { type: 'object' } }] as any }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toBe('tools.0.name: Field required');
  });

  test('anthropic-version defaults to 2023-06-01; a gateway x-api-key is never forwarded', async () => {
    await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const got = upstream.requests.at(-1)!;
    expect(got.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(got.headers.get('x-api-key')).toBe(UPSTREAM_KEY);
    expect([...got.headers.values()].join(' ')).not.toContain(KEY);
  });

  test('of the query string only `beta` goes upstream: nothing else a client writes there is sent with the channel key', async () => {
    const body = JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    for (const [query, sent] of [
      ['?beta=true&model=claude-sonnet-5-5&key=x', '?beta=true'],
      ['?model=claude-sonnet-5-5', ''],
      ['?model=a&beta=true', '?beta=true'],
      ['?beta=true', '?beta=true'],
    ]) {
      const res = await fetch(`${gw.url}/v1/messages${query}`, { method: 'POST', headers: { 'x-api-key': KEY }, body });
      expect(res.status).toBe(200);
      expect({ query, search: upstream.requests.at(-1)!.search }).toEqual({ query, search: sent });
    }
  });

  test('headers that would steer the upstream (path, method, host, the key\'s organisation or project) are not forwarded', async () => {
    const steering = {
      'x-original-url': '/v1/organizations/api_keys', 'x-rewrite-url': '/admin', 'x-http-method-override': 'DELETE',
      'x-http-method': 'DELETE', 'x-method-override': 'DELETE', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http',
      'x-forwarded-prefix': '/other', 'x-forwarded-port': '1', 'x-forwarded-server': 'evil', 'x-original-host': 'evil.example',
      'openai-organization': 'org-someone-else', 'openai-project': 'proj_other', 'x-goog-user-project': 'other-project',
      'x-goog-api-key': 'AIza-client', 'content-encoding': 'identity',
    };
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'x-app': 'cli', ...steering },
      body: JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const got = upstream.requests.at(-1)!;
    expect(Object.keys(steering).filter((h) => got.headers.has(h))).toEqual([]);
    expect(got.headers.get('x-app')).toBe('cli');
  });

  test('the SDK\'s workspace_id and user_profile_id (headers that pick the channel key\'s Workspace, or the party it acts for) are not forwarded; a channel sets them', async () => {
    upstream.handler = () => json(textMessage);
    const params = { model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }], workspace_id: 'wrkspc_someone_else', user_profile_id: 'uprof_someone_else' };
    for (const send of [() => client.messages.create(params), () => client.beta.messages.create(params), () => client.messages.countTokens(params)]) {
      await send();
      const got = upstream.requests.at(-1)!;
      expect([got.headers.get('anthropic-workspace-id'), got.headers.get('anthropic-user-profile-id')]).toEqual([null, null]);
    }
    const set = { 'anthropic-workspace-id': 'wrkspc_channel', 'anthropic-user-profile-id': 'uprof_channel' };
    const mock = startMockUpstream(() => json(textMessage));
    const g = startGateway({ channels: [{ name: 'ws', type: 'anthropic', base_url: mock.url, api_key: UPSTREAM_KEY, models: ['claude-opus-5-5'], headers: set }] });
    try {
      await new Anthropic({ baseURL: g.url, apiKey: 'any', maxRetries: 0 }).messages.create(params);
      const got = mock.requests.at(-1)!;
      expect([got.headers.get('anthropic-workspace-id'), got.headers.get('anthropic-user-profile-id')]).toEqual(['wrkspc_channel', 'uprof_channel']);
    } finally { await g.stop(); await mock.stop(); }
  });

  test('a mapped model is rewritten in place and nothing else changes', async () => {
    const body = '{"model" : "team-model","max_tokens":5,"messages":[{"role":"user","content":"model: \\"team-model\\""}],"metadata":{"model":"team-model"}}';
    await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY }, body });
    const got = upstream.requests.at(-1)!;
    expect(got.text).toBe(body.replace('"model" : "team-model"', '"model" : "claude-haiku-4-5"'));
  });

  test("the upstream's response headers reach the client, less hop-by-hop, cookies and encoding; its request id renamed", async () => {
    // an Anthropic answer's headers (rate limits, cf-ray, ...) plus ones that must not cross
    const upstreamHeaders = {
      'anthropic-ratelimit-requests-remaining': '3999', 'anthropic-ratelimit-output-tokens-reset': '2026-11-27T03:56:25Z',
      'cf-ray': '8e2b3c4d5e6f7a8b-SJC', 'request-id': 'req_upstream_1', 'set-cookie': 'a=b', server: 'cloudflare',
      'x-custom': 'kept', 'retry-after': '7',
    };
    const body = JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const answers: Array<[string, () => Response]> = [
      ['JSON', () => json(textMessage, 200, upstreamHeaders)],
      ['stream', () => { const r = sse(sseEvents(fixtureSseBody('anthropic/stream-text-basic.sse'))); for (const [k, v] of Object.entries(upstreamHeaders)) r.headers.set(k, v); return r; }],
      ['error', () => json({ type: 'error', error: { type: 'invalid_request_error', message: 'no' } }, 400, upstreamHeaders)],
    ];
    for (const [kind, answer] of answers) {
      upstream.handler = answer;
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY }, body: kind === 'stream' ? body.replace('{', '{"stream":true,') : body });
      expect(res.status).toBe(kind === 'error' ? 400 : 200);
      await res.arrayBuffer();
      const h = Object.fromEntries(res.headers);
      expect(h['anthropic-ratelimit-requests-remaining']).toBe('3999');
      expect(h['anthropic-ratelimit-output-tokens-reset']).toBe('2026-11-27T03:56:25Z');
      expect(h['cf-ray']).toBe('8e2b3c4d5e6f7a8b-SJC');
      expect(h['x-custom']).toBe('kept');
      expect(h['retry-after']).toBe('7');
      expect(h['upstream-request-id']).toBe('req_upstream_1');
      expect(h['request-id']).toMatch(/^req_(?!upstream)/);
      expect(h['set-cookie']).toBeUndefined();
      expect(h['content-type']).toContain(kind === 'stream' ? 'text/event-stream' : 'application/json');
      expect(h.server === undefined || h.server !== 'cloudflare').toBe(true);
      expect(h['request-id']).not.toContain(','); // one request-id, not the upstream's joined to ours
    }
  });

  // a 200 with an empty body is no answer: a 502 naming the channel (test/e2e/not-an-answer.test.ts)
  test('answers without a body (204, 304) pass through as they are', async () => {
    const body = JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    for (const [status, answer] of [[204, () => new Response(null, { status: 204, headers: { 'x-custom': 'a' } })], [304, () => new Response(null, { status: 304 })]] as const) {
      upstream.handler = answer;
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY }, body });
      expect(res.status).toBe(status);
      expect(await res.text()).toBe('');
      expect(res.headers.get('request-id')).toMatch(/^req_/);
      if (status === 204) expect(res.headers.get('x-custom')).toBe('a');
    }
    const lines = gw.requestLogs().slice(-2);
    expect(lines.map((l) => l.status)).toEqual([204, 304]);
  });

  test('the SDK gets its message back, with the model name it asked for', async () => {
    upstream.handler = () => json(textMessage);
    const msg = await client.messages.create({ model: 'claude-opus-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg.content).toEqual(textMessage.content);
    expect(msg.usage.input_tokens).toBe(textMessage.usage.input_tokens);
  });
});

describe('streams', () => {
  const streams = listFixtures('anthropic').filter((f) => f.includes('/stream-'));
  test('there are recorded Anthropic streams to replay', () => expect(streams.length).toBeGreaterThan(5));

  for (const f of streams) {
    test(`replays ${f} byte for byte`, async () => {
      const recorded = fixtureSseBody(f);
      upstream.handler = () => sse(sseEvents(recorded));
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST', headers: { 'x-api-key': KEY },
        body: JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(await res.text()).toBe(recorded);
    });
  }

  test('messages.stream().finalMessage() accumulates through the passthrough, and usage reaches the log', async () => {
    // (stream-tool-use-input-json-delta.sse is recorded without the blank line after its last event, so a strict
    // SSE client never sees its message_stop: relayed byte for byte above, but not usable here)
    const recorded = fixtureSseBody('anthropic/stream-tool-use-haiku.sse');
    upstream.handler = () => sse(sseEvents(recorded), { delayMs: 1 });
    const before = gw.requestLogs().length;
    const msg = await client.messages.stream({ model: 'claude-opus-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'weather?' }] }).finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    const tool = msg.content.find((b) => b.type === 'tool_use');
    expect(tool).toBeDefined();
    await until(() => gw.requestLogs().length > before);
    const line = gw.requestLogs().at(-1);
    expect(line.key).toBe('team-a');
    expect(line.channel).toBe('claude');
    expect(line.model).toBe('claude-opus-5-5');
    expect(line.stream).toBe(true);
    expect(line.status).toBe(200);
    expect(line.ttfb_ms).toBeGreaterThan(0);
    expect(line.output_tokens).toBeGreaterThan(0);
    expect(line.input_tokens).toBeGreaterThan(0);
    expect(JSON.stringify(line)).not.toContain('weather?');
    expect(JSON.stringify(gw.logs)).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(gw.logs)).not.toContain(KEY);
  });

  test('chunks are relayed as they arrive, not buffered', async () => {
    const events = sseEvents(fixtureSseBody('anthropic/stream-text-basic.sse'));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    upstream.handler = () => new Response(new ReadableStream({
      async start(ctl) {
        ctl.enqueue(new TextEncoder().encode(events[0]!));
        await gate; // the rest only after the client saw the first event
        for (const e of events.slice(1)) ctl.enqueue(new TextEncoder().encode(e));
        ctl.close();
      },
    }), { headers: { 'content-type': 'text/event-stream' } });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY }, body: JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(events[0]!);
    release();
    let rest = '';
    for (;;) { const r = await reader.read(); if (r.done) break; rest += new TextDecoder().decode(r.value); }
    expect(first + rest).toBe(events.join(''));
  });

  test('an error event inside the 200 stream reaches the client as it is, and the log line says outcome "error" (answered whole or relayed)', async () => {
    const start = sseEvents(fixtureSseBody('anthropic/stream-text-basic.sse')).slice(0, 3);
    const error = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    for (const delayMs of [0, 5]) {
      upstream.handler = () => sse([...start, error], { delayMs });
      const before = gw.requestLogs().length;
      const err = await client.messages.stream({ model: 'claude-opus-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage().then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err.error?.error?.type).toBe('overloaded_error');
      await until(() => gw.requestLogs().length > before);
      expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, outcome: 'error', error_type: 'overloaded_error', error: 'Overloaded' });
    }
  });

  test('usage in the request log for a non-streamed passthrough', async () => {
    upstream.handler = () => json(textMessage);
    const before = gw.requestLogs().length;
    await client.messages.create({ model: 'claude-opus-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    await until(() => gw.requestLogs().length > before);
    const line = gw.requestLogs().at(-1);
    expect(line.input_tokens).toBe(textMessage.usage.input_tokens);
    expect(line.output_tokens).toBe(textMessage.usage.output_tokens);
  });
});

describe('count_tokens and models', () => {
  test('count_tokens passes through to an anthropic channel, query string kept', async () => {
    upstream.handler = () => json({ input_tokens: 42 });
    const res = await client.messages.countTokens({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.input_tokens).toBe(42);
    expect(upstream.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
  });

  test('models.list() parses with the Anthropic SDK', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['claude-opus-5-5', 'claude-sonnet-5-5', 'team-model']);
  });

  test('models.list() honours limit, after_id and before_id, as Anthropic\'s pages do', async () => {
    const all = (await client.models.list()).data.map((m) => m.id);
    expect(all).toHaveLength(3);
    const first = await client.models.list({ limit: 1 });
    expect(first.data.map((m) => m.id)).toEqual([all[0]!]);
    expect(first).toMatchObject({ has_more: true, first_id: all[0], last_id: all[0] });
    // the SDK's auto-pagination walks the pages with after_id, one model each
    const walked: string[] = [];
    for await (const m of client.models.list({ limit: 1 })) walked.push(m.id);
    expect(walked).toEqual(all);
    const rest = await client.models.list({ after_id: all[0]! });
    expect(rest.data.map((m) => m.id)).toEqual(all.slice(1));
    expect(rest.has_more).toBe(false);
    const before = await client.models.list({ before_id: all[2]!, limit: 1 });
    expect(before.data.map((m) => m.id)).toEqual([all[1]!]);
    expect(before.has_more).toBe(true);
    const err: any = await client.models.list({ limit: 0 }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toMatch(/^limit: /);
  });

  test('models.list() parses with the OpenAI SDK', async () => {
    const { default: OpenAI } = await import('openai');
    const oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of oa.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['claude-opus-5-5', 'claude-sonnet-5-5', 'team-model']);
  });

  test('/v1/models errors in the dialect of the SDK asking: OpenAI\'s for the openai SDK (its err.code), Anthropic\'s for the Anthropic SDK', async () => {
    const { default: OpenAI } = await import('openai');
    const oaBad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-wrong-key-0000', maxRetries: 0 });
    const denied: any = await oaBad.models.list().then(() => null, (e) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(denied.code).toBe('invalid_api_key');
    const oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const missing: any = await oa.models.retrieve('nope').then(() => null, (e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.code).toBe('model_not_found');
    expect(missing.requestID).toMatch(/^req_/);
    const page = await oa.models.list().withResponse();
    expect(page.request_id).toMatch(/^req_/);
    // the Anthropic SDK (it sends anthropic-version) still gets Anthropic's envelope
    const anthropicBad = new Anthropic({ baseURL: gw.url, apiKey: 'sk-wrong-key-0000', maxRetries: 0 });
    const err: any = await anthropicBad.models.list().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err.error.error.type).toBe('authentication_error');
  });

  test('models.retrieve()', async () => {
    const m = await client.models.retrieve('team-model');
    expect(m.id).toBe('team-model');
    const err = await client.models.retrieve('nope').then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test('models.retrieve() of a name a pattern serves (zero-config\'s claude-*) finds it, as a request for it would', async () => {
    const g = startGateway({
      keys: [{ key: KEY, name: 'all' }, { key: 'sk-gw-only-haiku', name: 'haiku', models: ['claude-haiku-4-5'] }],
      channels: [{ name: 'anthropic', type: 'anthropic', base_url: upstream.url, models: ['claude-*'] }],
    });
    try {
      const { default: OpenAI } = await import('openai');
      const a = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
      const oa = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
      expect(await a.models.retrieve('claude-sonnet-4-5')).toMatchObject({ id: 'claude-sonnet-4-5', type: 'model' });
      expect(await oa.models.retrieve('claude-sonnet-4-5')).toMatchObject({ id: 'claude-sonnet-4-5', object: 'model', owned_by: 'anthropic' });
      expect(await a.models.retrieve('gpt-4o').then(() => null, (e) => e)).toBeInstanceOf(Anthropic.NotFoundError);
      // a name the pattern matches but no request may use (over 256 characters) is not found either
      expect(await a.models.retrieve(`claude-${'x'.repeat(300)}`).then(() => null, (e) => e)).toBeInstanceOf(Anthropic.NotFoundError);
      // a key's own list still bounds it; a pattern cannot be listed, so models.list() names none
      const haiku = new Anthropic({ baseURL: g.url, apiKey: 'sk-gw-only-haiku', maxRetries: 0 });
      expect((await haiku.models.retrieve('claude-haiku-4-5')).id).toBe('claude-haiku-4-5');
      expect(await haiku.models.retrieve('claude-sonnet-4-5').then(() => null, (e) => e)).toBeInstanceOf(Anthropic.NotFoundError);
      expect((await a.models.list()).data).toEqual([]);
    } finally {
      await g.stop();
    }
  });
});

describe('the SDK\'s endpoints this gateway does not serve', () => {
  test('Message Batches, Files, Skills: a NotFoundError that says the gateway does not serve it and what it serves, not retried', async () => {
    const sdk = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 2 });
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['POST /v1/messages/batches', () => sdk.messages.batches.create({ requests: [] })],
      ['GET /v1/messages/batches', () => sdk.beta.messages.batches.list()],
      ['GET /v1/files', () => sdk.beta.files.list()],
      ['GET /v1/skills', () => sdk.beta.skills.list()],
    ];
    for (const [endpoint, call] of calls) {
      const before = gw.requestLogs().length;
      const err: any = await call().then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect(err.error.error).toEqual({ type: 'not_found_error', message: `${endpoint}: this gateway does not serve this endpoint; it serves POST /v1/messages, POST /v1/messages/count_tokens, POST /v1/chat/completions and GET /v1/models` });
      expect(err.requestID).toMatch(/^req_/);
      await until(() => gw.requestLogs().length > before);
      expect(gw.requestLogs().length).toBe(before + 1); // a 404: the SDK does not retry it
    }
  });
});
