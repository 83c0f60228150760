/**
 * @module pipeline/read-body
 * Read a request body into memory with a hard size cap (413 request_too_large), checked on
 * Content-Length first and then while reading, so an oversized chunked upload is cut off early.
 */
import { GatewayError } from '../errors.ts';
import type { Reader } from './streams.ts';

export function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  // the common case: a declared length within the limit, read in one native call (the server enforces the length)
  if (declared !== null) return req.bytes();
  return readChunked(req, limit);
}

const tooLarge = (limit: number) => new GatewayError(413, 'request_too_large', `request body exceeds the ${limit}-byte limit`);

async function readChunked(req: Request, limit: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  return readAtMost(req.body.getReader(), limit, () => tooLarge(limit));
}

/**
 * A body of undeclared length read whole, chunk by chunk, up to `limit` bytes: past it the read is cancelled and
 * `tooLarge()` thrown. For requests (413) and for upstream answers held in memory (502).
 */
export async function readAtMost(reader: Reader<Uint8Array>, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value!.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value!);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.byteLength; }
  return out;
}
