/**
 * @module test/e2e/upstream-keep-alive
 * A streamed answer whose upstream ends its body right after its last event, as every server does: the upstream's
 * connection goes back to fetch's pool and serves the next stream, in each of the four modes. An HTTP/1.1 server of
 * its own (node:net) counts the connections it is given.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import net from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

const ANT = `${readFixture('anthropic/stream-text-basic.sse')}\n\n`;
const OA = readFixture('openai-chat/stream-text-usage-chunk.sse');
let connections = 0;
let server: net.Server;
let port = 0;
let gw: TestGateway;
beforeAll(async () => {
  server = net.createServer((sock) => {
    connections++;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const h = buf.indexOf('\r\n\r\n');
        if (h < 0) return;
        const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, h))?.[1] ?? 0);
        if (buf.length < h + 4 + len) return;
        const head = buf.slice(0, h);
        buf = buf.slice(h + 4 + len);
        const body = head.includes('/chat/completions') ? OA : ANT;
        const b = Buffer.from(body);
        sock.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n`);
        // event by event, then the end
        const parts = body.split(/(?<=\n\n)/);
        let i = 0;
        const next = () => {
          if (i < parts.length) { const p = Buffer.from(parts[i++]!); sock.write(`${p.length.toString(16)}\r\n`); sock.write(p); sock.write('\r\n'); setTimeout(next, 2); }
          else sock.write('0\r\n\r\n');
        };
        next();
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  gw = startGateway({
    keys: [{ key: 'kkkkkkkkkk', name: 't' }],
    channels: [
      { name: 'ant', type: 'anthropic', base_url: `http://127.0.0.1:${port}`, api_key: 'x', models: { a: 'up' } },
      { name: 'oa', type: 'openai', provider: 'openai', base_url: `http://127.0.0.1:${port}/v1`, api_key: 'x', models: { o: 'up' } },
    ],
  });
});
afterAll(async () => { await gw.stop(); server.close(); });

for (const [path, model] of [['/v1/messages', 'a'], ['/v1/messages', 'o'], ['/v1/chat/completions', 'o'], ['/v1/chat/completions', 'a']] as const) {
  test(`${path} (${model === 'a' ? 'anthropic' : 'openai'} channel): five streams, one upstream connection`, async () => {
    const before = connections;
    for (let n = 0; n < 5; n++) {
      const body = path === '/v1/messages' ? { model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] } : { model, stream: true, messages: [{ role: 'user', content: 'Hi' }] };
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer kkkkkkkkkk', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(path === '/v1/messages' ? 'message_stop' : '[DONE]');
      await Bun.sleep(20);
    }
    // the first may open one (the mode before it left none in the pool otherwise)
    expect(connections - before).toBeLessThanOrEqual(1);
  });
}
