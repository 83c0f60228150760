/**
 * Claude Code flows through an `openai` channel that the other CLI tests do not drive, with the real CLI (`claude -p`)
 * and a mock Chat Completions upstream scripted turn by turn (`claude-sonnet-5-5` → `gpt-5`):
 *
 * 1. `Read` of a PNG in the working directory: the CLI's next turn carries the image in the tool_result (an `image`
 *    block, base64). A tool message cannot carry an image on OpenAI: the provider must get the tool message with a
 *    pointer, then a user message with the image as an `image_url` data URL (README, "What a translation cannot carry").
 * 2. `Agent` (a sub-agent, in the foreground): the CLI sends a second, nested conversation (its own system prompt with
 *    `cc_is_subagent=true`, a smaller tool set) which has its own tool loop (`Read`); its answer comes back as the outer
 *    `Agent` call's result, and the outer loop finishes.
 * 3. `Write` whose arguments the mock streams in 1–4 character fragments (escapes and non-ASCII cut apart), the SSE
 *    body itself cut every few bytes (UTF-8 sequences split across reads): the file the CLI writes must hold exactly
 *    the bytes the model meant.
 *
 * Each: exit 0, `is_error: false`, every request the gateway logged a 200 (nothing refused and sent again), and the
 * provider's requests valid Chat Completions at each turn. Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatChunk, chatTextStream, chatToolCallStream, chatUsageChunk, claudeForFile, tempDirs, chatText, chatToolNames, describeRun, runClaude } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-flows-1';
const UPSTREAM_KEY = 'sk-openai-upstream-secret-flows';
const CLI = claudeForFile('test/e2e/claude-code-flows.test.ts');

const freshDir = tempDirs();

const text = chatText;
const toolNames = chatToolNames;
const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** What every request the provider got must be: Chat Completions, with nothing Anthropic-only in it. */
function expectChatCompletions(body: any) {
  expect(body.model).toBe('gpt-5');
  expect(body.stream).toBe(true);
  for (const k of ['system', 'thinking', 'context_management', 'output_config', 'metadata', 'max_tokens']) expect(body).not.toHaveProperty(k);
  expect(JSON.stringify(body)).not.toMatch(/cache_control|defer_loading|"tool_use"|"tool_result"|"input_schema"/);
  // (plain checks: bun 1.4.5's toMatchObject with expect.any() writes the matchers into the received object)
  for (const t of body.tools ?? []) {
    expect(t.type).toBe('function');
    expect(typeof t.function.name).toBe('string');
    expect(t.function.parameters.type).toBe('object');
  }
  const callIds = new Set<string>();
  for (const m of body.messages) {
    expect(ROLES.has(m.role)).toBe(true);
    for (const tc of m.tool_calls ?? []) {
      callIds.add(tc.id);
      expect(() => JSON.parse(tc.function.arguments)).not.toThrow();
    }
    if (m.role === 'tool') {
      expect(callIds.has(m.tool_call_id)).toBe(true);
      expect(typeof m.content === 'string' || m.content.every((p: any) => p.type === 'text')).toBe(true);
    }
  }
}

async function withGateway(upstream: MockUpstream, fn: (gw: TestGateway) => Promise<void>) {
  const gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [{ name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: UPSTREAM_KEY, models: { 'claude-sonnet-5-5': 'gpt-5' } }],
  });
  try { await fn(gw); } finally {
    await gw.stop();
    await upstream.stop();
  }
}

async function claude(gw: TestGateway, cwd: string, prompt: string, extra: string[] = []) {
  const run = await runClaude(['-p', prompt, '--model', 'claude-sonnet-5-5', '--output-format', 'json', ...extra], {
    baseUrl: gw.url, token: KEY, home: freshDir('sb-ccf-home-'), cwd, timeoutMs: 75_000,
  });
  if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
  const result = JSON.parse(run.stdout);
  expect(result.is_error, describeRun(run)).toBe(false);
  return result;
}

/** Every request the CLI made was served: n log lines, all 200. */
async function expectAllServed(gw: TestGateway, n: number) {
  await until(() => gw.requestLogs().length >= n, 3000);
  expect(gw.requestLogs().map((l: any) => l.status)).toEqual(Array(n).fill(200));
}

// a valid 1×1 PNG (one red pixel)
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: more flows through an openai channel`, () => {
  test('Read of a PNG: the image leaves the tool message for a user message as an image_url data URL; the loop finishes', async () => {
    const cwd = freshDir('sb-ccf-cwd-');
    const file = join(cwd, 'dot.png');
    writeFileSync(file, PNG);
    const answer = 'A single red pixel.';
    const upstream = startMockUpstream((r) => {
      const tools = (r.json?.messages ?? []).filter((m: any) => m.role === 'tool');
      if (tools.length === 0) return sse(chatToolCallStream('call_read_png_1', 'Read', { file_path: file }), { signal: r.signal });
      return sse(chatTextStream(answer), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const result = await claude(gw, cwd, 'Describe dot.png');
      expect(result.result).toBe(answer);
      expect(result.num_turns).toBe(2);
      await expectAllServed(gw, 2);
      expect(upstream.requests.length).toBe(2);
      const second = upstream.requests[1]!.json;
      expectChatCompletions(second);
      const msgs: any[] = second.messages;
      const ti = msgs.findIndex((m) => m.role === 'tool');
      expect(msgs[ti - 1].tool_calls[0]).toMatchObject({ id: 'call_read_png_1', function: { name: 'Read', arguments: JSON.stringify({ file_path: file }) } });
      expect(msgs[ti]).toMatchObject({ tool_call_id: 'call_read_png_1' });
      expect(text(msgs[ti])).toContain('image');
      // the image, byte for byte, in the user message right after the tool message
      const user = msgs[ti + 1];
      expect(user.role).toBe('user');
      const img = user.content.find((p: any) => p.type === 'image_url');
      expect(img.image_url.url).toBe(`data:image/png;base64,${PNG.toString('base64')}`);
      expect(JSON.stringify(msgs.slice(0, ti + 1))).not.toContain('image_url');
    });
  }, 90_000);

  test('Agent: the nested sub-agent conversation (its own prompt, tools and Read loop) translates, its answer returns to the outer loop', async () => {
    const cwd = freshDir('sb-ccf-cwd-');
    const notes = join(cwd, 'notes.txt');
    writeFileSync(notes, 'the answer is 42\n');
    const subAnswer = 'Sub-agent: notes.txt says 42.';
    const answer = 'The agent found 42.';
    const isNested = (body: any) => text(body.messages[0]).includes('cc_is_subagent=true');
    const upstream = startMockUpstream((r) => {
      const body = r.json ?? {};
      const tools = (body.messages ?? []).filter((m: any) => m.role === 'tool');
      if (isNested(body)) {
        if (tools.length === 0) return sse(chatToolCallStream('call_sub_read_1', 'Read', { file_path: notes }), { signal: r.signal });
        return sse(chatTextStream(subAnswer), { signal: r.signal });
      }
      if (tools.length === 0) {
        return sse(chatToolCallStream('call_agent_1', 'Agent', { description: 'Read the notes', prompt: 'SUBTASK-7F3: read notes.txt and report the number.', subagent_type: 'general-purpose', run_in_background: false }), { signal: r.signal });
      }
      return sse(chatTextStream(answer), { signal: r.signal });
    });
    await withGateway(upstream, async (gw) => {
      const result = await claude(gw, cwd, 'Use an agent to read notes.txt.');
      expect(result.result).toBe(answer);
      expect(result.subagent_stats).toMatchObject({ spawned: 1, completed: 1, failed: 0 });
      await expectAllServed(gw, 4);
      const bodies = upstream.requests.map((r) => r.json);
      expect(bodies.map(isNested)).toEqual([false, true, true, false]);
      for (const b of bodies) expectChatCompletions(b);
      const [outer1, sub1, sub2, outer2] = bodies;

      // the nested conversation: its own system prompt and a smaller tool set, the task as its user turn
      expect(toolNames(outer1)).toContain('Agent');
      expect(toolNames(sub1)).toContain('Read');
      expect(toolNames(sub1)).not.toEqual(toolNames(outer1));
      expect(sub1.messages.filter((m: any) => m.role === 'user').map(text).join('\n')).toContain('SUBTASK-7F3');
      expect(sub1.messages.some((m: any) => m.tool_calls)).toBe(false);
      // its tool loop: Read call and result, nothing of the outer conversation
      const si = sub2.messages.findIndex((m: any) => m.role === 'tool');
      expect(sub2.messages[si - 1].tool_calls[0]).toMatchObject({ id: 'call_sub_read_1', function: { name: 'Read' } });
      expect(sub2.messages[si]).toMatchObject({ tool_call_id: 'call_sub_read_1' });
      expect(text(sub2.messages[si])).toContain('the answer is 42');
      expect(JSON.stringify(sub2)).not.toContain('call_agent_1');

      // the outer loop: the Agent call, and the sub-agent's answer as its result
      const oi = outer2.messages.findIndex((m: any) => m.role === 'tool');
      expect(outer2.messages[oi - 1].tool_calls[0]).toMatchObject({ id: 'call_agent_1', function: { name: 'Agent' } });
      expect(outer2.messages[oi]).toMatchObject({ tool_call_id: 'call_agent_1' });
      expect(text(outer2.messages[oi])).toContain(subAnswer);
    });
  }, 90_000);

  test('Write with arguments in 1–4 character fragments, the SSE cut every 5 bytes: the file holds exactly the content', async () => {
    const cwd = freshDir('sb-ccf-cwd-');
    const file = join(cwd, 'out.txt');
    const content = 'Héllo “world” — 日本語 🎉\n"quoted" and \\backslash\\ and \ttab\n{"json": [1, 2], "e": "\\"x\\""}\r\nend\n';
    // the arguments as a model writes them: escapes (\" \\ \n \t \r \u00e9) to be cut apart
    const args = JSON.stringify({ file_path: file, content }).replace('é', '\\u00e9');
    expect(JSON.parse(args).content).toBe(content);
    const frags: string[] = [];
    for (let i = 0, n = 1; i < args.length; i += n, n = (n % 4) + 1) frags.push(args.slice(i, i + n));
    const body = [
      chatChunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_write_1', type: 'function', function: { name: 'Write', arguments: '' } }] }),
      ...frags.map((f) => chatChunk({ tool_calls: [{ index: 0, function: { arguments: f } }] })),
      chatChunk({}, { finish: 'tool_calls' }),
      chatUsageChunk({ prompt_tokens: 30, completion_tokens: 60, total_tokens: 90 }),
      'data: [DONE]\n\n',
    ].join('');
    const bytes = new TextEncoder().encode(body);
    const upstream = startMockUpstream((r) => {
      if ((r.json?.messages ?? []).some((m: any) => m.role === 'tool')) return sse(chatTextStream('Written.'), { signal: r.signal });
      const stream = new ReadableStream<Uint8Array>({
        async start(c) {
          for (let i = 0; i < bytes.length; i += 5) {
            if (r.signal?.aborted) return;
            c.enqueue(bytes.slice(i, i + 5));
            if (i % 200 === 0) await Bun.sleep(1);
          }
          c.close();
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
    });
    await withGateway(upstream, async (gw) => {
      const result = await claude(gw, cwd, 'Write out.txt', ['--permission-mode', 'acceptEdits']);
      expect(result.result).toBe('Written.');
      expect(result.num_turns).toBe(2);
      await expectAllServed(gw, 2);
      expect(readFileSync(file)).toEqual(Buffer.from(content, 'utf8'));
      // the call goes back to the provider whole, arguments equal to what was streamed
      const second = upstream.requests[1]!.json;
      expectChatCompletions(second);
      const call = second.messages.find((m: any) => m.tool_calls).tool_calls[0];
      expect(call).toMatchObject({ id: 'call_write_1', function: { name: 'Write' } });
      expect(JSON.parse(call.function.arguments)).toEqual({ file_path: file, content });
      expect(second.messages.find((m: any) => m.role === 'tool')).toMatchObject({ tool_call_id: 'call_write_1' });
    });
  }, 90_000);
});
