/**
 * @module test/e2e/upstream-faults
 * Faults an operator meets below HTTP, from both sides, in the four modes (a Messages client and a Chat Completions
 * client, each relayed and translated), streamed and not, with a second channel behind the faulty one so fallback is
 * in play. The faulty upstream is raw TCP (Bun.listen), so it can do what no HTTP server library lets it: close
 * without a byte, reset after its headers, stop a chunked body mid-chunk, promise more bytes than it sends, trickle
 * its headers. Each case asserts which thing happened (the fallback's answer, a timeout of the configured length,
 * the connection cut), never how long it took; one log line each; no upstream socket left open.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { Socket } from 'bun';
import { startMockUpstream, sse, type MockUpstream } from '../helpers/upstream.ts';
import { freePort, startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-faults-1';
const ANT_JSON = readFixture('anthropic/response-text.json');
const ANT_SSE = `${readFixture('anthropic/stream-text-basic.sse')}\n\n`;
const OA_JSON = readFixture('openai-chat/response-text.json');
const OA_SSE = readFixture('openai-chat/stream-text-usage-chunk.sse');
/** The channels' timeouts: small, so that a case that must wait one out is quick; asserted by what they produce. */
const TIMEOUT_MS = 400;

type Fault =
  | 'close-silent' | 'headers-reset' | 'length-short-close' | 'length-short-hold' | 'chunk-cut-close' | 'chunk-cut-hold'
  | 'trickle-headers' | 'bad-gzip' | 'continue-first' | 'http10-close' | 'huge-header';

/** A misbehaving upstream: one answer per connection, as `fault` says, the answer's body in the format asked. */
function faultUpstream() {
  const enc = new TextEncoder();
  const state = { fault: 'close-silent' as Fault, open: 0, requests: 0 };
  const bufs = new WeakMap<Socket, string>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, f: () => void) => { const t = setTimeout(() => { timers.delete(t); f(); }, ms); timers.add(t); };
  const server = Bun.listen({
    hostname: '127.0.0.1', port: 0,
    socket: {
      open(s) { state.open++; bufs.set(s, ''); },
      close() { state.open--; },
      error() {},
      data(s, d) {
        let buf = bufs.get(s);
        if (buf === undefined) return; // answered: this connection is done
        buf += d.toString('latin1');
        const h = buf.indexOf('\r\n\r\n');
        const len = h < 0 ? 0 : Number(/content-length: *(\d+)/i.exec(buf.slice(0, h))?.[1] ?? 0);
        if (h < 0 || buf.length < h + 4 + len) { bufs.set(s, buf); return; }
        bufs.delete(s);
        state.requests++;
        const oa = buf.slice(0, h).includes('/chat/completions');
        const stream = /"stream":\s*true/.test(buf.slice(h));
        const good = enc.encode(stream ? (oa ? OA_SSE : ANT_SSE) : (oa ? OA_JSON : ANT_JSON));
        const type = stream ? 'text/event-stream' : 'application/json';
        const half = good.subarray(0, good.length >> 1);
        const head = (extra: string) => `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\nconnection: close\r\n${extra}\r\n`;
        switch (state.fault) {
          case 'close-silent': s.end(); break;
          case 'headers-reset': s.write(head(`content-length: ${good.length}\r\n`)); later(20, () => s.terminate()); break;
          case 'length-short-close': case 'length-short-hold':
            s.write(head(`content-length: ${good.length}\r\n`)); s.write(half);
            if (state.fault === 'length-short-close') later(20, () => s.end());
            break;
          case 'chunk-cut-close': case 'chunk-cut-hold':
            // a chunk that says it holds the whole body, half of it sent, no terminating 0-chunk
            s.write(head('transfer-encoding: chunked\r\n')); s.write(`${good.length.toString(16)}\r\n`); s.write(half);
            if (state.fault === 'chunk-cut-close') later(20, () => s.end());
            break;
          case 'trickle-headers': {
            const all = head(`content-length: ${good.length}\r\n`);
            let i = 0;
            const next = () => { if (i < all.length && s.readyState === 1) { s.write(all[i++]!); later(100, next); } };
            next();
            break;
          }
          case 'bad-gzip': s.write(head(`content-encoding: gzip\r\ncontent-length: ${good.length}\r\n`)); s.write(good); break;
          case 'continue-first': s.write('HTTP/1.1 100 Continue\r\n\r\n'); s.write(head(`content-length: ${good.length}\r\n`)); s.write(good); break;
          case 'http10-close': s.write(`HTTP/1.0 200 OK\r\ncontent-type: ${type}\r\n\r\n`); s.write(good); s.end(); break;
          case 'huge-header': s.write(head(`x-padding: ${'a'.repeat(70_000)}\r\ncontent-length: ${good.length}\r\n`)); s.write(good); break;
        }
      },
    },
  });
  return {
    state, url: `http://127.0.0.1:${server.port}`,
    stop() { for (const t of timers) clearTimeout(t); server.stop(true); },
  };
}

let fault: ReturnType<typeof faultUpstream>;
let good: MockUpstream;
let gw: TestGateway;
const refusedUrl = `http://127.0.0.1:${freePort()}`;
beforeAll(() => {
  fault = faultUpstream();
  good = startMockUpstream((r) => {
    const oa = r.path.endsWith('/chat/completions');
    if (r.json?.stream === true) return sse([oa ? OA_SSE : ANT_SSE]);
    return new Response(oa ? OA_JSON : ANT_JSON, { headers: { 'content-type': 'application/json' } });
  });
  const t = { timeout_ms: TIMEOUT_MS, stream_idle_timeout_ms: TIMEOUT_MS };
  gw = startGateway({
    keys: [{ key: KEY, name: 'faults' }],
    // the breaker never opens here: every request must meet the fault
    routing: { circuit_failures: 1_000_000 },
    channels: [
      // a model on a faulty channel first, a good one behind it, per channel type; one on the faulty channel alone
      { name: 'fa', type: 'anthropic', base_url: fault.url, api_key: 'k', models: ['ant', 'ant-alone'], priority: 10, ...t },
      { name: 'ga', type: 'anthropic', base_url: good.url, api_key: 'k', models: ['ant'], ...t },
      { name: 'fo', type: 'openai', base_url: `${fault.url}/v1`, api_key: 'k', models: ['oa', 'oa-alone'], priority: 10, ...t },
      { name: 'go', type: 'openai', base_url: `${good.url}/v1`, api_key: 'k', models: ['oa'], ...t },
      { name: 'ra', type: 'anthropic', base_url: refusedUrl, api_key: 'k', models: ['refused'], priority: 10, ...t },
      { name: 'rb', type: 'anthropic', base_url: good.url, api_key: 'k', models: ['refused'], ...t },
    ],
  });
});
afterAll(async () => { await gw.stop(); await good.stop(); fault.stop(); });

/** The four modes: route × the channel type that serves the model (the same format relays, another translates). */
const MODES = [
  { name: 'Messages client, anthropic channel (relayed)', path: '/v1/messages', type: 'ant' },
  { name: 'Messages client, openai channel (translated)', path: '/v1/messages', type: 'oa' },
  { name: 'Chat client, openai channel (relayed)', path: '/v1/chat/completions', type: 'oa' },
  { name: 'Chat client, anthropic channel (translated)', path: '/v1/chat/completions', type: 'ant' },
] as const;

const body = (model: string, stream: boolean) => JSON.stringify({ model, max_tokens: 20, stream, messages: [{ role: 'user', content: 'hi' }] });
const post = (path: string, model: string, stream: boolean, signal?: AbortSignal) =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: body(model, stream), signal });

/** One request; its answer read to the end (or the error that ended it) and its one log line, once written. */
async function exchange(path: string, model: string, stream: boolean) {
  const before = gw.requestLogs().length;
  const res = await post(path, model, stream);
  const text = await res.text().then((t) => t, (e: Error) => ({ cut: e.message }));
  await until(() => gw.requestLogs().length > before, 5000);
  await Bun.sleep(20); // a second line, were one written, would be here by now
  const lines = gw.requestLogs().slice(before);
  return { status: res.status, text, lines };
}

describe('an upstream that fails before the answer begins: the next channel answers, in every mode', () => {
  const FAULTS: Array<[Fault | 'refused', string]> = [
    ['refused', 'connection refused'],
    ['close-silent', 'accepts, then closes without a byte'],
    ['headers-reset', 'sends its headers, then resets'],
    ['trickle-headers', 'trickles its headers a byte per 100 ms (timeout_ms)'],
    ['bad-gzip', 'a 200 labelled gzip whose bytes are not gzip'],
  ];
  for (const [f, name] of FAULTS) {
    test(`${name}`, async () => {
      if (f !== 'refused') fault.state.fault = f;
      for (const m of MODES) for (const stream of [false, true]) {
        // `refused` has an anthropic pair only: its request is the same in every mode up to the connection
        const model = f === 'refused' ? 'refused' : m.type;
        const { status, text, lines } = await exchange(m.path, model, stream);
        const what = `${m.name}, ${stream ? 'streamed' : 'not streamed'}`;
        expect(`${what}: ${status}`).toBe(`${what}: 200`);
        expect(typeof text === 'string' && (stream ? /message_stop|\[DONE\]/.test(text) : text.includes('"usage"'))).toBe(true);
        expect(lines.map((l) => [l.status, l.outcome, l.attempts, l.channel])).toEqual([[200, 'ok', 2, f === 'refused' ? 'rb' : `g${m.type === 'ant' ? 'a' : 'o'}`]]);
      }
      // every connection to the faulty upstream was let go (a held one cut at the channel's timeout)
      await until(() => fault.state.open === 0, 5000);
    }, 30_000);
  }
});

describe('an upstream whose body breaks off after its first bytes', () => {
  const FAULTS: Array<[Fault, string]> = [
    ['length-short-close', 'a Content-Length larger than what it sends, then closes'],
    ['length-short-hold', 'a Content-Length larger than what it sends, then holds (stream_idle_timeout_ms)'],
    ['chunk-cut-close', 'a chunked body cut mid-chunk, no terminating chunk, then closed'],
    ['chunk-cut-hold', 'a chunked body cut mid-chunk, no terminating chunk, then held (stream_idle_timeout_ms)'],
  ];
  for (const [f, name] of FAULTS) {
    test(`${name}: a whole answer falls back, or the client learns its answer broke (an error event, its connection cut), never a short body that ends cleanly`, async () => {
      fault.state.fault = f;
      for (const m of MODES) for (const stream of [false, true]) {
        const { status, text, lines } = await exchange(m.path, m.type, stream);
        const what = `${m.name}, ${stream ? 'streamed' : 'not streamed'}`;
        expect(`${what}: ${status}`).toBe(`${what}: 200`);
        const relayed = m.path === '/v1/messages' ? m.type === 'ant' : m.type === 'oa';
        if (stream) {
          // the first half reached the client: no fallback once streaming has begun, an error event in its format
          const tail = typeof text === 'string' ? text.slice(-300) : '';
          expect(`${what}: ${/event: error\n|"error":\{/.test(tail)}`).toBe(`${what}: true`);
          expect(lines.map((l) => [l.status, l.outcome, l.attempts])).toEqual([[200, 'error', 1]]);
        } else if (relayed && f.startsWith('chunk')) {
          // a relayed JSON answer of undeclared length goes out as it comes: once begun, its failure cuts the
          // client's connection (a clean end would hand the SDK half a JSON body as the whole answer)
          expect(`${what}: ${typeof text === 'string' ? `ended cleanly after ${text.length} characters` : 'cut'}`).toBe(`${what}: cut`);
          expect(lines.map((l) => [l.status, l.outcome, l.attempts])).toEqual([[200, 'error', 1]]);
        } else {
          // read whole before answering: the next channel answers
          expect(lines.map((l) => [l.status, l.outcome, l.attempts])).toEqual([[200, 'ok', 2]]);
          expect(typeof text === 'string' && text.includes('"usage"')).toBe(true);
        }
      }
      await until(() => fault.state.open === 0, 5000);
    }, 30_000);
  }
});

describe('an upstream answer that is odd but whole: served, on the one channel', () => {
  const FAULTS: Array<[Fault, string]> = [
    ['continue-first', 'an HTTP/1.1 100 Continue before the real answer'],
    ['http10-close', 'an HTTP/1.0 answer with no length, closed at its end'],
    ['huge-header', 'a 70 KB header'],
  ];
  for (const [f, name] of FAULTS) {
    test(name, async () => {
      fault.state.fault = f;
      for (const m of MODES) for (const stream of [false, true]) {
        const { status, text, lines } = await exchange(m.path, `${m.type}-alone`, stream);
        const what = `${m.name}, ${stream ? 'streamed' : 'not streamed'}`;
        expect(`${what}: ${status}`).toBe(`${what}: 200`);
        expect(typeof text === 'string' && (stream ? /message_stop|\[DONE\]/.test(text) : text.includes('"usage"'))).toBe(true);
        expect(lines.map((l) => [l.status, l.outcome, l.attempts])).toEqual([[200, 'ok', 1]]);
      }
      await until(() => fault.state.open === 0, 5000);
    }, 30_000);
  }
});

describe('repeated faults leave nothing behind', () => {
  test('200 broken answers and 200 clients that leave mid-stream: no upstream socket left open, nothing in flight, one log line each', async () => {
    const before = gw.requestLogs().length;
    // (a Content-Length the body falls short of: a JSON answer falls back, a stream ends in an error event; the chunked
    // cut, which cuts a relayed JSON answer's client connection, has Bun print a stack on stderr each time: above)
    fault.state.fault = 'length-short-close';
    for (let i = 0; i < 200; i++) {
      const m = MODES[i % 4]!;
      const res = await post(m.path, m.type, i % 8 < 4);
      await res.text().catch(() => null);
    }
    // the client leaves after the stream's first bytes, the upstream holding its half-sent body
    fault.state.fault = 'chunk-cut-hold';
    for (let i = 0; i < 200; i++) {
      const m = MODES[i % 4]!;
      const gone = new AbortController();
      const res = await post(m.path, m.type, true, gone.signal);
      const reader = res.body!.getReader();
      await reader.read();
      gone.abort();
      await reader.read().catch(() => null);
    }
    await until(() => gw.requestLogs().length - before === 400 && gw.deps.state.inflight === 0 && fault.state.open === 0, 10_000);
    const outcomes: Record<string, number> = {};
    for (const l of gw.requestLogs().slice(before)) outcomes[l.outcome] = (outcomes[l.outcome] ?? 0) + 1;
    expect(outcomes).toEqual({ error: 100, ok: 100, cancelled: 200 });
    // and the gateway still serves
    expect((await exchange('/v1/messages', 'refused', false)).status).toBe(200);
  }, 60_000);
});

describe('clients that misbehave', () => {
  /** Raw bytes to the gateway on one connection, with pauses (numbers, in ms) between writes; what came back by the time it closed, or `ms` later. */
  async function raw(parts: Array<string | number>, ms = 3000) {
    let text = '';
    const closed = Promise.withResolvers<void>();
    const socket = await Bun.connect({ hostname: '127.0.0.1', port: Number(new URL(gw.url).port), socket: {
      data(_s, d) { text += d.toString('latin1'); }, close() { closed.resolve(); }, error() { closed.resolve(); },
    } });
    for (const p of parts) if (typeof p === 'number') await Bun.sleep(p); else socket.write(p);
    const how = await Promise.race([closed.promise.then(() => 'closed'), Bun.sleep(ms).then(() => 'open')]);
    socket.end();
    return { how, statuses: (text.match(/^HTTP\/1\.1 \d+/gm) ?? []).map((s) => Number(s.slice(9))), text };
  }
  // the model whose first channel refuses connections and whose second answers: no fault of the upstream's in play
  const head = (path: string, extra: string) => `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${KEY}\r\ncontent-type: application/json\r\nconnection: close\r\n${extra}\r\n`;

  test('Expect: 100-continue is answered 100, then the answer once the body came', async () => {
    const b = body('refused', false);
    const out = await raw([head('/v1/messages', `expect: 100-continue\r\ncontent-length: ${b.length}\r\n`), 100, b]);
    expect(out.statuses).toEqual([100, 200]);
  });

  test('pipelined requests: Bun 1.4.5 closes the connection without an answer (README, Running in production); when this fails, Bun serves them: say so there', async () => {
    const b = body('refused', false);
    const one = `POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${KEY}\r\ncontent-type: application/json\r\ncontent-length: ${b.length}\r\n\r\n${b}`;
    const out = await raw([one + one]);
    expect([out.how, out.statuses]).toEqual(['closed', []]);
  });

  test('a body sent a byte at a time is read to its end and served (each silence shorter than the idle timeout)', async () => {
    const b = body('refused', false);
    const parts: Array<string | number> = [head('/v1/chat/completions', `content-length: ${b.length}\r\n`)];
    for (const ch of b.slice(0, 10)) parts.push(ch, 100);
    parts.push(b.slice(10));
    const out = await raw(parts);
    expect([out.how, out.statuses]).toEqual(['closed', [200]]);
  });
});

describe('a request body at server.max_body_bytes', () => {
  test('chunked, without Content-Length: exactly the limit is served, one byte over is 413, each in its own envelope and one log line', async () => {
    const limit = 1000;
    const g = startGateway({ keys: [{ key: KEY, name: 'faults' }], server: { max_body_bytes: limit }, channels: [{ name: 'ga', type: 'anthropic', base_url: good.url, api_key: 'k', models: ['ant'] }] });
    try {
      for (const path of ['/v1/messages', '/v1/chat/completions']) for (const size of [limit, limit + 1]) {
        const base = body('ant', false);
        const text = base.replace('"hi"', `"hi${' '.repeat(size - base.length)}"`);
        expect(text.length).toBe(size);
        const bytes = new TextEncoder().encode(text);
        // a stream body: fetch sends it chunked, with no Content-Length
        const stream = new ReadableStream({ start(c) { c.enqueue(bytes.subarray(0, 400)); c.enqueue(bytes.subarray(400)); c.close(); } });
        const before = g.requestLogs().length;
        const n = good.requests.length;
        const res = await fetch(`${g.url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
        const answer = await res.json() as any;
        await until(() => g.requestLogs().length > before, 5000);
        if (size === limit) {
          expect([path, res.status, good.requests.length - n]).toEqual([path, 200, 1]);
          expect(good.requests.at(-1)!.json.messages[0].content.length).toBe(2 + size - base.length);
        } else {
          expect([path, res.status, good.requests.length - n]).toEqual([path, 413, 0]);
          expect(path === '/v1/messages' ? answer.error.type : answer.error.code).toBe('request_too_large');
        }
        expect(g.requestLogs().slice(before).map((l) => l.status)).toEqual([res.status]);
      }
    } finally {
      await g.stop();
    }
  });
});

describe('a client that leaves in the middle of a fallback', () => {
  test('after the first channel failed, while the second is on it: the second request is cancelled, one line, cancelled', async () => {
    const busy = startMockUpstream(() => new Response('{"type":"error","error":{"type":"overloaded_error","message":"busy"}}', { status: 529, headers: { 'content-type': 'application/json' } }));
    const slow = startMockUpstream(async (r) => { await r.aborted; return new Response(null, { status: 500 }); });
    const g = startGateway({
      keys: [{ key: KEY, name: 'faults' }],
      routing: { circuit_failures: 1_000_000 },
      channels: [
        { name: 'busy-a', type: 'anthropic', base_url: busy.url, api_key: 'k', models: ['ant'], priority: 10 },
        { name: 'slow-a', type: 'anthropic', base_url: slow.url, api_key: 'k', models: ['ant'] },
        { name: 'busy-o', type: 'openai', base_url: `${busy.url}/v1`, api_key: 'k', models: ['oa'], priority: 10 },
        { name: 'slow-o', type: 'openai', base_url: `${slow.url}/v1`, api_key: 'k', models: ['oa'] },
      ],
    });
    try {
      for (const m of MODES) for (const stream of [false, true]) {
        const before = g.requestLogs().length;
        const n = slow.requests.length;
        const gone = new AbortController();
        const sent = fetch(`${g.url}${m.path}`, { method: 'POST', headers: { 'x-api-key': KEY }, body: body(m.type, stream), signal: gone.signal }).catch(() => null);
        await until(() => slow.requests.length > n, 5000);
        gone.abort();
        await sent;
        await slow.requests.at(-1)!.aborted; // the second channel's request cancelled (else this waits forever)
        await until(() => g.requestLogs().length > before, 5000);
        await Bun.sleep(20);
        const what = `${m.name}, ${stream ? 'streamed' : 'not streamed'}`;
        expect([what, g.requestLogs().slice(before).map((l) => [l.status, l.outcome, l.attempts, l.channel])]).toEqual([what, [[499, 'cancelled', 2, `slow-${m.type === 'ant' ? 'a' : 'o'}`]]]);
      }
    } finally {
      await g.stop(); await busy.stop(); await slow.stop();
    }
  });
});
