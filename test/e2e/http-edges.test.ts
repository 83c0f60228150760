/**
 * The edges of HTTP, sent as raw bytes on a socket: what a client that is no SDK (a health checker speaking HTTP/1.0,
 * a hand-written script) sees.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

let up: MockUpstream;
let gw: TestGateway;
beforeAll(() => {
  up = startMockUpstream(() => json(JSON.parse(readFixture('anthropic/response-text.json'))));
  gw = startGateway({ channels: [{ name: 'a', type: 'anthropic', base_url: up.url, models: ['to-anthropic'] }] });
});
afterAll(async () => { await gw.stop(); await up.stop(); });

/** Writes `request` on a new connection and reads until the server closes it (or `ms`): status line and body. */
async function raw(request: string, ms = 2000): Promise<{ status: number; body: string }> {
  const port = Number(new URL(gw.url).port);
  let text = '';
  const closed = Promise.withResolvers<void>();
  const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: {
    data(_s, d) { text += d.toString('latin1'); },
    close() { closed.resolve(); },
    error() { closed.resolve(); },
  } });
  socket.write(request);
  await Promise.race([closed.promise, Bun.sleep(ms)]);
  socket.end();
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

test('a request with no Host (HTTP/1.0, a health checker) or an empty one is routed by its path', async () => {
  for (const head of ['GET /health HTTP/1.0\r\n', 'GET /health HTTP/1.1\r\nhost: \r\nconnection: close\r\n']) {
    expect(await raw(`${head}\r\n`)).toEqual({ status: 200, body: '{"status":"ok"}' });
  }
  const ready = await raw('GET /ready HTTP/1.0\r\n\r\n');
  expect(ready).toEqual({ status: 200, body: '{"status":"ready"}' });
  const models = await raw('GET /v1/models HTTP/1.0\r\n\r\n');
  expect(models.status).toBe(200);
  expect(JSON.parse(models.body).data.map((m: { id: string }) => m.id)).toEqual(['to-anthropic']);
  const missing = await raw('GET /v1/nope?x=1 HTTP/1.0\r\n\r\n');
  expect(missing.status).toBe(404);
  expect(JSON.parse(missing.body).error.message).toBe('GET /v1/nope: no such endpoint');
  const chat = await raw('GET /v1/chat/completions HTTP/1.0\r\n\r\n');
  expect(JSON.parse(chat.body).error).toMatchObject({ type: 'not_found_error', message: 'GET /v1/chat/completions: no such endpoint' });
});
