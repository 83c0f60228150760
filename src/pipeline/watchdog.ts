/**
 * @module pipeline/watchdog
 * Deadlines and client disconnects for requests waiting on an upstream, checked by one shared interval instead of
 * a timer and an abort listener per attempt (two timers, two clears and a listener were ~1.5 µs of a small
 * request's ~35 µs, bench/). A watch fires at most once, up to TICK_MS late: a timeout of 600 s or 200 ms is
 * honoured within 50 ms, and a client that went away is noticed within 50 ms (the upstream is then aborted).
 */

export const TICK_MS = 50;

export interface Watch {
  /** performance.now() after which `fire('timeout')` runs; Infinity = none. Move it as the request progresses. */
  deadline: number;
  /** The client's request signal: `fire('client')` once it is aborted. */
  readonly client: AbortSignal;
  readonly fire: (why: 'timeout' | 'client') => void;
}

const watches = new Set<Watch>();
let timer: ReturnType<typeof setInterval> | null = null;

function tick() {
  if (watches.size === 0) {
    // idle: stop ticking until the next watch (never per request: a busy gateway keeps one interval running)
    clearInterval(timer!);
    timer = null;
    return;
  }
  const now = performance.now();
  for (const w of watches) {
    if (w.client.aborted) { watches.delete(w); w.fire('client'); } else if (now >= w.deadline) { watches.delete(w); w.fire('timeout'); }
  }
}

/** Watch a request until `unwatch`; `fire` runs at most once, from the interval. */
export function watch<W extends Watch>(w: W): W {
  watches.add(w);
  if (timer === null) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  return w;
}

export function unwatch(w: Watch): void {
  watches.delete(w);
}

/** How many requests are being watched (0 once every attempt and relay has finished: tests check that none leaks). */
export function watching(): number {
  return watches.size;
}
