/**
 * A channel's base_url with a query string (a proxy's tenant, an Azure deployment URL written with its parameters, the
 * base URL config/load.ts suggests for an endpoint copied with its query): the endpoint's path goes before the query,
 * and the query reaches the upstream; a fragment is never sent.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { ConfigError, validateConfig } from '../../src/config/load.ts';

const KEY = 'sk-gw-base-url-1';
let up: MockUpstream;

beforeAll(() => {
  up = startMockUpstream((req) => json(JSON.parse(readFixture(req.path.endsWith('/chat/completions') ? 'openai-chat/response-text.json' : 'anthropic/response-text.json'))));
});
afterAll(async () => { await up.stop(); });

/** Where one request for `model` went upstream, through a gateway with these channels. */
async function calledAt(channels: unknown[], model: string, format: 'anthropic' | 'openai-chat', query = ''): Promise<string> {
  const gw = startGateway({ keys: [{ key: KEY, name: 'k' }], channels });
  try {
    const body = format === 'anthropic'
      ? { model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }
      : { model, messages: [{ role: 'user', content: 'hi' }] };
    const res = await fetch(`${gw.url}${format === 'anthropic' ? '/v1/messages' : '/v1/chat/completions'}${query}`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    await res.text();
    const got = up.requests.at(-1)!;
    return `${got.path}${got.search}`;
  } finally {
    await gw.stop();
  }
}

test('an openai channel: the path before the base URL\'s query, and the preset\'s api-version after it', async () => {
  expect(await calledAt([{ name: 'o', type: 'openai', base_url: `${up.url}/v1?tenant=a`, models: ['m'] }], 'm', 'openai-chat'))
    .toBe('/v1/chat/completions?tenant=a');
  expect(await calledAt([{ name: 'z', type: 'openai', provider: 'azure', base_url: `${up.url}/openai/deployments/{model}?tenant=a`, api_key: 'k', models: { m: 'dep' } }], 'm', 'anthropic'))
    .toBe('/openai/deployments/dep/chat/completions?tenant=a&api-version=2025-04-01-preview');
  expect(await calledAt([{ name: 'f', type: 'openai', base_url: `${up.url}/v1#docs`, models: ['m'] }], 'm', 'openai-chat'))
    .toBe('/v1/chat/completions');
});

test('an anthropic channel: the path before the base URL\'s query, and the client\'s ?beta=true joined to it', async () => {
  const channels = [{ name: 'a', type: 'anthropic', base_url: `${up.url}/proxy?tenant=a`, models: ['m'] }];
  expect(await calledAt(channels, 'm', 'anthropic')).toBe('/proxy/v1/messages?tenant=a');
  expect(await calledAt(channels, 'm', 'anthropic', '?beta=true')).toBe('/proxy/v1/messages?tenant=a&beta=true');
});

test('the base URL a start-up error suggests for an endpoint copied with its query is one that reaches the endpoint', async () => {
  let message = '';
  try {
    validateConfig({ channels: [{ name: 'o', type: 'openai', base_url: `${up.url}/v1/chat/completions?tenant=a`, models: ['m'] }] });
  } catch (e) {
    message = (e as ConfigError).problems.join('\n');
  }
  const suggested = /\(write (\S+)\)/.exec(message)?.[1];
  expect(suggested).toBe(`${up.url}/v1?tenant=a`);
  expect(await calledAt([{ name: 'o', type: 'openai', base_url: suggested, models: ['m'] }], 'm', 'openai-chat')).toBe('/v1/chat/completions?tenant=a');
});
