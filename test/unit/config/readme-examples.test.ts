/**
 * README's config examples are part of the contract: every YAML/JSON block that looks like a config, copied as it is
 * into a file and loaded as `--config` loads it (loadConfig: the file read, `${VAR}` set, duplicate keys checked), must
 * start and build its channels; so must the inline snippets of the configuration tables, each placed where it goes;
 * and every provider preset must have an example.
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

/** An anthropic channel and an openai one, for a snippet to be placed in. */
const anthropic = (extra: string) => `channels:\n  - { name: a, type: anthropic, base_url: "https://proxy.example", models: [claude-sonnet-4-5], ${extra} }\n`;
const openai = (extra: string, models = '[m]') => `channels:\n  - { name: o, type: openai, base_url: "http://127.0.0.1:8000/v1", models: ${models}, ${extra} }\n`;
const keys = 'keys: [{ key: "${TEAM_A_KEY}", name: team-a }]\n';

describe("README's inline config snippets", () => {
  // [the snippet as README writes it, a config holding it, what loading it gives: the loaded config checked, or the problem]
  const cases: [string, string, ((cfg: Config) => void) | RegExp][] = [
    ['headers: { authorization: "Bearer ${KEY}" }', anthropic('headers: { authorization: "Bearer ${KEY}" }'),
      (c) => expect(c.channels[0]!.headers).toEqual({ authorization: 'Bearer value-of-KEY' })],
    ['`anthropic-beta: null`', anthropic('headers: { anthropic-beta: null }'), (c) => expect(c.channels[0]!.headers).toEqual({ 'anthropic-beta': null })],
    ['`{"claude-*": "deepseek-flash"}`', openai('', '{"claude-*": "deepseek-flash"}'), (c) => expect(c.channels[0]!.models).toEqual({ 'claude-*': 'deepseek-flash' })],
    ['mapped to another pattern: a start-up error', openai('', '{"claude-*": "anthropic/claude-*"}'), /models\.claude-\*: "anthropic\/claude-\*" is a pattern/],
    ['`claude-*` is a start-up error: list each model', `keys: [{ key: "sk-team-a-0001", name: a, models: [claude-*] }]\n${openai('', '[claude-*]')}`, /keys\[0\]\.models\[0\]: "claude-\*" is a pattern/],
    ['`server.cors_origins: ["*"]`', `${keys}server: { cors_origins: ["*"] }\n${openai('')}`, (c) => expect(c.server.cors_origins).toEqual(['*'])],
    ['`"*"` or any other is a start-up error', `server: { cors_origins: ["*"] }\n${openai('')}`, /server\.cors_origins\[0\]: every origin \("\*"\) needs keys/],
    ['(`http://localhost:5173`, `http://127.0.0.1:3000`)', `server: { cors_origins: ["http://localhost:5173", "http://127.0.0.1:3000"] }\n${openai('')}`, (c) => expect(c.server.cors_origins).toHaveLength(2)],
    ['`port: ${PORT}` with `PORT=9000` is 9000', `server: { port: "9000", drain_timeout_ms: " 500 " }\n${openai('weight: "2"')}`,
      (c) => expect([c.server.port, c.server.drain_timeout_ms, c.channels[0]!.weight]).toEqual([9000, 500, 2])],
    ['`server.log_level: warn`', `server: { log_level: warn }\n${openai('')}`, (c) => expect(c.server.log_level).toBe('warn')],
    ['`0` leaves Bun\'s 512', `server: { listen_backlog: 0 }\n${openai('')}`, (c) => expect(c.server.listen_backlog).toBe(0)],
    ['(`0`: only after the others;', openai('weight: 0'), (c) => expect(c.channels[0]!.weight).toBe(0)],
    ['upstream model (or `*`) → `adaptive`, `budget` or `none`', anthropic('thinking: { "*": adaptive, claude-3-7-sonnet: budget, claude-3-5-haiku: none }'), (c) => expect(c.channels[0]!.thinking?.['*']).toBe('adaptive')],
    ['`model`, `messages`, `stream`, and `max_tokens` on anthropic channels', anthropic('drop_fields: [model]'), /drop_fields\[0\]: "model" cannot be dropped/],
    ['set `quirks.fixed_sampling_models` (and for a non-reasoning one `quirks.reasoning: none`)',
      openai('provider: azure, quirks: { fixed_sampling_models: [my-o4-deployment], reasoning: none }'), (c) => expect(c.channels[0]!.quirks?.reasoning).toBe('none')],
    ['`https://RES.openai.azure.com/openai/deployments/{model}`', 'channels:\n  - { name: az, type: openai, provider: azure, base_url: "https://RES.openai.azure.com/openai/deployments/{model}", models: [m] }\n', (c) => expect(c.channels[0]!.base_url).toContain('{model}')],
    ['pattern (`gpt-4.1*`) or `*` → ceiling', openai('quirks: { max_output_tokens: { "gpt-4.1*": 32768, "*": 16384 } }'), (c) => expect(c.channels[0]!.quirks?.max_output_tokens?.['*']).toBe(16384)],
    ['(`quirks.user_max_length: 0`)', openai('quirks: { user_max_length: 0 }'), (c) => expect(c.channels[0]!.quirks?.user_max_length).toBe(0)],
    ['(DeepSeek, `quirks.json_schema: false`)', openai('quirks: { json_schema: false }'), (c) => expect(c.channels[0]!.quirks?.json_schema).toBe(false)],
    ['(`user_after_tool: fold`)', openai('quirks: { user_after_tool: fold, tool_call_id: alnum9, assistant_prefix: true }'), (c) => expect(c.channels[0]!.quirks?.user_after_tool).toBe('fold')],
    ['(`reasoning_details: keep`;', openai('provider: openrouter, quirks: { reasoning_details: keep }'), (c) => expect(c.channels[0]!.quirks?.reasoning_details).toBe('keep')],
    ['(`thought_signatures: keep`;', openai('provider: gemini, quirks: { thought_signatures: keep }'), (c) => expect(c.channels[0]!.quirks?.thought_signatures).toBe('keep')],
  ];
  test.each(cases)('%s', (snippet, yaml, want) => {
    expect(readme).toContain(snippet);
    if (want instanceof RegExp) {
      const got = problems(() => load(yaml, 'yaml'));
      expect(got.some((p) => want.test(p))).toBe(true);
    } else {
      want(load(yaml, 'yaml'));
    }
  });
});
