/**
 * @module pipeline/streams
 * The client-facing body of a response: relays a source stream chunk by chunk, with an optional idle timeout, a tap
 * for each chunk, and an in-format error event appended if the source fails after the first byte. It is one of
 * Bun's direct streams: each chunk is written straight to the client's socket, no queue in between, and the next
 * is read from upstream only once the socket has taken it (a client that reads slowly slows the reading, so
 * nothing piles up). Against the pull-based ReadableStream it replaced, in interleaved A/B runs (bench/): ~20 KB
 * passthrough bursts 167 → 114 µs of gateway CPU per stream (the floor's native pipe: 157), Chat bursts 181 →
 * 142 µs, paced streams −4%; translated streams, whose cost is the translation, within the noise.
 * One wrapper and one timer per stream: no per-chunk promises or timers on the hot path.
 *
 * `readAhead` reads a source's first chunk before the answer starts, so that a source which fails before its first
 * byte can still fall back, and a source that arrived whole in that read (a short answer, a fast upstream) is
 * answered in one write instead of through a stream.
 */
import { GatewayError } from '../errors.ts';
import { unwatch, watch, type Watch } from './watchdog.ts';

/** T: what the source gives; O: what the client is written (bytes, or a string Bun encodes as UTF-8 as it writes). */
export interface RelayHooks<T, O extends Uint8Array | string = T extends Uint8Array ? T : never> {
  /**
   * The client's request signal: when the client goes away the relay ends as 'cancelled' and the source is
   * cancelled, noticed by the shared watchdog within 50 ms (Bun does not always cancel a response body whose
   * client left before it was first read), or at once when a write finds the client gone.
   */
  client?: AbortSignal;
  /**
   * Longest silence between two chunks of the source, in ms, and longest wait for the client to take a chunk
   * written to it (a client that stopped reading): either ends the relay with a timeout_error; absent = none.
   */
  idleMs?: number;
  /**
   * Turn each source chunk into what the client gets (null: nothing yet); absent = relay as is. May throw:
   * the stream then ends like a failed source. `flush` gives the last output when the source ends.
   */
  map?(chunk: T): O | null;
  flush?(): O | null;
  /** Every chunk handed on, before it is written (first-byte timing, usage sniffing). */
  onChunk?(chunk: O): void;
  /**
   * What to append when the source fails mid-way (then the stream closes normally), or null to append nothing.
   * Absent: the failure propagates as a stream error (for inner stages whose consumer renders it).
   */
  errorTail?(err: unknown): O | null;
  /**
   * Whether a chunk written to the client carries its format's last event (`data: [DONE]`, `message_stop`): once one
   * has been written, the client has the whole answer, and the relay ends there: the client's response is closed and
   * the source, unless it ends within END_GRACE_MS, cancelled, whatever it would still send (an upstream, or a proxy in
   * front of it, that keeps its connection open after its last event would otherwise hold the client until the idle
   * timeout). It must be exact:
   * a text that quotes the marker is no end. Absent: never known (the relay ends with the source).
   */
  endsStream?(chunk: O): boolean;
  /**
   * Exactly once: ended normally (undefined), failed (the error) or the client went away ('cancelled'). `whole`: the
   * client had been written the last event by then (endsStream). A client that leaves after it, before the source
   * has ended, has had the whole answer: openai@7 cancels the body as soon as it reads `[DONE]` (6 read on to the end).
   * `cut`: the relay ended at the last event before the source had ended (the source is cancelled: the caller lets go
   * of the upstream request too).
   */
  onEnd?(outcome: undefined | unknown | 'cancelled', whole: boolean, cut: boolean): void;
}

export type ReadResult<T> = { done: true; value?: T } | { done: false; value: T };
/**
 * A source's reader. It is not released at the end of a relay: `releaseLock()` makes two Error objects (stack traces
 * included) per call in Bun 1.4.5, ~2-3 µs of gateway CPU per relayed stream, and measured no lower peak RSS (bench/).
 */
export interface Reader<T> { read(): Promise<ReadResult<T>>; cancel(reason?: unknown): Promise<void> }

/** A source whose first chunk(s) were read before answering (readAhead). */
export interface ReadAhead<T> {
  reader: Reader<T>;
  /** Chunks read so far, in order; relayed before anything else. */
  head: T[];
  /** A read already under way (its result follows `head`), or null. */
  pending: Promise<ReadResult<T>> | null;
  /** The source has ended: `head` is all of it. */
  whole: boolean;
}

const NOT_YET = Symbol('not yet');
const nextTurn = () => new Promise<typeof NOT_YET>((resolve) => setImmediate(resolve, NOT_YET));

/**
 * Read the first chunk from `reader` (rejects as the read does). When that chunk closes the stream by its format
 * (`endsStream`: the last SSE event of the format) the end is awaited until the next turn of the event loop, and
 * only then: a source whose end is already in is `whole`; one that goes on is relayed from a read left pending.
 * `endsStream` only decides whether that look is worth taking; it never decides what the client gets.
 */
export async function readAhead<T>(reader: Reader<T>, endsStream: (chunk: T) => boolean): Promise<ReadAhead<T>> {
  const first = await reader.read();
  if (first.done) return { reader, head: [], pending: null, whole: true };
  if (!endsStream(first.value)) return { reader, head: [first.value], pending: null, whole: false };
  const next = reader.read();
  const settled = await Promise.race([next, nextTurn()]);
  if (settled === NOT_YET) return { reader, head: [first.value], pending: next, whole: false };
  if (settled.done) return { reader, head: [first.value], pending: null, whole: true };
  return { reader, head: [first.value, settled.value], pending: null, whole: false };
}

/** How long a source whose last event was relayed is given to end on its own before it is cut (relayStream). */
const END_GRACE_MS = 250;

/**
 * Whether a source ends within END_GRACE_MS with its next read (`pending`: one already under way); false when that
 * read brings more (not relayed: the source is cut) or fails. Also for a stream read whole (answer.ts: readRest).
 */
export async function endsSoon<T>(reader: Reader<T>, pending: Promise<ReadResult<T>> | null): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => { timer = setTimeout(resolve, END_GRACE_MS, null); });
  try {
    const r = await Promise.race([pending ?? reader.read(), late]);
    return r !== null && r.done;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function relayStream<T extends Uint8Array, O extends Uint8Array | string = T>(source: ReadableStream<T> | ReadAhead<T>, hooks: RelayHooks<T, O>): ReadableStream<Uint8Array> {
  const started = source instanceof ReadableStream ? null : source;
  const reader: Reader<T> = started ? started.reader : (source as ReadableStream<T>).getReader();
  const head = started?.head ?? [];
  let pending = started?.pending ?? null;
  let ended = false;
  let whole = false;
  let reading = false;
  let timeoutError: GatewayError | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let clientWatch: Watch | null = null;
  // wakes a write waiting on a client that stopped reading when the relay ends (one per wait: a race against one
  // long-lived promise would pile up a reaction per backpressured write)
  let wake: (() => void) | null = null;
  const end = (outcome: unknown, cut = false) => {
    if (ended) return;
    ended = true;
    wake?.();
    if (timer) clearTimeout(timer);
    if (clientWatch) unwatch(clientWatch);
    hooks.onEnd?.(outcome, whole, cut);
  };
  let client: ReadableStreamDirectController | null = null;
  /** Ends the client's side with an error (the relay has already ended). */
  const fail = (err: Error) => {
    try { client?.close(err); } catch { /* already closed */ }
  };
  if (hooks.client) {
    clientWatch = watch({
      deadline: Infinity,
      slot: -1,
      client: hooks.client,
      fire: () => {
        reader.cancel(new Error('client disconnected')).catch(() => {});
        end('cancelled');
        fail(new Error('client disconnected'));
      },
    });
  }
  if (hooks.idleMs !== undefined) {
    const ms = hooks.idleMs;
    timer = setTimeout(() => {
      if (ended) return;
      if (reading) {
        // the source was silent for `ms`
        timeoutError = new GatewayError(504, 'timeout_error', `upstream sent nothing for ${ms} ms`);
        reader.cancel(timeoutError).catch(() => {});
        return;
      }
      // the client took nothing for `ms` (it stopped reading): let go of both sides rather than hold the
      // upstream connection for as long as the client keeps its socket open
      const stalled = new GatewayError(504, 'timeout_error', `client read nothing for ${ms} ms`);
      reader.cancel(stalled).catch(() => {});
      end(stalled);
      fail(stalled);
    }, ms);
  }
  /**
   * A write's or flush's result: a promise while the client is not taking what was written (backpressure), waited
   * for until it settles or the relay ends; a number (or, with a reader as consumer, nothing) otherwise.
   */
  const taken = (r: number | Promise<number> | undefined) => (typeof (r as Promise<number> | undefined)?.then !== 'function' ? undefined : new Promise<void>((resolve) => {
    wake = resolve;
    (r as Promise<number>).then(() => resolve(), () => resolve());
  }));
  const underlying: Bun.DirectUnderlyingSource<Uint8Array> = {
    type: 'direct',
    async pull(controller) {
      client = controller;
      try {
        for (;;) {
          timer?.refresh();
          let r: ReadResult<T>;
          if (head.length > 0) r = { done: false, value: head.shift()! };
          else {
            reading = true;
            if (pending) { r = await pending; pending = null; } else r = await reader.read();
            reading = false;
          }
          if (timeoutError) throw timeoutError;
          if (ended) return; // the client left, or stopped reading, meanwhile: its side is closed already
          if (r.done) {
            const last = hooks.flush?.() ?? null;
            if (last !== null) { hooks.onChunk?.(last); controller.write(last); }
            controller.close();
            end(undefined);
            return;
          }
          const chunk = hooks.map ? hooks.map(r.value) : (r.value as unknown as O); // without map, O is T
          if (chunk === null) continue; // e.g. half an SSE line: read on
          hooks.onChunk?.(chunk);
          // written straight to the client's socket (no queue in between); waits only while the client is not
          // taking it, and that wait counts against idleMs like a silent source
          const wrote = controller.write(chunk);
          if (wrote === 0 && (typeof chunk === 'string' ? chunk.length : chunk.byteLength) > 0) {
            // 0 for a non-empty chunk: the client has gone away
            reader.cancel(new Error('client disconnected')).catch(() => {});
            end('cancelled');
            return;
          }
          if (!whole && hooks.endsStream?.(chunk)) whole = true;
          // awaited only when the client is not ready: no microtask per chunk otherwise
          let wait = taken(wrote);
          if (wait) await wait;
          wait = ended ? undefined : taken(controller.flush());
          if (wait) await wait;
          if (ended) return;
          if (whole) {
            // the client has the answer's last event: its response ends now, and what the source might still send
            // (nothing, in a stream that keeps to its format) is not relayed
            controller.close();
            if (timer) clearTimeout(timer);
            if (clientWatch) { unwatch(clientWatch); clientWatch = null; }
            // the source's own end, which nearly always follows at once (a chunked body's terminator), is read for a
            // moment: fetch gives an upstream connection back to its pool only once its body was read to the end, and
            // one cancelled at its last event cost every stream a new connection (and TLS handshake); a source that
            // goes on (a proxy that holds its connection) is cut then
            const sourceEnded = (started?.whole === true && head.length === 0) || (head.length === 0 && await endsSoon(reader, pending));
            pending = null;
            if (ended) return; // the relay ended meanwhile (the client watch is off: nothing else ends it)
            if (!sourceEnded) reader.cancel(new Error('stream complete')).catch(() => {});
            end(undefined, !sourceEnded);
            return;
          }
        }
      } catch (err) {
        reading = false;
        if (ended) return; // closed already (the client left or stalled): the read failed because it was cancelled
        reader.cancel(err).catch(() => {});
        end(err ?? new Error('stream failed'));
        if (!hooks.errorTail) { fail(err instanceof Error ? err : new Error(String(err))); return; }
        const tail = hooks.errorTail(err);
        try {
          if (tail !== null) controller.write(tail);
          controller.close();
        } catch { /* the client is gone */ }
      }
    },
    cancel(reason) {
      const cancelled = reader.cancel(reason).catch(() => {});
      end('cancelled');
      return cancelled;
    },
  };
  return new ReadableStream<Uint8Array>(underlying);
}
