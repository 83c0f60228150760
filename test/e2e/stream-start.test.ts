/**
 * The start of a streamed answer (pipeline/streams.ts readAhead): the first chunk is read before the client gets
 * anything, so an upstream that fails before it falls back like one that fails before its headers; a passthrough
 * stream that arrived whole in that read is answered in one write; anything else is relayed chunk by chunk. Either
 * way the client gets the same bytes (passthrough) or the same answer (translated).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { rawUpstream, startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-stream-start-1';
// recordings that end with the blank line after their last event (a stream cut before it is never "whole")
const anthropicStream = fixtureSseBody('anthropic/stream-tool-no-args.chunks.jsonl');
const chatStream = fixtureSseBody('openai-chat/stream-tool-call-single.sse');
const textMessage = JSON.parse(readFixture('anthropic/response-text.json'));
const req = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }], ...extra });

let primary: MockUpstream;
let secondary: MockUpstream;
const stopped: TestGateway[] = [];
afterEach(async () => { while (stopped.length) await stopped.pop()!.stop(); });
beforeAll(() => {
  primary = startMockUpstream(() => json(textMessage));
  secondary = startMockUpstream(() => sse([anthropicStream]));
});
afterAll(async () => { await primary.stop(); await secondary.stop(); });

function gateway(channelExtra: Record<string, unknown> = {}, withSecondary = true) {
  if (typeof channelExtra.upstream === 'string') {
    const u = headersOnlyUpstream(channelExtra.upstream as 'hang' | 'close');
    rawUpstreams.push(u);
    const { upstream: _, ...rest } = channelExtra;
    channelExtra = { ...rest, base_url: u.url };
  }
  const channels: Record<string, unknown>[] = [
    { name: 'primary', type: 'anthropic', base_url: primary.url, api_key: 'k1', models: ['m'], priority: 10, ...channelExtra },
    { name: 'chat', type: 'openai', base_url: `${primary.url}/v1`, api_key: 'k3', models: ['gpt'] },
  ];
  if (withSecondary) channels.push({ name: 'secondary', type: 'anthropic', base_url: secondary.url, api_key: 'k2', models: ['m'], priority: 0 });
  const g = startGateway({ keys: [{ key: KEY, name: 'team' }], channels });
  stopped.push(g);
  return g;
}
const post = (g: TestGateway, body: string, path = '/v1/messages') =>
  fetch(`${g.url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });

/** 200 with SSE headers and then no body byte: it hangs, or closes the connection. */
const headersOnlyUpstream = (then: 'hang' | 'close') =>
  rawUpstream('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n', then === 'close' ? { closeAfterMs: 20 } : {});
const rawUpstreams: Array<{ stop(): void }> = [];
afterAll(() => { for (const u of rawUpstreams) u.stop(); });

/** A 200 SSE response whose body fails (the connection is cut) after some chunks. */
function cutSse(chunks: string[]): Response {
  const enc = new TextEncoder();
  return new Response(new ReadableStream<Uint8Array>({
    async start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      await Bun.sleep(20);
      c.error(new Error('upstream cut'));
    },
  }), { headers: { 'content-type': 'text/event-stream' } });
}

describe('passthrough', () => {
  test('a stream that arrived whole goes out in one write: same bytes, with a length, usage logged', async () => {
    const g = gateway();
    primary.handler = () => sse([anthropicStream]);
    const res = await post(g, req('m'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = await res.text();
    expect(body).toBe(anthropicStream);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(anthropicStream)));
    const log = g.requestLogs().at(-1);
    expect(log.status).toBe(200);
    expect(log.stop_reason).toBe('tool_use');
    expect(log.output_tokens).toBeGreaterThan(0);
    expect(log.outcome).toBe('ok');
  });

  test('a paced stream is relayed chunk by chunk: same bytes, no length', async () => {
    const g = gateway();
    primary.handler = () => sse(sseEvents(anthropicStream), { delayMs: 3 });
    const res = await post(g, req('m'));
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe(anthropicStream);
    await until(() => g.requestLogs().length === 1);
    expect(g.requestLogs()[0].stop_reason).toBe('tool_use');
  });

  test('a first chunk that ends with message_stop but is not the end: the answer ends at message_stop, relayed (no length), what follows is not, the upstream request aborted', async () => {
    const g = gateway();
    const late = ': a comment after the last event\n\nevent: ping\ndata: {"type": "ping"}\n\n';
    primary.handler = (r) => sse([anthropicStream, late], { delayMs: 80, signal: r.signal });
    const res = await post(g, req('m'));
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe(anthropicStream);
    await primary.requests.at(-1)!.aborted;
    await until(() => g.requestLogs().length === 1);
    expect(g.requestLogs()[0]).toMatchObject({ outcome: 'ok', stop_reason: 'tool_use' });
  });

  test('the Anthropic SDK reads both shapes alike', async () => {
    const g = gateway();
    const sdk = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const params = { model: 'm', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
    primary.handler = () => sse([anthropicStream]);
    const whole = await sdk.messages.stream(params).finalMessage();
    primary.handler = () => sse(sseEvents(anthropicStream), { delayMs: 2 });
    const paced = await sdk.messages.stream(params).finalMessage();
    expect(whole).toEqual(paced);
    expect(whole.content.some((b) => b.type === 'tool_use')).toBe(true);
  });
});

describe('an upstream that fails before its first byte', () => {
  test('sends its headers, then nothing within the idle timeout: the next channel answers', async () => {
    const g = gateway({ stream_idle_timeout_ms: 150, upstream: 'hang' });
    const res = await post(g, req('m'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(anthropicStream);
    const log = g.requestLogs().at(-1);
    expect(log.attempts).toBe(2);
    expect(log.channel).toBe('secondary');
    expect(g.logs.some((l) => l.msg === 'upstream attempt failed' && l.channel === 'primary' && /sent nothing for 150 ms/.test(l.error))).toBe(true);
  });

  test('sends its headers, then cuts the connection: the next channel answers', async () => {
    const g = gateway({ upstream: 'close' });
    const res = await post(g, req('m'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(anthropicStream);
    expect(g.requestLogs().at(-1).attempts).toBe(2);
  });

  test('with no other channel: an error in the client\'s envelope, not an empty 200 stream', async () => {
    const g = gateway({ stream_idle_timeout_ms: 150, upstream: 'hang' }, false);
    const res = await post(g, req('m'));
    expect(res.status).toBe(504);
    const body = await res.json() as any;
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('timeout_error');
    expect(body.error.message).toContain('sent nothing for 150 ms');

    const g2 = gateway({ upstream: 'close' }, false);
    const chat = await post(g2, req('m'), '/v1/chat/completions');
    expect(chat.status).toBe(502);
    const e = await chat.json() as any;
    expect(e.error.type).toBe('server_error'); // api_error in OpenAI's envelope
    expect(e.error.message).toContain('before its first byte');
  });

  test('a client that goes away meanwhile: the upstream connection is closed, the request logged as cancelled', async () => {
    const u = headersOnlyUpstream('hang');
    rawUpstreams.push(u);
    const g = startGateway({ keys: [{ key: KEY, name: 'team' }], channels: [{ name: 'raw', type: 'anthropic', base_url: u.url, models: ['m'] }] });
    stopped.push(g);
    const ac = new AbortController();
    const p = fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY }, body: req('m'), signal: ac.signal }).catch(() => null);
    await until(() => u.state.requests === 1);
    await Bun.sleep(30);
    ac.abort();
    await p;
    await until(() => u.state.closed === 1);
    await until(() => g.requestLogs().length === 1);
    expect(g.requestLogs()[0].outcome).toBe('cancelled');
  });

  test('after its first byte there is no fallback: the stream ends with an error event', async () => {
    const g = gateway();
    const events = sseEvents(anthropicStream);
    primary.handler = () => cutSse(events.slice(0, 2));
    const s0 = secondary.requests.length;
    const res = await post(g, req('m'));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith(events.slice(0, 2).join(''))).toBe(true);
    expect(text).toContain('event: error');
    expect(secondary.requests.length).toBe(s0);
  });
});

describe('translated', () => {
  test('Messages client, openai channel: a stream in one piece and one in many give the same message', async () => {
    const g = gateway();
    const sdk = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const params = { model: 'gpt', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
    primary.handler = () => sse([chatStream]);
    const whole = await sdk.messages.stream(params).finalMessage();
    primary.handler = () => sse(sseEvents(chatStream), { delayMs: 2 });
    const paced = await sdk.messages.stream(params).finalMessage();
    const strip = (m: Anthropic.Message) => ({ ...m, id: '', content: m.content.map((b) => (b.type === 'tool_use' ? { ...b, id: '' } : b)) });
    expect(strip(whole)).toEqual(strip(paced));
    expect(whole.stop_reason).toBe('tool_use');
  });

  test('Chat Completions client, anthropic channel: the same, through the openai SDK', async () => {
    const g = gateway();
    const sdk = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const params = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], stream_options: { include_usage: true } };
    primary.handler = () => sse([anthropicStream]);
    const whole = await sdk.chat.completions.stream(params).finalChatCompletion();
    primary.handler = () => sse(sseEvents(anthropicStream), { delayMs: 2 });
    const paced = await sdk.chat.completions.stream(params).finalChatCompletion();
    const strip = (c: OpenAI.ChatCompletion) => ({ ...c, id: '', created: 0 });
    expect(strip(whole)).toEqual(strip(paced));
    expect(whole.choices[0]!.finish_reason).toBe('tool_calls');
    expect(whole.usage?.completion_tokens).toBeGreaterThan(0);
  });
});

describe('nothing leaks', () => {
  test('200 requests of every kind, a third of them abandoned by their client at random moments: every watch is released and every request logged once', async () => {
    const { watching } = await import('../../src/pipeline/watchdog.ts');
    const g = gateway();
    const events = sseEvents(anthropicStream);
    let n = 0;
    primary.handler = (r) => {
      n++;
      if (n % 5 === 0) return json(textMessage);
      if (n % 7 === 0) return new Response('{"type":"error","error":{"type":"overloaded_error","message":"busy"}}', { status: 529, headers: { 'content-type': 'application/json' } });
      return sse(events, { delayMs: 2 + (n % 4), signal: r.signal });
    };
    let abandoned = 0;
    const rnd = (() => { let s = 42; return (k: number) => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s % k; }; })();
    await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const ac = new AbortController();
      if (rnd(3) === 0) { abandoned++; setTimeout(() => ac.abort(), rnd(60)); }
      const path = i % 2 ? '/v1/messages' : '/v1/chat/completions';
      const model = i % 4 < 2 ? 'm' : 'gpt';
      try {
        const res = await fetch(`${g.url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, authorization: `Bearer ${KEY}` }, body: req(model, { stream: i % 3 !== 0 }), signal: ac.signal });
        await res.text();
      } catch { /* aborted */ }
    }));
    // a request its client abandoned before the gateway had read it never reaches a handler (nor gets an id): every
    // one that did is logged exactly once, and every one that was not abandoned did
    const completed = 200 - abandoned;
    await until(() => watching() === 0 && g.requestLogs().length >= completed, 10_000);
    await Bun.sleep(100); // a straggler's log line would land now
    expect(watching()).toBe(0);
    const ids = g.requestLogs().map((l) => parseInt(String(l.request_id).slice(-6), 36)).sort((a, b) => a - b);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => k + 1)); // no id without its line
    primary.handler = () => json(textMessage);
  }, 30_000);
});
