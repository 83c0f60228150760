#!/usr/bin/env bun
/**
 * @module bench/mock-upstream
 * A fast fake provider for the benchmark: Anthropic Messages (`POST …/messages`) and OpenAI Chat Completions
 * (`POST …/chat/completions`), JSON or SSE (chosen by the request's `"stream":true`, found by a byte search: the
 * body is never parsed, so the mock stays cheap next to what it measures). Responses are built once per shape and
 * cached as bytes.
 *
 * Knobs, each settable per request (query `?chunks=`, or header `x-mock-chunks:`), for the whole process
 * (`PUT /_mock/profile` with JSON `{chunks, delay_ms, ttfb_ms, bytes}`), or at start (`--chunks 100` …):
 *   chunks    text deltas in a streamed answer (default 10)
 *   delay_ms  pause before each delta after the first event (default 0: a burst)
 *   ttfb_ms   pause before the response starts (default 0)
 *   bytes     length of the answer text, JSON or streamed (default 400)
 *
 *   bun bench/mock-upstream.ts --port 0      prints "mock-upstream listening on http://127.0.0.1:PORT"
 */
import { parseArgs } from 'node:util';

export interface Profile { chunks: number; delay_ms: number; ttfb_ms: number; bytes: number }

const LIMITS: Record<keyof Profile, [number, number]> = {
  chunks: [1, 100_000], delay_ms: [0, 60_000], ttfb_ms: [0, 60_000], bytes: [1, 64 * 1024 * 1024],
};

const enc = new TextEncoder();
const MODEL = 'mock-model';

/** The answer text: `bytes` characters, cut into `chunks` deltas. */
function deltas(p: Profile): string[] {
  const text = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(p.bytes / 27)).slice(0, p.bytes);
  const n = Math.min(p.chunks, text.length);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(text.slice(Math.floor((i * text.length) / n), Math.floor(((i + 1) * text.length) / n)));
  return out;
}

const sse = (event: string | null, data: unknown) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/** Anthropic stream: [message_start + content_block_start, delta 1, …, delta N + the closing events]. */
function anthropicStream(p: Profile): string[] {
  const ds = deltas(p);
  const head = sse('message_start', { type: 'message_start', message: { id: 'msg_mock', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } })
    + sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  const tail = sse('content_block_stop', { type: 'content_block_stop', index: 0 })
    + sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: ds.length } })
    + sse('message_stop', { type: 'message_stop' });
  const segs = [head, ...ds.map((t) => sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }))];
  segs[segs.length - 1] += tail;
  return segs;
}

/** OpenAI stream: [role chunk, content 1, …, content N + finish chunk (+ usage chunk) + [DONE]]. */
function openaiStream(p: Profile, usage: boolean): string[] {
  const ds = deltas(p);
  const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_700_000_000, model: MODEL, system_fingerprint: 'fp_mock' };
  const extra = usage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    sse(null, { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  const segs = [chunk({ role: 'assistant', content: '', refusal: null }, null), ...ds.map((t) => chunk({ content: t }, null))];
  let tail = chunk({}, 'stop');
  if (usage) tail += sse(null, { ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: ds.length, total_tokens: 12 + ds.length } });
  segs[segs.length - 1] += tail + 'data: [DONE]\n\n';
  return segs;
}

function anthropicJson(p: Profile): string {
  return JSON.stringify({
    id: 'msg_mock', type: 'message', role: 'assistant', model: MODEL,
    content: [{ type: 'text', text: deltas({ ...p, chunks: 1 })[0] }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: p.chunks },
  });
}

function openaiJson(p: Profile): string {
  return JSON.stringify({
    id: 'chatcmpl-mock', object: 'chat.completion', created: 1_700_000_000, model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: deltas({ ...p, chunks: 1 })[0], refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: p.chunks, total_tokens: 12 + p.chunks },
    system_fingerprint: 'fp_mock',
  });
}

type Shape = { json: Uint8Array } | { segs: Uint8Array[] };

const JSON_HEADERS = { 'content-type': 'application/json', 'request-id': 'req_mock' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': 'req_mock' };

export interface MockOptions { hostname?: string; port?: number; profile?: Partial<Profile> }

/** Start the mock; returns the server and its mutable default profile. */
export function startMock(opts: MockOptions = {}) {
  const profile: Profile = { chunks: 10, delay_ms: 0, ttfb_ms: 0, bytes: 400, ...opts.profile };
  const cache = new Map<string, Shape>();
  const stats = { requests: 0 };

  function shape(format: 'anthropic' | 'openai', stream: boolean, usage: boolean, p: Profile): Shape {
    const key = `${format}|${stream}|${usage}|${p.chunks}|${p.bytes}`;
    let s = cache.get(key);
    if (!s) {
      if (cache.size >= 64) cache.clear(); // bounded: a handful of shapes per run
      s = stream
        ? { segs: (format === 'anthropic' ? anthropicStream(p) : openaiStream(p, usage)).map((x) => enc.encode(x)) }
        : { json: enc.encode(format === 'anthropic' ? anthropicJson(p) : openaiJson(p)) };
      cache.set(key, s);
    }
    return s;
  }

  function knobs(url: URL, headers: Headers): Profile {
    if (url.search === '' && !headers.has('x-mock-chunks') && !headers.has('x-mock-delay-ms') && !headers.has('x-mock-ttfb-ms') && !headers.has('x-mock-bytes')) return profile;
    const p = { ...profile };
    for (const k of Object.keys(LIMITS) as Array<keyof Profile>) {
      const raw = url.searchParams.get(k) ?? headers.get(`x-mock-${k.replace('_', '-')}`);
      if (raw !== null && raw !== '' && Number.isFinite(Number(raw))) p[k] = clamp(k, Number(raw));
    }
    return p;
  }

  const server = Bun.serve({
    hostname: opts.hostname ?? '127.0.0.1',
    port: opts.port ?? 0,
    idleTimeout: 120,
    development: false,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      if (path === '/_mock/profile') {
        if (req.method === 'PUT' || req.method === 'POST') {
          const body = (await req.json().catch(() => null)) as Partial<Profile> | null;
          if (!body || typeof body !== 'object') return Response.json({ error: 'expected a JSON object' }, { status: 400 });
          for (const k of Object.keys(LIMITS) as Array<keyof Profile>) if (typeof body[k] === 'number') profile[k] = clamp(k, body[k]!);
        }
        return Response.json({ ...profile, requests: stats.requests });
      }
      if (path === '/_mock/health') return new Response('ok');
      const format = path.endsWith('/messages') ? 'anthropic' : path.endsWith('/chat/completions') ? 'openai' : null;
      if (req.method !== 'POST' || !format) return Response.json({ error: { type: 'not_found_error', message: `${req.method} ${path}` } }, { status: 404 });
      stats.requests++;
      // byte search, no parse: what a JSON.stringify'd body says when it wants a stream (and OpenAI's usage chunk)
      const body = Buffer.from(await req.arrayBuffer());
      const stream = body.indexOf('"stream":true') >= 0 || body.indexOf('"stream": true') >= 0;
      const usage = stream && format === 'openai' && body.indexOf('"include_usage":true') >= 0;
      const p = knobs(url, req.headers);
      if (p.ttfb_ms > 0) await Bun.sleep(p.ttfb_ms);
      const s = shape(format, stream, usage, p);
      if ('json' in s) return new Response(s.json, { headers: JSON_HEADERS });
      const segs = s.segs;
      if (p.delay_ms === 0) {
        return new Response(new ReadableStream<Uint8Array>({
          start(ctl) {
            for (const seg of segs) ctl.enqueue(seg);
            ctl.close();
          },
        }), { headers: SSE_HEADERS });
      }
      let i = 0;
      const delay = p.delay_ms;
      return new Response(new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (i > 0) await Bun.sleep(delay);
          ctl.enqueue(segs[i++]!);
          if (i >= segs.length) ctl.close();
        },
      }, { highWaterMark: 0 }), { headers: SSE_HEADERS });
    },
  });
  return { server, profile, stats };
}

function clamp(k: keyof Profile, n: number): number {
  const [lo, hi] = LIMITS[k];
  return Math.min(hi, Math.max(lo, Math.round(n)));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      chunks: { type: 'string' },
      'delay-ms': { type: 'string' },
      'ttfb-ms': { type: 'string' },
      bytes: { type: 'string' },
    },
    strict: true,
  });
  const profile: Partial<Profile> = {};
  if (values.chunks) profile.chunks = clamp('chunks', Number(values.chunks));
  if (values['delay-ms']) profile.delay_ms = clamp('delay_ms', Number(values['delay-ms']));
  if (values['ttfb-ms']) profile.ttfb_ms = clamp('ttfb_ms', Number(values['ttfb-ms']));
  if (values.bytes) profile.bytes = clamp('bytes', Number(values.bytes));
  const { server } = startMock({ hostname: values.host, port: Number(values.port), profile });
  process.stdout.write(`mock-upstream listening on ${server.url.href.replace(/\/$/, '')}\n`);
  process.on('SIGTERM', () => { server.stop(true); process.exit(0); });
}
