/**
 * @module bench/load
 * One load segment against a URL: wrk for non-streaming load (bench/wrk-post.lua prints its counts as JSON), or the
 * Bun driver (bench/stream-driver.ts) in a child process, so the driver's own work never lands in the process
 * measured. Used by run.ts (the benchmark) and ab.ts (versions compared).
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DriverConfig, DriverResult } from './stream-driver.ts';

const ROOT = resolve(import.meta.dir, '..');

export interface Segment {
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** wrk: per-segment percentiles (ms); Bun driver: raw samples (ms). */
  p50?: number;
  p99?: number;
  latency?: number[];
  ttfb?: number[];
  maxOpen?: number;
  allOpenAtMs?: number | null;
}

/** `c` connections for `seconds`, POSTing the body file with these headers. */
export async function runWrk(wrk: string, url: string, bodyFile: string, headers: Record<string, string>, c: number, seconds: number, timeoutMs: number): Promise<Segment> {
  const p = Bun.spawn([wrk, '-t1', `-c${c}`, `-d${seconds}s`, '--timeout', `${Math.ceil(timeoutMs / 1000)}s`, '-s', join(ROOT, 'bench/wrk-post.lua'), url], {
    env: { ...process.env, BENCH_BODY_FILE: bodyFile, BENCH_HEADERS: Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n') },
    stdout: 'pipe', stderr: 'pipe',
  });
  const killer = setTimeout(() => p.kill('SIGKILL'), (seconds + 60) * 1000);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(killer);
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) return { requests: 0, errors: 1, errorSamples: [`wrk failed: ${(err || out).slice(0, 300)}`], elapsedMs: seconds * 1000 };
  const w = JSON.parse(line.slice(9)) as Record<string, number>;
  const errors = w.connect! + w.read! + w.write! + w.status! + w.timeout!;
  return {
    requests: w.requests! - w.status!,
    errors,
    errorSamples: errors ? [`wrk: connect ${w.connect} read ${w.read} write ${w.write} non-2xx ${w.status} timeout ${w.timeout}`] : [],
    elapsedMs: w.duration_us! / 1000,
    p50: w.p50! / 1000,
    p99: w.p99! / 1000,
  };
}

/** The Bun driver in a child process; its result goes through `outFile` (removed afterwards). */
export async function runDriver(config: DriverConfig, outFile: string): Promise<Segment> {
  const cfg = { ...config, outFile };
  const p = Bun.spawn([process.execPath, join(ROOT, 'bench/stream-driver.ts'), JSON.stringify(cfg)], {
    cwd: ROOT,
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(Math.max(4096, cfg.concurrency * 2)) },
    stdout: 'pipe', stderr: 'pipe',
  });
  const killer = setTimeout(() => p.kill('SIGKILL'), cfg.durationMs + cfg.timeoutMs + 30_000);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(killer);
  try {
    const r = JSON.parse(await Bun.file(outFile).text()) as DriverResult;
    rmSync(outFile, { force: true });
    return { requests: r.requests, errors: r.errors, errorSamples: r.errorSamples, elapsedMs: r.elapsedMs, latency: r.latency, ttfb: r.ttfb, maxOpen: r.maxOpen, allOpenAtMs: r.allOpenAtMs };
  } catch {
    return { requests: 0, errors: 1, errorSamples: [`driver failed: ${(err || out).slice(0, 300)}`], elapsedMs: cfg.durationMs };
  }
}
