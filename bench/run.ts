#!/usr/bin/env bun
/**
 * @module bench/run
 * `bun run bench` (about 18 minutes on 2 cores) or `bun run bench --quick` (3-4 minutes): Switchboard against the mock
 * upstream directly and against the floor (bench/floor.ts), all measured in one run on this machine, the targets
 * interleaved round by round so that drift hits each alike. Prints one markdown table (for README too), the
 * targets of issue #4 with PASS/FAIL, and writes everything to bench/results/latest.json.
 *
 * Load: wrk (Debian package `wrk`) for non-streaming scenarios, bench/stream-driver.ts for streams (and for
 * everything when wrk is missing or --no-wrk is given). Everything listens on 127.0.0.1 only.
 *
 * Options:
 *   --quick                 1 round of 1 s per target and scenario (default: 3 rounds of 3 s)
 *   --build                 build a fresh binary (scripts/build.ts) into a temp dir and measure that
 *   --binary PATH           measure this Switchboard binary (default: dist/switchboard if present)
 *   --source                run `bun src/main.ts` instead of a binary
 *   --no-wrk                use the Bun driver for non-streaming load too
 *   --scenarios a,b         only these scenario ids (see SCENARIOS)
 *   --targets a,b           only targets whose name contains one of these (direct and floor rows always run)
 *   --cpu-prof DIR          run Switchboard from source under Bun's CPU profiler, profile (.cpuprofile + .md) into DIR
 *   --rounds N, --seconds S override the rounds and the seconds per segment
 *   --warm-up S             untimed seconds per target at the start of each scenario (default: --seconds; 0: none)
 *   --concurrency N         override every scenario's concurrency (exploration; targets assume the defaults)
 *   --max-http-requests N   BUN_CONFIG_MAX_HTTP_REQUESTS for the floor and Switchboard (default 4096, README's production setting; 256 is Bun's own)
 *   --out FILE              JSON results (default bench/results/latest.json)
 */
import { ENGINE_DEFAULTS } from '../src/engine.ts';
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { BENCH_KEY, CLIENT_PATH, benchConfig, clientHeaders, requestBody, sdkHeaders, type ClientFormat, type PayloadKind } from './payloads.ts';
import type { Profile } from './mock-upstream.ts';
import { drive, type DriverConfig, type Expect } from './stream-driver.ts';
import { runDriver, runWrk, type Segment } from './load.ts';
import { cpuMicros, freePort, peakRssKb, percentile, resetPeakRss, rssKb, sampleRss, tcpListenCounters, waitReady } from './proc.ts';

const ROOT = resolve(import.meta.dir, '..');
const BUN = process.execPath;

// ---------------------------------------------------------------- options

const { values: opt } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    binary: { type: 'string' },
    source: { type: 'boolean', default: false },
    'no-wrk': { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    targets: { type: 'string' },
    'cpu-prof': { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    'warm-up': { type: 'string' },
    'max-http-requests': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench/results/latest.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (opt.help) {
  const doc = (await Bun.file(import.meta.path).text()).split('\n').filter((l) => l.startsWith(' *')).map((l) => l.slice(3));
  process.stdout.write(doc.join('\n') + '\n');
  process.exit(0);
}

const ROUNDS = Math.max(1, Math.min(20, Number(opt.rounds ?? (opt.quick ? 1 : 3))));
const SECONDS = Math.max(1, Math.min(60, Math.round(Number(opt.seconds ?? (opt.quick ? 1 : 3)))));
/**
 * Each scenario starts with an untimed round: every target runs the scenario for this many seconds (default: a
 * segment's) before the timed rounds, which then measure the steady state a long-running gateway is in. Without it
 * the timed rounds also carried Switchboard's JIT compiling the scenario's path on the machine's other core, where
 * the floor has next to nothing to compile: its engine's optimizing tiers take 50-200 ms of CPU each for the
 * request path's largest functions (BUN_JSC_reportCompileTimes=1), and functions run once per request reach the top
 * tier only after several seconds of load (after a 1 s warm-up per target, 270-550 ms of compiling still fell in
 * each segment of the first timed round of 100-chunk bursts, 6-170 ms in the second). Measured on one machine in
 * one session, 3 rounds: Switchboard's CPU per request 8-26% lower with a warm-up than without, the floor's 1-14%.
 */
const WARM_UP_S = Math.max(0, Math.min(60, Math.round(Number(opt['warm-up'] ?? SECONDS))));
const OPEN_STREAMS = 1000;
// open streams last chunks × delay: long enough to sample memory with all of them open
const OPEN_PROFILE: Partial<Profile> = opt.quick ? { chunks: 10, delay_ms: 100, bytes: 1000 } : { chunks: 30, delay_ms: 100, bytes: 3000 };
const STARTUP_RUNS = opt.quick ? 3 : 7;

// ---------------------------------------------------------------- scenarios and targets

interface Scenario {
  id: string;
  title: string;
  concurrency: number;
  payload: PayloadKind;
  stream: boolean;
  profile: Partial<Profile>;
  /** Per request; generous, the point is to see errors, not to cause them. */
  timeoutMs: number;
  /**
   * Workers start spread over one stream's length (chunks × delay) instead of together: the streams overlap as
   * steady traffic does. Started together, streams of equal length stay in step, and every ~500 ms all 64 arrive
   * in the same millisecond: their first bytes then measure that queue (see stream-paced-lockstep-c64).
   */
  staggered?: boolean;
  /** The official SDKs' request headers (payloads.ts: sdkHeaders) and, from the mock, a real provider's answer headers. */
  sdkHeaders?: boolean;
}

const SCENARIOS: Scenario[] = [
  { id: 'small-c1', title: 'small JSON, c=1', concurrency: 1, payload: 'small', stream: false, profile: { chunks: 10, bytes: 400, delay_ms: 0 }, timeoutMs: 30_000 },
  { id: 'small-c64', title: 'small JSON, c=64', concurrency: 64, payload: 'small', stream: false, profile: { chunks: 10, bytes: 400, delay_ms: 0 }, timeoutMs: 30_000 },
  // not a target of issue #4: the same with the headers real traffic carries (~15 from an SDK or Claude Code, ~18 on a
  // provider's answer, where the other scenarios send 2-3 and get 3-4): what header work costs, next to the floor's
  { id: 'small-c64-sdk-headers', title: 'small JSON, c=64, with SDK and provider headers', concurrency: 64, payload: 'small', stream: false, profile: { chunks: 10, bytes: 400, delay_ms: 0, headers: 1 }, timeoutMs: 30_000, sdkHeaders: true },
  { id: 'stream-burst-c64', title: '100-chunk stream, burst, c=64', concurrency: 64, payload: 'small', stream: true, profile: { chunks: 100, bytes: 1200, delay_ms: 0 }, timeoutMs: 30_000 },
  // not a target of issue #4: the same burst with longer deltas (~20 KB a stream), which no longer arrives in one
  // 16 KB read; the floor's native pipe loses its one-read fast path there (bench/FINDINGS.md: "Streams relayed as they are")
  { id: 'stream-burst-long-c64', title: '100-chunk stream of ~20 KB, burst, c=64', concurrency: 64, payload: 'small', stream: true, profile: { chunks: 100, bytes: 6000, delay_ms: 0 }, timeoutMs: 30_000 },
  { id: 'stream-paced-c64', title: '100-chunk stream, 5 ms apart, c=64', concurrency: 64, payload: 'small', stream: true, profile: { chunks: 100, bytes: 1200, delay_ms: 5 }, timeoutMs: 30_000, staggered: true },
  // not a target of issue #4: the paced streams with all 64 workers started together, so that they stay in step and
  // arrive 64 at once every ~500 ms: time to first byte there is the queue of a 64-request burst, set by CPU per
  // request (direct to the mock too: ~1 ms at p50), not by anything a stream waits for
  { id: 'stream-paced-lockstep-c64', title: '100-chunk stream, 5 ms apart, c=64, started in step', concurrency: 64, payload: 'small', stream: true, profile: { chunks: 100, bytes: 1200, delay_ms: 5 }, timeoutMs: 30_000 },
  { id: 'conversation-200k-c8', title: '~200 KB Claude Code conversation, c=8', concurrency: 8, payload: 'conversation', stream: false, profile: { chunks: 10, bytes: 400, delay_ms: 0 }, timeoutMs: 30_000 },
  // not a target of issue #4: the same conversation streamed, as Claude Code sends every request; a translation then
  // also makes the stream-start token estimate, and the answer is a 100-delta stream
  { id: 'conversation-200k-stream-c8', title: '~200 KB Claude Code conversation, streamed, c=8', concurrency: 8, payload: 'conversation', stream: true, profile: { chunks: 100, bytes: 1200, delay_ms: 0 }, timeoutMs: 30_000 },
  // one at a time: even the floor peaks near 150 MB with four 5 MB bodies in flight on Bun 1.4
  { id: 'image-5mb-c1', title: '5 MB image request, c=1', concurrency: 1, payload: 'image', stream: false, profile: { chunks: 10, bytes: 400, delay_ms: 0 }, timeoutMs: 60_000 },
];
const OPEN_ID = 'open-streams-1000';

type Kind = 'direct' | 'floor' | 'switchboard';
interface Target {
  id: string;
  kind: Kind;
  client: ClientFormat;
  /** The model named in the request: picks the Switchboard channel (and so passthrough or translation). */
  model: string;
  passthrough: boolean;
}

const ALL_TARGETS: Target[] = [
  { id: 'direct · anthropic', kind: 'direct', client: 'anthropic', model: 'bench-anthropic', passthrough: true },
  { id: 'direct · openai', kind: 'direct', client: 'openai', model: 'bench-openai', passthrough: true },
  { id: 'floor · anthropic', kind: 'floor', client: 'anthropic', model: 'bench-anthropic', passthrough: true },
  { id: 'floor · openai', kind: 'floor', client: 'openai', model: 'bench-openai', passthrough: true },
  { id: 'switchboard · messages→anthropic', kind: 'switchboard', client: 'anthropic', model: 'bench-anthropic', passthrough: true },
  { id: 'switchboard · messages→openai', kind: 'switchboard', client: 'anthropic', model: 'bench-openai', passthrough: false },
  { id: 'switchboard · chat→openai', kind: 'switchboard', client: 'openai', model: 'bench-openai', passthrough: true },
  { id: 'switchboard · chat→anthropic', kind: 'switchboard', client: 'openai', model: 'bench-anthropic', passthrough: false },
];
const targetFilter = opt.targets?.split(',').map((s) => s.trim()).filter(Boolean);
const TARGETS = ALL_TARGETS.filter((t) => t.kind !== 'switchboard' || !targetFilter || targetFilter.some((f) => t.id.includes(f)));
const floorOf = (t: Target) => `floor · ${t.client}`;
const directOf = (t: Target) => `direct · ${t.client}`;

// ---------------------------------------------------------------- processes

const children: Subprocess[] = [];
const work = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));

function spawnServer(cmd: string[], name: string, env: Record<string, string | undefined> = process.env): Subprocess {
  const p = Bun.spawn(cmd, { cwd: ROOT, env, stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(join(work, `${name}.stderr.log`)) });
  children.push(p);
  serverNames.set(p, name);
  return p;
}
const serverNames = new Map<Subprocess, string>();

/** waitReady for a server just spawned: a server that exits meanwhile fails at once, with what it printed. */
async function waitServer(p: Subprocess, url: string, timeoutMs: number, init?: RequestInit): Promise<void> {
  const name = serverNames.get(p) ?? 'server';
  const exited = p.exited.then((code) => { throw new Error(`${name} exited (${code}) before answering ${url}`); });
  try {
    await Promise.race([waitReady(url, timeoutMs, init), exited]);
  } catch (err) {
    let printed = '';
    try { printed = readFileSync(join(work, `${name}.stderr.log`), 'utf8').trim().split('\n').slice(-5).join('\n'); } catch { /* none */ }
    throw new Error(`${(err as Error).message}${printed ? `; its stderr ends:\n${printed}` : ''}`);
  } finally {
    exited.catch(() => {});
  }
}

async function stopAll(graceMs = 3000) {
  for (const p of children) if (p.exitCode === null) p.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  for (const p of children) {
    while (p.exitCode === null && Date.now() < deadline) await Bun.sleep(20);
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}
process.on('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

function newestMtime(dir: string): number {
  let newest = 0;
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(dir, 0);
  return newest;
}

const notes: string[] = [];
let switchboardLabel = 'bun src/main.ts';
const note = (s: string) => { notes.push(s); process.stderr.write(`note: ${s}\n`); };
const progress = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------- load drivers

const wrkPath = opt['no-wrk'] ? null : Bun.which('wrk');
if (!wrkPath) {
  note(opt['no-wrk']
    ? 'non-streaming load driven by bench/stream-driver.ts (--no-wrk): numbers are not comparable with wrk runs'
    : 'wrk not found: install it (Debian/Ubuntu: `apt-get install -y wrk`, macOS: `brew install wrk`) for the reference numbers; '
      + 'non-streaming load is driven by bench/stream-driver.ts instead, which costs more CPU per request on this same machine');
}

let driverRuns = 0;
const wrkSegment = (url: string, bodyFile: string, headers: Record<string, string>, c: number, seconds: number, timeoutMs: number) =>
  runWrk(wrkPath!, url, bodyFile, headers, c, seconds, timeoutMs);
const runDriverHere = (config: DriverConfig) => runDriver(config, join(work, `driver-${++driverRuns}.json`));

// ---------------------------------------------------------------- bodies

const bodyFiles = new Map<string, string>();
function bodyFile(client: ClientFormat, kind: PayloadKind, model: string, stream: boolean): string {
  const key = `${client}-${kind}-${model}-${stream ? 'stream' : 'json'}`;
  let f = bodyFiles.get(key);
  if (!f) {
    f = join(work, `${key}.json`);
    writeFileSync(f, requestBody(client, kind, model, stream));
    bodyFiles.set(key, f);
  }
  return f;
}

function expectFor(client: ClientFormat, stream: boolean): Expect {
  return `${client}-${stream ? 'sse' : 'json'}` as Expect;
}

// ---------------------------------------------------------------- results

interface Row {
  scenario: string;
  target: string;
  kind: Kind;
  passthrough: boolean;
  requests: number;
  reqPerSec: number | null;
  p50Ms: number;
  p99Ms: number;
  ttfbP50Ms: number | null;
  ttfbP99Ms: number | null;
  /** CPU of the process under test (the mock for direct rows, else the gateway) per request. */
  cpuUsPerReq: number | null;
  peakRssMb: number | null;
  errors: number;
  errorSamples: string[];
  xFloor: number | null;
  xDirect: number | null;
  /** req/s of each round, in round order (rounds of one scenario ran side by side with the floor's). */
  roundRates: number[];
  /** Stream time to first byte at p99 of each round, in round order (a hiccup of the machine shows in one round). */
  roundTtfbP99: number[];
  /** The lowest and highest per-round ratio to the floor: how much of the ratio is the machine's noise. */
  xFloorRange: [number, number] | null;
  maxOpen?: number;
  allOpenAtMs?: number | null;
  /** open-streams-1000: connections the kernel's listen queues dropped meanwhile, and SYNs sent again (bench/proc.ts). */
  kernelDrops?: { listenOverflows: number; synRetrans: number };
}

class Acc {
  requests = 0; errors = 0; elapsedMs = 0; cpuUs = 0; peakKb = 0;
  errorSamples: string[] = [];
  latency: number[] = []; ttfb: number[] = [];
  weighted = { n: 0, p50: 0, p99: 0 };
  maxOpen = 0; allOpenAtMs: number | null | undefined;
  roundRates: number[] = [];
  roundTtfbP99: number[] = [];
  add(s: Segment, cpuUs: number, peakKb: number) {
    if (s.elapsedMs > 0) this.roundRates.push((s.requests / s.elapsedMs) * 1000);
    if (s.ttfb?.length) this.roundTtfbP99.push(percentile([...s.ttfb].sort((x, y) => x - y), 99));
    this.requests += s.requests; this.errors += s.errors; this.elapsedMs += s.elapsedMs; this.cpuUs += cpuUs;
    this.peakKb = Math.max(this.peakKb, peakKb);
    for (const e of s.errorSamples) if (this.errorSamples.length < 5) this.errorSamples.push(e);
    if (s.latency) for (const x of s.latency) this.latency.push(x);
    if (s.ttfb) for (const x of s.ttfb) this.ttfb.push(x);
    if (s.p50 !== undefined && s.requests > 0) {
      this.weighted.n += s.requests; this.weighted.p50 += s.p50 * s.requests; this.weighted.p99 += s.p99! * s.requests;
    }
    if (s.maxOpen !== undefined) this.maxOpen = Math.max(this.maxOpen, s.maxOpen);
    if (s.allOpenAtMs !== undefined) this.allOpenAtMs = s.allOpenAtMs;
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });

  // which Switchboard
  let binary: string | null = null;
  if (opt.build) {
    binary = join(work, 'switchboard');
    progress(`building ${binary} …`);
    const b = Bun.spawnSync([BUN, 'run', 'scripts/build.ts', binary], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
    if (b.exitCode !== 0) throw new Error(`build failed: ${b.stderr.toString().slice(0, 2000)}`);
  } else if (opt.binary) binary = resolve(opt.binary);
  else if (!opt.source && !opt['cpu-prof']) {
    try { if (statSync(join(ROOT, 'dist/switchboard')).isFile()) binary = join(ROOT, 'dist/switchboard'); } catch { /* none */ }
  }
  if (binary && !opt.build && statSync(binary).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    note(`${binary} is older than src/: it measures the last build, not the working tree (run \`bun run build\`, or pass --build or --source)`);
  }
  if (!binary && !opt.source) note('no dist/switchboard: Switchboard runs as `bun src/main.ts` and start-up time is not measured (run `bun run build` first, or pass --build)');

  if (binary) switchboardLabel = binary.startsWith(ROOT) ? binary.slice(ROOT.length + 1) : opt.build ? 'fresh build of the working tree' : binary;
  if (opt['cpu-prof']) switchboardLabel = 'bun --cpu-prof src/main.ts';
  const gatewayEnv: Record<string, string | undefined> = { ...process.env };
  gatewayEnv.BUN_CONFIG_MAX_HTTP_REQUESTS = opt['max-http-requests'] ?? '4096';

  // servers
  const mockPort = freePort();
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  const mock = spawnServer([BUN, 'bench/mock-upstream.ts', '--port', String(mockPort)], 'mock');
  await waitServer(mock, `${mockUrl}/_mock/health`, 10_000);

  const floorPort = freePort();
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const floor = spawnServer([BUN, 'bench/floor.ts', '--port', String(floorPort), '--upstream', mockUrl], 'floor', gatewayEnv);
  await waitServer(floor, `${floorUrl}/_mock/health`, 10_000, { method: 'GET' });

  const config = benchConfig(mockUrl);
  const configFile = join(work, 'switchboard.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const sbCmd = (port: number) => binary
    ? [binary, '--config', configFile, '--port', String(port)]
    : [BUN, 'src/main.ts', '--config', configFile, '--port', String(port)];
  const sbPort = freePort();
  const profDir = opt['cpu-prof'] ? resolve(opt['cpu-prof']) : null;
  if (profDir) {
    mkdirSync(profDir, { recursive: true });
    note(`Switchboard runs under --cpu-prof (profile in ${profDir}): its numbers are slowed by the profiler`);
  }
  // under the profiler, the engine's start-up settings come from the environment: a process that starts itself again
  // with them (src/engine.ts) exits at once under --cpu-prof (Bun 1.4.5: status 158)
  const sbUrl = `http://127.0.0.1:${sbPort}`;
  // stdout (one JSON line per request at log level info, part of the real cost) goes to /dev/null
  const sb = spawnServer(profDir
    ? [BUN, '--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${profDir}`, 'src/main.ts', '--config', configFile, '--port', String(sbPort)]
    : sbCmd(sbPort), 'switchboard', profDir ? { ...ENGINE_DEFAULTS, ...gatewayEnv } : gatewayEnv);
  await waitServer(sb, `${sbUrl}/health`, 15_000);
  await Bun.sleep(500);
  const idleRssMb = (rssKb(sb.pid) ?? 0) / 1024;

  const baseUrl = (t: Target) => (t.kind === 'direct' ? mockUrl : t.kind === 'floor' ? floorUrl : sbUrl);
  const pidOf = (t: Target) => (t.kind === 'direct' ? mock.pid : t.kind === 'floor' ? floor.pid : sb.pid);
  const urlOf = (t: Target) => baseUrl(t) + CLIENT_PATH[t.client];
  const headersOf = (t: Target, sc?: Scenario) => (sc?.sdkHeaders ? sdkHeaders : clientHeaders)(t.client, BENCH_KEY);
  const setProfile = async (p: Partial<Profile>) => {
    const res = await fetch(`${mockUrl}/_mock/profile`, { method: 'PUT', body: JSON.stringify({ chunks: 10, bytes: 400, delay_ms: 0, ttfb_ms: 0, headers: 0, ...p }) });
    if (!res.ok) throw new Error(`mock profile: HTTP ${res.status}`);
  };
  const canResetPeak = resetPeakRss(sb.pid);
  if (!canResetPeak) note('cannot reset VmHWM (/proc/PID/clear_refs): peak RSS is the largest of 50 ms samples');

  async function measure(t: Target, run: () => Promise<Segment>): Promise<{ seg: Segment; cpuUs: number; peakKb: number }> {
    const pid = pidOf(t);
    if (canResetPeak) resetPeakRss(pid);
    const sampler = sampleRss(pid, 50);
    const cpu0 = cpuMicros(pid) ?? 0;
    const seg = await run();
    const cpu1 = cpuMicros(pid) ?? cpu0;
    const sampled = sampler.stop();
    const hwm = canResetPeak ? peakRssKb(pid) ?? 0 : 0;
    return { seg, cpuUs: cpu1 - cpu0, peakKb: Math.max(sampled, hwm) };
  }

  const rows: Row[] = [];
  const selected = opt.scenarios ? new Set(opt.scenarios.split(',').map((s) => s.trim())) : null;
  const scenarios = SCENARIOS.filter((s) => !selected || selected.has(s.id))
    .map((s) => (opt.concurrency ? { ...s, concurrency: Math.max(1, Math.min(4096, Number(opt.concurrency))) } : s));

  // warm-up: every target answers, and JIT/connection pools are warm before anything is timed
  progress(`warm-up (${wrkPath ? 'wrk' : 'bun driver'}) …`);
  await setProfile({});
  for (const t of TARGETS) {
    const file = bodyFile(t.client, 'small', t.model, false);
    if (wrkPath) await wrkSegment(urlOf(t), file, headersOf(t), 16, 1, 10_000);
    else await runDriverHere({ url: urlOf(t), headers: headersOf(t), bodyFile: file, concurrency: 16, durationMs: 1000, maxRequests: 1e6, mode: 'loop', expect: expectFor(t.client, false), timeoutMs: 10_000 });
  }

  for (const sc of scenarios) {
    await setProfile(sc.profile);
    const accs = new Map<string, Acc>(TARGETS.map((t) => [t.id, new Acc()]));
    const broken = new Set<string>();
    // one checked request per target first: a misconfigured target is an error, not a fast row
    for (const t of TARGETS) {
      const r = await drive({ url: urlOf(t), headers: headersOf(t, sc), bodyFile: bodyFile(t.client, sc.payload, t.model, sc.stream), concurrency: 1, durationMs: 0, maxRequests: 1, mode: 'once', expect: expectFor(t.client, sc.stream), timeoutMs: sc.timeoutMs });
      if (r.errors) {
        broken.add(t.id);
        accs.get(t.id)!.add({ requests: 0, errors: r.errors, errorSamples: r.errorSamples, elapsedMs: 0 }, 0, 0);
        note(`${sc.id} / ${t.id}: check request failed: ${r.errorSamples[0]}`);
      }
    }
    /** One segment of this scenario's load on `t`. */
    const segment = (t: Target, seconds: number) => {
      const file = bodyFile(t.client, sc.payload, t.model, sc.stream);
      return (!sc.stream && wrkPath)
        ? wrkSegment(urlOf(t), file, headersOf(t, sc), sc.concurrency, seconds, sc.timeoutMs)
        : runDriverHere({ url: urlOf(t), headers: headersOf(t, sc), bodyFile: file, concurrency: sc.concurrency, durationMs: seconds * 1000, maxRequests: 10_000_000, mode: 'loop', expect: expectFor(t.client, sc.stream), timeoutMs: sc.timeoutMs, staggerMs: sc.staggered ? sc.profile.chunks! * sc.profile.delay_ms! : undefined });
    };
    if (WARM_UP_S > 0) {
      progress(`${sc.id}: warm-up`);
      for (const t of TARGETS) if (!broken.has(t.id)) await segment(t, WARM_UP_S);
    }
    for (let round = 0; round < ROUNDS; round++) {
      progress(`${sc.id}: round ${round + 1}/${ROUNDS}`);
      // rotate the order each round so no target always runs first (or last)
      const order = TARGETS.map((_, i) => TARGETS[(i + round * 3) % TARGETS.length]!);
      for (const t of order) {
        if (broken.has(t.id)) continue;
        const m = await measure(t, () => segment(t, SECONDS));
        accs.get(t.id)!.add(m.seg, m.cpuUs, m.peakKb);
        await Bun.sleep(100);
      }
    }
    for (const t of TARGETS) rows.push(toRow(sc.id, t, accs.get(t.id)!, false));
    addRatios(rows.filter((r) => r.scenario === sc.id));
  }

  // 1,000 streams open at once: memory
  if (!selected || selected.has(OPEN_ID)) {
    await setProfile(OPEN_PROFILE);
    const streamMs = OPEN_PROFILE.chunks! * OPEN_PROFILE.delay_ms!;
    // quick: the OpenAI-format direct and floor rows say nothing new about memory
    for (const t of TARGETS.filter((x) => !opt.quick || x.kind === 'switchboard' || x.client === 'anthropic')) {
      progress(`${OPEN_ID}: ${t.id}`);
      const acc = new Acc();
      const before = tcpListenCounters();
      const m = await measure(t, () => runDriverHere({
        url: urlOf(t), headers: headersOf(t), bodyFile: bodyFile(t.client, 'small', t.model, true), concurrency: OPEN_STREAMS,
        durationMs: 0, maxRequests: OPEN_STREAMS, mode: 'once', expect: expectFor(t.client, true), timeoutMs: streamMs * 10 + 30_000,
      }));
      const after = tcpListenCounters();
      acc.add(m.seg, m.cpuUs, m.peakKb);
      const row = toRow(OPEN_ID, t, acc, true);
      // what the kernel dropped while 1,000 connections came at once (any listener: the driver's target or the mock)
      if (before && after) row.kernelDrops = { listenOverflows: after.listenOverflows - before.listenOverflows, synRetrans: after.synRetrans - before.synRetrans };
      rows.push(row);
      await Bun.sleep(300);
    }
  }
  const idleAfterRssMb = (rssKb(sb.pid) ?? 0) / 1024;

  // compiled binary: start-up to the first answered request, and size
  let startup: { runs: number[]; medianMs: number; maxMs: number; binary: string; sizeMb: number } | null = null;
  if (binary && !profDir) {
    await setProfile({});
    const runs: number[] = [];
    const body = requestBody('anthropic', 'small', 'bench-anthropic', false);
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const port = freePort();
      const t0 = performance.now();
      const p = Bun.spawn(sbCmd(port), { cwd: work, env: gatewayEnv, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
      children.push(p);
      try {
        await waitReady(`http://127.0.0.1:${port}/v1/messages`, 10_000, { method: 'POST', headers: clientHeaders('anthropic', BENCH_KEY), body });
        runs.push(performance.now() - t0);
      } catch (e) {
        note(`start-up run ${i + 1}: ${(e as Error).message}`);
      }
      p.kill('SIGTERM');
      await p.exited;
    }
    const sorted = [...runs].sort((a, b) => a - b);
    startup = { runs, medianMs: percentile(sorted, 50), maxMs: sorted[sorted.length - 1] ?? NaN, binary, sizeMb: statSync(binary).size / 1048576 };
  }

  await stopAll(profDir ? 30_000 : 3000);

  const meta = machine();
  const targets = evaluate(rows, idleRssMb, startup);
  const md = markdown(rows, meta, idleRssMb, idleAfterRssMb, startup, targets);
  process.stdout.write(md);
  const out = resolve(opt.out!);
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify({
    date: new Date().toISOString(), durationS: Math.round((Date.now() - started) / 1000), machine: meta,
    settings: { quick: opt.quick, rounds: ROUNDS, secondsPerSegment: SECONDS, warmUpSeconds: WARM_UP_S, driver: wrkPath ? 'wrk' : 'bun', switchboard: binary ?? 'bun src/main.ts', maxHttpRequests: opt['max-http-requests'] ?? '4096', openStreamProfile: OPEN_PROFILE },
    idleRssMb, idleAfterRssMb, startup, rows, targets, notes, markdown: md,
  }, null, 2));
  progress(`results: ${out} (${Math.round((Date.now() - started) / 1000)} s)`);
  rmSync(work, { recursive: true, force: true });
}

function toRow(scenario: string, t: Target, a: Acc, open: boolean): Row {
  const lat = a.latency.sort((x, y) => x - y);
  const ttfb = a.ttfb.sort((x, y) => x - y);
  const fromWrk = a.weighted.n > 0;
  return {
    scenario, target: t.id, kind: t.kind, passthrough: t.passthrough,
    requests: a.requests,
    reqPerSec: open || a.elapsedMs === 0 ? null : (a.requests / a.elapsedMs) * 1000,
    p50Ms: fromWrk ? a.weighted.p50 / a.weighted.n : percentile(lat, 50),
    p99Ms: fromWrk ? a.weighted.p99 / a.weighted.n : percentile(lat, 99),
    ttfbP50Ms: ttfb.length ? percentile(ttfb, 50) : null,
    ttfbP99Ms: ttfb.length ? percentile(ttfb, 99) : null,
    cpuUsPerReq: a.requests ? a.cpuUs / a.requests : null,
    peakRssMb: a.peakKb ? a.peakKb / 1024 : null,
    errors: a.errors,
    errorSamples: a.errorSamples,
    xFloor: null, xDirect: null, roundRates: a.roundRates, roundTtfbP99: a.roundTtfbP99, xFloorRange: null,
    ...(open ? { maxOpen: a.maxOpen, allOpenAtMs: a.allOpenAtMs ?? null } : {}),
  };
}

function addRatios(rows: Row[]) {
  const by = new Map(rows.map((r) => [r.target, r]));
  for (const r of rows) {
    const t = TARGETS.find((x) => x.id === r.target)!;
    const f = by.get(floorOf(t))?.reqPerSec;
    const d = by.get(directOf(t))?.reqPerSec;
    if (r.reqPerSec === null) continue;
    if (t.kind === 'switchboard' && f) {
      r.xFloor = r.reqPerSec / f;
      const fr = by.get(floorOf(t))!.roundRates;
      const per = r.roundRates.length === fr.length ? r.roundRates.map((x, i) => x / fr[i]!) : [];
      if (per.length > 1) r.xFloorRange = [Math.min(...per), Math.max(...per)];
    }
    if (t.kind !== 'direct' && d) r.xDirect = r.reqPerSec / d;
  }
}

// ---------------------------------------------------------------- targets (issue #4, section 2)

interface Check { name: string; measured: string; limit: string; pass: boolean | null }

function evaluate(rows: Row[], idleRssMb: number, startup: { medianMs: number } | null): Check[] {
  const get = (sc: string, target: string) => rows.find((r) => r.scenario === sc && r.target === target);
  const checks: Check[] = [];
  const sbTargets = TARGETS.filter((t) => t.kind === 'switchboard');
  const has = (sc: string) => rows.some((r) => r.scenario === sc);
  const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  /** A difference with its sign: +0.35, -1.24. */
  const signed = (n: number) => `${n >= 0 ? '+' : ''}${fmt(n, 2)}`;
  const ratio = (sc: string, t: Target, min: number, what: string) => {
    const r = get(sc, t.id);
    const x = r?.xFloor ?? NaN;
    const range = r?.xFloorRange ? ` (rounds ${fmt(r.xFloorRange[0])}-${fmt(r.xFloorRange[1])})` : '';
    // a translated stream reads the upstream's format, whose stream may cost the floor itself several times more
    // (an OpenAI stream is about twice the bytes of the same Anthropic one): shown beside, the target is unchanged
    let beside = '';
    const upstreamFloor = get(sc, `floor · ${t.model === 'bench-openai' ? 'openai' : 'anthropic'}`)?.reqPerSec;
    if (!t.passthrough && sc.startsWith('stream-') && r?.reqPerSec && upstreamFloor) {
      beside = `; ${fmt(r.reqPerSec / upstreamFloor)}× the floor relaying the upstream's own format`;
    }
    checks.push({ name: `${what}, ${t.id.replace('switchboard · ', '')}`, measured: `${fmt(x)}× floor${range}${beside}`, limit: `≥ ${min}×`, pass: Number.isFinite(x) ? x >= min : false });
  };

  if (has('small-c1')) {
    for (const t of sbTargets.filter((x) => x.passthrough)) {
      const r = get('small-c1', t.id)!;
      const f = get('small-c1', floorOf(t))!;
      const added = r.p50Ms - f.p50Ms;
      checks.push({ name: `added p50 latency at c=1, ${t.id.replace('switchboard · ', '')}`, measured: `floor ${added >= 0 ? '+' : '−'} ${fmt(Math.abs(added), 3)} ms`, limit: '≤ floor + 0.05 ms', pass: added <= 0.05 });
    }
  }
  if (has('small-c64')) {
    for (const t of sbTargets) ratio('small-c64', t, t.passthrough ? 0.8 : 0.6, 'throughput at c=64');
    for (const t of sbTargets.filter((x) => x.passthrough)) {
      const r = get('small-c64', t.id)!;
      const f = get('small-c64', floorOf(t))!;
      const x = (r.cpuUsPerReq ?? NaN) / (f.cpuUsPerReq ?? NaN);
      checks.push({ name: `CPU per request at c=64, ${t.id.replace('switchboard · ', '')}`, measured: `${fmt(r.cpuUsPerReq ?? NaN, 0)} µs = ${fmt(x)}× floor`, limit: '≤ 1.3×', pass: Number.isFinite(x) ? x <= 1.3 : false });
    }
  }
  if (has('stream-burst-c64')) for (const t of sbTargets) ratio('stream-burst-c64', t, t.passthrough ? 0.8 : 0.5, '100-chunk streams/s');
  if (has('stream-paced-c64')) {
    for (const t of sbTargets) {
      const r = get('stream-paced-c64', t.id)!;
      const f = get('stream-paced-c64', floorOf(t))!;
      const a50 = (r.ttfbP50Ms ?? NaN) - (f.ttfbP50Ms ?? NaN);
      const a99 = (r.ttfbP99Ms ?? NaN) - (f.ttfbP99Ms ?? NaN);
      // each round's p99 against the floor's in the same round, shown beside the verdict (which is the pooled p99's):
      // a hiccup of the machine in one round, which the direct rows show too, is told from a slow gateway
      const rounds = r.roundTtfbP99.length === f.roundTtfbP99.length ? r.roundTtfbP99.map((x, i) => x - f.roundTtfbP99[i]!).map(signed).join(' / ') : '';
      checks.push({ name: `paced stream, added time to first byte, ${t.id.replace('switchboard · ', '')}`, measured: `p50 ${signed(a50)} ms, p99 ${signed(a99)} ms (vs floor${rounds ? `; p99 by round ${rounds} ms` : ''})`, limit: '≤ 1 ms p50, ≤ 3 ms p99', pass: a50 <= 1 && a99 <= 3 });
    }
  }
  if (has('conversation-200k-c8')) for (const t of sbTargets) ratio('conversation-200k-c8', t, t.passthrough ? 0.8 : 0.4, '200 KB conversation');
  const sbRows = rows.filter((r) => r.kind === 'switchboard');
  const loadPeak = Math.max(...sbRows.filter((r) => r.scenario !== OPEN_ID).map((r) => r.peakRssMb ?? 0));
  if (sbRows.some((r) => r.scenario !== OPEN_ID)) {
    const worst = sbRows.filter((r) => r.scenario !== OPEN_ID).reduce((a, b) => ((b.peakRssMb ?? 0) > (a.peakRssMb ?? 0) ? b : a));
    checks.push({ name: 'peak RSS under any scenario', measured: `${fmt(loadPeak, 0)} MB (${worst.scenario}, ${worst.target.replace('switchboard · ', '')})`, limit: '≤ 150 MB', pass: loadPeak <= 150 });
  }
  const open = sbRows.filter((r) => r.scenario === OPEN_ID);
  if (open.length) {
    const peak = Math.max(...open.map((r) => r.peakRssMb ?? 0));
    const minOpen = Math.min(...open.map((r) => r.maxOpen ?? 0));
    checks.push({ name: `peak RSS with ${OPEN_STREAMS} open streams`, measured: `${fmt(peak, 0)} MB`, limit: '≤ 250 MB', pass: peak <= 250 });
    checks.push({ name: `${OPEN_STREAMS} streams open at the same time`, measured: `at least ${minOpen} open at once in every mode`, limit: `${OPEN_STREAMS}`, pass: minOpen >= OPEN_STREAMS });
  }
  checks.push({ name: 'idle RSS after start-up', measured: `${fmt(idleRssMb, 0)} MB`, limit: '≤ 60 MB', pass: idleRssMb <= 60 });
  checks.push(startup
    ? { name: 'compiled binary start-up to first answered request', measured: `${fmt(startup.medianMs, 0)} ms (median)`, limit: '≤ 150 ms', pass: startup.medianMs <= 150 }
    : { name: 'compiled binary start-up to first answered request', measured: 'not measured (no binary)', limit: '≤ 150 ms', pass: null });
  const errs = sbRows.filter((r) => r.errors > 0);
  checks.push({ name: 'errors, every scenario', measured: errs.length ? errs.map((r) => `${r.scenario}/${r.target.replace('switchboard · ', '')}: ${r.errors}`).join('; ') : '0', limit: '0', pass: errs.length === 0 });
  return checks;
}

// ---------------------------------------------------------------- output

function machine() {
  const wrkVersion = wrkPath ? Bun.spawnSync([wrkPath, '-v'], { stdout: 'pipe', stderr: 'pipe' }) : null;
  const git = Bun.spawnSync(['git', 'rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdout: 'pipe', stderr: 'ignore' });
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1073741824),
    kernel: release(),
    bun: Bun.version,
    wrk: wrkVersion ? (wrkVersion.stdout.toString() + wrkVersion.stderr.toString()).split('\n')[0]!.replace(/\s*\[.*$/, '').trim() : null,
    commit: git.exitCode === 0 ? git.stdout.toString().trim() : null,
  };
}

function num(n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (digits !== undefined) return n.toFixed(digits);
  const a = Math.abs(n);
  return a >= 1000 ? Math.round(n).toString() : a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : a >= 1 ? n.toFixed(2) : n.toFixed(3);
}

function markdown(rows: Row[], meta: ReturnType<typeof machine>, idleRssMb: number, idleAfterRssMb: number,
  startup: { medianMs: number; maxMs: number; sizeMb: number; binary: string } | null, checks: Check[]): string {
  const L: string[] = [];
  L.push(`### Switchboard benchmark (${opt.quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`);
  L.push('');
  L.push(`Machine: ${meta.cpu}, ${meta.cores} cores, ${meta.memoryGb} GB, Linux ${meta.kernel}; Bun ${meta.bun}; ${meta.wrk ?? 'no wrk (Bun driver)'}; commit ${meta.commit ?? '?'}. `
    + `Load generator, mock upstream and gateway share the machine. ${ROUNDS} round(s) × ${SECONDS} s per target, interleaved${WARM_UP_S > 0 ? `, after an untimed round of ${WARM_UP_S} s` : ', no untimed round first'}. `
    + `Switchboard: ${switchboardLabel}, log level info to /dev/null.`);
  L.push('');
  L.push('| scenario | target | req/s | p50 ms | p99 ms | TTFB p50 | TTFB p99 | CPU µs/req | peak RSS MB | errors | ×floor | ×direct |');
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const cpu = r.cpuUsPerReq === null ? '—' : `${num(r.cpuUsPerReq, 0)}${r.kind === 'direct' ? ' (mock)' : ''}`;
    L.push(`| ${r.scenario} | ${r.target} | ${num(r.reqPerSec, 0)} | ${num(r.p50Ms)} | ${num(r.p99Ms)} | ${num(r.ttfbP50Ms)} | ${num(r.ttfbP99Ms)} | ${cpu} | ${num(r.peakRssMb, 0)} | ${r.errors} | ${r.xFloor === null ? '—' : r.xFloor.toFixed(2)} | ${r.xDirect === null ? '—' : r.xDirect.toFixed(2)} |`);
  }
  L.push('');
  L.push('Latency is to the last byte (ms); TTFB is to the first body byte (Bun driver only: streams, and everything without wrk). '
    + 'CPU µs/req and peak RSS are of the process under test: the mock for direct rows, else the gateway. '
    + '×floor and ×direct compare req/s with the floor and the direct row of the same client API. '
    + `Streams: ${SCENARIOS.find((s) => s.id === 'stream-burst-c64')!.profile.chunks} text deltas each; ${OPEN_ID}: ${OPEN_STREAMS} streams of ${OPEN_PROFILE.chunks} deltas ${OPEN_PROFILE.delay_ms} ms apart, started together.`);
  const open = rows.filter((r) => r.scenario === OPEN_ID);
  if (open.length) {
    L.push('');
    const drops = (r: Row) => (r.kernelDrops ? `; listen-queue drops ${r.kernelDrops.listenOverflows}, SYNs resent ${r.kernelDrops.synRetrans}` : '');
    L.push(`${OPEN_ID}, most streams open at the same time: ` + open.map((r) => `${r.target} ${r.maxOpen}${r.allOpenAtMs != null ? ` (all open after ${Math.round(r.allOpenAtMs)} ms${drops(r)})` : ''}`).join('; ') + '.');
  }
  L.push('');
  L.push(`Switchboard idle RSS: ${num(idleRssMb, 0)} MB after start-up, ${num(idleAfterRssMb, 0)} MB after the run. `
    + (startup ? `Binary: ${num(startup.sizeMb, 1)} MB; start-up to first answered request ${num(startup.medianMs, 0)} ms median, ${num(startup.maxMs, 0)} ms max (${STARTUP_RUNS} runs).` : 'Binary: not measured.'));
  const failing = rows.filter((r) => r.errors > 0);
  if (failing.length) {
    L.push('');
    L.push('Errors:');
    for (const r of failing) L.push(`- ${r.scenario} / ${r.target}: ${r.errors} — ${r.errorSamples.join(' | ')}`);
  }
  L.push('');
  L.push('#### Targets (issue #4: ratios to the floor measured in the same run)');
  L.push('');
  for (const c of checks) L.push(`- ${c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'FAIL'} — ${c.name}: ${c.measured} (target ${c.limit})`);
  if (notes.length) {
    L.push('');
    for (const n of notes) L.push(`Note: ${n}`);
  }
  L.push('');
  return L.join('\n');
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  await stopAll();
  process.exitCode = 1;
}
