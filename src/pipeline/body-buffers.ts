/**
 * @module pipeline/body-buffers
 * Buffers for the bodies of large translated requests, reused from one request to the next. A fresh 200 KB buffer
 * per request is paid for at its first writes (the allocator gives freed memory back to the system, and page faults
 * take it again): on the bench's 200 KB translations that was ~15% of the translation in-process (splice's copies
 * and the allocation), ~4-10% of the gateway's CPU per request under load (interleaved A/B). A buffer is lent for
 * one attempt and given back as soon as the channel's `send` has returned: by then `fetch` has copied the body (the
 * Fetch standard copies a BufferSource body when the request is made; channels/types.ts asks `send` to call fetch
 * before it returns).
 */

/** Bodies larger than this get a buffer of their own (a 5 MB image request): the pool never holds one. */
const MAX_POOLED = 1024 * 1024;
/** Free buffers kept: one per translated request being sent at the same moment is plenty. */
const MAX_FREE = 4;
/** Capacities are rounded up to this, so that bodies of similar size share buffers. */
const STEP = 64 * 1024;

const free: Uint8Array[] = [];
/** Buffers lent and not yet given back (tests). */
let lent = 0;

export interface BodyBuffer {
  /** `size` bytes to write the body into: a view of a lent buffer. */
  readonly bytes: (size: number) => Uint8Array;
  /** Give the buffer back: after the channel's `send` returned. Idempotent. */
  readonly release: () => void;
}

/** A buffer for one translated body, to release once it has been sent. */
export function lendBodyBuffer(): BodyBuffer {
  let buf: Uint8Array | null = null;
  let own: Uint8Array | null = null;
  let done = false;
  return {
    bytes(size) {
      if (size > MAX_POOLED) return (own = Buffer.allocUnsafeSlow(size));
      let i = free.findIndex((b) => b.length >= size);
      if (i < 0 && free.length > 0) i = 0; // too small: replaced by a larger one below
      const found = i >= 0 ? free.splice(i, 1)[0]! : null;
      buf = found && found.length >= size ? found : Buffer.allocUnsafeSlow(Math.ceil(size / STEP) * STEP);
      lent++;
      return buf.subarray(0, size);
    },
    release() {
      if (done) return;
      done = true;
      if (own) {
        // not kept, but freed now rather than at the next collection (detaching hands its memory back)
        try { (own.buffer as ArrayBuffer).transfer(0); } catch { /* already detached */ }
        own = null;
      }
      if (!buf) return;
      lent--;
      if (free.length < MAX_FREE) free.push(buf);
      buf = null;
    },
  };
}

/** How many buffers are lent out now (tests: every attempt gives its buffer back). */
export function bodyBuffersLent(): number {
  return lent;
}
