#!/usr/bin/env bun
/**
 * @module bench/stream-driver
 * The benchmark's Bun load driver: a closed loop of `concurrency` workers POSTing one body, bounded by a
 * deadline and a request count. Per request it records time to first body byte (TTFB) and time to last byte,
 * and checks the answer ends properly: an Anthropic stream with `message_stop`, an OpenAI stream with
 * `data: [DONE]`, neither with an error event; JSON answers with status 200 and the dialect's top-level field.
 * `mode: "once"` starts exactly `concurrency` requests together (open streams) and reports how many were
 * open at the same time. Also the fallback for non-streaming load when wrk is not installed.
 *
 *   bun bench/stream-driver.ts '{"url":…,"bodyFile":…,"headers":{…},"concurrency":64,"durationMs":3000,"expect":"anthropic-sse"}'
 * Writes one JSON line (DriverResult) to `outFile`, else stdout. Run it with BUN_CONFIG_MAX_HTTP_REQUESTS above the concurrency: Bun's
 * fetch otherwise sends at most 256 requests at once.
 */

export type Expect = 'anthropic-sse' | 'openai-sse' | 'anthropic-json' | 'openai-json';

export interface DriverConfig {
  url: string;
  headers: Record<string, string>;
  bodyFile: string;
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  mode: 'loop' | 'once';
  expect: Expect;
  /** Per request, headers to last byte. */
  timeoutMs: number;
  /**
   * loop mode: worker k starts k × staggerMs / concurrency ms after the first (absent: all together). Streams of
   * equal length started together stay in step: every worker starts its next one at about the same time.
   */
  staggerMs?: number;
  /** Where the CLI writes its DriverResult (stdout when absent). */
  outFile?: string;
}

export interface DriverResult {
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** ms, one per successful request. */
  latency: number[];
  ttfb: number[];
  maxOpen: number;
  /** once mode: ms from start until every stream had its first byte (null if some never did). */
  allOpenAtMs: number | null;
}

const END_MARK: Record<Expect, Buffer> = {
  'anthropic-sse': Buffer.from('message_stop'),
  'openai-sse': Buffer.from('data: [DONE]'),
  'anthropic-json': Buffer.from('"content"'),
  'openai-json': Buffer.from('"choices"'),
};
const ERROR_MARKS = [Buffer.from('event: error'), Buffer.from('{"error":'), Buffer.from('"type":"error"')];
const TAIL = 64;

export async function drive(cfg: DriverConfig): Promise<DriverResult> {
  const body = new Uint8Array(await Bun.file(cfg.bodyFile).arrayBuffer());
  const isSse = cfg.expect.endsWith('-sse');
  const endMark = END_MARK[cfg.expect];
  const r: DriverResult = { requests: 0, errors: 0, errorSamples: [], elapsedMs: 0, latency: [], ttfb: [], maxOpen: 0, allOpenAtMs: null };
  let open = 0;
  let firstBytes = 0;
  const start = performance.now();
  const deadline = start + cfg.durationMs;
  const fail = (msg: string) => {
    r.errors++;
    if (r.errorSamples.length < 5) r.errorSamples.push(msg.slice(0, 300));
  };

  async function one(): Promise<void> {
    const t0 = performance.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`timeout after ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
    let counted = false;
    try {
      const res = await fetch(cfg.url, { method: 'POST', headers: cfg.headers, body, signal: ac.signal });
      if (res.status !== 200) {
        fail(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
        return;
      }
      if (!res.body) { fail('no body'); return; }
      const reader = res.body.getReader();
      let ttfb = -1;
      let tail: Buffer = Buffer.alloc(0);
      let errorSeen = false;
      let jsonMark = false;
      // bounded: a stream longer than 1e6 reads is a bug in what is measured
      for (let k = 0; k < 1_000_000; k++) {
        const { done, value } = await reader.read();
        if (done) break;
        if (ttfb < 0) {
          ttfb = performance.now() - t0;
          counted = true;
          firstBytes++;
          if (++open > r.maxOpen) r.maxOpen = open;
          if (cfg.mode === 'once' && firstBytes === cfg.concurrency) r.allOpenAtMs = performance.now() - start;
        }
        const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (isSse && !errorSeen) for (const m of ERROR_MARKS) if (buf.indexOf(m) >= 0) errorSeen = true;
        tail = buf.byteLength >= TAIL ? buf.subarray(buf.byteLength - TAIL) : Buffer.concat([tail, buf]).subarray(-TAIL);
        if (!isSse && !jsonMark && buf.indexOf(endMark) >= 0) jsonMark = true;
      }
      const elapsed = performance.now() - t0;
      if (ttfb < 0) { fail('empty body'); return; }
      if (errorSeen) { fail(`error event in stream; tail: ${tail.toString('utf8')}`); return; }
      if (!isSse && !jsonMark) { fail(`JSON answer without ${endMark.toString()}; tail: ${JSON.stringify(tail.toString('utf8'))}`); return; }
      if (isSse && tail.indexOf(endMark) < 0) { fail(`stream did not end with ${endMark.toString()}; tail: ${JSON.stringify(tail.toString('utf8'))}`); return; }
      r.requests++;
      r.latency.push(Math.round(elapsed * 1000) / 1000);
      r.ttfb.push(Math.round(ttfb * 1000) / 1000);
    } catch (e) {
      fail(`${(e as Error).name}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      if (counted) open--;
    }
  }

  if (cfg.mode === 'once') {
    await Promise.all(Array.from({ length: cfg.concurrency }, () => one()));
  } else {
    let started = 0;
    const worker = async (k: number) => {
      if (cfg.staggerMs) await Bun.sleep((k * cfg.staggerMs) / cfg.concurrency);
      while (performance.now() < deadline && started < cfg.maxRequests) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: cfg.concurrency }, (_, k) => worker(k)));
  }
  r.elapsedMs = performance.now() - start;
  return r;
}

if (import.meta.main) {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
  const result = await drive(cfg);
  // awaited writes: process.exit() right after a stdout.write to a pipe can cut the line short
  await Bun.write(cfg.outFile ? Bun.file(cfg.outFile) : Bun.stdout, JSON.stringify(result) + '\n');
  process.exit(0);
}
