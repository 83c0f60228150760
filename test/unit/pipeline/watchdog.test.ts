/**
 * The watchdog's registry: watches added and removed in any order, each fired at most once, by deadline or by its
 * client going away, also when a `fire` removes other watches in the middle of a tick.
 */
import { afterEach, expect, test } from 'bun:test';
import { TICK_MS, unwatch, watch, watching, type Watch } from '../../../src/pipeline/watchdog.ts';
import { until } from '../../helpers/until.ts';

const never = new AbortController().signal;

function tracked(deadline: number, client: AbortSignal = never, onFire?: () => void) {
  const fired: string[] = [];
  const w: Watch = { deadline, client, slot: -1, fire: (why) => { fired.push(why); onFire?.(); } };
  return { w, fired };
}

/** Only where nothing may fire (a late tick makes that check weaker, never failing): a fire is waited for with until(). */
const ticks = (n: number) => Bun.sleep(TICK_MS * n + 20);

afterEach(() => expect(watching()).toBe(0));

test('removed in any order: the count follows, removed watches never fire, the others fire once', async () => {
  const now = performance.now();
  const all = Array.from({ length: 40 }, (_, i) => tracked(now + (i % 2 ? 1e9 : 0)));
  for (const { w } of all) watch(w);
  expect(watching()).toBe(40);
  // remove every third, from the middle outwards, including the last and the first
  const removed = new Set<number>([0, 39, 20, 21, 5, 33, 12, 13, 14]);
  for (const i of removed) unwatch(all[i]!.w);
  expect(watching()).toBe(40 - removed.size);
  unwatch(all[0]!.w); // twice: nothing
  watch(all[1]!.w); // already watched: counted once
  expect(watching()).toBe(40 - removed.size);
  // the due ones fire in one tick, the removed ones would have in the same: wait for it, however late it runs
  await until(() => all.every(({ fired }, i) => removed.has(i) || i % 2 === 1 || fired.length > 0));
  all.forEach(({ w, fired }, i) => {
    if (removed.has(i) || i % 2) expect(fired).toEqual([]);
    else expect(fired).toEqual(['timeout']);
    expect(w.slot === -1).toBe(removed.has(i) || i % 2 === 0);
  });
  for (const { w } of all) unwatch(w);
});

test('a fire that removes other watches mid-tick: those it removed never fire, every other due watch fires once', async () => {
  const now = performance.now();
  const others = Array.from({ length: 10 }, () => tracked(now));
  const late = tracked(now + 1e9);
  // watched last, so looked at first (the tick goes from the end): its fire removes five due watches the tick has
  // not reached yet, and the one not due
  const remover = tracked(now, never, () => { for (const o of others.slice(0, 5)) unwatch(o.w); unwatch(late.w); });
  for (const o of others) watch(o.w);
  watch(late.w);
  watch(remover.w);
  await until(() => remover.fired.length > 0 && others.slice(5).every((o) => o.fired.length > 0));
  expect(remover.fired).toEqual(['timeout']);
  for (const o of others.slice(0, 5)) expect(o.fired).toEqual([]);
  for (const o of others.slice(5)) expect(o.fired).toEqual(['timeout']);
  expect(late.fired).toEqual([]);
  expect(watching()).toBe(0);
});

test('a client that goes away fires "client"; a watch can be watched again once removed', async () => {
  const ctl = new AbortController();
  const t = tracked(Infinity, ctl.signal);
  watch(t.w);
  await ticks(1);
  expect(t.fired).toEqual([]);
  ctl.abort();
  await until(() => t.fired.length > 0);
  expect(t.fired).toEqual(['client']);
  // re-armed after it fired: fires again (callers never do this, but the registry must stay consistent)
  t.w.deadline = performance.now();
  const other = tracked(Infinity);
  watch(other.w);
  watch(t.w);
  expect(watching()).toBe(2);
  await until(() => t.fired.length > 1);
  expect(t.fired).toEqual(['client', 'client']);
  unwatch(other.w);
});
