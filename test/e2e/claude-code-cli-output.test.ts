/**
 * @module test/e2e/claude-code-cli-output
 * What a Claude Code user sees of a translated answer and its tools, with the real CLI (`claude -p`) through an
 * `openai` channel whose mock answers from the request it gets:
 *
 * - `--output-format stream-json --verbose --include-partial-messages`: the `stream_event` lines the CLI prints are
 *   the gateway's translated stream: thinking, text and tool_use blocks with their deltas, in order, the final usage in
 *   `message_delta`, and the result's usage summed over the turns, cached tokens apart;
 * - Bash: an output of 100 KB (the CLI keeps it in a file and sends a preview), bytes that are not UTF-8 (the CLI
 *   sends U+FFFD), a command that fails (an `is_error` result, told to the provider as an error), and a command that
 *   `--permission-mode default` does not let `-p` run (the refusal goes back as the result, the loop goes on);
 * - a sub-agent on a model name the config does not map (`Agent` with `model: "haiku"`, only claude-sonnet-5-5
 *   served): its 404 does not break the main turn.
 *
 * TodoWrite cannot be driven here: 2.1.332 in `-p` does not offer it ("No such tool available: TodoWrite. TodoWrite is
 * disabled for this session"). Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatChunk, chatText, chatTextStream, chatToolCallStream, chatUsageChunk, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-cli-output-1';
const CLI = claudeForFile('test/e2e/claude-code-cli-output.test.ts');
const freshDir = tempDirs();

async function withGateway(upstream: MockUpstream, fn: (gw: TestGateway) => Promise<void>) {
  const gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [{ name: 'up', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up-cli-output', models: { 'claude-sonnet-5-5': 'gpt-mock' } }],
  });
  try { await fn(gw); } finally {
    await gw.stop();
    await upstream.stop();
  }
}

async function claude(gw: TestGateway, cwd: string, args: string[], env: Record<string, string | undefined> = {}) {
  const run = await runClaude(['-p', ...args, '--model', 'claude-sonnet-5-5'], { baseUrl: gw.url, token: KEY, home: freshDir('sb-cco-home-'), cwd, timeoutMs: 20_000, env });
  if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.at(-1).is_error, describeRun(run)).toBe(false);
  return lines;
}

const toolMessages = (r: RecordedRequest): any[] => (r.json?.messages ?? []).filter((m: any) => m.role === 'tool');

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: what the CLI shows of translated answers and tools`, () => {
  test('--include-partial-messages: thinking, text and tool_use deltas in order, the final usage, the result\'s sums', async () => {
    const cwd = freshDir('sb-cco-cwd-');
    const file = join(cwd, 'n.txt');
    writeFileSync(file, 'x\n');
    const args = JSON.stringify({ file_path: file });
    const upstream = startMockUpstream((r) => sse(toolMessages(r).length
      ? [chatChunk({ role: 'assistant', content: null, reasoning_content: 'Think ' }), chatChunk({ reasoning_content: 'more.' }), chatChunk({ content: 'Done ' }), chatChunk({ content: 'now.' }), chatChunk({}, { finish: 'stop' }),
        chatUsageChunk({ prompt_tokens: 1000, completion_tokens: 7, total_tokens: 1007, prompt_tokens_details: { cached_tokens: 600 } }), 'data: [DONE]\n\n']
      : [chatChunk({ role: 'assistant', content: null, reasoning_content: 'Plan.' }), chatChunk({ content: 'Reading.' }),
        chatChunk({ tool_calls: [{ index: 0, id: 'call_p1', type: 'function', function: { name: 'Read', arguments: args.slice(0, 9) } }] }),
        chatChunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(9) } }] }), chatChunk({}, { finish: 'tool_calls' }),
        chatUsageChunk({ prompt_tokens: 500, completion_tokens: 20, total_tokens: 520 }), 'data: [DONE]\n\n'], { signal: r.signal }));
    await withGateway(upstream, async (gw) => {
      const lines = await claude(gw, cwd, ['Read n.txt', '--output-format', 'stream-json', '--verbose', '--include-partial-messages']);
      const events = lines.filter((l) => l.type === 'stream_event').map((l) => l.event);
      const turns: any[][] = [];
      for (const e of events) { if (e.type === 'message_start') turns.push([]); turns.at(-1)!.push(e); }
      expect(turns).toHaveLength(2);
      const shape = (t: any[]) => t.map((e) => e.type === 'content_block_start' ? `start:${e.content_block.type}` : e.type === 'content_block_delta' ? e.delta.type : e.type);
      expect(shape(turns[0]!)).toEqual(['message_start', 'start:thinking', 'thinking_delta', 'signature_delta', 'content_block_stop', 'start:text', 'text_delta', 'content_block_stop',
        'start:tool_use', 'input_json_delta', 'input_json_delta', 'content_block_stop', 'message_delta', 'message_stop']);
      expect(shape(turns[1]!)).toEqual(['message_start', 'start:thinking', 'thinking_delta', 'thinking_delta', 'signature_delta', 'content_block_stop', 'start:text', 'text_delta', 'text_delta', 'content_block_stop', 'message_delta', 'message_stop']);
      // the blocks' indexes count up, the tool_use names the client's tool and the provider's id, its JSON whole
      expect(turns[0]!.filter((e) => e.type === 'content_block_start').map((e) => e.index)).toEqual([0, 1, 2]);
      expect(turns[0]!.find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use').content_block).toEqual({ type: 'tool_use', id: 'call_p1', name: 'Read', input: {} });
      expect(turns[0]!.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json).join('')).toBe(args);
      expect(turns[1]!.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('')).toBe('Think more.');
      // message_start: an input estimate and 1 output token, never zeros; message_delta: the provider's counts
      for (const t of turns) expect(t[0].message.usage.input_tokens).toBeGreaterThan(0);
      expect(turns[0]!.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 500, output_tokens: 20, cache_read_input_tokens: 0 } });
      expect(turns[1]!.at(-2)).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 400, output_tokens: 7, cache_read_input_tokens: 600 } });
      expect(lines.at(-1)).toMatchObject({ type: 'result', result: 'Done now.', usage: { input_tokens: 900, cache_read_input_tokens: 600, cache_creation_input_tokens: 0, output_tokens: 27 } });
      await until(() => gw.requestLogs().length >= 2, 3000);
      expect(gw.requestLogs().map((l: any) => [l.input_tokens, l.cache_read_input_tokens, l.output_tokens])).toEqual([[500, 0, 20], [400, 600, 7]]);
    });
  }, 30_000);

  test('Bash: 100 KB of output, bytes that are not UTF-8, a failing command, a command -p may not run: each result goes back, the loop ends', async () => {
    const cwd = freshDir('sb-cco-cwd-');
    writeFileSync(join(cwd, 'big.txt'), 'a'.repeat(100_000));
    const commands = ['cat big.txt', "printf 'caf\\xe9 \\xff ok\\n'", 'ls missing.txt', 'echo hi > made.txt'];
    const upstream = startMockUpstream((r) => {
      const n = toolMessages(r).length;
      return sse(n < commands.length ? chatToolCallStream(`call_b${n}`, 'Bash', { command: commands[n], description: `step ${n}` }) : chatTextStream('All ran.'), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const lines = await claude(gw, cwd, ['Run them.', '--output-format', 'json', '--permission-mode', 'default', '--allowedTools', 'Bash(cat:*)', 'Bash(printf:*)', 'Bash(ls:*)']);
      expect(lines.at(-1)).toMatchObject({ result: 'All ran.', num_turns: commands.length + 1 });
      await until(() => gw.requestLogs().length >= commands.length + 1, 3000);
      expect(gw.requestLogs().map((l: any) => l.status)).toEqual(Array(commands.length + 1).fill(200));
      const results = toolMessages(upstream.requests.at(-1)!);
      expect(results.map((m) => m.tool_call_id)).toEqual(commands.map((_, i) => `call_b${i}`));
      const [long, bytes, failed, denied] = results.map(chatText);
      expect(long).toContain('Output too large');
      expect(long).toContain('a'.repeat(1000));
      expect(long.length).toBeLessThan(10_000);
      expect(bytes).toContain('caf\uFFFD \uFFFD ok');
      expect(failed).toMatch(/^Error: /);
      expect(failed).toContain('Exit code 2');
      expect(denied).toMatch(/^Error: .*needs approval/s);
      expect(existsSync(join(cwd, 'made.txt'))).toBe(false);
    });
  }, 30_000);

  test('a sub-agent on a model name no channel serves (Agent with model haiku): its 404 does not break the main turn', async () => {
    const cwd = freshDir('sb-cco-cwd-');
    const upstream = startMockUpstream((r) => {
      const main = JSON.stringify(r.json.messages).includes('Explore the repo');
      if (main && toolMessages(r).length === 0) return sse(chatToolCallStream('call_ag1', 'Agent', { description: 'explore', prompt: 'Look around.', subagent_type: 'general-purpose', model: 'haiku' }), { signal: r.signal });
      return sse(chatTextStream('Main done.'), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const lines = await claude(gw, cwd, ['Explore the repo', '--output-format', 'json']);
      expect(lines.at(-1).result).toBe('Main done.');
      await until(() => gw.requestLogs().some((l: any) => l.model === 'claude-haiku-5-5'), 3000);
      const haiku = gw.requestLogs().filter((l: any) => l.model === 'claude-haiku-5-5');
      expect(haiku.every((l: any) => l.status === 404)).toBe(true);
      expect(gw.requestLogs().filter((l: any) => l.model === 'claude-sonnet-5-5').every((l: any) => l.status === 200)).toBe(true);
    });
  }, 30_000);
});
