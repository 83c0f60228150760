/**
 * @module log
 * Structured JSON log lines: one per request (`msg: "request"`), plus start-up/shutdown events.
 * Never the prompt, never a key. The sink is injected (main.ts: buffered stdout; tests: an array).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface RequestLogEntry {
  /** Set by the logger when the line is written. */
  time: string;
  level: Exclude<LogLevel, 'silent'>;
  msg: 'request';
  request_id: string;
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  ttfb_ms?: number;
  key?: string;
  model?: string;
  channel?: string;
  upstream_model?: string;
  stream?: boolean;
  attempts?: number;
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  stop_reason?: string | null;
  error_type?: string;
  error?: string;
  dropped?: string[];
  /** The token counts are Switchboard's local estimate: the upstream reported none. */
  usage_estimated?: true;
  outcome?: 'ok' | 'error' | 'cancelled';
}

export interface Logger {
  request(entry: RequestLogEntry): void;
  event(level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void;
}

/** The current time as ISO 8601, formatted at most once per millisecond (a log line per request at 20k req/s). */
let lastMs = -1;
let lastIso = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString(); }
  return lastIso;
}

export function createLogger(sink: (line: string) => void, level: LogLevel = 'info'): Logger {
  const min = RANK[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, obj: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    sink(JSON.stringify({ time: isoNow(), level: lvl, ...obj }));
  };
  return {
    request(entry) {
      // the entry is the line: time, level and msg are its first keys (no copy per request)
      const lvl = entry.status >= 500 || entry.outcome === 'error' ? 'warn' : 'info';
      if (RANK[lvl] < min) return;
      entry.time = isoNow();
      entry.level = lvl;
      sink(JSON.stringify(entry));
    },
    event(lvl, msg, fields) {
      write(lvl, { msg, ...fields });
    },
  };
}

/**
 * Log lines gathered as UTF-8 in one buffer and handed to `write` in batches: once `batchBytes` are waiting,
 * `delayMs` after the first line of a batch, or on `flush()` (start-up, shutdown). Each line is encoded into the
 * buffer as it comes (no string per batch to join and encode again): 0.2-0.9 µs less CPU per small request at c=64
 * than joining lines and writing the string (bench/ab.ts, three interleaved runs of 6-8 rounds: lower in 5 of 6,
 * in 3 of 6 and in 6 of 8 rounds), with no ~100 KB string per batch. `write` gets a fresh copy each
 * time (it may keep it while the write completes). A line too long for the buffer goes out on its own, in order.
 *
 * `write` calls `done` once the bytes are taken. At most `maxPending` bytes are handed over and not yet taken: a
 * stdout that takes nothing (a pipe whose reader hangs: a log collector, a supervisor) would otherwise hold every
 * batch in memory until it reads again (Bun queues each `process.stdout.write` with its promise and callback; the
 * soak run, bench/soak.ts --stall-log, measured ~300 objects a second held at ~300 requests a second, and the
 * gateway's memory growing for as long as the pipe stays full). Batches past it are dropped, and counted in a
 * warning line written first once writes are taken again: the request path never waits for its log.
 */
export function bufferedLineSink(
  write: (bytes: Uint8Array, done: () => void) => void,
  schedule: (fn: () => void, ms: number) => unknown = setTimeout,
  delayMs = 20,
  batchBytes = 64 * 1024,
  maxPending = Infinity,
): { push(line: string): void; flush(): void } {
  const enc = new TextEncoder();
  const buf = new Uint8Array(batchBytes * 2);
  let used = 0;
  let scheduled = false;
  let pending = 0;
  let droppedLines = 0;
  let droppedBytes = 0;
  /** One batch (or long line) to `write`, unless that would hold more than `maxPending` bytes untaken. */
  const send = (bytes: Uint8Array) => {
    if (pending + bytes.length > maxPending) {
      droppedBytes += bytes.length;
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) droppedLines++;
      return;
    }
    if (droppedLines > 0) {
      const note = enc.encode(`${JSON.stringify({ time: isoNow(), level: 'warn', msg: 'log lines dropped', lines: droppedLines, bytes: droppedBytes, reason: `stdout took none of the last ${maxPending} bytes written` })}\n`);
      droppedLines = droppedBytes = 0;
      pending += note.length;
      write(note, taken(note.length));
    }
    pending += bytes.length;
    write(bytes, taken(bytes.length));
  };
  // a closure over the count alone: one over `bytes` would keep each batch alive in the heap until it is taken
  const taken = (n: number) => () => { pending -= n; };
  const flush = () => {
    scheduled = false;
    if (used === 0) return;
    const out = buf.slice(0, used);
    used = 0;
    send(out);
  };
  const push = (line: string) => {
    const most = line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit, plus the newline
    if (used + most > buf.length) {
      flush();
      if (most > buf.length) { send(enc.encode(`${line}\n`)); return; }
    }
    used += enc.encodeInto(line, buf.subarray(used)).written;
    buf[used++] = 10;
    if (used >= batchBytes) flush();
    else if (!scheduled) { scheduled = true; schedule(flush, delayMs); }
  };
  return { push, flush };
}
