/**
 * README's config examples are part of the contract: every YAML/JSON block that looks like a config, copied as it is
 * into a file and loaded as `--config` loads it (loadConfig: the file read, `${VAR}` set, duplicate keys checked), must
 * start and build its channels, and every provider preset must have an example.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/load.ts';
import { buildChannels } from '../../../src/runtime.ts';
import { PRESETS } from '../../../src/channels/openai/presets.ts';
import type { Config } from '../../../src/config/schema.ts';

const readme = readFileSync(resolve(import.meta.dir, '../../../README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(yaml|json)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));
const dir = mkdtempSync(join(tmpdir(), 'readme-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads `text` as the file `switchboard --config` would read, each `${VAR}` it names set to a key-like value. */
function load(text: string, ext: string): Config {
  const env = Object.fromEntries([...text.matchAll(/\$\{([A-Za-z_]\w*)\}/g)].map((m) => [m[1]!, `value-of-${m[1]}`]));
  const path = join(dir, `config-${Bun.hash(text)}.${ext}`);
  writeFileSync(path, text);
  const cfg = loadConfig({ path, env });
  expect(buildChannels(cfg).length).toBe(cfg.channels.length);
  return cfg;
}

const problems = (f: () => unknown): string[] => {
  try { f(); } catch (e) { if (e instanceof ConfigError) return e.problems; throw e; }
  return [];
};

describe('README config examples', () => {
  const configs = blocks.filter((b) => b.text.includes('channels'));
  test('there are examples', () => expect(configs.length).toBeGreaterThanOrEqual(4));
  for (const [i, b] of configs.entries()) {
    test(`example ${i + 1} (${b.lang}) loads as written`, () => {
      expect(problems(() => load(b.text, b.lang))).toEqual([]);
    });
  }
  test('every provider preset has an example', () => {
    for (const p of Object.keys(PRESETS)) expect(readme).toContain(`provider: ${p}`);
  });
});
