/**
 * The edges of HTTP, sent as raw bytes on a socket: what a client that is no SDK (a health checker speaking HTTP/1.0,
 * a hand-written script) sees.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

const NOT_SERVED = 'this gateway does not serve this endpoint; it serves POST /v1/messages, POST /v1/messages/count_tokens, POST /v1/chat/completions and GET /v1/models';

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
  expect(JSON.parse(missing.body).error.message).toBe(`GET /v1/nope: ${NOT_SERVED}`);
  const chat = await raw('GET /v1/chat/completions HTTP/1.0\r\n\r\n');
  expect(JSON.parse(chat.body).error).toMatchObject({ type: 'not_found_error', message: `GET /v1/chat/completions: ${NOT_SERVED}` });
});

const hello = (chat: boolean, text = 'hi') => JSON.stringify(chat
  ? { model: 'to-anthropic', messages: [{ role: 'user', content: text }] }
  : { model: 'to-anthropic', max_tokens: 5, messages: [{ role: 'user', content: text }] });

/** POSTs raw bytes to both inference routes; the error each answers, in its own envelope, and nothing sent upstream. */
async function refused(body: (chat: boolean) => Uint8Array, headers: Record<string, string>): Promise<Array<{ status: number; message: string }>> {
  const out = [];
  for (const chat of [false, true]) {
    const before = up.requests.length;
    const res = await fetch(`${gw.url}${chat ? '/v1/chat/completions' : '/v1/messages'}`, { method: 'POST', headers, body: body(chat) });
    const err = await res.json() as { type?: string; error: { type: string; message: string } };
    if (!chat) expect(err.type).toBe('error');
    expect(err.error.type).toBe('invalid_request_error');
    expect(up.requests.length).toBe(before);
    out.push({ status: res.status, message: err.error.message as string });
  }
  return out;
}

test('a compressed body is refused with a 415 naming its encoding: br and deflate too, which have no magic bytes to tell', async () => {
  const zlib = await import('node:zlib');
  const packers: Array<[string, (b: string) => Uint8Array]> = [
    ['gzip', (b) => Bun.gzipSync(b)], ['zstd', (b) => Bun.zstdCompressSync(b)],
    ['br', (b) => zlib.brotliCompressSync(b)], ['deflate', (b) => zlib.deflateSync(b)], ['x-snappy', (b) => Buffer.from(b, 'latin1').reverse()],
  ];
  for (const [name, pack] of packers) {
    for (const r of await refused((chat) => pack(hello(chat)), { 'content-encoding': name, 'content-type': 'application/json' })) {
      expect(r).toEqual({ status: 415, message: `request body is ${name}-encoded (Content-Encoding: ${name}): send the JSON uncompressed (request bodies are not decoded)` });
    }
  }
  // no Content-Encoding (a proxy dropped it): gzip and zstd are still known by their first bytes
  for (const r of await refused((chat) => Bun.gzipSync(hello(chat)), {})) {
    expect(r).toEqual({ status: 415, message: 'request body is gzip-compressed: send the JSON uncompressed (request bodies are not decoded)' });
  }
});

test('a body that is not UTF-8 is refused, never passed on with its bytes replaced: 400 naming the byte, 415 naming the charset it declares', async () => {
  const latin1 = (chat: boolean) => Buffer.from(hello(chat, 'café'), 'latin1');
  const at = (chat: boolean) => hello(chat, 'café').indexOf('é');
  const plain = await refused(latin1, { 'content-type': 'application/json' });
  expect(plain).toEqual([false, true].map((chat) => ({ status: 400, message: `request body is not valid UTF-8 (byte ${at(chat)}): JSON is sent as UTF-8` })));
  for (const r of await refused(latin1, { 'content-type': 'application/json; charset=ISO-8859-1' })) {
    expect(r).toEqual({ status: 415, message: 'request body is in charset ISO-8859-1 (Content-Type): send the JSON as UTF-8' });
  }
  const utf16 = (chat: boolean) => Buffer.from(`\ufeff${hello(chat)}`, 'utf16le');
  for (const r of await refused(utf16, { 'content-type': 'application/json; charset=utf-16' })) {
    expect(r).toEqual({ status: 415, message: 'request body is in charset utf-16 (Content-Type): send the JSON as UTF-8' });
  }
  for (const r of await refused(utf16, {})) {
    expect(r).toEqual({ status: 415, message: 'request body is UTF-16: send the JSON as UTF-8' });
  }
  // a charset that says UTF-8, or one that does not but whose body is ASCII anyway, and a BOM: served
  for (const [ct, body] of [['application/json; charset=utf-8', 'héllo'], ['application/json; charset=iso-8859-1', 'hi'], ['text/plain', '\ufeffhi']]) {
    for (const chat of [false, true]) {
      const res = await fetch(`${gw.url}${chat ? '/v1/chat/completions' : '/v1/messages'}`, { method: 'POST', headers: { 'content-type': ct! }, body: hello(chat, body) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }
});
