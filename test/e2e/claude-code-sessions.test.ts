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
import { chatChunk, chatText, chatTextStream, chatToolCallStream, chatUsageChunk, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

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

  test('three Reads in one answer, fragments interleaved: results back in one turn; stream-json usage with cached tokens apart', async () => {
    const cwd = freshDir('sb-ccs-cwd-');
    const files = ['a.txt', 'b.txt', 'c.txt'].map((n, i) => {
      const f = join(cwd, n);
      writeFileSync(f, `content-${i}\n`);
      return f;
    });
    const upstream = startMockUpstream((r) => {
      if (toolMessages(r).length > 0) {
        return sse([chatChunk({ role: 'assistant', content: 'All read.' }), chatChunk({}, { finish: 'stop' }), chatUsageChunk({ prompt_tokens: 1000, completion_tokens: 5, total_tokens: 1005, prompt_tokens_details: { cached_tokens: 800 } }), 'data: [DONE]\n\n'], { signal: r.signal });
      }
      const args = files.map((f) => JSON.stringify({ file_path: f }));
      const chunks = [chatChunk({ role: 'assistant', content: null })];
      files.forEach((_, i) => chunks.push(chatChunk({ tool_calls: [{ index: i, id: `call_r${i}`, type: 'function', function: { name: 'Read', arguments: '' } }] })));
      for (const [from, to] of [[0, 5], [5, 12], [12, undefined]] as const) files.forEach((_, i) => chunks.push(chatChunk({ tool_calls: [{ index: i, function: { arguments: args[i]!.slice(from, to) } }] })));
      chunks.push(chatChunk({}, { finish: 'tool_calls' }), chatUsageChunk({ prompt_tokens: 100, completion_tokens: 30, total_tokens: 130 }), 'data: [DONE]\n\n');
      return sse(chunks, { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const { result, lines } = await claude(gw, cwd, freshDir('sb-ccs-home-'), ['-p', 'Read a, b and c.', '--output-format', 'stream-json', '--verbose']);
      expect(result).toMatchObject({ type: 'result', subtype: 'success', result: 'All read.', stop_reason: 'end_turn' });
      // Claude Code counts an assistant message per content block: the three calls and the answer
      expect(result.num_turns).toBe(lines.filter((l) => l.type === 'assistant').length);
      // the two answers' usage, the cached part apart: 100 + 200 new input tokens, 800 read from cache
      expect(result.usage).toMatchObject({ input_tokens: 300, cache_read_input_tokens: 800, output_tokens: 35 });
      expect(result.total_cost_usd).toBeGreaterThan(0);
      const calls = lines.filter((l) => l.type === 'assistant').flatMap((l) => l.message.content).filter((b: any) => b.type === 'tool_use');
      expect(calls.map((b: any) => [b.id, b.input.file_path])).toEqual(files.map((f, i) => [`call_r${i}`, f]));
      await expectAllServed(gw, 2);
      expect(gw.requestLogs().map((l: any) => [l.stop_reason, l.input_tokens, l.cache_read_input_tokens, l.output_tokens, l.outcome]))
        .toEqual([['tool_use', 100, 0, 30, 'ok'], ['end_turn', 200, 800, 5, 'ok']]);
      // one assistant message with the three calls, then their three tool messages
      const second = upstream.requests[1]!.json;
      const ai = second.messages.findIndex((m: any) => m.tool_calls);
      expect(second.messages[ai].tool_calls.map((c: any) => [c.id, JSON.parse(c.function.arguments).file_path])).toEqual(files.map((f, i) => [`call_r${i}`, f]));
      // (in the order the CLI's reads finished)
      expect(second.messages.slice(ai + 1, ai + 4).map((m: any) => [m.role, m.tool_call_id, chatText(m).includes(`content-${m.tool_call_id.at(-1)}`)]).sort())
        .toEqual([0, 1, 2].map((i) => ['tool', `call_r${i}`, true]));
    });
  }, 30_000);

  test('a tool result that is an error (Read of a missing file): the provider is told it is an error', async () => {
    const cwd = freshDir('sb-ccs-cwd-');
    const upstream = startMockUpstream((r) => {
      if (toolMessages(r).length === 0) return sse(chatToolCallStream('call_missing_1', 'Read', { file_path: join(cwd, 'missing.txt') }), { signal: r.signal });
      return sse(chatTextStream('There is no such file.'), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const { result } = await claude(gw, cwd, freshDir('sb-ccs-home-'), ['-p', 'Read missing.txt', '--output-format', 'json']);
      expect(result.result).toBe('There is no such file.');
      await expectAllServed(gw, 2);
      const [tool] = toolMessages(upstream.requests[1]!);
      expect(tool.tool_call_id).toBe('call_missing_1');
      expect(chatText(tool)).toMatch(/^Error: .*does not exist/);
    });
  }, 30_000);

  test('DeepSeek reasoning before a tool call, then --resume: the reasoning goes back with its call in the resumed session', async () => {
    const cwd = freshDir('sb-ccs-cwd-');
    const home = freshDir('sb-ccs-home-');
    const file = join(cwd, 'n.txt');
    writeFileSync(file, 'forty-two\n');
    const upstream = startMockUpstream((r) => {
      if (toolMessages(r).length === 0) {
        const args = JSON.stringify({ file_path: file });
        return sse([
          chatChunk({ role: 'assistant', content: null, reasoning_content: '' }),
          ...['I should ', 'read the ', 'file (REASON-1).'].map((t) => chatChunk({ content: null, reasoning_content: t })),
          chatChunk({ tool_calls: [{ index: 0, id: 'call_00_ds1', type: 'function', function: { name: 'Read', arguments: '' } }] }),
          ...[args.slice(0, 3), args.slice(3, 9), args.slice(9)].map((a) => chatChunk({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
          chatChunk({}, { finish: 'tool_calls', usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, completion_tokens_details: { reasoning_tokens: 8 } } }),
          'data: [DONE]\n\n',
        ], { signal: r.signal });
      }
      const again = r.json.messages.filter((m: any) => m.role === 'user').map(chatText).join('\n').includes('again');
      return sse([
        chatChunk({ role: 'assistant', content: null, reasoning_content: 'Answer now.' }),
        chatChunk({ content: again ? 'Still forty-two.' : 'It says forty-two.' }),
        chatChunk({}, { finish: 'stop', usage: { prompt_tokens: 150, completion_tokens: 10, total_tokens: 160 } }),
        'data: [DONE]\n\n',
      ], { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const first = await claude(gw, cwd, home, ['-p', 'Read n.txt', '--output-format', 'json']);
      expect(first.result.result).toBe('It says forty-two.');
      const resumed = await claude(gw, cwd, home, ['-p', 'Read it again', '--output-format', 'json', '--resume', first.result.session_id]);
      expect(resumed.result.result).toBe('Still forty-two.');
      expect(resumed.result.session_id).toBe(first.result.session_id);
      await expectAllServed(gw, 3);
      // the resumed turn: the call with the reasoning that led to it, its result, the earlier answer
      const body = upstream.requests[2]!.json;
      const ai = body.messages.findIndex((m: any) => m.tool_calls);
      expect(body.messages[ai]).toMatchObject({ reasoning_content: 'I should read the file (REASON-1).', tool_calls: [{ id: 'call_00_ds1', function: { name: 'Read' } }] });
      expect(body.messages[ai + 1]).toMatchObject({ role: 'tool', tool_call_id: 'call_00_ds1' });
      expect(body.messages.find((m: any) => m.role === 'assistant' && m.content === 'It says forty-two.')).toBeDefined();
    }, 'deepseek', 'deepseek-reasoner');
  }, 30_000);
});
