/**
 * The real Claude Code CLI (`claude -p`) against a mock Chat Completions upstream that answers in shapes OpenAI's own
 * API does not (test/e2e/chat-answer-shapes.test.ts has each with the SDK): parallel tool calls whose deltas carry no
 * `index` and no ids, the function named on each fragment of a call (older Ollama, ollama/ollama#7881; GLM behind
 * router-for-me/CLIProxyAPI#5058), and the second call's arguments sent as a JSON object, not its text (llama.cpp's
 * server, ggml-org/llama.cpp#20198), the stream starting with a byte order mark. The CLI must run both calls: its next
 * request carries two tool results, each the file its call named. Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse } from '../helpers/upstream.ts';
import { startGateway, until } from '../helpers/gateway.ts';
import { chatChunk, chatText, chatTextStream, chatUsageChunk, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-shapes-1';
const CLI = claudeForFile('test/e2e/claude-code-answer-shapes.test.ts');
const freshDir = tempDirs();

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: answer shapes of OpenAI-compatible servers`, () => {
  test('two Read calls streamed without index or ids, one with object arguments: both run, each its own file', async () => {
    const cwd = freshDir('sb-ccs-cwd-');
    const a = join(cwd, 'a.txt');
    const b = join(cwd, 'b.txt');
    writeFileSync(a, 'ALPHA-CONTENT\n');
    writeFileSync(b, 'BRAVO-CONTENT\n');
    const half = JSON.stringify({ file_path: a });
    const upstream = startMockUpstream((r) => {
      const tools = (r.json?.messages ?? []).filter((m: any) => m.role === 'tool');
      if (tools.length > 0) return sse(chatTextStream('Both read.'), { signal: r.signal });
      return sse([
        '\uFEFF' + chatChunk({ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'Read', arguments: half.slice(0, 10) } }] }),
        chatChunk({ tool_calls: [{ type: 'function', function: { name: 'Read', arguments: half.slice(10) } }] }),
        chatChunk({ tool_calls: [{ type: 'function', function: { name: 'Read', arguments: { file_path: b } } }] }),
        chatChunk({}, { finish: 'tool_calls' }),
        chatUsageChunk({ prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 }),
        'data: [DONE]\n\n',
      ], { signal: r.signal });
    });
    const gw = startGateway({
      keys: [{ key: KEY, name: 'claude-code' }],
      channels: [{ name: 'local', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': 'qwen3' } }],
    });
    try {
      const run = await runClaude(['-p', 'Read a.txt and b.txt', '--model', 'claude-sonnet-5-5', '--output-format', 'json', '--allowedTools', 'Read'], {
        baseUrl: gw.url, token: KEY, home: freshDir('sb-ccs-home-'), cwd, timeoutMs: 75_000,
      });
      expect(run.code, describeRun(run)).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.is_error, describeRun(run)).toBe(false);
      expect(result.result).toBe('Both read.');
      await until(() => gw.requestLogs().length >= 2, 3000);
      const second = upstream.requests.find((r) => (r.json?.messages ?? []).some((m: any) => m.role === 'tool'))!.json;
      const msgs: any[] = second.messages;
      const assistant = msgs.findLast((m) => m.tool_calls);
      expect(assistant.tool_calls.map((c: any) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([['Read', { file_path: a }], ['Read', { file_path: b }]]);
      // each call's result (in the order the CLI's reads finished) is its own file
      const [idA, idB] = assistant.tool_calls.map((c: any) => c.id);
      const results = new Map(msgs.filter((m) => m.role === 'tool').map((m) => [m.tool_call_id, chatText(m)]));
      expect(results.size).toBe(2);
      expect(results.get(idA)).toContain('ALPHA-CONTENT');
      expect(results.get(idB)).toContain('BRAVO-CONTENT');
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  }, 90_000);
});
