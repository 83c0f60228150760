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
        handBack(own);
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

/**
 * Frees a large buffer now instead of at the next collection: detaching it (`ArrayBuffer.transfer(0)`) hands its
 * memory back to the allocator at once, for the next large body to reuse. Only a view of a whole buffer, and only
 * once nothing will read it again. With 5 MB images one at a time (bench/, image-5mb-c1 after the 200 KB scenario,
 * two runs each) the bodies left to the collector, with a forced full collection every 32 MB of them, peaked at
 * 124-149 MB for 8.5-11.2 ms of gateway CPU per image; detached (the request's bytes, a rewritten or translated
 * copy), with a full collection only every 256 MB: 92-116 MB and 4.6-6.5 ms.
 */
export function handBack(bytes: Uint8Array): void {
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) return;
  try { (bytes.buffer as ArrayBuffer).transfer(0); } catch { /* already detached, or not transferable */ }
}
