/**
 * pipeline/body-buffers: a released buffer serves the next body that fits, one still lent never does, bodies over
 * 1 MB get their own, and releasing twice gives nothing back twice.
 */
import { expect, test } from 'bun:test';
import { bodyBuffersLent, handBack, lendBodyBuffer } from '../../../src/pipeline/body-buffers.ts';

test('lent, released, reused; never shared while lent', () => {
  const a = lendBodyBuffer();
  const aBytes = a.bytes(200_000);
  expect(aBytes.length).toBe(200_000);
  const b = lendBodyBuffer();
  const bBytes = b.bytes(150_000);
  expect(bBytes.buffer).not.toBe(aBytes.buffer); // a is still lent
  expect(bodyBuffersLent()).toBe(2);
  a.release();
  a.release(); // idempotent
  expect(bodyBuffersLent()).toBe(1);
  const c = lendBodyBuffer();
  expect(c.bytes(190_000).buffer).toBe(aBytes.buffer); // a's buffer fits: reused
  const d = lendBodyBuffer();
  expect(d.bytes(300_000).buffer).not.toBe(aBytes.buffer);
  for (const x of [b, c, d]) x.release();
  expect(bodyBuffersLent()).toBe(0);
});

test('a body over 1 MB gets a buffer of its own, never kept, its memory handed back on release', () => {
  const big = lendBodyBuffer();
  const bytes = big.bytes(5_000_000);
  expect(bytes.length).toBe(5_000_000);
  big.release();
  expect((bytes.buffer as ArrayBuffer).detached).toBe(true); // freed now, not at the next collection
  big.release(); // idempotent
  const next = lendBodyBuffer();
  expect(next.bytes(4_000_000).buffer).not.toBe(bytes.buffer);
  next.release();
  expect(bodyBuffersLent()).toBe(0);
});

test('handBack detaches a whole buffer, never a view into a larger one', () => {
  const whole = new Uint8Array(2_000_000);
  handBack(whole);
  expect(whole.buffer.detached).toBe(true);
  expect(whole.length).toBe(0);
  const shared = new Uint8Array(3_000_000);
  const view = shared.subarray(1000, 2_001_000);
  handBack(view);
  expect(shared.buffer.detached).toBe(false);
  expect(view.length).toBe(2_000_000);
  handBack(whole); // already detached: nothing happens
});
