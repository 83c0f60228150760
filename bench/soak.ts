#!/usr/bin/env bun
/**
 * @module bench/soak
 * A soak run: one real Switchboard process (`bun src/main.ts --config F --port 0`) driven for a bounded time with a
 * mix of everything a gateway that runs for weeks sees, while its RSS, open file descriptors, threads and (through
 * `SWITCHBOARD_DEBUG_STATS_MS`, src/debug-stats.ts) heap object counts are sampled; at the end, whether each
 * plateaued. Not part of `bun test` (timed, and minutes long).
 *
 * The mix: all four modes (Messages → anthropic and Chat → openai passed through, Messages → openai and Chat →
 * anthropic translated), streamed and not; small requests; ~200 KB agent conversations that grow turn by turn, each
 * session with tools of its own (so the tools memo, the scan's memos and the token estimate's window cache all see
 * far more distinct values than they keep); a distinct model name per request (patterns route them); and faults:
 * upstreams answering 429/500/529 (fallback), redirecting, resetting mid-stream, stalling before the first chunk or
 * after it past `stream_idle_timeout_ms`, sending their first byte after `timeout_ms`; clients that abort before the
 * first byte and mid-stream; count_tokens answered locally. The upstream and the clients run in this process.
 *
 *   bun bench/soak.ts                          3 minutes, 16 clients, a sample every 5 s
 *   bun bench/soak.ts --duration 60 --concurrency 8 --sample 2 --json /tmp/soak.json
 */
import { parseArgs } from 'node:util';
import { createReadStream, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'bun';
import { freePort } from './proc.ts';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';

const { values: opt } = parseArgs({
  args: process.argv.slice(2),
  options: {
    duration: { type: 'string', default: '180' },
    concurrency: { type: 'string', default: '16' },
    sample: { type: 'string', default: '5' },
    idle: { type: 'string', default: '8' },
    'stall-log': { type: 'boolean', default: false },
    json: { type: 'string' },
    cwd: { type: 'string', default: resolve(import.meta.dir, '..') },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (opt.help) {
  process.stdout.write(`bun bench/soak.ts [--duration S=180] [--concurrency N=16] [--sample S=5] [--idle S=8] [--json FILE] [--cwd CHECKOUT]
  Drives one gateway (CHECKOUT/src/main.ts) with the soak mix for S seconds, then idles --idle seconds;
  prints the samples and a verdict per series (plateau or growth).
  --stall-log: the gateway's stdout is a FIFO read only once the load ends (a hung log collector).\n`);
  process.exit(0);
}
const DURATION_MS = Number(opt.duration) * 1000;
const CONCURRENCY = Number(opt.concurrency);
const SAMPLE_MS = Number(opt.sample) * 1000;
const IDLE_MS = Number(opt.idle) * 1000;
const MAIN = resolve(opt.cwd!, 'src/main.ts');

// ---------------------------------------------------------------- a seeded generator (same mix every run)
let seed = 0x5eed;
function rand(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const WORDS = ['const', 'return', 'await', 'stream', 'request', 'channel', 'usage', 'tokens', 'état', '→', '中文', 'ok', 'buffer', 'signal', 'timeout'];
function text(size: number): string {
  let s = '';
  while (s.length < size) s += `${pick(WORDS)}${rand() < 0.1 ? '\n' : ' '}`;
  return s;
}

// ---------------------------------------------------------------- the upstream: behaviour by path prefix
const FAULTS = ['s429', 's500', 's529', 'redirect', 'reset', 'stallfirst', 'stallmid', 'late'] as const;
type Fault = typeof FAULTS[number] | 'ok' | 'paced' | 'big' | 's429wait';
const enc = new TextEncoder();
const sse = (event: string | null, data: unknown) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

function anthropicEvents(n: number): string[] {
  const out = [sse('message_start', { type: 'message_start', message: { id: 'msg_soak', type: 'message', role: 'assistant', model: 'up', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } })
    + sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })];
  for (let i = 0; i < n; i++) out.push(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `word ${i} ` } }));
  out.push(sse('content_block_stop', { type: 'content_block_stop', index: 0 }) + sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: n } }) + sse('message_stop', { type: 'message_stop' }));
  return out;
}
function openaiEvents(n: number, usage: boolean): string[] {
  const base = { id: 'chatcmpl-soak', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'up' };
  const chunk = (delta: unknown, finish: string | null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const out = [chunk({ role: 'assistant', content: '' }, null)];
  for (let i = 0; i < n; i++) out.push(chunk({ content: `word ${i} ` }, null));
  let tail = chunk({}, 'stop');
  if (usage) tail += `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n } })}\n\n`;
  out.push(`${tail}data: [DONE]\n\n`);
  return out;
}
const anthropicJson = JSON.stringify({ id: 'msg_soak', type: 'message', role: 'assistant', model: 'up', content: [{ type: 'text', text: 'hello there' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: 3 } });
const openaiJson = JSON.stringify({ id: 'chatcmpl-soak', object: 'chat.completion', created: 1_700_000_000, model: 'up', choices: [{ index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } });
const ERR = {
  anthropic: (type: string) => JSON.stringify({ type: 'error', error: { type, message: 'soak fault' } }),
  openai: (type: string) => JSON.stringify({ error: { message: 'soak fault', type, param: null, code: null } }),
};

const upstreamStats = { requests: 0 };
const upstream = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  idleTimeout: 60,
  async fetch(req) {
    upstreamStats.requests++;
    const path = new URL(req.url).pathname;
    const fault = path.split('/')[1] as Fault;
    const format = path.endsWith('/chat/completions') ? 'openai' : 'anthropic';
    const body = Buffer.from(await req.arrayBuffer());
    const stream = body.indexOf('"stream":true') >= 0;
    const usage = body.indexOf('"include_usage":true') >= 0;
    const sseHeaders = { 'content-type': 'text/event-stream' };
    const events = () => (format === 'anthropic' ? anthropicEvents(5 + Math.floor(rand() * 30)) : openaiEvents(5 + Math.floor(rand() * 30), usage)).map((s) => enc.encode(s));
    switch (fault) {
      case 's429wait': return new Response(ERR[format]('rate_limit_error'), { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' } });
      case 's429': return new Response(ERR[format]('rate_limit_error'), { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '0' } });
      case 's500': return new Response(ERR[format]('api_error'), { status: 500, headers: { 'content-type': 'application/json' } });
      case 's529': return new Response(ERR[format]('overloaded_error'), { status: 529, headers: { 'content-type': 'application/json' } });
      case 'redirect': return new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } });
      case 'late': await Bun.sleep(900); break; // past the channel's timeout_ms: answered normally, too late
      case 'paced': await Bun.sleep(150 + Math.floor(rand() * 150)); break;
      default: break;
    }
    if (!stream && (fault === 'ok' || fault === 'late' || fault === 'paced')) {
      return new Response(format === 'anthropic' ? anthropicJson : openaiJson, { headers: { 'content-type': 'application/json' } });
    }
    if (fault === 'big') {
      // ~16 MB of events as fast as the gateway takes them (more than loopback's socket buffers hold): a client
      // that stops reading holds the relay up
      const big = format === 'anthropic' ? anthropicEvents(0) : openaiEvents(0, false);
      const delta = enc.encode(format === 'anthropic'
        ? sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x'.repeat(16000) } })
        : `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta: { content: 'x'.repeat(16000) }, finish_reason: null }] })}\n\n`);
      let n = 0;
      return new Response(new ReadableStream<Uint8Array>({
        pull(c) {
          if (n === 0) c.enqueue(enc.encode(big[0]!));
          else if (n <= 1000) c.enqueue(delta);
          else { c.enqueue(enc.encode(big[1]!)); c.close(); }
          n++;
        },
      }, { highWaterMark: 0 }), { headers: sseHeaders });
    }
    const segs = events();
    if (fault === 'ok' || fault === 'late') {
      return new Response(new ReadableStream<Uint8Array>({ start(c) { for (const s of segs) c.enqueue(s); c.close(); } }), { headers: sseHeaders });
    }
    let i = 0;
    let wakeUp: (() => void) | null = null;
    return new Response(new ReadableStream<Uint8Array>({
      async pull(c) {
        if (fault === 'stallfirst' || (fault === 'stallmid' && i >= 2)) {
          // silent until the gateway gives up (its idle timeout) and cancels
          await new Promise<void>((r) => { wakeUp = r; setTimeout(r, 20_000); });
          c.close();
          return;
        }
        if (i > 0) await Bun.sleep(fault === 'paced' ? 15 : 2);
        c.enqueue(segs[i++]!);
        if (i >= segs.length) c.close();
      },
      cancel() { wakeUp?.(); },
    }, { highWaterMark: 0 }), { headers: sseHeaders });
  },
});
const UP = `http://127.0.0.1:${upstream.port}`;

/**
 * Upstreams that reset mid-stream: a raw TCP server that reads the request, sends the answer's headers and its first
 * two events (chunked), then drops the connection.
 */
const resetter = createServer((sock) => {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const head = buf.indexOf('\r\n\r\n');
    if (head < 0) return;
    const headers = buf.subarray(0, head).toString('latin1');
    const length = Number(/content-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
    if (buf.length < head + 4 + length) return;
    sock.removeAllListeners('data');
    upstreamStats.requests++;
    const openai = headers.startsWith('POST /reset/v1/chat');
    const segs = openai ? openaiEvents(10, false) : anthropicEvents(10);
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    sock.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${chunk(segs[0]!)}`);
    setTimeout(() => sock.write(chunk(segs[1]!)), 3);
    setTimeout(() => (sock.resetAndDestroy ? sock.resetAndDestroy() : sock.destroy()), 8);
  });
}).listen(0, '127.0.0.1');
await new Promise((r) => resetter.once('listening', r));
const RESET = `http://127.0.0.1:${(resetter.address() as { port: number }).port}`;

// ---------------------------------------------------------------- the gateway's config
const channels: unknown[] = [
  { name: 'ant-ok', type: 'anthropic', base_url: `${UP}/ok`, api_key: 'sk-up-ant', models: ['ant-*'] },
  { name: 'oai-ok', type: 'openai', base_url: `${UP}/ok/v1`, api_key: 'sk-up-oai', models: ['oai-*'] },
  { name: 'ant-paced', type: 'anthropic', base_url: `${UP}/paced`, api_key: 'sk-up-ant', models: ['ant-paced-*'], priority: 10 },
  { name: 'oai-paced', type: 'openai', base_url: `${UP}/paced/v1`, api_key: 'sk-up-oai', models: ['oai-paced-*'], priority: 10 },
];
for (const f of [...FAULTS, 'big', 's429wait'] as const) {
  const limits = { timeout_ms: 400, stream_idle_timeout_ms: 600 };
  const up = f === 'reset' ? RESET : UP;
  channels.push({ name: `ant-${f}`, type: 'anthropic', base_url: `${up}/${f}`, api_key: 'sk-up-ant', models: [`ant-${f}-*`], priority: 10, ...limits });
  channels.push({ name: `oai-${f}`, type: 'openai', base_url: `${up}/${f}/v1`, api_key: 'sk-up-oai', models: [`oai-${f}-*`], priority: 10, ...limits });
}
const KEY = 'sk-soak-0123456789';
const config = {
  server: { log_level: 'info' },
  keys: [{ key: KEY, name: 'soak' }],
  routing: { circuit_failures: 3, circuit_cooldown_ms: 1500 },
  channels,
};
const dir = mkdtempSync(join(tmpdir(), 'sb-soak-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify(config));

// ---------------------------------------------------------------- start the gateway
// --stall-log: stdout is a FIFO this process holds open and does not read until the load ends, so the gateway's
// writes find it full (a pipe of Bun.spawn's own would be read ahead here); the port is then chosen here
const stallFd = opt['stall-log'] ? (spawnSync(['mkfifo', join(dir, 'stdout')]), openSync(join(dir, 'stdout'), 'r+')) : null;
const stallPort = stallFd === null ? 0 : freePort();
const stallUrl = `http://127.0.0.1:${stallPort}`;
const gw = Bun.spawn([process.execPath, MAIN, '--config', configPath, '--port', String(stallPort)], {
  cwd: opt.cwd,
  stdout: stallFd ?? 'pipe',
  stderr: 'pipe',
  env: { ...process.env, SWITCHBOARD_DEBUG_STATS_MS: String(SAMPLE_MS) },
});
const PID = gw.pid;
let GW = '';
let logLines = 0;
let resumeLog = () => {};
let logStall: Promise<void> | null = opt['stall-log'] ? new Promise<void>((r) => { resumeLog = () => { logStall = null; r(); }; }) : null;
const logErrors: Record<string, number> = {};
let lastStats: Record<string, any> | null = null;
const gatewayErrors: string[] = [];
void (async () => {
  const dec = new TextDecoder();
  let buf = '';
  if (logStall) await logStall;
  const out = stallFd === null ? gw.stdout as ReadableStream<Uint8Array> : createReadStream('', { fd: stallFd });
  for await (const chunk of out) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      logLines++;
      const e = /"error":"([^"]{0,70})/.exec(line)?.[1];
      if (line.includes('"msg":"log lines dropped"')) { const d = JSON.parse(line); logErrors[`(log lines dropped: ${d.lines} lines, ${d.bytes} bytes)`] = 1; }
      if (e) { const k = e.replace(/\d+/g, 'N'); logErrors[k] = (logErrors[k] ?? 0) + 1; }
      if (!GW && line.includes('"listening"')) GW = JSON.parse(line).url.replace(/\/$/, '');
    }
  }
})();
void (async () => {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of gw.stderr as ReadableStream<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('{"msg":"debug_stats"')) lastStats = JSON.parse(line);
      else if (line.trim()) gatewayErrors.push(line.slice(0, 300));
    }
  }
})();
for (const t0 = Date.now(); !GW; await Bun.sleep(20)) {
  if (stallFd !== null) GW = await fetch(`${stallUrl}/health`).then((r) => (r.ok ? stallUrl : ''), () => '');
  if (Date.now() - t0 > 15_000 || gw.exitCode !== null) { console.error('gateway did not start', gatewayErrors.join('\n')); process.exit(1); }
}

// ---------------------------------------------------------------- the clients
type ClientFormat = 'anthropic' | 'openai';
const PATH: Record<ClientFormat, string> = { anthropic: '/v1/messages', openai: '/v1/chat/completions' };
let modelSerial = 0;
/** A model name never used before, routed to `channel` ('ant' | 'oai') and the behaviour `fault` by patterns. */
const model = (side: 'ant' | 'oai', fault: Fault) => `${side}-${fault === 'ok' ? '' : `${fault}-`}m${(modelSerial++).toString(36)}`;

function smallBody(format: ClientFormat, m: string, stream: boolean): Record<string, unknown> {
  const b: Record<string, unknown> = { model: m, max_tokens: 256, messages: [{ role: 'user', content: `hello ${text(40)}` }] };
  if (stream) { b.stream = true; if (format === 'openai' && rand() < 0.5) b.stream_options = { include_usage: true }; }
  return b;
}

/** An agent session: its own tools and a conversation grown by one tool turn per request, restarted past ~250 KB. */
interface Session { format: ClientFormat; side: 'ant' | 'oai'; tools: unknown[]; system: string; turns: Array<{ id: string; text: string; result: string }>; n: number }
let sessionSerial = 0;
function newSession(): Session {
  const format: ClientFormat = rand() < 0.5 ? 'anthropic' : 'openai';
  const id = sessionSerial++;
  const tools = Array.from({ length: 8 + (id % 9) }, (_, i) => ({ name: `tool_${i}`, description: `session ${id} tool ${i}: ${text(300)}`, schema: { type: 'object', properties: { path: { type: 'string', description: text(60) }, n: { type: 'number' } }, required: ['path'] } }));
  return { format, side: rand() < 0.5 ? 'ant' : 'oai', tools, system: `You are agent ${id}. ${text(6000)}`, turns: [], n: 0 };
}
function sessionBody(s: Session, m: string, stream: boolean): Record<string, unknown> {
  s.turns.push({ id: `toolu_${s.n++}_${Math.floor(rand() * 1e9).toString(36)}`, text: `step ${s.n}: ${text(80)}`, result: text(3000 + Math.floor(rand() * 6000)) });
  if (s.format === 'anthropic') {
    const messages: unknown[] = [{ role: 'user', content: [{ type: 'text', text: 'Fix the failing tests.' }] }];
    for (const [i, t] of s.turns.entries()) {
      messages.push({ role: 'assistant', content: [{ type: 'text', text: t.text }, { type: 'tool_use', id: t.id, name: 'tool_0', input: { path: `/src/f${i}.ts` } }] });
      const last = i === s.turns.length - 1;
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: t.id, content: t.result, ...(last ? { cache_control: { type: 'ephemeral' } } : {}) }] });
    }
    return { model: m, max_tokens: 4096, stream, system: [{ type: 'text', text: s.system }], tools: s.tools.map((t: any) => ({ name: t.name, description: t.description, input_schema: t.schema })), messages };
  }
  const messages: unknown[] = [{ role: 'system', content: s.system }, { role: 'user', content: 'Fix the failing tests.' }];
  for (const [i, t] of s.turns.entries()) {
    messages.push({ role: 'assistant', content: t.text, tool_calls: [{ id: t.id, type: 'function', function: { name: 'tool_0', arguments: JSON.stringify({ path: `/src/f${i}.ts` }) } }] });
    messages.push({ role: 'tool', tool_call_id: t.id, content: t.result });
  }
  const b: Record<string, unknown> = { model: m, max_tokens: 4096, stream, tools: s.tools.map((t: any) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.schema } })), messages };
  if (stream) b.stream_options = { include_usage: true };
  return b;
}

const counts: Record<string, number> = {};
const count = (k: string) => { counts[k] = (counts[k] ?? 0) + 1; };
let requests = 0;

async function send(kind: string, format: ClientFormat, body: Record<string, unknown> | string, abort?: 'before' | 'mid', path = PATH[format]): Promise<void> {
  requests++;
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (abort === 'before') timer = setTimeout(() => ac.abort(), 30 + Math.floor(rand() * 100));
  try {
    const res = await fetch(GW + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, authorization: `Bearer ${KEY}`, 'anthropic-version': '2023-06-01' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: ac.signal,
    });
    if (abort === 'mid' && res.body) {
      const reader = res.body.getReader();
      await reader.read();
      ac.abort();
      await reader.read().catch(() => {});
      count(`${kind} ${res.status} aborted-mid`);
      return;
    }
    const text = await res.text();
    const streamError = /event: error|"error":\{/.test(text) && res.status === 200;
    count(`${kind} ${res.status}${streamError ? ' +error-event' : ''}`);
  } catch (err) {
    count(`${kind} ${ac.signal.aborted ? 'aborted-before' : `client error ${(err as Error).name}`}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Clients no fetch makes: one that stops reading a stream it asked for (its socket paused: the gateway's writes back
 * up, and it must let go after stream_idle_timeout_ms), and one that goes away in the middle of sending its body.
 */
function raw(kind: string, path: string, body: string, how: 'stop-reading' | 'partial-body'): Promise<void> {
  requests++;
  const u = new URL(GW);
  const bytes = Buffer.from(body);
  return new Promise((done) => {
    const sock = connect(Number(u.port), u.hostname);
    let got = 0;
    const finish = (what: string) => { count(`${kind} ${what}`); sock.destroy(); done(); };
    sock.on('error', () => {});
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\nx-api-key: ${KEY}\r\nanthropic-version: 2023-06-01\r\ncontent-length: ${how === 'partial-body' ? bytes.length + 100_000 : bytes.length}\r\n\r\n`);
      if (how === 'partial-body') {
        sock.write(bytes.subarray(0, bytes.length >> 1));
        setTimeout(() => finish('left mid-body'), 20 + Math.floor(rand() * 80));
        return;
      }
      sock.write(bytes);
    });
    sock.on('data', (d) => {
      got += d.length;
      if (how === 'stop-reading' && got > 0 && !sock.isPaused()) {
        sock.pause(); // reads nothing more; the kernel's buffers fill, then the gateway's writes wait
        setTimeout(() => finish('stopped reading'), 1500);
      }
    });
    sock.on('close', () => { if (!sock.destroyed || got === 0) { /* closed by the gateway */ } });
  });
}

const sessions: Session[] = Array.from({ length: CONCURRENCY }, newSession);
async function worker(w: number, until: number) {
  while (Date.now() < until) {
    const format: ClientFormat = rand() < 0.5 ? 'anthropic' : 'openai';
    const side = rand() < 0.5 ? 'ant' : 'oai';
    const mode = `${format === 'anthropic' ? 'messages' : 'chat'}→${side === 'ant' ? 'anthropic' : 'openai'}`;
    const stream = rand() < 0.6;
    const r = rand();
    if (r < 0.3) {
      let s = sessions[w]!;
      const body = sessionBody(s, model(s.side, 'ok'), stream);
      const sessionMode = `${s.format === 'anthropic' ? 'messages' : 'chat'}→${s.side === 'ant' ? 'anthropic' : 'openai'}`;
      await send(`session ${sessionMode}${stream ? ' stream' : ''}`, s.format, body);
      if (JSON.stringify(body).length > 250_000) sessions[w] = s = newSession();
    } else if (r < 0.55) {
      await send(`small ${mode}${stream ? ' stream' : ''}`, format, smallBody(format, model(side, 'ok'), stream));
    } else if (r < 0.77) {
      const f = pick(FAULTS);
      const midStream = f === 'reset' || f === 'stallmid' || f === 'stallfirst';
      const s = midStream || stream;
      await send(`fault ${f} ${mode}${s ? ' stream' : ''}`, format, smallBody(format, model(side, f), s));
    } else if (r < 0.83) {
      await send(`abort-before ${mode}`, format, smallBody(format, model(side, 'paced'), stream), 'before');
    } else if (r < 0.88) {
      await send(`fault s429wait (client leaves in the wait) ${mode}`, format, smallBody(format, model(side, 's429wait'), stream), 'before');
    } else if (r < 0.90) {
      const how = rand() < 0.5 ? 'stop-reading' : 'partial-body';
      await raw(`${how} ${mode}`, PATH[format], JSON.stringify(smallBody(format, model(side, 'big'), true)), how);
    } else if (r < 0.95) {
      await send(`abort-mid ${mode}`, format, smallBody(format, model(side, 'paced'), true), 'mid');
    } else {
      await send('count_tokens→openai', 'anthropic', smallBody('anthropic', model('oai', 'ok'), false), undefined, '/v1/messages/count_tokens');
    }
  }
}

// ---------------------------------------------------------------- sampling
interface Sample { t: number; phase: 'load' | 'drain' | 'idle'; requests: number; rss_mb: number; fds: number; threads: number; heap_mb?: number; objects?: number; protected_objects?: number; watching?: number; tools_memo?: number; types?: Record<string, number> }
const samples: Sample[] = [];
const start = Date.now();
function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${PID}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
function sample(phase: Sample['phase']) {
  const s: Sample = { t: Math.round((Date.now() - start) / 1000), phase, requests, rss_mb: Math.round(procStatus('VmRSS') / 102.4) / 10, fds: readdirSync(`/proc/${PID}/fd`).length, threads: procStatus('Threads') };
  const st = lastStats;
  if (st) {
    s.heap_mb = Math.round(st.heap_size / 1e5) / 10;
    s.objects = st.objects;
    s.protected_objects = st.protected_objects;
    s.watching = st.watching;
    s.tools_memo = st.tools_memo;
    s.types = st.types;
  }
  samples.push(s);
  process.stderr.write(`t=${String(s.t).padStart(4)}s ${phase} req=${String(requests).padStart(6)} rss=${s.rss_mb}MB fds=${s.fds} threads=${s.threads} heap=${s.heap_mb ?? '-'}MB objects=${s.objects ?? '-'} watching=${s.watching ?? '-'} tools_memo=${s.tools_memo ?? '-'}\n`);
}

sample('load');
const sampler = setInterval(() => sample('load'), SAMPLE_MS);
const until = Date.now() + DURATION_MS;
await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w, until)));
clearInterval(sampler);
sample('drain');
resumeLog();
// idle: every stream, watch and timer should be gone; the sockets to the upstream idle in fetch's pool
for (const end = Date.now() + IDLE_MS; Date.now() < end;) await Bun.sleep(Math.min(SAMPLE_MS, end - Date.now()));
await Bun.sleep(SAMPLE_MS + 200); // one more stats line from the gateway
sample('idle');

// ---------------------------------------------------------------- verdicts
/** Linear slope per minute over the load samples of the second half, and the change from the first load third to the last. */
function trend(key: 'rss_mb' | 'fds' | 'threads' | 'heap_mb' | 'objects' | 'protected_objects') {
  const load = samples.filter((s) => s.phase === 'load' && s[key] !== undefined && s.t > 0);
  const xs = load.slice(Math.floor(load.length / 2));
  const n = xs.length;
  const mx = xs.reduce((a, s) => a + s.t, 0) / n;
  const my = xs.reduce((a, s) => a + (s[key] as number), 0) / n;
  const slope = xs.reduce((a, s) => a + (s.t - mx) * ((s[key] as number) - my), 0) / (xs.reduce((a, s) => a + (s.t - mx) ** 2, 0) || 1);
  const third = Math.max(1, Math.floor(load.length / 3));
  const mean = (a: Sample[]) => a.reduce((x, s) => x + (s[key] as number), 0) / a.length;
  const early = mean(load.slice(third, 2 * third));
  const late = mean(load.slice(-third));
  return { key, early: +early.toFixed(1), late: +late.toFixed(1), per_min: +(slope * 60).toFixed(2), max: Math.max(...load.map((s) => s[key] as number)), idle: samples.at(-1)![key] };
}
const verdicts = (['rss_mb', 'fds', 'threads', 'heap_mb', 'objects', 'protected_objects'] as const).map(trend).map((v) => {
  // growth past what the noise of a sample moves (memos fill during the first minute: a short run shows that)
  const tol = { rss_mb: 0.1 * v.early + 5, fds: 8, threads: 2, heap_mb: 0.1 * v.early + 1, objects: 0.05 * v.early + 1000, protected_objects: 50 }[v.key];
  return { ...v, verdict: v.late - v.early > tol ? 'GROWS' : 'plateau' };
});
// object types whose count (after a full collection) grew most from the middle of the load to its end
const typed = samples.filter((s) => s.phase === 'load' && s.types);
const mid = typed[Math.floor(typed.length / 3)]?.types ?? {};
const lastTypes = typed.at(-1)?.types ?? {};
const growth = Object.entries(lastTypes).map(([k, v]) => [k, v - (mid[k] ?? 0)] as const).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 10);

const elapsed = (Date.now() - start) / 1000;
console.log(`\n## Soak: ${requests} requests in ${(DURATION_MS / 1000).toFixed(0)} s (${CONCURRENCY} clients), ${modelSerial} model names, ${sessionSerial} agent sessions (tools sets), upstream saw ${upstreamStats.requests}, ${logLines} log lines, ${elapsed.toFixed(0)} s in all\n`);
console.log('| series | middle third | last third | slope /min (2nd half) | max | after idle | verdict |\n|---|--:|--:|--:|--:|--:|---|');
for (const v of verdicts) console.log(`| ${v.key} | ${v.early} | ${v.late} | ${v.per_min} | ${v.max} | ${v.idle} | ${v.verdict} |`);
console.log(`\nafter idle: watching=${samples.at(-1)!.watching} tools_memo=${samples.at(-1)!.tools_memo}`);
console.log(`object types grown most (middle → end of load): ${growth.map(([k, d]) => `${k} +${d}`).join(', ') || 'none'}`);
console.log('\noutcomes:');
for (const [k, v] of Object.entries(counts).sort()) console.log(`  ${String(v).padStart(6)}  ${k}`);
console.log('\ngateway log, errors (digits as N):');
for (const [k, v] of Object.entries(logErrors).sort((a, b) => b[1] - a[1])) console.log(`  ${String(v).padStart(6)}  ${k}`);
if (gatewayErrors.length) console.log(`\ngateway stderr (${gatewayErrors.length} lines):\n${gatewayErrors.slice(0, 10).join('\n')}`);
if (opt.json) writeFileSync(opt.json, JSON.stringify({ samples: samples.map(({ types, ...s }) => s), verdicts, counts, growth }, null, 1));

gw.kill('SIGTERM');
await gw.exited;
upstream.stop(true);
resetter.close();
process.exit(0);
