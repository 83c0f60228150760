/**
 * @module pipeline/streams
 * The client-facing body of a response: relays a source stream chunk by chunk (pull-based: a chunk is read from
 * upstream only when the client side wants one, so nothing piles up in between), with an optional idle timeout,
 * a tap for each chunk, and an in-format error event appended if the source fails after the first byte.
 * One wrapper and one timer per stream: no per-chunk promises or timers on the hot path.
 */
import { GatewayError } from '../errors.ts';

export interface RelayHooks<T> {
  /** Longest silence between two chunks of the source, in ms; absent = none. */
  idleMs?: number;
  /**
   * Turn each source chunk into what the client gets (null: nothing yet); absent = relay as is. May throw:
   * the stream then ends like a failed source. `flush` gives the last output when the source ends.
   */
  map?(chunk: T): T | null;
  flush?(): T | null;
  /** Every chunk handed on, before it is enqueued (first-byte timing, usage sniffing). */
  onChunk?(chunk: T): void;
  /**
   * What to append when the source fails mid-way (then the stream closes normally), or null to append nothing.
   * Absent: the failure propagates as a stream error (for inner stages whose consumer renders it).
   */
  errorTail?(err: unknown): T | null;
  /** Exactly once: ended normally (undefined), failed (the error) or the client went away ('cancelled'). */
  onEnd?(outcome: undefined | unknown | 'cancelled'): void;
}

export function relayStream<T>(source: ReadableStream<T>, hooks: RelayHooks<T>): ReadableStream<T> {
  const reader = source.getReader();
  let ended = false;
  let reading = false;
  let timeoutError: GatewayError | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = (outcome: unknown) => {
    if (ended) return;
    ended = true;
    if (timer) clearTimeout(timer);
    hooks.onEnd?.(outcome);
  };
  if (hooks.idleMs !== undefined) {
    const ms = hooks.idleMs;
    timer = setTimeout(() => {
      // silence only counts while we wait for the source (a slow client is not the upstream's fault)
      if (!reading || ended) return;
      timeoutError = new GatewayError(504, 'timeout_error', `upstream sent nothing for ${ms} ms`);
      reader.cancel(timeoutError).catch(() => {});
    }, ms);
  }
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        for (;;) {
          timer?.refresh();
          reading = true;
          const r = await reader.read();
          reading = false;
          if (timeoutError) throw timeoutError;
          if (r.done) {
            const last = hooks.flush?.() ?? null;
            if (last !== null) { hooks.onChunk?.(last); controller.enqueue(last); }
            controller.close();
            end(undefined);
            return;
          }
          const chunk = hooks.map ? hooks.map(r.value) : r.value;
          if (chunk === null) continue; // e.g. half an SSE line: read on
          hooks.onChunk?.(chunk);
          controller.enqueue(chunk);
          return;
        }
      } catch (err) {
        reading = false;
        reader.cancel(err).catch(() => {});
        end(err ?? new Error('stream failed'));
        if (!hooks.errorTail) { controller.error(err); return; }
        const tail = hooks.errorTail(err);
        if (tail !== null) controller.enqueue(tail);
        controller.close();
      }
    },
    cancel(reason) {
      end('cancelled');
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
