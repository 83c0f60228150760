/**
 * @module test/process/chaos
 * A seeded storm against a real Switchboard process: all four modes (Messages→anthropic, Messages→openai,
 * Chat→openai, Chat→anthropic), streamed and not, upstreams that fail every way a raw socket can (statuses with and
 * without retry-after, resets before/after headers and inside a UTF-8 character or an SSE line, stalls past the
 * gateway's timeouts, garbage, truncated JSON, an error event mid-stream) and clients that leave at random (an
 * aborted fetch, a raw socket closed half-way through its body or through reading the answer). What must hold: the
 * process lives and serves, no client request hangs, every error is in the client API's envelope, every stream ends
 * with its format's end or an error event, one log line per request received (unlogged, below), no upstream socket or watch left open, the heap
 * flat from one storm to the next, and nothing on stderr.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { spawnGateway, writeConfig, type RunningGateway } from '../helpers/process.ts';
import { until } from '../helpers/until.ts';

const KEY = 'sk-chaos-test-key';
const SEED = Number(process.env.CHAOS_SEED ?? 20261128);
const STORM = 900; // requests per storm (two storms, plus health checks and the final batch)
const CONCURRENCY = 32;
/** A client's own deadline: far past anything the gateway should take (its timeouts below are 300 ms per attempt). */
const CLIENT_DEADLINE_MS = 15_000;

/** mulberry32: a small seeded PRNG, so a failing storm can be replayed with CHAOS_SEED. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] };
}

// ---------------------------------------------------------------------------------------------------------------
// the upstream: raw TCP, so that it can do what Bun.serve cannot (reset before headers, cut inside a chunk)

const SCENARIOS = [
  'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'slow',
  's429', 's429ra', 's500', 's500html', 's529', 's529ra',
  'resetBeforeHeaders', 'closeBeforeHeaders', 'resetAfterHeaders',
  'cutUtf8', 'cutSseLine', 'cleanCut',
  'stallBeforeHeaders', 'stallAfterHeaders', 'stallMidStream',
  'garbage', 'truncatedJson', 'errorEvent',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const enc = new TextEncoder();

function anthropicEvents(): string[] {
  const ev = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  return [
    ev('message_start', { type: 'message_start', message: { id: 'msg_chaos', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 7, output_tokens: 1 } } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo wörld ' } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '🌍 ünïcode' } }),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}
function openaiEvents(): string[] {
  const ch = (delta: unknown, finish: string | null = null, usage?: unknown) => `data: ${JSON.stringify({ id: 'chatcmpl-chaos', object: 'chat.completion.chunk', created: 1, model: 'gpt-up', choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
  return [
    ch({ role: 'assistant', content: '' }),
    ch({ content: 'héllo wörld ' }),
    ch({ content: '🌍 ünïcode' }),
    ch({}, 'stop', { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 }),
    'data: [DONE]\n\n',
  ];
}
const ANTHROPIC_MESSAGE = { id: 'msg_chaos', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'héllo 🌍' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 7, output_tokens: 3 } };
const OPENAI_COMPLETION = { id: 'chatcmpl-chaos', object: 'chat.completion', created: 1, model: 'gpt-up', choices: [{ index: 0, message: { role: 'assistant', content: 'héllo 🌍' }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } };

interface Conn { buf: Uint8Array; busy: boolean; idle?: ReturnType<typeof setTimeout> }

function startChaosUpstream() {
  const state = { open: 0, requests: 0, busy: 0, seen: new Set<number>() };
  const conns = new Map<object, Conn>();
  type S = Parameters<NonNullable<Parameters<typeof Bun.listen>[0]['socket']['data']>>[0];
  const headOf = (status: number, reason: string, headers: Record<string, string>) =>
    `HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const chunk = (b: Uint8Array | string) => {
    const bytes = typeof b === 'string' ? enc.encode(b) : b;
    const out = new Uint8Array(bytes.length + 32);
    const pre = enc.encode(`${bytes.length.toString(16)}\r\n`);
    out.set(pre, 0); out.set(bytes, pre.length); out.set(enc.encode('\r\n'), pre.length + bytes.length);
    return out.subarray(0, pre.length + bytes.length + 2);
  };
  const alive = (s: S) => conns.has(s);
  /** A complete answer: the connection is kept for the next request, closed after 500 ms idle (as nginx does). */
  const finished = (s: S) => {
    const c = conns.get(s);
    if (!c) return;
    c.busy = false;
    state.busy--;
    c.idle = setTimeout(() => s.end(), 500);
    if (c.buf.length) onData(s, new Uint8Array(0));
  };
  const json = (s: S, status: number, body: string, headers: Record<string, string> = {}) => {
    s.write(headOf(status, status === 200 ? 'OK' : 'Error', { 'content-type': 'application/json', 'content-length': String(enc.encode(body).length), ...headers }) + body);
    finished(s);
  };
  const streamHead = (s: S) => s.write(headOf(200, 'OK', { 'content-type': 'text/event-stream', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' }));
  /** Writes the events a few ms apart (clients get to leave mid-stream), then `end`. */
  const writeEvents = (s: S, events: (string | Uint8Array)[], end: () => void, gapMs: number) => {
    let i = 0;
    const step = () => {
      if (!alive(s)) return;
      if (i === events.length) { end(); return; }
      s.write(chunk(events[i++]!));
      setTimeout(step, gapMs);
    };
    step();
  };
  const respond = (s: S, path: string, body: any, scenario: Scenario) => {
    const oai = path.endsWith('/chat/completions');
    const streamed = body?.stream === true;
    const events = oai ? openaiEvents() : anthropicEvents();
    const errBody = (type: string, msg: string) => JSON.stringify(oai ? { error: { message: msg, type, code: null } } : { type: 'error', error: { type, message: msg } });
    const endChunked = () => { s.write('0\r\n\r\n'); finished(s); };
    switch (scenario) {
      case 'ok':
      case 'slow':
        if (!streamed) return json(s, 200, JSON.stringify(oai ? OPENAI_COMPLETION : ANTHROPIC_MESSAGE));
        streamHead(s);
        return writeEvents(s, events, endChunked, scenario === 'slow' ? 40 : 2);
      case 's429': return json(s, 429, errBody('rate_limit_error', 'slow down'));
      case 's429ra': return json(s, 429, errBody('rate_limit_error', 'slow down'), { 'retry-after': '0' });
      case 's500': return json(s, 500, errBody('api_error', 'internal'));
      case 's500html':
        s.write(headOf(500, 'Internal Server Error', { 'content-type': 'text/html', 'content-length': '27' }) + '<html>oops</html>\n\n\n\n\n\n\n\n\n\n');
        return finished(s);
      case 's529': return json(s, 529, errBody('overloaded_error', 'overloaded'));
      case 's529ra': return json(s, 529, errBody('overloaded_error', 'overloaded'), { 'retry-after': '1' });
      case 'resetBeforeHeaders': return void s.terminate();
      case 'closeBeforeHeaders': return void s.end();
      case 'resetAfterHeaders':
        if (streamed) streamHead(s);
        else s.write(headOf(200, 'OK', { 'content-type': 'application/json', 'content-length': '500' }) + '{"id":"msg_');
        return void setTimeout(() => s.terminate(), 5);
      case 'cutUtf8': {
        // the stream up to the middle of 🌍 (4 bytes in UTF-8: cut after 2), then a reset
        const all = enc.encode(events.join(''));
        const at = indexOfBytes(all, enc.encode('🌍')) + 2;
        streamHead(s);
        return writeEvents(s, [all.subarray(0, at)], () => s.terminate(), 2);
      }
      case 'cutSseLine': {
        const text = events.slice(0, 3).join('') + events[3]!.slice(0, 20);
        streamHead(s);
        return writeEvents(s, [text], () => s.terminate(), 2);
      }
      case 'cleanCut': // a well-formed chunked body that ends before the message did
        streamHead(s);
        return writeEvents(s, events.slice(0, 3), endChunked, 2);
      case 'stallBeforeHeaders': return; // held until the gateway's timeout_ms lets go
      case 'stallAfterHeaders':
        if (streamed) streamHead(s);
        else s.write(headOf(200, 'OK', { 'content-type': 'application/json', 'content-length': '500' }));
        return;
      case 'stallMidStream':
        streamHead(s);
        return writeEvents(s, events.slice(0, 3), () => {}, 2);
      case 'garbage':
        if (!streamed) return json(s, 200, '<<<not json at all>>>');
        streamHead(s);
        return writeEvents(s, ['data: }{ not json\n\n', 'event: ???\ndata: [[[\n\n'], endChunked, 2);
      case 'truncatedJson':
        if (!streamed) return json(s, 200, JSON.stringify(oai ? OPENAI_COMPLETION : ANTHROPIC_MESSAGE).slice(0, 40));
        streamHead(s);
        return writeEvents(s, [events[0]!, events[1]!.slice(0, events[1]!.length - 8) + '\n\n', events[2]!], endChunked, 2);
      case 'errorEvent': {
        const err = oai ? `data: ${errBody('server_error', 'boom mid-stream')}\n\n` : `event: error\ndata: ${errBody('overloaded_error', 'Overloaded')}\n\n`;
        streamHead(s);
        return writeEvents(s, [...events.slice(0, 3), err], endChunked, 2);
      }
    }
  };
  const onData = (s: S, data: Uint8Array) => {
    const c = conns.get(s);
    if (!c) return;
    if (c.idle) { clearTimeout(c.idle); c.idle = undefined; }
    const merged = new Uint8Array(c.buf.length + data.length);
    merged.set(c.buf); merged.set(data, c.buf.length);
    c.buf = merged;
    if (c.busy) return;
    const headEnd = indexOfBytes(c.buf, enc.encode('\r\n\r\n'));
    if (headEnd < 0) return;
    const head = new TextDecoder().decode(c.buf.subarray(0, headEnd));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let bodyBytes: Uint8Array;
    let rest: Uint8Array;
    if (m) {
      const len = Number(m[1]);
      if (c.buf.length < headEnd + 4 + len) return;
      bodyBytes = c.buf.subarray(headEnd + 4, headEnd + 4 + len);
      rest = c.buf.subarray(headEnd + 4 + len);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const decoded = dechunk(c.buf.subarray(headEnd + 4));
      if (!decoded) return;
      bodyBytes = decoded.body;
      rest = c.buf.subarray(headEnd + 4 + decoded.used);
    } else { bodyBytes = new Uint8Array(0); rest = c.buf.subarray(headEnd + 4); }
    c.buf = rest.slice();
    c.busy = true;
    state.busy++;
    state.requests++;
    const path = head.split(' ')[1] ?? '';
    const text = new TextDecoder().decode(bodyBytes);
    let body: any;
    try { body = JSON.parse(text); } catch { body = undefined; }
    const scenario = (/chaos:(\w+)/.exec(text)?.[1] ?? 'ok') as Scenario;
    const i = /request (\d+)/.exec(text)?.[1];
    if (i !== undefined) state.seen.add(Number(i));
    respond(s, path, body, scenario);
  };
  const server = Bun.listen({
    hostname: '127.0.0.1', port: 0,
    socket: {
      open(s) { state.open++; conns.set(s, { buf: new Uint8Array(0), busy: false }); },
      data(s, d) { onData(s, d); },
      close(s) {
        state.open--;
        const c = conns.get(s);
        if (c?.busy) state.busy--;
        if (c?.idle) clearTimeout(c.idle);
        conns.delete(s);
      },
      error() {},
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, state, stop: () => server.stop(true) };
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function dechunk(b: Uint8Array): { body: Uint8Array; used: number } | null {
  const parts: Uint8Array[] = [];
  let i = 0;
  for (;;) {
    const nl = indexOfBytes(b.subarray(i), enc.encode('\r\n'));
    if (nl < 0) return null;
    const size = parseInt(new TextDecoder().decode(b.subarray(i, i + nl)), 16);
    i += nl + 2;
    if (size === 0) {
      if (b.length < i + 2) return null;
      i += 2;
      const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) { body.set(p, o); o += p.length; }
      return { body, used: i };
    }
    if (b.length < i + size + 2) return null;
    parts.push(b.subarray(i, i + size));
    i += size + 2;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the clients

const MODES = [
  { name: 'messages→anthropic', path: '/v1/messages', model: 'ca', api: 'anthropic', relayed: true },
  { name: 'messages→openai', path: '/v1/messages', model: 'co', api: 'anthropic', relayed: false },
  { name: 'chat→openai', path: '/v1/chat/completions', model: 'co', api: 'openai', relayed: true },
  { name: 'chat→anthropic', path: '/v1/chat/completions', model: 'ca', api: 'openai', relayed: false },
] as const;
type Mode = (typeof MODES)[number];
const CLIENTS = ['fetch', 'fetch', 'fetch', 'fetch', 'fetchAbort', 'rawHalfBody', 'rawHalfRead'] as const;

interface Spec { i: number; mode: Mode; stream: boolean; scenario: Scenario; client: (typeof CLIENTS)[number]; abortMs: number; cutAt: number }

function bodyOf(spec: Spec): string {
  const content = `chaos:${spec.scenario} request ${spec.i} ünïcode`;
  return JSON.stringify(spec.mode.api === 'anthropic'
    ? { model: spec.mode.model, max_tokens: 64, stream: spec.stream, messages: [{ role: 'user', content }] }
    : { model: spec.mode.model, stream: spec.stream, messages: [{ role: 'user', content }] });
}

/**
 * Each storm request presents a key of its own, named `c<i>`: its log line names it (`key`), so a request with no line,
 * or with two, is named too. The final batch (i < 0) presents KEY.
 */
const keyOf = (i: number) => (i < 0 ? KEY : `sk-chaos-request-${i}`);
const keyName = (i: number) => `c${i}`;

function headersOf(spec: Spec): Record<string, string> {
  const key = keyOf(spec.i);
  return spec.mode.api === 'anthropic'
    ? { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' }
    : { 'content-type': 'application/json', authorization: `Bearer ${key}` };
}

interface Outcome { spec: Spec; kind: 'answered' | 'connError' | 'aborted' | 'raw' | 'hang'; problem?: string; status?: number; requestId?: string }

const isAnthropicError = (o: any) => o?.type === 'error' && typeof o.error?.type === 'string' && typeof o.error?.message === 'string';
const isOpenAIError = (o: any) => o !== null && typeof o === 'object' && typeof o.error?.message === 'string' && typeof o.error?.type === 'string';

/** What is wrong with an answer, or undefined. */
function judge(spec: Spec, status: number, contentType: string, text: string): string | undefined {
  const anth = spec.mode.api === 'anthropic';
  const isErr = anth ? isAnthropicError : isOpenAIError;
  if (status !== 200) {
    let o: any;
    try { o = JSON.parse(text); } catch { return `status ${status} with a body that is not JSON: ${text.slice(0, 120)}`; }
    return isErr(o) ? undefined : `status ${status} not in the ${spec.mode.api} envelope: ${text.slice(0, 160)}`;
  }
  if (!spec.stream) {
    let o: any;
    try { o = JSON.parse(text); } catch { return `200 with a body that is not JSON: ${text.slice(0, 120)}`; }
    if (anth ? o.type === 'message' && Array.isArray(o.content) : o.object === 'chat.completion' && Array.isArray(o.choices)) return undefined;
    return `200 that is no answer: ${text.slice(0, 160)}`;
  }
  if (!contentType.includes('text/event-stream')) return `streamed 200 labelled ${contentType}`;
  const events = text.split(/\r?\n\r?\n/).filter((e) => e.trim() && !e.split(/\r?\n/).every((l) => l.startsWith(':')));
  const last = events.at(-1);
  if (!last) return 'an empty stream';
  const name = /^event: ?(.*)$/m.exec(last)?.[1];
  const data = last.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
  if (anth) {
    if (name === 'message_stop') return undefined;
    if (name === 'error') {
      try { if (isAnthropicError(JSON.parse(data))) return undefined; } catch {}
      return `an error event not in the envelope: ${data.slice(0, 160)}`;
    }
    return `a stream that ends with ${JSON.stringify(last.slice(0, 160))}`;
  }
  if (data === '[DONE]') return undefined;
  try { if (isOpenAIError(JSON.parse(data))) return undefined; } catch {}
  return `a stream that ends with ${JSON.stringify(last.slice(0, 160))}`;
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  let t: ReturnType<typeof setTimeout>;
  const deadline = new Promise<'hang'>((r) => { t = setTimeout(() => r('hang'), ms); });
  try { return await Promise.race([p, deadline]); } finally { clearTimeout(t!); }
}

async function fetchClient(base: string, spec: Spec): Promise<Outcome> {
  const ac = new AbortController();
  if (spec.client === 'fetchAbort') setTimeout(() => ac.abort(), spec.abortMs);
  const run = async (): Promise<Outcome> => {
    let res: Response;
    try {
      res = await fetch(base + spec.mode.path, { method: 'POST', headers: headersOf(spec), body: bodyOf(spec), signal: ac.signal });
    } catch (e) {
      return ac.signal.aborted ? { spec, kind: 'aborted' } : { spec, kind: 'connError', problem: `fetch failed: ${(e as Error).message}` };
    }
    const requestId = res.headers.get('request-id') ?? undefined;
    let text: string;
    try { text = await res.text(); } catch (e) {
      return ac.signal.aborted ? { spec, kind: 'aborted', requestId } : { spec, kind: 'connError', status: res.status, problem: `body failed after ${res.status}: ${(e as Error).message}`, requestId };
    }
    if (ac.signal.aborted) return { spec, kind: 'aborted', requestId };
    return { spec, kind: 'answered', status: res.status, problem: judge(spec, res.status, res.headers.get('content-type') ?? '', text), requestId };
  };
  const r = await withDeadline(run(), CLIENT_DEADLINE_MS);
  if (r === 'hang') { ac.abort(); return { spec, kind: 'hang', problem: 'no answer within the client deadline' }; }
  return r;
}

/** A raw socket: half the body then close (rawHalfBody), or the whole request and close after reading a little. */
async function rawClient(base: string, spec: Spec): Promise<Outcome> {
  const u = new URL(base);
  const body = enc.encode(bodyOf(spec));
  const head = `POST ${spec.mode.path} HTTP/1.1\r\nhost: ${u.host}\r\n${Object.entries(headersOf(spec)).map(([k, v]) => `${k}: ${v}\r\n`).join('')}content-length: ${body.length}\r\n\r\n`;
  let start = ''; // the answer's first bytes: its request-id
  const done = new Promise<void>((resolve) => {
    let got = 0;
    void Bun.connect({
      hostname: u.hostname, port: Number(u.port),
      socket: {
        open(s) {
          if (spec.client === 'rawHalfBody') {
            s.write(head);
            s.write(body.subarray(0, Math.max(1, Math.floor(body.length * (spec.cutAt / 100)))));
            setTimeout(() => s.end(), 1 + (spec.abortMs % 30));
          } else {
            s.write(head); s.write(body);
          }
        },
        data(s, d) {
          got += d.length;
          if (start.length < 400) start += new TextDecoder().decode(d);
          if (spec.client === 'rawHalfRead' && got >= spec.cutAt) s.end();
        },
        close() { resolve(); },
        error() { resolve(); },
        connectError() { resolve(); },
      },
    }).catch(() => resolve());
  });
  const r = await withDeadline(done, CLIENT_DEADLINE_MS);
  const requestId = /\r\nrequest-id: *(\S+)/i.exec(start)?.[1];
  return r === 'hang' ? { spec, kind: 'hang', problem: 'raw socket never closed', requestId } : { spec, kind: 'raw', requestId };
}

function makeSpecs(seed: number, n: number, from: number): Spec[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, k) => ({
    i: from + k, mode: r.pick(MODES), stream: r.next() < 0.6, scenario: r.pick(SCENARIOS), client: r.pick(CLIENTS),
    abortMs: r.int(400), cutAt: 1 + r.int(99),
  }));
}

async function storm(base: string, specs: Spec[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < specs.length) {
      const spec = specs[next++]!;
      out.push(spec.client.startsWith('raw') ? await rawClient(base, spec) : await fetchClient(base, spec));
    }
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

let up: ReturnType<typeof startChaosUpstream>;
let gw: RunningGateway;
let stderr = '';
const stats: any[] = [];
let sent = 0;

beforeAll(async () => {
  up = startChaosUpstream();
  const cfg = writeConfig({
    server: { port: 0, log_level: 'info', drain_timeout_ms: 1000 },
    keys: [{ key: KEY, name: 'chaos' }, ...Array.from({ length: 2 * STORM }, (_, i) => ({ key: keyOf(i), name: keyName(i) }))],
    routing: { circuit_failures: 5, circuit_cooldown_ms: 200, max_retry_after_ms: 50, max_attempts: 2 },
    channels: [
      { name: 'anth', type: 'anthropic', base_url: up.url, api_key: 'sk-ant-up', models: { ca: 'claude-up' }, timeout_ms: 300, stream_idle_timeout_ms: 300 },
      { name: 'oai', type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-oai-up', models: { co: 'gpt-up' }, timeout_ms: 300, stream_idle_timeout_ms: 300 },
    ],
  });
  gw = await spawnGateway(['--config', cfg], { SWITCHBOARD_DEBUG_STATS_MS: '500' });
  // stderr read as it comes (a pipe left unread would block the gateway once full)
  void (async () => {
    const dec = new TextDecoder();
    let buf = '';
    for await (const b of gw.proc.stderr as ReadableStream<Uint8Array>) {
      buf += dec.decode(b, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let o: any;
        try { o = JSON.parse(line); } catch {}
        if (o?.msg === 'debug_stats') stats.push(o);
        else stderr += `${line}\n`;
      }
    }
    stderr += buf;
  })();
});

afterAll(async () => {
  gw?.proc.kill();
  await gw?.exited;
  up?.stop();
});

const requestLines = () => gw.lines.filter((l) => l?.msg === 'request');
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8'))?.[1] ?? 0);
const statsAfter = async (t: number) => { await until(() => stats.some((s) => s.time > t), 5000); return stats.filter((s) => s.time > t).at(-1); };

async function health() {
  sent++;
  const r = await fetch(`${gw.url}/health`);
  expect(r.status).toBe(200);
}

/** After a storm: every request received logged once, no upstream socket, watch, lent buffer or request left. */
async function settle(label: string, specs: Spec[]) {
  await until(() => { const u = unlogged(specs); return u.noLine.length === 0 && u.logged >= sent - u.neverSent.length; }, 10_000).catch(() => {});
  expectEveryLine(label, specs);
  // the mock closes a kept-alive connection after 500 ms idle; what stays open is one the gateway holds
  await until(() => up.state.open === 0, 5000).catch(() => {});
  expect({ label, upstreamOpen: up.state.open, upstreamBusy: up.state.busy }).toEqual({ label, upstreamOpen: 0, upstreamBusy: 0 });
  const s = await statsAfter(Date.now());
  expect({ label, watching: s.watching, lent: s.body_buffers_lent, inflight: s.inflight }).toEqual({ label, watching: 0, lent: 0, inflight: 0 });
  return s;
}

/**
 * One log line per request the gateway received. An aborted fetch is not always one: Bun's fetch aborted before its
 * request is written closes the connection with nothing sent (2,000 fetches, 32 at a time, each aborted after 0 ms:
 * 361 never reached a Bun.serve that counted its requests; after 2 ms: 372), so a storm's early abort (abortMs is 0 to 399) may
 * leave no request and no line, the more so on a loaded machine. Such a request is excused only when nothing shows the
 * gateway had it: no answer's `request-id`, and the upstream never saw it. A line the gateway lost is still caught:
 * request ids count up as each request's line is opened, first thing in every route (http/request-log.ts, route.ts),
 * so a line opened and never written is a missing number, whichever client sent it; and every other request is
 * matched to its line by its key.
 */
function unlogged(specs: Spec[]) {
  const lines = requestLines();
  const counterOf = (id: string) => parseInt(id.slice('req_'.length + 8), 36);
  const counters = new Set(lines.map((l) => counterOf(l.request_id)));
  const max = Math.max(...counters);
  const openedNeverWritten: number[] = [];
  for (let n = 1; n <= max; n++) if (!counters.has(n)) openedNeverWritten.push(n);
  const perKey = new Map<string, number>();
  for (const l of lines) if (l.key) perKey.set(l.key, (perKey.get(l.key) ?? 0) + 1);
  const outcomeOf = new Map(allOutcomes.map((o) => [o.spec.i, o]));
  const describe = (o: Outcome) => `#${o.spec.i} ${o.spec.mode.name} ${o.spec.stream ? 'stream' : 'json'} ${o.spec.scenario} ${o.spec.client} abortMs=${o.spec.abortMs} cutAt=${o.spec.cutAt}: ${o.kind} ${o.status ?? ''} request-id=${o.requestId ?? '-'} upstream saw it: ${up.state.seen.has(o.spec.i)}`;
  const noLine: string[] = [];
  const twoLines: string[] = [];
  const neverSent: string[] = [];
  for (const spec of specs) {
    const o = outcomeOf.get(spec.i)!;
    const n = perKey.get(keyName(spec.i)) ?? 0;
    if (n > 1) twoLines.push(`${n} lines: ${describe(o)}`);
    if (n > 0) continue;
    if (o.kind === 'aborted' && o.requestId === undefined && !up.state.seen.has(spec.i)) neverSent.push(`#${spec.i} abortMs=${spec.abortMs}`);
    else noLine.push(describe(o));
  }
  // health checks (no key) and the final batch (KEY) have lines too: nothing else does
  return { openedNeverWritten, noLine, twoLines, neverSent, logged: lines.length };
}

const allOutcomes: Outcome[] = [];

/** Every request the gateway received has one line (unlogged): one count, from one look at the lines. */
function expectEveryLine(label: string, specs: Spec[]) {
  const { neverSent, logged, ...lost } = unlogged(specs);
  expect({ label, ...lost, logged }).toEqual({ label, openedNeverWritten: [], noLine: [], twoLines: [], logged: sent - neverSent.length });
}

function report(outcomes: Outcome[]) {
  allOutcomes.push(...outcomes);
  const bad = outcomes.filter((o) => o.kind === 'hang' || (o.kind === 'answered' && o.problem) || o.kind === 'connError');
  const summary = bad.slice(0, 30).map((o) => `#${o.spec.i} ${o.spec.mode.name} ${o.spec.stream ? 'stream' : 'json'} ${o.spec.scenario} ${o.spec.client}: ${o.kind} ${o.status ?? ''} ${o.problem}`);
  return { count: bad.length, summary };
}

test('a seeded chaos storm: the gateway neither crashes, hangs, leaks, nor loses a log line', async () => {
  await health();
  const first = makeSpecs(SEED, STORM, 0);
  sent += first.length;
  const out1 = await storm(gw.url, first);
  expect(report(out1)).toEqual({ count: 0, summary: [] });
  await health();
  const s1 = await settle('first storm', first);
  const rss1 = rssKb();

  const second = makeSpecs(SEED + 1, STORM, STORM);
  sent += second.length;
  const out2 = await storm(gw.url, second);
  expect(report(out2)).toEqual({ count: 0, summary: [] });
  await health();
  const s2 = await settle('second storm', [...first, ...second]);
  const rss2 = rssKb();

  // A leak grows with requests: anything a failed or abandoned request kept (its fetch, its body, its stream) is tens
  // of KB at least, so 900 more requests leaking one each grow the heap by 10+ MB. The heap is measured after a full
  // collection (debug stats), so a flat one varies by little: 1.25x + 8 MB of the first storm's. RSS is looser (the
  // allocator keeps freed pages; it moved by a few MB between storms in runs without a leak): 1.5x + 30 MB.
  expect(s2.heap_size).toBeLessThan(s1.heap_size * 1.25 + 8 * 1024 * 1024);
  expect(rss2).toBeLessThan(rss1 * 1.5 + 30 * 1024);

  // a final batch of plain requests succeeds in every mode, streamed and not
  await Bun.sleep(250); // past circuit_cooldown_ms: a channel the storm tripped is tried again
  for (const mode of MODES) {
    for (const stream of [false, true]) {
      const spec: Spec = { i: -1, mode, stream, scenario: 'ok', client: 'fetch', abortMs: 0, cutAt: 0 };
      sent++;
      const o = await fetchClient(gw.url, spec);
      expect({ mode: mode.name, stream, kind: o.kind, status: o.status, problem: o.problem }).toEqual({ mode: mode.name, stream, kind: 'answered', status: 200, problem: undefined });
    }
  }
  await until(() => { const u = unlogged([...first, ...second]); return u.logged >= sent - u.neverSent.length; }, 5000).catch(() => {});
  expectEveryLine('final batch', [...first, ...second]);
  for (const l of requestLines()) expect(typeof l.status === 'number' && l.status > 0 ? 'ok' : l).toBe('ok');
  expect(gw.proc.exitCode).toBeNull();
  expect(stderr).toBe('');
  console.log(JSON.stringify({ rss1_mb: rss1 >> 10, rss2_mb: rss2 >> 10, heap1_mb: s1.heap_size >> 20, heap2_mb: s2.heap_size >> 20, upstream_requests: up.state.requests, aborted_unsent: unlogged([...first, ...second]).neverSent }));
}, 120_000);
