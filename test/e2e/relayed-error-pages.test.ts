/**
 * A passthrough channel's final error whose body is no JSON (a proxy's HTML 502 page, an empty body): relayed as it
 * came, the Anthropic SDK's error message was the page's markup (Claude Code printed it) and the openai SDK's had no
 * `error` object. Now it is the client's envelope, as a translated error is: the status kept, the channel named, the
 * page's text quoted short, retry advice kept. A JSON error body of the client's own format still goes as it came.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-error-pages-1';
const PAGE = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';
const ANTHROPIC_ERROR = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
let up: ReturnType<typeof Bun.serve>;
let g: TestGateway;
beforeAll(() => {
  up = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    fetch(req) {
      const model = req.headers.get('x-test-shape') ?? '';
      if (model === 'empty') return new Response(null, { status: 503, headers: { 'retry-after': '7', 'x-should-retry': 'false' } });
      if (model === 'html400') return new Response('<html><body><h1>400 Bad Request</h1>Request Header Or Cookie Too Large</body></html>', { status: 400, headers: { 'content-type': 'text/html' } });
      if (model === 'json') return new Response(ANTHROPIC_ERROR, { status: 529, headers: { 'content-type': 'application/json', 'x-upstream-own': 'kept' } });
      return new Response(PAGE, { status: 502, headers: { 'content-type': 'text/html' } });
    },
  });
  g = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'ant', type: 'anthropic', base_url: `http://127.0.0.1:${up.port}`, api_key: 'sk-ant-up', models: ['claude-x'] },
      { name: 'oai', type: 'openai', base_url: `http://127.0.0.1:${up.port}/v1`, api_key: 'sk-up', models: ['gpt-x'] },
    ],
  });
});
afterAll(async () => {
  await g?.stop();
  up?.stop(true);
});

const an = (shape: string) => new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0, defaultHeaders: { 'x-test-shape': shape } });
const oa = (shape: string) => new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-test-shape': shape } });
const messages = [{ role: 'user' as const, content: 'hi' }];
const caught = (p: Promise<unknown>) => p.then(() => { throw new Error('did not fail'); }, (e) => e);

test('an HTML error page on a Messages passthrough: Anthropic\'s envelope, the channel named, the page quoted as text', async () => {
  for (const stream of [false, true]) {
    const e = await caught(stream ? an('html').messages.stream({ model: 'claude-x', max_tokens: 5, messages }).finalMessage() : an('html').messages.create({ model: 'claude-x', max_tokens: 5, messages }));
    expect(e).toBeInstanceOf(Anthropic.APIError);
    expect(e.status).toBe(502);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'channel ant: upstream returned HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx' } });
  }
});

test('an HTML error page on a Chat passthrough: OpenAI\'s envelope', async () => {
  const e = await caught(oa('html').chat.completions.create({ model: 'gpt-x', messages }));
  expect(e).toBeInstanceOf(OpenAI.APIError);
  expect(e.status).toBe(502);
  expect(e.error).toMatchObject({ message: 'channel oai: upstream returned HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx' });
});

test('an empty error body: the envelope with the status, and the upstream\'s retry advice', async () => {
  const res = await fetch(`${g.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', 'x-test-shape': 'empty' },
    body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages }),
  });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('7');
  expect(res.headers.get('x-should-retry')).toBe('false');
  expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'channel ant: upstream returned HTTP 503' } });
});

test('a JSON error of the client\'s own format still goes as it came', async () => {
  const res = await fetch(`${g.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', 'x-test-shape': 'json' },
    body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages }),
  });
  expect(res.status).toBe(529);
  expect(res.headers.get('x-upstream-own')).toBe('kept');
  expect(await res.text()).toBe(ANTHROPIC_ERROR);
});

test('a 400 page (a proxy in front of Anthropic), the history read for a repair on the way: the envelope, not a crash', async () => {
  // a conversation with a tool loop and thinking: the request the history repairs read a refusal of
  const history = [
    { role: 'user' as const, content: 'read it' },
    { role: 'assistant' as const, content: [{ type: 'thinking' as const, thinking: 'hm', signature: 'sig' }, { type: 'tool_use' as const, id: 'toolu_1', name: 'Read', input: {} }] },
    { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_1', content: 'x' }] },
  ];
  const e = await caught(an('html400').messages.create({ model: 'claude-x', max_tokens: 5, messages: history }));
  expect(e).toBeInstanceOf(Anthropic.APIError);
  expect(e.status).toBe(400);
  expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'channel ant: upstream returned HTTP 400: 400 Bad Request Request Header Or Cookie Too Large' } });
});

test('a status that is neither an answer, a redirect nor an error (304, 300) from an anthropic channel, translated: a 502 naming it, as an openai channel gives, not a 304 whose body no client reads, logged ok; relayed, as it came', async () => {
  // the shape by a variable: a translated request carries none of the client's headers
  let shape = '';
  const odd = Bun.serve({
    port: 0, hostname: '127.0.0.1',
    fetch() {
      if (shape === '304') return new Response(null, { status: 304 });
      if (shape === 'json300') return new Response(ANTHROPIC_ERROR, { status: 300, headers: { 'content-type': 'application/json' } });
      return new Response('<p>Multiple Choices</p>', { status: 300, headers: { 'content-type': 'text/html' } });
    },
  });
  const gw = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [{ name: 'odd', type: 'anthropic', base_url: `http://127.0.0.1:${odd.port}`, api_key: 'sk-ant-up', models: ['claude-odd'] }] });
  try {
    for (const [s, text] of [['304', ''], ['300', ': Multiple Choices'], ['json300', '']] as const) {
      shape = s;
      const before = gw.requestLogs().length;
      const t = await caught(new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'claude-odd', messages }));
      expect(t).toBeInstanceOf(OpenAI.InternalServerError);
      expect(t.status).toBe(502);
      expect(t.error).toMatchObject({ type: 'server_error', message: s === 'json300' ? 'Overloaded' : `channel odd: upstream returned HTTP ${s}${text}` });
      // relayed (a Messages client), the status and body as they came, as before (test/e2e/messages-passthrough.test.ts)
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude-odd', max_tokens: 5, messages }) });
      expect(res.status).toBe(s === '304' ? 304 : 300);
      expect(await res.text()).toBe(s === '304' ? '' : s === '300' ? '<p>Multiple Choices</p>' : ANTHROPIC_ERROR);
      await until(() => gw.requestLogs().length >= before + 2);
      expect(gw.requestLogs().slice(before).map((l) => [l.status, l.outcome])).toEqual([[502, 'error'], [s === '304' ? 304 : 300, 'ok']]);
    }
  } finally {
    await gw.stop();
    odd.stop(true);
  }
});
