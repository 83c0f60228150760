/**
 * @module test/e2e/claude-code-env
 * The environment a Claude Code user sets to reach the gateway, beside README's `ANTHROPIC_AUTH_TOKEN`: the real CLI
 * (`claude -p`) through an `openai` channel and an `anthropic` one.
 *
 * - `ANTHROPIC_API_KEY` as the gateway key (sent as `x-api-key`), which README says works as well;
 * - both set, `ANTHROPIC_API_KEY` still holding the user's own Anthropic key (from before the gateway, in a shell
 *   profile) and `ANTHROPIC_AUTH_TOKEN` the gateway key as README says: the CLI sends both headers;
 * - `ANTHROPIC_CUSTOM_HEADERS`: a header of the user's own goes with every request (relayed to an anthropic channel),
 *   and a gateway key set there as `Authorization: Bearer` works too.
 *
 * Skipped loudly if the CLI cannot run.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { startMockUpstream, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatTextStream, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-env-1';
const USERS_OWN_ANTHROPIC_KEY = 'sk-ant-api03-the-users-own-key-000000';
const CLI = claudeForFile('test/e2e/claude-code-env.test.ts');
const freshDir = tempDirs();

const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const anthropicText = (text: string) => [
  ev('message_start', { message: { id: 'msg_01Env', type: 'message', role: 'assistant', model: 'claude-haiku-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 20, output_tokens: 1 } } }),
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
  ev('content_block_stop', { index: 0 }),
  ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
  ev('message_stop', {}),
];

let openai: MockUpstream;
let anthropic: MockUpstream;
let gw: TestGateway;
beforeAll(() => {
  openai = startMockUpstream((r) => sse(chatTextStream('Through the openai channel.'), { signal: r.signal }));
  anthropic = startMockUpstream((r) => sse(anthropicText('Through the anthropic channel.'), { signal: r.signal }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [
      { name: 'oa', type: 'openai', base_url: `${openai.url}/v1`, api_key: 'sk-oa-up', models: { 'claude-sonnet-5-5': 'gpt-5' } },
      { name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-up', models: ['claude-haiku-5-5'] },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await openai?.stop();
  await anthropic?.stop();
});
beforeEach(() => { openai.requests.length = 0; anthropic.requests.length = 0; });

async function claude(model: string, env: Record<string, string | undefined>) {
  const run = await runClaude(['-p', 'hello', '--model', model], { baseUrl: gw.url, token: KEY, home: freshDir('sb-cce-home-'), cwd: freshDir('sb-cce-cwd-'), timeoutMs: 20_000, env });
  if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
  return run.stdout.trim();
}

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: the environment that points it at the gateway`, () => {
  test('ANTHROPIC_API_KEY as the gateway key, no ANTHROPIC_AUTH_TOKEN: served', async () => {
    expect(await claude('claude-sonnet-5-5', { ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_API_KEY: KEY })).toBe('Through the openai channel.');
    expect(gw.requestLogs().at(-1)).toMatchObject({ key: 'claude-code', status: 200 });
  }, 30_000);

  test('the user\'s own Anthropic key still in ANTHROPIC_API_KEY beside the gateway key in ANTHROPIC_AUTH_TOKEN: served, the Anthropic key goes nowhere', async () => {
    expect(await claude('claude-sonnet-5-5', { ANTHROPIC_API_KEY: USERS_OWN_ANTHROPIC_KEY })).toBe('Through the openai channel.');
    expect(await claude('claude-haiku-5-5', { ANTHROPIC_API_KEY: USERS_OWN_ANTHROPIC_KEY })).toBe('Through the anthropic channel.');
    for (const r of [...openai.requests, ...anthropic.requests]) {
      for (const [, v] of r.headers) { expect(v).not.toContain(USERS_OWN_ANTHROPIC_KEY); expect(v).not.toContain(KEY); }
    }
    expect(anthropic.requests[0]!.headers.get('x-api-key')).toBe('sk-ant-up');
  }, 30_000);

  test('ANTHROPIC_CUSTOM_HEADERS: the user\'s header is relayed to the anthropic channel; a gateway key set there as Authorization works', async () => {
    expect(await claude('claude-haiku-5-5', { ANTHROPIC_CUSTOM_HEADERS: 'X-Team: blue\nX-Trace-Id: t-42' })).toBe('Through the anthropic channel.');
    expect(anthropic.requests[0]!.headers.get('x-team')).toBe('blue');
    expect(anthropic.requests[0]!.headers.get('x-trace-id')).toBe('t-42');
    expect(await claude('claude-sonnet-5-5', { ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_CUSTOM_HEADERS: `Authorization: Bearer ${KEY}` })).toBe('Through the openai channel.');
    await until(() => gw.requestLogs().length >= 2, 3000);
    expect(gw.requestLogs().slice(-2).map((l: any) => l.status)).toEqual([200, 200]);
  }, 30_000);
});
