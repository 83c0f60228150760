import { describe, expect, test } from 'bun:test';
import { orderRoutes } from '../../../src/routing/balance.ts';
import { isChannelFailureStatus, isRetryableStatus, retryAfterMs } from '../../../src/routing/fallback.ts';
import { CircuitBreaker } from '../../../src/routing/circuit.ts';
import { RoutingTable, type Route } from '../../../src/routing/table.ts';
import type { Channel } from '../../../src/channels/types.ts';

const ch = (name: string, models: unknown, priority = 0, weight = 1) =>
  ({ name, config: { name, models, priority, weight } } as unknown as Channel);
const route = (name: string, priority: number, weight: number): Route => ({ channel: ch(name, [], priority, weight), upstreamModel: 'm', priority, weight });

describe('RoutingTable', () => {
  const t = new RoutingTable([ch('a', ['m1', 'claude-*']), ch('b', { m1: 'up-m1', alias: 'real' }), ch('c', ['*-mini'])]);
  test('exact names, both list and map', () => {
    expect(t.routes('m1').map((r) => [r.channel.name, r.upstreamModel])).toEqual([['a', 'm1'], ['b', 'up-m1']]);
    expect(t.routes('alias').map((r) => r.upstreamModel)).toEqual(['real']);
  });
  test('patterns send the requested name upstream', () => {
    expect(t.routes('claude-opus-5-5').map((r) => [r.channel.name, r.upstreamModel])).toEqual([['a', 'claude-opus-5-5']]);
    expect(t.routes('gpt-4o-mini').map((r) => r.channel.name)).toEqual(['c']);
    expect(t.routes('unknown')).toEqual([]);
  });
  test('a pattern mapped to one upstream name sends that name; mapped to itself, the requested one', () => {
    const t2 = new RoutingTable([ch('d', { 'claude-*': 'deepseek-chat' }), ch('e', { 'gpt-*': 'gpt-*' })]);
    expect(t2.routes('claude-sonnet-4-5').map((r) => r.upstreamModel)).toEqual(['deepseek-chat']);
    expect(t2.routes('gpt-4o').map((r) => r.upstreamModel)).toEqual(['gpt-4o']);
  });
  test('a channel is one candidate, however many of its names match', () => {
    const t2 = new RoutingTable([ch('a', ['claude-*', '*-sonnet-*', 'm', 'm']), ch('b', ['claude-*'])]);
    expect(t2.routes('claude-sonnet-4-5').map((r) => r.channel.name)).toEqual(['a', 'b']);
    expect(t2.routes('m').map((r) => r.channel.name)).toEqual(['a']);
  });
  test('a channel whose patterns map to two upstream names sends the longest matching one\'s, whatever their order', () => {
    // "everything to deepseek-chat, opus to deepseek-reasoner": written general-first, opus went to deepseek-chat
    for (const models of [{ 'claude-*': 'deepseek-chat', 'claude-opus-*': 'deepseek-reasoner' }, { 'claude-opus-*': 'deepseek-reasoner', 'claude-*': 'deepseek-chat' }]) {
      const t2 = new RoutingTable([ch('a', models), ch('b', ['claude-*'])]);
      expect(t2.routes('claude-opus-4-1').map((r) => [r.channel.name, r.upstreamModel])).toEqual([['a', 'deepseek-reasoner'], ['b', 'claude-opus-4-1']]);
      expect(t2.routes('claude-sonnet-4-5').map((r) => [r.channel.name, r.upstreamModel])).toEqual([['a', 'deepseek-chat'], ['b', 'claude-sonnet-4-5']]);
    }
  });
  test('a pattern with two stars', () => {
    const t2 = new RoutingTable([ch('z', ['claude-*-5-*'])]);
    expect(t2.routes('claude-opus-5-5').length).toBe(1);
    expect(t2.routes('claude-opus-4-5').length).toBe(0);
  });
  test('exposed models exclude patterns', () => {
    expect(t.exposedModels().map((m) => m.id).sort()).toEqual(['alias', 'm1']);
  });
});

describe('orderRoutes', () => {
  test('higher priority first', () => {
    const out = orderRoutes([route('low', 0, 1), route('high', 10, 1), route('mid', 5, 1)]);
    expect(out.map((r) => r.channel.name)).toEqual(['high', 'mid', 'low']);
  });
  test('weights decide the first pick in proportion', () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const counts: Record<string, number> = { a: 0, b: 0, z: 0 };
    for (let i = 0; i < 4000; i++) counts[orderRoutes([route('a', 0, 3), route('b', 0, 1), route('z', 0, 0)], rand)[0]!.channel.name]!++;
    expect(counts.z).toBe(0);
    expect(counts.a! / counts.b!).toBeGreaterThan(2.4);
    expect(counts.a! / counts.b!).toBeLessThan(3.6);
  });
  test('every candidate appears once', () => {
    const out = orderRoutes([route('a', 0, 1), route('b', 0, 0), route('c', 1, 2)]);
    expect(out.map((r) => r.channel.name).sort()).toEqual(['a', 'b', 'c']);
    expect(out.at(-1)!.channel.name).toBe('b');
  });
});

describe('fallback rules', () => {
  test.each([[400, false], [401, true], [402, true], [403, true], [404, true], [413, false], [408, true], [429, true], [500, true], [502, true], [503, true], [529, true]])('status %d retryable=%p', (s, r) => {
    expect(isRetryableStatus(s)).toBe(r);
  });
  test.each([[404, false], [401, true], [429, true], [503, true], [400, false]])('status %d counts against the circuit=%p', (s, r) => {
    expect(isChannelFailureStatus(s)).toBe(r);
  });
  test('retry-after forms', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150' }))).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 7_000)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeNull();
    expect(retryAfterMs(new Headers())).toBeNull();
  });
});

describe('CircuitBreaker', () => {
  test('opens after N failures, half-opens after the cool-down, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker(3, 1000, () => now);
    b.failure('x'); b.failure('x');
    expect(b.isOpen('x')).toBe(false);
    b.failure('x');
    expect(b.isOpen('x')).toBe(true);
    now = 999;
    expect(b.isOpen('x')).toBe(true);
    now = 1000;
    expect(b.isOpen('x')).toBe(false); // half-open
    b.failure('x');
    expect(b.isOpen('x')).toBe(true); // one failure re-opens
    now = 2500;
    expect(b.isOpen('x')).toBe(false);
    b.success('x');
    b.failure('x');
    expect(b.isOpen('x')).toBe(false);
  });

  test('half-open lets one probe through, claimed as its attempt starts: the others skip the channel until it reports, or until a lost probe\'s wait is over', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 1000, () => now);
    b.failure('x');
    expect([b.isOpen('x'), b.admit('x')]).toEqual([true, false]);
    now = 1000;
    expect([b.isOpen('x'), b.isOpen('x')]).toEqual([false, false]); // listing candidates claims nothing
    expect([b.admit('x'), b.admit('x'), b.isOpen('x')]).toEqual([true, false, true]); // the first attempt probes
    expect(b.snapshot().x!.open).toBe(true);
    b.success('x');
    expect([b.admit('x'), b.admit('x'), b.isOpen('x')]).toEqual([true, true, false]); // closed: everyone
    b.failure('x');
    now = 2000;
    expect(b.admit('x')).toBe(true); // a probe that never reports (its request cancelled) ...
    now = 2999;
    expect(b.admit('x')).toBe(false);
    now = 3000;
    expect([b.admit('x'), b.admit('x')]).toEqual([true, false]); // ... gives way to another after the cool-down
    b.failure('x');
    expect([b.isOpen('x'), b.admit('x')]).toEqual([true, false]); // the probe failed: open again
  });

  test('a probe withdrawn (its request refused before it was sent) goes to the next attempt at once; a closed channel stays closed', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 1000, () => now);
    b.failure('x');
    now = 1500;
    expect(b.admit('x')).toBe(true);
    b.withdraw('x');
    expect(b.snapshot().x!.open).toBe(false);
    expect([b.isOpen('x'), b.admit('x'), b.admit('x')]).toEqual([false, true, false]); // one probe again, not everyone
    b.failure('x');
    expect(b.isOpen('x')).toBe(true);
    b.success('x');
    b.withdraw('x');
    expect([b.admit('x'), b.admit('x')]).toEqual([true, true]);
  });
});
