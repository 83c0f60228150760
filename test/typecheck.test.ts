/**
 * The whole project type-checks (src, test, bench, scripts): a type error fails the suite like any other test.
 * Runs TypeScript's own compiler under the current Bun, so it needs no Node.
 */
import { expect, test } from 'bun:test';
import { resolve } from 'node:path';

test('tsc --noEmit is clean', async () => {
  const root = resolve(import.meta.dir, '..');
  const proc = Bun.spawn([process.execPath, 'node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], { cwd: root, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) console.error(out + err);
  expect(out + err).toBe('');
  expect(code).toBe(0);
}, 120_000);
