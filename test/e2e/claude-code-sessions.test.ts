/**
 * @module test/e2e/claude-code-sessions
 * Agent sessions of the real Claude Code CLI (`claude -p`) through an `openai` channel that the other CLI tests do not
 * drive, against a mock Chat Completions upstream that picks its next answer from the request it gets:
 *
 * - a provider that numbers its tool calls per answer (`call_0` on every turn: grok, Kimi on Fireworks `Read:0`):
 *   Claude Code keys a call's result by its id, and an id already in its history makes it drop the new call
 *   ("[Tool use interrupted]") and ask again, for ever. The gateway must give such a call a fresh id.
 * - three Read calls in one answer, their argument fragments interleaved across chunks, the results back in one turn;
 *   Claude Code's own `usage` (cached tokens apart) in `--output-format stream-json`.
 * - a tool result that is an error (`is_error`): the provider is told so in the tool message.
 * - DeepSeek reasoning before a tool call, then `--resume` of the session: the reasoning goes back with its call.
 *
 * Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatText, chatTextStream, chatToolCallStream, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-sessions-1';
const CLI = claudeForFile('test/e2e/claude-code-sessions.test.ts');
const freshDir = tempDirs();

async function withGateway(upstream: MockUpstream, fn: (gw: TestGateway) => Promise<void>, provider = 'openai', model = 'gpt-5') {
  const gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [{ name: 'up', type: 'openai', provider, base_url: `${upstream.url}/v1`, api_key: 'sk-upstream-sessions', models: { 'claude-sonnet-5-5': model } }],
  });
  try { await fn(gw); } finally {
    await gw.stop();
    await upstream.stop();
  }
}

/** `claude -p` with `args`; the parsed last line of its stdout (the result, in json and stream-json alike). */
async function claude(gw: TestGateway, cwd: string, home: string, args: string[]) {
  const run = await runClaude(['--model', 'claude-sonnet-5-5', ...args], { baseUrl: gw.url, token: KEY, home, cwd, timeoutMs: 15_000 });
  if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
  const lines = run.stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!);
  expect(result.is_error, describeRun(run)).toBe(false);
  return { result, lines: lines.map((l) => JSON.parse(l)) };
}

/** Every request the CLI made was served: n log lines, all 200. */
async function expectAllServed(gw: TestGateway, n: number) {
  await until(() => gw.requestLogs().length >= n, 3000);
  expect(gw.requestLogs().map((l: any) => l.status)).toEqual(Array(n).fill(200));
}

const toolMessages = (r: RecordedRequest): any[] => (r.json?.messages ?? []).filter((m: any) => m.role === 'tool');
const callIds = (body: any): string[] => body.messages.flatMap((m: any) => (m.tool_calls ?? []).map((c: any) => c.id));

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: agent sessions through an openai channel`, () => {
  test('a provider that names every answer\'s first call call_0: each call runs once, the loop ends', async () => {
    const cwd = freshDir('sb-ccs-cwd-');
    const files = ['a.txt', 'b.txt'].map((n, i) => {
      const f = join(cwd, n);
      writeFileSync(f, `content-${i}\n`);
      return f;
    });
    const answer = 'Both read.';
    const upstream = startMockUpstream((r) => {
      const n = toolMessages(r).length;
      if (n < files.length) return sse(chatToolCallStream('call_0', 'Read', { file_path: files[n] }), { signal: r.signal });
      return sse(chatTextStream(answer), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const { result } = await claude(gw, cwd, freshDir('sb-ccs-home-'), ['-p', 'Read a.txt, then b.txt.', '--output-format', 'json']);
      expect(result.result).toBe(answer);
      expect(result.num_turns).toBe(3);
      await expectAllServed(gw, 3);
      expect(upstream.requests.length).toBe(3);
      // the last turn: both calls, with different ids, each answered by its own file
      const last = upstream.requests[2]!.json;
      const ids = callIds(last);
      expect(ids.length).toBe(2);
      expect(ids[0]).toBe('call_0');
      expect(new Set(ids).size).toBe(2);
      const tools = toolMessages(upstream.requests[2]!);
      expect(tools.map((m) => m.tool_call_id)).toEqual(ids);
      expect(tools.map(chatText)).toEqual([expect.stringContaining('content-0'), expect.stringContaining('content-1')]);
    });
  }, 30_000);
});
