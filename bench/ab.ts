#!/usr/bin/env bun
/**
 * @module bench/ab
 * Compare versions of Switchboard in one interleaved run: each NAME=DIR is a checkout (a git worktree with
 * node_modules) run from source against the same mock upstream, next to the floor, one load segment each, round
 * by round in a rotating order. Prints req/s, gateway CPU µs per request (per round too: the spread is the noise),
 * peak RSS and, for streams, time to first byte. For telling whether a change moved a figure: a full `bun run bench`
 * moves by more between runs than most changes do.
 *
 *   git worktree add /tmp/before HEAD~1 && ln -s "$PWD/node_modules" /tmp/before/node_modules
 *   bun bench/ab.ts before=/tmp/before after=.                                  small JSON, Messages, c=64
 *   bun bench/ab.ts --stream --bytes 6000 before=/tmp/before after=.            ~20 KB bursts
 *   bun bench/ab.ts --stream --delay 5 --client openai --model bench-anthropic before=/tmp/before after=.
 *   bun bench/ab.ts as-is=. tuned=.,MIMALLOC_PURGE_DELAY=1000      one checkout, an environment variable apart
 *   bun bench/ab.ts --stream f32=floor,BUN_JSC_largeHeapSize=33554432 now=.    DIR `floor`: another floor, its own env
 *
 * Options: --client anthropic|openai (the API spoken), --model bench-anthropic|bench-openai (the channel: same
 * format = passthrough), --payload small|conversation|image, --stream with --chunks N --bytes N --delay MS --kind 0|1|2 (text, reasoning, a tool call's arguments; the
 * mock's profile), --c N (concurrency, 64), --seconds S (per segment, 3), --rounds R (4, after an untimed one), --no-floor, --gc (every
 * process under test logs its garbage collections, BUN_JSC_logGC=1: young and full collections per 1,000 requests
 * and pause time per request are printed; the logging itself costs a little), --sdk-headers (the SDKs' request headers
 * and a real provider's answer headers, as bench/run.ts's small-c64-sdk-headers), --gzip (the mock's JSON answers
 * gzip-compressed, as real providers send them), --no-include-usage (a Chat client's stream without
 * `stream_options.include_usage`, the openai SDK's default), --stagger (streams' workers started spread over one
 * stream's length, as bench/run.ts's stream-paced-c64, rather than together).
 * JSON load uses wrk when installed, else the Bun driver; streams always the Bun driver. Streams print time to first
 * byte p50 per round and p99 over all rounds.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { Subprocess } from 'bun';
import { BENCH_KEY, CLIENT_PATH, benchConfig, clientHeaders, requestBody, sdkHeaders, type ClientFormat, type PayloadKind } from './payloads.ts';
import { runDriver, runWrk, type Segment } from './load.ts';
import { cpuMicros, freePort, peakRssKb, percentile, resetPeakRss, waitReady } from './proc.ts';

const ROOT = resolve(import.meta.dir, '..');
const BUN = process.execPath;

const { values: opt, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  strict: true,
  options: {
    client: { type: 'string', default: 'anthropic' },
    model: { type: 'string', default: 'bench-anthropic' },
    payload: { type: 'string', default: 'small' },
    stream: { type: 'boolean', default: false },
    chunks: { type: 'string', default: '100' },
    kind: { type: 'string', default: '0' },
    bytes: { type: 'string', default: '1200' },
    delay: { type: 'string', default: '0' },
    c: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
    'no-floor': { type: 'boolean', default: false },
    gc: { type: 'boolean', default: false },
    'sdk-headers': { type: 'boolean', default: false },
    gzip: { type: 'boolean', default: false },
    'no-include-usage': { type: 'boolean', default: false },
    stagger: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const usage = () => (Bun.file(import.meta.path).text()).then((t) => t.split('\n').filter((l) => l.startsWith(' *')).map((l) => l.slice(3)).join('\n'));
if (opt.help || positionals.length === 0) {
  process.stdout.write(`${await usage()}\n`);
  process.exit(opt.help ? 0 : 2);
}
const client = opt.client as ClientFormat;
if (!(client in CLIENT_PATH)) throw new Error(`--client: anthropic or openai, not ${client}`);
if (!['bench-anthropic', 'bench-openai'].includes(opt.model!)) throw new Error(`--model: bench-anthropic or bench-openai, not ${opt.model}`);
// NAME=DIR[,KEY=VALUE…]: the checkout, and environment variables for its process only
const versions = positionals.map((p) => {
  const [version, ...vars] = p.split(',');
  const eq = version!.indexOf('=');
  if (eq <= 0) throw new Error(`expected NAME=DIR[,KEY=VALUE…], got ${p}`);
  const own: Record<string, string> = {};
  for (const kv of vars) {
    const k = kv.indexOf('=');
    if (k <= 0) throw new Error(`expected KEY=VALUE after ${version}, got ${kv}`);
    own[kv.slice(0, k)] = kv.slice(k + 1);
  }
  const dir = version!.slice(eq + 1);
  return { name: version!.slice(0, eq), dir: dir === 'floor' ? null : resolve(dir), env: own };
});
const concurrency = Math.max(1, Math.min(4096, Number(opt.c)));
const seconds = Math.max(1, Math.min(60, Number(opt.seconds)));
const rounds = Math.max(1, Math.min(20, Number(opt.rounds)));
const wrk = opt.stream ? null : Bun.which('wrk'); // streams need the Bun driver's checks

const work = mkdtempSync(join(tmpdir(), 'switchboard-ab-'));
const children: Subprocess[] = [];
const env = { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: '4096' };
/** Per process (--gc): collections and their pauses, summed from JSC's log as it comes. */
interface GcTally { eden: number; full: number; pauseMs: number }
const gcTally = new Map<number, GcTally>();
const GC_LINE = /=> (Eden|Full)Collection.*? p=([0-9.]+)ms/;
async function tallyGc(p: Subprocess<'ignore', 'ignore', 'pipe'>) {
  const tally: GcTally = { eden: 0, full: 0, pauseMs: 0 };
  gcTally.set(p.pid, tally);
  const dec = new TextDecoder();
  let rest = '';
  for await (const chunk of p.stderr) {
    const lines = (rest + dec.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const m = GC_LINE.exec(line);
      if (m) { if (m[1] === 'Eden') tally.eden++; else tally.full++; tally.pauseMs += Number(m[2]); }
      else if (line && !line.startsWith('[GC') && !line.startsWith('GC END')) process.stderr.write(`${line}\n`);
    }
  }
}
const spawn = (cmd: string[], cwd = ROOT, own: Record<string, string> = {}, logGc = false) => {
  const p = Bun.spawn(cmd, { cwd, env: { ...env, ...own, ...(logGc ? { BUN_JSC_logGC: '1' } : {}) }, stdin: 'ignore', stdout: 'ignore', stderr: logGc ? 'pipe' : 'inherit' });
  if (logGc) void tallyGc(p as Subprocess<'ignore', 'ignore', 'pipe'>);
  children.push(p);
  return p;
};
const cleanup = () => { for (const p of children) p.kill(); rmSync(work, { recursive: true, force: true }); };
process.on('SIGINT', () => { cleanup(); process.exit(130); });

try {
  const mockPort = freePort();
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  spawn([BUN, 'bench/mock-upstream.ts', '--port', String(mockPort)]);
  await waitReady(`${mockUrl}/_mock/health`, 10_000);
  const profile = opt.stream
    ? { chunks: Number(opt.chunks), bytes: Number(opt.bytes), delay_ms: Number(opt.delay), ttfb_ms: 0, kind: Number(opt.kind) }
    : { chunks: 10, bytes: 400, delay_ms: 0, ttfb_ms: 0 };
  const put = await fetch(`${mockUrl}/_mock/profile`, { method: 'PUT', body: JSON.stringify({ ...profile, headers: opt['sdk-headers'] ? 1 : 0, gzip: opt.gzip ? 1 : 0 }) });
  if (!put.ok) throw new Error(`mock profile: HTTP ${put.status} ${await put.text()}`);

  const targets: Array<{ name: string; url: string; pid: number }> = [];
  if (!opt['no-floor']) {
    const port = freePort();
    const p = spawn([BUN, 'bench/floor.ts', '--port', String(port), '--upstream', mockUrl], ROOT, {}, opt.gc);
    await waitReady(`http://127.0.0.1:${port}/_mock/health`, 10_000, { method: 'GET' });
    targets.push({ name: 'floor', url: `http://127.0.0.1:${port}`, pid: p.pid });
  }
  const config = join(work, 'switchboard.json');
  writeFileSync(config, JSON.stringify(benchConfig(mockUrl)));
  for (const v of versions) {
    const port = freePort();
    if (v.dir === null) {
      // NAME=floor: another floor, with this version's environment
      const p = spawn([BUN, 'bench/floor.ts', '--port', String(port), '--upstream', mockUrl], ROOT, v.env, opt.gc);
      await waitReady(`http://127.0.0.1:${port}/_mock/health`, 10_000, { method: 'GET' });
      targets.push({ name: v.name, url: `http://127.0.0.1:${port}`, pid: p.pid });
      continue;
    }
    const p = spawn([BUN, join(v.dir, 'src/main.ts'), '--config', config, '--port', String(port)], v.dir, v.env, opt.gc);
    await waitReady(`http://127.0.0.1:${port}/health`, 15_000);
    targets.push({ name: v.name, url: `http://127.0.0.1:${port}`, pid: p.pid });
  }

  const bodyFile = join(work, 'body.json');
  writeFileSync(bodyFile, requestBody(client, opt.payload as PayloadKind, opt.model!, opt.stream!, !opt['no-include-usage']));
  const headers = (opt['sdk-headers'] ? sdkHeaders : clientHeaders)(client, BENCH_KEY);

  let driverRuns = 0;
  const load = (url: string, c: number, secs: number): Promise<Segment> => (wrk
    ? runWrk(wrk, url + CLIENT_PATH[client], bodyFile, headers, c, secs, 30_000)
    : runDriver({ url: url + CLIENT_PATH[client], headers, bodyFile, concurrency: c, durationMs: secs * 1000, maxRequests: 1e9, mode: 'loop', expect: `${client}-${opt.stream ? 'sse' : 'json'}`, timeoutMs: 30_000, staggerMs: opt.stagger ? Number(opt.chunks) * Number(opt.delay) : undefined }, join(work, `driver-${++driverRuns}.json`)));

  // an untimed round first, as bench/run.ts does: the engine's optimizing tiers compile a version's request path over
  // its first seconds of load, and each round should time the version, not its compiler (bench/README.md)
  for (const t of targets) await load(t.url, concurrency, seconds);
  const acc = new Map(targets.map((t) => [t.name, { requests: 0, ms: 0, cpu: 0, errors: 0, peakKb: 0, rates: [] as number[], cpus: [] as number[], ttfb: [] as number[], ttfbAll: [] as number[], gc: { eden: 0, full: 0, pauseMs: 0 } }]));
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`round ${round + 1}/${rounds}\n`);
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + round) % targets.length]!;
      resetPeakRss(t.pid);
      const cpu0 = cpuMicros(t.pid) ?? 0;
      const gc0 = { ...(gcTally.get(t.pid) ?? { eden: 0, full: 0, pauseMs: 0 }) };
      const seg = await load(t.url, concurrency, seconds);
      const cpu = (cpuMicros(t.pid) ?? cpu0) - cpu0;
      const a = acc.get(t.name)!;
      const gc1 = gcTally.get(t.pid);
      if (gc1) { a.gc.eden += gc1.eden - gc0.eden; a.gc.full += gc1.full - gc0.full; a.gc.pauseMs += gc1.pauseMs - gc0.pauseMs; }
      if (seg.errors) process.stderr.write(`${t.name}: ${seg.errors} errors: ${seg.errorSamples.join(' | ')}\n`);
      a.requests += seg.requests; a.ms += seg.elapsedMs; a.cpu += cpu; a.errors += seg.errors;
      a.peakKb = Math.max(a.peakKb, peakRssKb(t.pid) ?? 0);
      a.rates.push(seg.requests / (seg.elapsedMs / 1000));
      a.cpus.push(cpu / Math.max(1, seg.requests));
      if (seg.ttfb?.length) { a.ttfb.push(percentile([...seg.ttfb].sort((x, y) => x - y), 50)); a.ttfbAll.push(...seg.ttfb); }
    }
  }
  const mode = opt.stream ? `stream (${opt.chunks} ${['text', 'reasoning', 'tool-argument'][Number(opt.kind)] ?? ''} deltas, ${opt.bytes} bytes, ${opt.delay} ms apart)` : `${opt.payload} JSON`;
  process.stdout.write(`${client} API → ${opt.model}, ${mode}, c=${concurrency}, ${rounds} × ${seconds} s, ${wrk ? 'wrk' : 'Bun driver'}\n`);
  const fmt = (xs: number[], d: number) => xs.map((x) => x.toFixed(d)).join(' ');
  for (const t of targets) {
    const a = acc.get(t.name)!;
    const ttfb = a.ttfb.length ? `  TTFB p50 ms ${fmt(a.ttfb, 2)}, p99 ${percentile(a.ttfbAll.sort((x, y) => x - y), 99).toFixed(2)}` : '';
    const per1k = (n: number) => (n * 1000 / Math.max(1, a.requests)).toFixed(2);
    const gc = opt.gc ? `  GC per 1k req: ${per1k(a.gc.eden)} young, ${per1k(a.gc.full)} full, ${(a.gc.pauseMs * 1000 / Math.max(1, a.requests)).toFixed(2)} µs paused/req` : '';
    process.stdout.write(`${t.name.padEnd(14)} ${(a.requests / (a.ms / 1000)).toFixed(0).padStart(7)} req/s  ${(a.cpu / Math.max(1, a.requests)).toFixed(1).padStart(7)} µs CPU/req  peak ${(a.peakKb / 1024).toFixed(0)} MB  errors ${a.errors}  rounds: req/s ${fmt(a.rates, 0)}  µs ${fmt(a.cpus, 1)}${ttfb}${gc}\n`);
  }
} finally {
  cleanup();
}
process.exit(0);
