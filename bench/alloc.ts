#!/usr/bin/env bun
/**
 * @module bench/alloc
 * What a request allocates, without the noise of timing: each checkout's request path runs in a process of its own
 * (routed in-process, Bun's router skipped: no sockets between client and gateway) against the mock upstream, with
 * JSC's collection log on (BUN_JSC_logGC=1). From the log: bytes allocated per request (what each young
 * collection found grown since the last), collections per 1,000 requests, and pause time per request. The same
 * figure repeats within a few percent from run to run, where CPU time moves by ±10%: the way to tell whether a
 * change allocates less. Next to it, the floor's logic (bench/floor.ts) run the same way.
 *
 *   bun bench/alloc.ts .                                     small JSON, Messages → anthropic (passthrough)
 *   bun bench/alloc.ts --model bench-openai before=/tmp/before after=.
 *   bun bench/alloc.ts --stream before=/tmp/before after=.   100-chunk streams, 2 ms apart, 64 at a time
 *   bun bench/alloc.ts --stream --delay 0 .                  the same in bursts
 *
 * Options: --client anthropic|openai, --model bench-anthropic|bench-openai, --payload small|conversation|image,
 * --stream (with --delay MS between a stream's chunks: 2; 0 = bursts), --requests N (20,000; streams 1,500), --c N (concurrency: 16; streams 64). The client's own work (building requests, reading answers) is in
 * every row, the floor's too: compare rows, not absolute figures.
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { BENCH_KEY, CLIENT_PATH, benchConfig, clientHeaders, requestBody, type ClientFormat } from './payloads.ts';
import { freePort, waitReady } from './proc.ts';

const ROOT = resolve(import.meta.dir, '..');

// the child: one checkout (or the floor) driven in-process; prints its collection log on stderr between markers
if (process.env.SWITCHBOARD_ALLOC_CHILD) {
  const { dir, mock, client, model, stream, payload, requests, c } = JSON.parse(process.env.SWITCHBOARD_ALLOC_CHILD);
  const path = CLIENT_PATH[client as ClientFormat];
  const body = requestBody(client, payload, model, stream);
  const headers = { ...clientHeaders(client, BENCH_KEY), 'content-length': String(Buffer.byteLength(body)) };
  let handle: (req: Request) => Promise<Response>;
  if (dir === null) {
    handle = async (req) => {
      const b = await req.arrayBuffer();
      const res = await fetch(mock + new URL(req.url).pathname, { method: 'POST', headers: req.headers, body: b, signal: req.signal });
      return new Response(res.body, { status: res.status, headers: res.headers });
    };
  } else {
    const { createApp } = await import(join(dir, 'src/app.ts'));
    const { buildDeps } = await import(join(dir, 'src/runtime.ts'));
    const { validateConfig } = await import(join(dir, 'src/config/load.ts'));
    const { createLogger } = await import(join(dir, 'src/log.ts'));
    const config = validateConfig(benchConfig(mock));
    // log lines are made (their cost counts) and dropped
    const app = createApp(buildDeps(config, createLogger(() => {}, 'info')));
    handle = app.routes?.[path] ? app.routes[path].POST : (req: Request) => app.fetch(req);
  }
  const one = async () => {
    const res = await handle(new Request(`http://127.0.0.1${path}`, { method: 'POST', headers, body }));
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.bytes();
  };
  const run = (n: number) => Promise.all(Array.from({ length: c }, async (_, w) => { for (let i = w; i < n; i += c) await one(); }));
  await run(Math.min(3000, requests));
  Bun.gc(true);
  process.stderr.write('ALLOC MARK START\n');
  const cpu = process.cpuUsage();
  await run(requests);
  const used = process.cpuUsage(cpu);
  process.stderr.write(`ALLOC MARK END\nALLOC CPU ${used.user + used.system}\n`);
  process.exit(0);
}

const { values: opt, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  strict: true,
  options: {
    client: { type: 'string', default: 'anthropic' },
    model: { type: 'string', default: 'bench-anthropic' },
    stream: { type: 'boolean', default: false },
    delay: { type: 'string', default: '2' },
    payload: { type: 'string', default: 'small' },
    requests: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    c: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help || positionals.length === 0) {
  const text = await Bun.file(import.meta.path).text();
  process.stdout.write(`${text.split('\n').filter((l) => l.startsWith(' *')).map((l) => l.slice(3)).join('\n')}\n`);
  process.exit(opt.help ? 0 : 2);
}
const versions = positionals.map((p) => {
  const eq = p.indexOf('=');
  return eq > 0 ? { name: p.slice(0, eq), dir: resolve(p.slice(eq + 1)) } : { name: p, dir: resolve(p) };
});
const requests = Number(opt.requests ?? (opt.stream ? 1500 : 20000));
const c = Number(opt.c ?? (opt.stream ? 64 : 16));
const rounds = Math.max(1, Math.min(20, Number(opt.rounds)));

/** Bytes allocated, collections and pause time between the markers of one child's collection log. */
function summarise(log: string, requests: number) {
  let on = false;
  let after: number | null = null;
  let bytesKb = 0, eden = 0, full = 0, pauseMs = 0;
  for (const line of log.split('\n')) {
    if (line.includes('ALLOC MARK START')) { on = true; continue; }
    if (line.includes('ALLOC MARK END')) break;
    if (!on) continue;
    const start = /START M (\d+)kb => (Eden|Full)Collection/.exec(line);
    if (start) {
      if (after !== null) bytesKb += Number(start[1]) - after;
      if (start[2] === 'Eden') eden++; else full++;
    }
    const end = /=> (\d+)kb, p=([\d.]+)ms/.exec(line);
    if (end) { after = Number(end[1]); pauseMs += Number(end[2]); }
  }
  const cpu = /ALLOC CPU (\d+)/.exec(log);
  return { cpuUs: cpu ? Number(cpu[1]) / requests : NaN, bytesPerRequest: (bytesKb * 1024) / requests, perThousand: (1000 * (eden + full)) / requests, eden, full, pauseUs: (pauseMs * 1000) / requests };
}

let mockProc: Subprocess | null = null;
try {
  const port = freePort();
  const mock = `http://127.0.0.1:${port}`;
  mockProc = Bun.spawn([process.execPath, join(ROOT, 'bench/mock-upstream.ts'), '--port', String(port)], { stdout: 'ignore', stderr: 'inherit' });
  await waitReady(`${mock}/_mock/health`, 10_000);
  // the mock's own profile (a translated request does not carry the client's headers upstream)
  const delay = Number(opt.delay);
  const profile = opt.stream ? { chunks: 100, bytes: 1200, delay_ms: delay, ttfb_ms: 0 } : { chunks: 10, bytes: 400, delay_ms: 0, ttfb_ms: 0 };
  const put = await fetch(`${mock}/_mock/profile`, { method: 'PUT', body: JSON.stringify(profile) });
  if (!put.ok) throw new Error(`mock profile: HTTP ${put.status}`);
  const label = `${opt.client} API → ${opt.model}, ${opt.payload} ${opt.stream ? `100-chunk streams ${delay ? `${delay} ms apart` : 'in bursts'}` : 'JSON'}, ${requests} requests, ${c} at a time`;
  process.stdout.write(`${label}\n`);
  const cpu = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) for (const v of [{ name: 'floor', dir: null as string | null }, ...versions]) {
    const child = Bun.spawn([process.execPath, import.meta.path], {
      env: { ...process.env, BUN_JSC_logGC: '1', BUN_CONFIG_MAX_HTTP_REQUESTS: '4096', SWITCHBOARD_ALLOC_CHILD: JSON.stringify({ dir: v.dir, mock, client: opt.client, model: opt.model, stream: opt.stream, payload: opt.payload, requests, c }) },
      stdout: 'inherit', stderr: 'pipe',
    });
    const log = await new Response(child.stderr).text();
    if ((await child.exited) !== 0) throw new Error(`${v.name}: ${log.split('\n').filter((l) => !l.startsWith('[GC') && !l.startsWith('GC END')).join('\n').slice(-2000)}`);
    const s = summarise(log, requests);
    process.stdout.write(`${v.name.padEnd(10)} ${Math.round(s.bytesPerRequest).toString().padStart(7)} bytes/request  ${s.perThousand.toFixed(2).padStart(6)} collections per 1,000 (${s.eden} young, ${s.full} full)  ${s.pauseUs.toFixed(2).padStart(6)} µs paused/request  ${s.cpuUs.toFixed(1).padStart(6)} µs CPU/request\n`);
    cpu.set(v.name, [...(cpu.get(v.name) ?? []), s.cpuUs]);
  }
  if (rounds > 1) {
    for (const [name, us] of cpu) {
      const sorted = [...us].sort((a, b) => a - b);
      process.stdout.write(`${name.padEnd(10)} CPU µs/request median ${sorted[sorted.length >> 1]!.toFixed(1)} (rounds ${us.map((u) => u.toFixed(1)).join(' ')})\n`);
    }
  }
} finally {
  mockProc?.kill();
}
