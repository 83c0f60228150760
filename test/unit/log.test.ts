/**
 * log: the buffered line sink main.ts writes stdout through — every line out once, in order, as UTF-8 with its
 * newline, in batches by size or after a delay, and nothing lost to buffer reuse.
 */
import { describe, expect, test } from 'bun:test';
import { bufferedLineSink } from '../../src/log.ts';

const dec = new TextDecoder();

function harness(batchBytes = 64) {
  const writes: Uint8Array[] = [];
  const timers: Array<() => void> = [];
  const sink = bufferedLineSink((b) => writes.push(b), (fn) => timers.push(fn), 20, batchBytes);
  const text = () => writes.map((w) => dec.decode(w)).join('');
  return { sink, writes, timers, text };
}

describe('bufferedLineSink', () => {
  test('lines wait for the scheduled flush, then go out in order, each with its newline, UTF-8 encoded', () => {
    const h = harness(1024);
    h.sink.push('{"a":"é"}');
    h.sink.push('{"b":"中文 🎉"}');
    expect(h.writes).toHaveLength(0);
    expect(h.timers).toHaveLength(1); // one timer per batch, not per line
    h.timers[0]!();
    expect(h.text()).toBe('{"a":"é"}\n{"b":"中文 🎉"}\n');
    h.sink.flush(); // nothing pending: nothing written
    expect(h.writes).toHaveLength(1);
  });

  test('a full batch goes out at once; every write is a copy the sink no longer touches', () => {
    const h = harness(64);
    const lines = Array.from({ length: 40 }, (_, i) => `{"line":${i},"pad":"${'x'.repeat(i % 7)}"}`);
    for (const l of lines) h.sink.push(l);
    expect(h.writes.length).toBeGreaterThan(3);
    const before = h.writes.map((w) => dec.decode(w));
    h.sink.flush();
    expect(h.writes.map((w) => dec.decode(w)).slice(0, before.length)).toEqual(before); // earlier writes unchanged
    expect(h.text()).toBe(lines.map((l) => `${l}\n`).join(''));
  });

  test('a line longer than the buffer goes out on its own, after what was waiting', () => {
    const h = harness(64);
    h.sink.push('first');
    const long = `{"error":"${'é'.repeat(300)}"}`;
    h.sink.push(long);
    h.sink.push('after');
    h.sink.flush();
    expect(h.text()).toBe(`first\n${long}\nafter\n`);
    expect(dec.decode(h.writes[1]!)).toBe(`${long}\n`);
  });

  test('flush() writes what is waiting at once (start-up and shutdown lines)', () => {
    const h = harness(1024);
    h.sink.push('stopped');
    h.sink.flush();
    expect(h.text()).toBe('stopped\n');
  });

  test('a write that never completes (stdout blocked: a hung log collector) holds at most maxPending bytes; the lines past it are dropped and counted, and said once writes complete again', () => {
    const pending: Array<{ bytes: Uint8Array; done: () => void }> = [];
    const sink = bufferedLineSink((bytes, done) => pending.push({ bytes, done }), () => {}, 20, 1024, 16 * 1024);
    const line = `{"msg":"request","pad":"${'x'.repeat(200)}"}`;
    for (let i = 0; i < 10_000; i++) sink.push(line); // ~2.2 MB of lines
    sink.flush();
    const held = () => pending.reduce((n, p) => n + p.bytes.length, 0);
    expect(held()).toBeLessThanOrEqual(16 * 1024);
    expect(held()).toBeGreaterThan(8 * 1024);
    // stdout takes them again: the next batch starts with a line that says how many were dropped
    const kept = pending.reduce((n, p) => n + dec.decode(p.bytes).split('\n').length - 1, 0);
    for (const p of pending.splice(0)) p.done();
    sink.push('{"msg":"after"}');
    sink.flush();
    const lines = pending.map((p) => dec.decode(p.bytes)).join('').split('\n').filter(Boolean);
    const notice = JSON.parse(lines[0]!);
    expect(notice).toMatchObject({ level: 'warn', msg: 'log lines dropped' });
    expect(notice.lines + kept).toBe(10_000);
    expect(lines.at(-1)).toBe('{"msg":"after"}');
  });
});
