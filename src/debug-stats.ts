/**
 * @module debug-stats
 * What a soak run (bench/soak.ts) samples from inside the gateway: after a full collection, the JavaScript heap's
 * size and object counts (by type) and the request path's own registries (watches, lent body buffers, the tools
 * memo), as one JSON line on stderr every `everyMs`. Started by main.ts only when `SWITCHBOARD_DEBUG_STATS_MS` is
 * set: a full collection per line is no cost a gateway in service should pay, and nothing here runs per request.
 */
import { heapStats } from 'bun:jsc';
import { watching } from './pipeline/watchdog.ts';
import { bodyBuffersLent } from './pipeline/body-buffers.ts';
import { toolsMemoSize } from './pipeline/tools-memo.ts';

export function startDebugStats(everyMs: number, write: (line: string) => void, inflight: () => number): void {
  const timer = setInterval(() => {
    Bun.gc(true);
    const h = heapStats();
    write(`${JSON.stringify({
      msg: 'debug_stats', time: Date.now(), heap_size: h.heapSize, heap_capacity: h.heapCapacity, objects: h.objectCount,
      protected_objects: h.protectedObjectCount, types: h.objectTypeCounts, protected_types: h.protectedObjectTypeCounts,
      watching: watching(), body_buffers_lent: bodyBuffersLent(), tools_memo: toolsMemoSize(), inflight: inflight(),
    })}\n`);
  }, everyMs);
  timer.unref();
}
