/**
 * @module test/helpers/until
 * Polling instead of a fixed sleep: a test that waits for something to have happened holds on a loaded machine.
 * Its own module so unit tests can poll without importing the whole app (test/helpers/gateway.ts re-exports it).
 */

/** Wait until `cond()` holds (for log lines written at stream end), up to `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await Bun.sleep(5);
  }
}
