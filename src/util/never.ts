/** @module util/never — exhaustive-switch guard. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}

/**
 * Compile-time exhaustiveness without a runtime throw: for wire data, where a type newer than this gateway
 * (a new delta kind) must be skipped, not crash a stream.
 */
export function skipUnknown(_x: never): void {}
