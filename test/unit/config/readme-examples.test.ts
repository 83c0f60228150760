/**
 * README's config examples are part of the contract: every YAML/JSON block that looks like a config must validate
 * and build its channels, and every provider preset must have an example.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateConfig } from '../../../src/config/load.ts';
import { buildChannels } from '../../../src/runtime.ts';
import { PRESETS } from '../../../src/channels/openai/presets.ts';

const readme = readFileSync(resolve(import.meta.dir, '../../../README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(yaml|json)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));
const env = (x: unknown): unknown => JSON.parse(JSON.stringify(x).replace(/\$\{[A-Z_]+\}/g, 'test-value'));

describe('README config examples', () => {
  const configs = blocks.filter((b) => b.text.includes('channels'));
  test('there are examples', () => expect(configs.length).toBeGreaterThanOrEqual(3));
  for (const [i, b] of configs.entries()) {
    test(`example ${i + 1} (${b.lang}) validates`, () => {
      const raw = env(b.lang === 'yaml' ? Bun.YAML.parse(b.text.replace(/…/g, 'xxxxxxxx')) : JSON.parse(b.text.replace(/…/g, 'xxxxxxxx')));
      const cfg = validateConfig(raw);
      expect(buildChannels(cfg).length).toBe(cfg.channels.length);
    });
  }
  test('every provider preset has an example', () => {
    for (const p of Object.keys(PRESETS)) expect(readme).toContain(`provider: ${p}`);
  });
});
