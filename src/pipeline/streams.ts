/**
 * @module pipeline/streams
 * Stream plumbing for responses: the upstream body read with an idle timeout, and the client-facing body
 * that ends with an in-format error event if anything fails after the first byte. Pull-based: a chunk is
 * read from upstream only when the client side wants one, so nothing is buffered in between.
 */
import { GatewayError } from '../errors.ts';

/** Wrap an upstream body so that `idleMs` of silence errors it with a 504 timeout_error. Cancel cancels upstream. */
export function withIdleTimeout(body: ReadableStream<Uint8Array>, idleMs: number, onTimeout: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GatewayError(504, 'timeout_error', `upstream sent nothing for ${idleMs} ms`)), idleMs);
      });
      try {
        const r = await Promise.race([reader.read(), timeout]);
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      } catch (err) {
        if (err instanceof GatewayError && err.type === 'timeout_error') onTimeout();
        reader.cancel(err).catch(() => {});
        controller.error(err);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

export interface GuardHooks<T> {
  /** Every chunk, before it is handed on (first-byte timing, usage sniffing). */
  onChunk?(chunk: T): void;
  /** Bytes/objects to append when the source fails mid-way, or null to append nothing. */
  errorTail(err: unknown): T | null;
  /** Exactly once: the stream ended normally (undefined), failed (the error) or the client went away ('cancelled'). */
  onEnd(outcome: undefined | unknown | 'cancelled'): void;
}

/** The client-facing stream: relays `source`, and turns a mid-stream failure into a final in-format error event. */
export function guardStream<T>(source: ReadableStream<T>, hooks: GuardHooks<T>): ReadableStream<T> {
  const reader = source.getReader();
  let ended = false;
  const end = (outcome: unknown) => {
    if (ended) return;
    ended = true;
    hooks.onEnd(outcome);
  };
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          controller.close();
          end(undefined);
          return;
        }
        hooks.onChunk?.(r.value);
        controller.enqueue(r.value);
      } catch (err) {
        const tail = hooks.errorTail(err);
        if (tail !== null) controller.enqueue(tail);
        controller.close();
        end(err ?? new Error('stream failed'));
      }
    },
    cancel(reason) {
      end('cancelled');
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
