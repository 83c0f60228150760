/**
 * @module bench/proc
 * What the benchmark reads about a process from Linux's /proc: CPU time (utime + stime of every thread, from
 * /proc/PID/stat), resident memory now (VmRSS) and its peak (VmHWM, which writing "5" to /proc/PID/clear_refs
 * resets, so each measurement gets its own peak), and the kernel's listen-queue drops (/proc/net/netstat). Plus small
 * helpers: percentiles, free ports, readiness polls.
 */
import { readFileSync, writeFileSync } from 'node:fs';

let ticks: number | undefined;

/** Clock ticks per second of /proc/PID/stat's times (almost always 100). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const out = Bun.spawnSync(['getconf', 'CLK_TCK'], { stdout: 'pipe', stderr: 'ignore' });
    const n = Number(out.stdout.toString().trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/**
 * The kernel's counts of connections its listen queues dropped (TcpExt ListenOverflows: a queue full; a client then
 * waits ~200 ms or, for a dropped SYN, 1 s) and of SYNs sent again (TCPSynRetrans), for this network namespace
 * (every process on the machine, as a rule), from /proc/net/netstat; null where it cannot be read.
 */
export function tcpListenCounters(): { listenOverflows: number; synRetrans: number } | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i]!.startsWith('TcpExt:') || !lines[i + 1]!.startsWith('TcpExt:')) continue;
      const names = lines[i]!.trim().split(/\s+/);
      const values = lines[i + 1]!.trim().split(/\s+/);
      const get = (name: string) => Number(values[names.indexOf(name)]);
      const listenOverflows = get('ListenOverflows');
      const synRetrans = get('TCPSynRetrans');
      return Number.isFinite(listenOverflows) && Number.isFinite(synRetrans) ? { listenOverflows, synRetrans } : null;
    }
    return null;
  } catch {
    return null;
  }
}

/** CPU time the process has used so far (user + system, all threads), in µs; null if it is gone. */
export function cpuMicros(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1e6) / clockTicks();
  } catch {
    return null;
  }
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export const rssKb = (pid: number) => statusKb(pid, 'VmRSS');
export const peakRssKb = (pid: number) => statusKb(pid, 'VmHWM');

/** Reset the process's peak RSS (Linux ≥ 4.0, needs to own the process or be root); false where not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Sample VmRSS every `everyMs` until stopped; `stop()` returns the largest sample in kB. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let max = rssKb(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssKb(pid);
    if (v !== null && v > max) max = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = rssKb(pid);
      return Math.max(max, v ?? 0);
    },
  };
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A port free on 127.0.0.1 right now (bound, read, released). */
export function freePort(): number {
  const s = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(null) });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Poll `url` until it answers 2xx, at most `timeoutMs`; returns the ms waited or throws. */
export async function waitReady(url: string, timeoutMs: number, init?: RequestInit): Promise<number> {
  const start = performance.now();
  let last = '';
  for (let i = 0; i < 100_000 && performance.now() - start < timeoutMs; i++) {
    try {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      if (res.ok) return performance.now() - start;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await Bun.sleep(i < 200 ? 2 : 20);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
}
