/**
 * @module pipeline/watchdog
 * Deadlines and client disconnects for requests waiting on an upstream, checked by one shared interval instead of
 * a timer and an abort listener per attempt (two timers, two clears and a listener were ~1.5 µs of a small
 * request's ~35 µs, bench/). A watch fires at most once, up to TICK_MS late: a timeout of 600 s or 200 ms is
 * honoured within 50 ms, and a client that went away is noticed within 50 ms (the upstream is then aborted).
 *
 * The watches are kept in an array, each knowing its index (removal moves the last one into its place), not in a
 * Set: with one add and one delete per request, a long-lived Set doubled the collector's pause per young
 * collection (in-process, 20,000 small requests, BUN_JSC_logGC: 3.9-4.8 → 1.7-2.0 µs of pauses per request, the
 * same bytes allocated).
 */

export const TICK_MS = 50;

export interface Watch {
  /** performance.now() after which `fire('timeout')` runs; Infinity = none. Move it as the request progresses. */
  deadline: number;
  /** The client's request signal: `fire('client')` once it is aborted. */
  readonly client: AbortSignal;
  readonly fire: (why: 'timeout' | 'client') => void;
  /** The registry's: where this watch is in it, -1 when not watched. Start at -1. */
  slot: number;
}

const watches: Watch[] = [];
let timer: ReturnType<typeof setInterval> | null = null;

function tick() {
  if (watches.length === 0) {
    // idle: stop ticking until the next watch (never per request: a busy gateway keeps one interval running)
    clearInterval(timer!);
    timer = null;
    return;
  }
  const now = performance.now();
  // from the end: a watch removed here (or by a `fire`) is replaced by the last one, which was looked at already
  for (let i = watches.length - 1; i >= 0; i--) {
    const w = watches[i];
    if (w === undefined) continue; // `fire` removed more than one
    if (w.client.aborted) { unwatch(w); w.fire('client'); } else if (now >= w.deadline) { unwatch(w); w.fire('timeout'); }
  }
}

/** Watch a request until `unwatch`; `fire` runs at most once, from the interval. */
export function watch<W extends Watch>(w: W): W {
  if (w.slot >= 0) return w;
  w.slot = watches.length;
  watches.push(w);
  if (timer === null) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  return w;
}

export function unwatch(w: Watch): void {
  const i = w.slot;
  if (i < 0 || watches[i] !== w) return;
  w.slot = -1;
  const last = watches.pop()!;
  if (last !== w) {
    watches[i] = last;
    last.slot = i;
  }
}

/** How many requests are being watched (0 once every attempt and relay has finished: tests check that none leaks). */
export function watching(): number {
  return watches.length;
}
