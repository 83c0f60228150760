#!/usr/bin/env bun
/**
 * @module bench/mock-upstream
 * A fast fake provider for the benchmark: Anthropic Messages (`POST …/messages`) and OpenAI Chat Completions
 * (`POST …/chat/completions`), JSON or SSE (chosen by the request's `"stream":true`, found by a byte search: the
 * body is never parsed, so the mock stays cheap next to what it measures). Responses are built once per shape and
 * cached as bytes.
 *
 * Knobs, each settable per request (query `?chunks=`, or header `x-mock-chunks:`), for the whole process
 * (`PUT /_mock/profile` with JSON `{chunks, delay_ms, ttfb_ms, bytes, headers, kind}`), or at start (`--chunks 100` …):
 *   chunks    text deltas in a streamed answer (default 10)
 *   delay_ms  pause before each delta after the first event (default 0: a burst)
 *   ttfb_ms   pause before the response starts (default 0)
 *   bytes     length of the answer text, JSON or streamed (default 400)
 *   headers   1: answer with a real provider's ~18 headers (rate limits, ids, Cloudflare's) instead of 3-4 (default 0)
 *   kind      what a stream's deltas carry: 0 text (default); 1 reasoning (Anthropic thinking deltas and a signature,
 *             OpenAI `reasoning_content` chunks), then one short text delta; 2 a tool call's arguments, a JSON object
 *             holding the text, in `chunks` fragments (stop reason tool_use / tool_calls). JSON answers are text.
 *   gzip      1: JSON answers gzip-compressed (`content-encoding: gzip`) when the request accepts gzip, as real
 *             providers answer (fetch asks for it unless told otherwise); streams stay plain (default 0)
 *
 *   bun bench/mock-upstream.ts --port 0      prints "mock-upstream listening on http://127.0.0.1:PORT"
 */
import { parseArgs } from 'node:util';
import { widenListenBacklog } from '../src/http/listen-backlog.ts';

export interface Profile { chunks: number; delay_ms: number; ttfb_ms: number; bytes: number; headers: number; kind: number; gzip: number }

const LIMITS: Record<keyof Profile, [number, number]> = {
  chunks: [1, 100_000], delay_ms: [0, 60_000], ttfb_ms: [0, 60_000], bytes: [1, 64 * 1024 * 1024], headers: [0, 1], kind: [0, 2], gzip: [0, 1],
};

const enc = new TextEncoder();
const MODEL = 'mock-model';

/** The answer text: `bytes` characters (a tool call's: its arguments, a JSON object holding them), cut into `chunks` deltas. */
function deltas(p: Profile): string[] {
  const words = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(p.bytes / 27)).slice(0, p.bytes);
  const text = p.kind === 2 ? JSON.stringify({ text: words }) : words;
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
  const block = [{ type: 'text', text: '' }, { type: 'thinking', thinking: '', signature: '' }, { type: 'tool_use', id: 'toolu_mock', name: 'write', input: {} }][p.kind];
  const delta = [(t: string) => ({ type: 'text_delta', text: t }), (t: string) => ({ type: 'thinking_delta', thinking: t }), (t: string) => ({ type: 'input_json_delta', partial_json: t })][p.kind]!;
  const head = sse('message_start', { type: 'message_start', message: { id: 'msg_mock', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } })
    + sse('content_block_start', { type: 'content_block_start', index: 0, content_block: block });
  // after reasoning: its signature, then a short text block
  const answer = p.kind !== 1 ? '' : sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig_mock' } })
    + sse('content_block_stop', { type: 'content_block_stop', index: 0 })
    + sse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } })
    + sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'ok' } });
  const tail = answer + sse('content_block_stop', { type: 'content_block_stop', index: p.kind === 1 ? 1 : 0 })
    + sse('message_delta', { type: 'message_delta', delta: { stop_reason: p.kind === 2 ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: ds.length } })
    + sse('message_stop', { type: 'message_stop' });
  const segs = [head, ...ds.map((t) => sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: delta(t) }))];
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
  const first = p.kind === 2
    ? chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_mock', type: 'function', function: { name: 'write', arguments: '' } }], refusal: null }, null)
    : chunk({ role: 'assistant', content: '', refusal: null }, null);
  const delta = [(t: string) => ({ content: t }), (t: string) => ({ content: null, reasoning_content: t }), (t: string) => ({ tool_calls: [{ index: 0, function: { arguments: t } }] })][p.kind]!;
  const segs = [first, ...ds.map((t) => chunk(delta(t), null))];
  let tail = (p.kind === 1 ? chunk({ content: 'ok' }, null) : '') + chunk({}, p.kind === 2 ? 'tool_calls' : 'stop');
  if (usage) tail += sse(null, { ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: ds.length, total_tokens: 12 + ds.length } });
  segs[segs.length - 1] += tail + 'data: [DONE]\n\n';
  return segs;
}

function anthropicJson(p: Profile): string {
  return JSON.stringify({
    id: 'msg_mock', type: 'message', role: 'assistant', model: MODEL,
    content: [{ type: 'text', text: deltas({ ...p, chunks: 1, kind: 0 })[0] }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: p.chunks },
  });
}

function openaiJson(p: Profile): string {
  return JSON.stringify({
    id: 'chatcmpl-mock', object: 'chat.completion', created: 1_700_000_000, model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: deltas({ ...p, chunks: 1, kind: 0 })[0], refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: p.chunks, total_tokens: 12 + p.chunks },
    system_fingerprint: 'fp_mock',
  });
}

type Shape = { json: Uint8Array; gzipped: Uint8Array } | { segs: Uint8Array[] };

const JSON_HEADERS = { 'content-type': 'application/json', 'request-id': 'req_mock' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': 'req_mock' };

/**
 * `headers: 1`: what a real provider's answer carries besides its body (Anthropic's rate-limit set, OpenAI's
 * processing and rate-limit set, Cloudflare's), ~18 headers where the default answers with 3-4.
 */
const ANTHROPIC_HEADERS = {
  'request-id': 'req_011CVmockmockmockmockmock', 'anthropic-organization-id': '5b1e8a4c-0f6e-4d2a-9c1b-6f3e2a1d0c9b',
  'anthropic-ratelimit-requests-limit': '4000', 'anthropic-ratelimit-requests-remaining': '3999', 'anthropic-ratelimit-requests-reset': '2026-11-27T06:00:01Z',
  'anthropic-ratelimit-input-tokens-limit': '2000000', 'anthropic-ratelimit-input-tokens-remaining': '1999000', 'anthropic-ratelimit-input-tokens-reset': '2026-11-27T06:00:01Z',
  'anthropic-ratelimit-output-tokens-limit': '400000', 'anthropic-ratelimit-output-tokens-remaining': '399000', 'anthropic-ratelimit-output-tokens-reset': '2026-11-27T06:00:01Z',
  'anthropic-ratelimit-tokens-limit': '2400000', 'anthropic-ratelimit-tokens-remaining': '2398000', 'anthropic-ratelimit-tokens-reset': '2026-11-27T06:00:01Z',
  via: '1.1 google', 'cf-cache-status': 'DYNAMIC', 'x-robots-tag': 'none', server: 'cloudflare', 'cf-ray': '9a1b2c3d4e5f6789-FRA',
};
const OPENAI_HEADERS = {
  'x-request-id': 'req_7c9e6f1a2b3c4d5e6f7a8b9c0d1e2f3a', 'openai-organization': 'user-mockmockmockmock', 'openai-processing-ms': '312',
  'openai-project': 'proj_mockmockmockmock', 'openai-version': '2020-10-01', 'access-control-expose-headers': 'X-Request-ID',
  'x-ratelimit-limit-requests': '10000', 'x-ratelimit-limit-tokens': '30000000', 'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-remaining-tokens': '29999990', 'x-ratelimit-reset-requests': '6ms', 'x-ratelimit-reset-tokens': '0s',
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload', 'x-content-type-options': 'nosniff',
  'cf-cache-status': 'DYNAMIC', server: 'cloudflare', 'cf-ray': '9a1b2c3d4e5f6789-FRA', 'alt-svc': 'h3=":443"; ma=86400',
};
const RICH = {
  anthropic: { json: { ...JSON_HEADERS, ...ANTHROPIC_HEADERS }, sse: { ...SSE_HEADERS, ...ANTHROPIC_HEADERS } },
  openai: { json: { 'content-type': 'application/json', ...OPENAI_HEADERS }, sse: { 'content-type': 'text/event-stream; charset=utf-8', ...OPENAI_HEADERS } },
};

export interface MockOptions { hostname?: string; port?: number; profile?: Partial<Profile> }

/** Start the mock; returns the server and its mutable default profile. */
export function startMock(opts: MockOptions = {}) {
  const profile: Profile = { chunks: 10, delay_ms: 0, ttfb_ms: 0, bytes: 400, headers: 0, kind: 0, gzip: 0, ...opts.profile };
  const cache = new Map<string, Shape>();
  const stats = { requests: 0 };

  function shape(format: 'anthropic' | 'openai', stream: boolean, usage: boolean, p: Profile): Shape {
    const key = `${format}|${stream}|${usage}|${p.chunks}|${p.bytes}|${stream ? p.kind : 0}`;
    let s = cache.get(key);
    if (!s) {
      if (cache.size >= 64) cache.clear(); // bounded: a handful of shapes per run
      s = stream
        ? { segs: (format === 'anthropic' ? anthropicStream(p) : openaiStream(p, usage)).map((x) => enc.encode(x)) }
        : jsonShape(enc.encode(format === 'anthropic' ? anthropicJson(p) : openaiJson(p)));
      cache.set(key, s);
    }
    return s;
  }

  function knobs(url: URL, headers: Headers): Profile {
    if (url.search === '' && !headers.has('x-mock-chunks') && !headers.has('x-mock-delay-ms') && !headers.has('x-mock-ttfb-ms') && !headers.has('x-mock-bytes') && !headers.has('x-mock-headers') && !headers.has('x-mock-kind') && !headers.has('x-mock-gzip')) return profile;
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
      const jsonHeaders = p.headers ? RICH[format].json : JSON_HEADERS;
      const sseHeaders = p.headers ? RICH[format].sse : SSE_HEADERS;
      if ('json' in s) {
        if (p.gzip && (req.headers.get('accept-encoding') ?? '').includes('gzip')) return new Response(s.gzipped, { headers: { ...jsonHeaders, 'content-encoding': 'gzip' } });
        return new Response(s.json, { headers: jsonHeaders });
      }
      const segs = s.segs;
      if (p.delay_ms === 0) {
        return new Response(new ReadableStream<Uint8Array>({
          start(ctl) {
            for (const seg of segs) ctl.enqueue(seg);
            ctl.close();
          },
        }), { headers: sseHeaders });
      }
      let i = 0;
      const delay = p.delay_ms;
      return new Response(new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (i > 0) await Bun.sleep(delay);
          ctl.enqueue(segs[i++]!);
          if (i >= segs.length) ctl.close();
        },
      }, { highWaterMark: 0 }), { headers: sseHeaders });
    },
  });
  // never the bottleneck: a thousand streams opened at once fit in its listen queue (Bun's own holds 512)
  widenListenBacklog(server.port!, 4096);
  return { server, profile, stats };
}

/** A JSON answer, and its gzip form made once beside it. */
function jsonShape(json: Uint8Array<ArrayBuffer>): Shape {
  return { json, gzipped: Bun.gzipSync(json) };
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
      headers: { type: 'string' },
      kind: { type: 'string' },
      gzip: { type: 'string' },
    },
    strict: true,
  });
  const profile: Partial<Profile> = {};
  if (values.chunks) profile.chunks = clamp('chunks', Number(values.chunks));
  if (values['delay-ms']) profile.delay_ms = clamp('delay_ms', Number(values['delay-ms']));
  if (values['ttfb-ms']) profile.ttfb_ms = clamp('ttfb_ms', Number(values['ttfb-ms']));
  if (values.bytes) profile.bytes = clamp('bytes', Number(values.bytes));
  if (values.headers) profile.headers = clamp('headers', Number(values.headers));
  if (values.kind) profile.kind = clamp('kind', Number(values.kind));
  if (values.gzip) profile.gzip = clamp('gzip', Number(values.gzip));
  const { server } = startMock({ hostname: values.host, port: Number(values.port), profile });
  process.stdout.write(`mock-upstream listening on ${server.url.href.replace(/\/$/, '')}\n`);
  process.on('SIGTERM', () => { server.stop(true); process.exit(0); });
}
