/**
 * @module engine
 * Settings of Bun and its JavaScript engine that only the environment can give: they are read when the process
 * starts, before any JavaScript runs. Where the environment does not set one, Switchboard starts itself again with
 * it set (`execve`: the same process id, executable and arguments) before anything else of it loads: engine-start.ts,
 * main.ts's first import. A value the environment sets is kept, Bun's own default included, so an operator can put
 * either back (README "Running in production"). This module only computes; it has no side effects (tests import it).
 *
 * - `BUN_CONFIG_MAX_HTTP_REQUESTS`: upstream requests in flight at once per process. Bun's 256 queues the rest
 *   behind them: a shared gateway's 257th concurrent stream would wait for a free slot before its first token.
 * - `BUN_JSC_largeHeapSize`: the least the engine lets the heap grow between two young collections (8 MB in
 *   Bun 1.4.5, by `BUN_JSC_dumpOptions=2`). A streamed answer that arrives whole in one read allocates ~25 KB the floor never touches (the chunk
 *   fetch hands over, and the copy a Response makes of it): with 8 MB Switchboard collected every ~150 streams under
 *   100-chunk bursts, ~13 µs of pauses per stream. Interleaved A/B (bench/ab.ts, c=64, 6 rounds), 8 → 16 → 32 MB:
 *   bursts 112.7 → 99.9 → 96.5 µs of gateway CPU per stream (7,375 → 8,202 → 8,585 streams/s; pauses 13.1 → 5.9 →
 *   3.7 µs), small JSON 55.2 → 53.8 → 52.9 µs (within the noise: 46.1 → 46.8 in a rerun), peak RSS under bursts
 *   67 → 74 → 90 MB; a quieter rerun, 8 → 16 MB: bursts 84.8 → 76.5 µs, 0.72 → 0.80x the floor. 32 MB took a full
 *   bench run's peak past its 150 MB limit (167 MB, translated ~20 KB bursts); 16 MB stayed at 113-117 MB, with
 *   most of the gain.
 */

export const ENGINE_DEFAULTS: Readonly<Record<string, string>> = {
  BUN_CONFIG_MAX_HTTP_REQUESTS: '4096',
  BUN_JSC_largeHeapSize: String(16 * 1024 * 1024),
};

/**
 * Set in the environment of the process started again: it never starts again itself, even if something between
 * dropped a setting on the way (no loop of restarts).
 */
export const RESTARTED = 'SWITCHBOARD_ENGINE_RESTARTED';

/** The settings `env` lacks (with the restart marker to pass on), or null when it has them all or was restarted. */
export function missingEngineSettings(env: Record<string, string | undefined>): Record<string, string> | null {
  if (env[RESTARTED] !== undefined) return null;
  let missing: Record<string, string> | null = null;
  for (const [name, value] of Object.entries(ENGINE_DEFAULTS)) {
    if (env[name] === undefined || env[name] === '') (missing ??= {})[name] = value;
  }
  if (missing) missing[RESTARTED] = '1';
  return missing;
}

/**
 * The arguments to start this process again with: Bun's own flags and the script when run from source
 * (`bun --smol src/main.ts --port 8080`), only the user's arguments for a compiled binary, whose second argument is
 * its embedded entry point (`/$bunfs/root/…`, `B:/~BUN/root/…` on Windows).
 */
export function restartArgs(argv0: string, execArgv: string[], argv: string[]): string[] {
  const script = argv[1] ?? '';
  const compiled = script.startsWith('/$bunfs/') || script.startsWith('B:/~BUN/');
  return compiled ? [argv0, ...argv.slice(2)] : [argv0, ...execArgv, ...argv.slice(1)];
}
