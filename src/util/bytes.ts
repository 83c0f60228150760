/**
 * @module util/bytes
 * Buffer's native byte-sequence searches, called on any Uint8Array (`bufferIndexOf.call(chunk, needle, from)`): a
 * stream's chunks are plain arrays, and a Buffer view per chunk would cost an object and ~55 ns each (~5 µs per
 * 100-chunk stream), while reaching a fresh small array's `.buffer` for one makes the engine copy its bytes out.
 */
export const bufferIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
export const bufferLastIndexOf = Buffer.prototype.lastIndexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
