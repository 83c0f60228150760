/**
 * The real Claude Code CLI (node_modules/.bin/claude, a devDependency) end to end: `claude -p` → gateway →
 * `openai` channel → a mock OpenAI Chat Completions server written here. Environment exactly as in
 * ../shared/claude-code-traffic.md: ANTHROPIC_BASE_URL = the gateway, ANTHROPIC_AUTH_TOKEN = a gateway key,
 * no ANTHROPIC_API_KEY, telemetry and updates off, fresh HOME and cwd.
 *
 * If the CLI cannot start on this machine the suite is skipped with a loud message saying why.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, json, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatTextStream, chatToolCallStream, claudeForFile, tempDirs, chatText, describeRun, runClaude } from '../helpers/claude-code.ts';
import { mistralCheck, mistralRefusal } from '../helpers/mistral-rules.ts';

const KEY = 'sk-gw-claude-code-key-1';
const UPSTREAM_KEY = 'sk-openai-upstream-secret-cc';
const CLI = claudeForFile('test/e2e/claude-code.test.ts');

let upstream: MockUpstream;
let gw: TestGateway;
const freshDir = tempDirs();

beforeAll(() => {
  upstream = startMockUpstream(() => json({ error: { message: 'no handler set', type: 'server_error' } }, 500));
  gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [{
      name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: UPSTREAM_KEY,
      // llama-groq: no ceiling configured, the mock refuses more than 40960 as Groq does (pipeline/output-ceilings.ts)
      models: { 'claude-sonnet-5-5': 'gpt-5', 'claude-haiku-5-5': 'gpt-5-mini', 'claude-opus-5-5': 'llama-groq' },
      quirks: { max_output_tokens: { 'gpt-5': 64000, 'gpt-5-mini': 32000 } },
    }],
  });
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});
beforeEach(() => { upstream.requests.length = 0; });

/** Anthropic-only keys that must never reach an OpenAI-compatible provider, anywhere in the body. */
const ANTHROPIC_ONLY = ['cache_control', 'defer_loading', 'input_schema', '$schema', 'context_management', 'output_config', 'anthropic_beta'];

function keysDeep(x: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(x)) for (const v of x) keysDeep(v, out);
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) { out.add(k); keysDeep(v, out); }
  return out;
}

/** A streaming Chat Completions request as the gateway should make it from a Claude Code turn. */
function expectChatTurn(rec: RecordedRequest) {
  expect(rec.method).toBe('POST');
  expect(rec.path).toBe('/v1/chat/completions');
  expect(rec.search).toBe('');
  expect(rec.headers.get('authorization')).toBe(`Bearer ${UPSTREAM_KEY}`);
  for (const [, v] of rec.headers) expect(v).not.toContain(KEY);
  const body = rec.json;
  expect(body.model).toBe('gpt-5');
  expect(body.stream).toBe(true);
  expect(body.stream_options).toEqual({ include_usage: true });
  // claude-sonnet-5-5 is sent as adaptive thinking + output_config.effort "medium"
  expect(body.reasoning_effort).toBe('medium');
  expect(body.max_completion_tokens).toBe(64000); // Claude Code asks for 128000
  expect(body.max_tokens).toBeUndefined();
  for (const k of ['thinking', 'metadata', 'system', 'top_k', 'stop_sequences']) expect(body).not.toHaveProperty(k);
  const deep = keysDeep(body);
  for (const k of ANTHROPIC_ONLY) expect(deep.has(k)).toBe(false);
  expect(typeof body.user).toBe('string');
  expect(body.user.length).toBeLessThanOrEqual(64);
  for (const m of body.messages) expect(['system', 'developer', 'user', 'assistant', 'tool']).toContain(m.role);
  expect(body.messages[0].role).toBe('system');
  // tools converted: functions with JSON-schema parameters; the deferred placeholder not offered
  expect(body.tools.length).toBeGreaterThanOrEqual(8);
  for (const t of body.tools) {
    expect(t.type).toBe('function');
    expect(typeof t.function.name).toBe('string');
    expect(t.function.parameters.type).toBe('object');
  }
  const names: string[] = body.tools.map((t: any) => t.function.name);
  expect(names).toEqual(expect.arrayContaining(['Read', 'Bash', 'Edit', 'Write', 'ToolSearch']));
  expect(names).not.toContain('DeferredToolPlaceholder');
  const read = body.tools.find((t: any) => t.function.name === 'Read').function;
  expect(read.parameters.required).toEqual(['file_path']);
  return body;
}

const text = chatText;

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version} through the gateway to an OpenAI Chat Completions provider`, () => {
  test('a plain answer: the mock streams text, Claude Code prints it', async () => {
    const answer = 'The gateway relayed this: four plus four is 8.';
    upstream.handler = (r) => sse(chatTextStream(answer), { signal: r.signal });
    const run = await runClaude(['-p', 'What is 4 + 4? Answer in one sentence.', '--model', 'claude-sonnet-5-5'], {
      baseUrl: gw.url, token: KEY, home: freshDir('sb-cc-home-'), cwd: freshDir('sb-cc-cwd-'), timeoutMs: 75_000,
    });
    if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
    expect(run.stdout.trim()).toBe(answer);

    expect(upstream.requests.length).toBe(1); // one prompt = one model turn (claude-code-traffic.md)
    const body = expectChatTurn(upstream.requests[0]!);
    const users = body.messages.filter((m: any) => m.role === 'user').map(text).join('\n');
    expect(users).toContain('What is 4 + 4? Answer in one sentence.');
    expect(body.messages.some((m: any) => m.role === 'tool')).toBe(false);

    await until(() => gw.requestLogs().length > 0, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ key: 'claude-code', model: 'claude-sonnet-5-5', upstream_model: 'gpt-5', status: 200, stream: true, outcome: 'ok' });
  }, 90_000);

  test('a wrong gateway key: Claude Code says so at once and exits non-zero, nothing goes upstream', async () => {
    // Claude Code retries a 401 (a token it could refresh) unless the answer says x-should-retry: false: without it a
    // mistyped ANTHROPIC_AUTH_TOKEN left `claude -p` printing nothing for minutes while it retried with backoff
    const run = await runClaude(['-p', 'hi', '--model', 'claude-sonnet-5-5'], {
      baseUrl: gw.url, token: 'sk-gw-a-key-that-is-wrong', home: freshDir('sb-cc-home-'), cwd: freshDir('sb-cc-cwd-'), timeoutMs: 20_000,
    });
    expect(run.timedOut).toBe(false);
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('401 invalid API key');
    expect(gw.requestLogs().filter((l) => l.status === 401).length).toBe(1);
    expect(upstream.requests.length).toBe(0);
  }, 30_000);

  test('a tool round trip: Read runs in Claude Code, the file content goes back as a tool message, the final answer is printed', async () => {
    const cwd = freshDir('sb-cc-cwd-');
    const file = join(cwd, 'notes.txt');
    writeFileSync(file, 'Meeting notes\nThe launch code is PAPAYA-7781.\nEnd of notes\n');
    const callId = 'call_read_notes_1';
    upstream.handler = (r) => {
      const messages: any[] = r.json?.messages ?? [];
      const toolMsg = messages.find((m) => m.role === 'tool');
      if (!toolMsg) return sse(chatToolCallStream(callId, 'Read', { file_path: file }), { signal: r.signal });
      const code = /PAPAYA-\d+/.exec(text(toolMsg))?.[0] ?? 'NOT-FOUND';
      return sse(chatTextStream(`According to notes.txt the launch code is ${code}.`), { signal: r.signal });
    };
    const run = await runClaude(['-p', 'Read notes.txt and tell me the launch code.', '--model', 'claude-sonnet-5-5', '--output-format', 'json'], {
      baseUrl: gw.url, token: KEY, home: freshDir('sb-cc-home-'), cwd, timeoutMs: 75_000,
    });
    if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
    let result: any;
    try { result = JSON.parse(run.stdout); } catch { throw new Error(`stdout is not the JSON result:\n${describeRun(run)}`); }
    expect(result.is_error, describeRun(run)).toBe(false);
    expect(result.result).toBe('According to notes.txt the launch code is PAPAYA-7781.');
    expect(result.num_turns).toBe(2);

    expect(upstream.requests.length).toBe(2); // the Read agent loop = 2 model turns
    expectChatTurn(upstream.requests[0]!);
    const second = expectChatTurn(upstream.requests[1]!);
    const msgs: any[] = second.messages;
    const ti = msgs.findIndex((m) => m.role === 'tool');
    expect(ti).toBeGreaterThan(0);
    // the assistant turn that made the call comes right before its result
    const assistant = msgs[ti - 1];
    expect(assistant.role).toBe('assistant');
    expect(assistant.tool_calls).toHaveLength(1);
    expect(assistant.tool_calls[0]).toMatchObject({ id: callId, type: 'function', function: { name: 'Read' } });
    expect(JSON.parse(assistant.tool_calls[0].function.arguments)).toEqual({ file_path: file });
    const tool = msgs[ti];
    expect(tool.tool_call_id).toBe(callId);
    expect(text(tool)).toContain('The launch code is PAPAYA-7781.');
    expect(text(tool)).toContain('Meeting notes');
  }, 90_000);

  test('a provider that refuses max_tokens 128000 and names its ceiling: Claude Code still gets its answer, and the next turn goes capped', async () => {
    upstream.handler = (r) => {
      const asked = r.json?.max_completion_tokens;
      if (asked > 40960) {
        return json({ error: { message: `\`max_completion_tokens\` must be less than or equal to \`40960\`, the maximum value for \`max_completion_tokens\` is less than the \`context_window\` for this model`, type: 'invalid_request_error', param: 'max_completion_tokens' } }, 400);
      }
      return sse(chatTextStream('Answered within the ceiling.'), { signal: r.signal });
    };
    for (const expected of [[128000, 40960], [40960]]) {
      upstream.requests.length = 0;
      const run = await runClaude(['-p', 'Say something.', '--model', 'claude-opus-5-5'], {
        baseUrl: gw.url, token: KEY, home: freshDir('sb-cc-home-'), cwd: freshDir('sb-cc-cwd-'), timeoutMs: 75_000,
      });
      if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
      expect(run.stdout.trim()).toBe('Answered within the ceiling.');
      expect(upstream.requests.map((r) => r.json.max_completion_tokens)).toEqual(expected);
      expect(upstream.requests.every((r) => r.json.model === 'llama-groq')).toBe(true);
    }
  }, 180_000);

  test('a Read round trip through a mistral channel with a PostToolUse hook (its context goes beside the tool result): every request is one Mistral serves', async () => {
    const cwd = freshDir('sb-cc-cwd-');
    const file = join(cwd, 'notes.txt');
    writeFileSync(file, 'Meeting notes\nThe launch code is MANGO-4410.\nEnd of notes\n');
    const mistral = startMockUpstream((r) => {
      const refused = mistralRefusal(r.json);
      if (refused) return refused;
      const messages: any[] = r.json.messages;
      const toolMsg = messages.find((m) => m.role === 'tool');
      if (!toolMsg) return sse(chatToolCallStream('rEadNot01', 'Read', { file_path: file }), { signal: r.signal });
      const code = /MANGO-\d+/.exec(text(toolMsg))?.[0] ?? 'NOT-FOUND';
      return sse(chatTextStream(`According to notes.txt the launch code is ${code}.`), { signal: r.signal });
    });
    const g = startGateway({
      keys: [{ key: KEY, name: 'claude-code' }],
      channels: [{ name: 'mistral', type: 'openai', provider: 'mistral', base_url: `${mistral.url}/v1`, api_key: 'sk-mistral-upstream-cc', models: { 'claude-sonnet-5-5': 'devstral-medium-latest' } }],
    });
    try {
      // the hook's additionalContext is sent as a text block beside the tool_result: a user turn of tool results and
      // text, which becomes tool + user messages, and Mistral (the mock: helpers/mistral-rules.ts) refuses a user
      // message after a tool message
      const home = freshDir('sb-cc-home-');
      mkdirSync(join(home, '.claude'));
      writeFileSync(join(home, '.claude', 'settings.json'), JSON.stringify({ hooks: { PostToolUse: [{ matcher: 'Read', hooks: [{ type: 'command', command: `echo '${JSON.stringify({ hookSpecificOutput: { hookEventName: 'PostToolUse', additionalContext: 'HOOK-CONTEXT-7 notes.txt is read-only.' } })}'` }] }] } }));
      const run = await runClaude(['-p', 'Read notes.txt and tell me the launch code.', '--model', 'claude-sonnet-5-5', '--output-format', 'json'], {
        baseUrl: g.url, token: KEY, home, cwd, timeoutMs: 75_000,
      });
      const refusals = mistral.requests.map((r) => mistralCheck(r.json)?.message).filter((x) => x !== undefined);
      expect(refusals, describeRun(run)).toEqual([]);
      if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
      const result = JSON.parse(run.stdout);
      expect(result.is_error, describeRun(run)).toBe(false);
      expect(result.result).toBe('According to notes.txt the launch code is MANGO-4410.');
      expect(mistral.requests.length).toBe(2);
      const second: any[] = mistral.requests[1]!.json.messages;
      const ti = second.findIndex((m) => m.role === 'tool');
      expect(second[ti - 1].tool_calls[0]).toMatchObject({ id: 'rEadNot01', function: { name: 'Read' } });
      expect(second[ti]).toMatchObject({ role: 'tool', tool_call_id: 'rEadNot01' });
      expect(text(second[ti])).toContain('The launch code is MANGO-4410.');
      expect(text(second[ti])).toContain('HOOK-CONTEXT-7 notes.txt is read-only.'); // carried in the tool message
      expect(second.at(-1)).toBe(second[ti]); // and the answer follows the tool results, as it did for Claude
    } finally {
      await g.stop();
      await mistral.stop();
    }
  }, 90_000);

  test('the same CLI through an anthropic channel: a byte passthrough, ?beta=true and anthropic-beta kept', async () => {
    const anthropic = startMockUpstream((r) => sse(anthropicTextStream('Passed straight through.'), { signal: r.signal }));
    const g = startGateway({
      keys: [{ key: KEY, name: 'claude-code' }],
      channels: [{ name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-upstream-cc', models: ['claude-*'] }],
    });
    try {
      const run = await runClaude(['-p', 'Say something.', '--model', 'claude-sonnet-5-5'], {
        baseUrl: g.url, token: KEY, home: freshDir('sb-cc-home-'), cwd: freshDir('sb-cc-cwd-'), timeoutMs: 75_000,
      });
      if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
      expect(run.stdout.trim()).toBe('Passed straight through.');
      expect(anthropic.requests.length).toBe(1);
      const got = anthropic.requests[0]!;
      expect(got.path).toBe('/v1/messages');
      expect(got.search).toBe('?beta=true');
      expect(got.headers.get('x-api-key')).toBe('sk-ant-upstream-cc');
      expect(got.headers.get('authorization')).toBeNull();
      expect(got.headers.get('anthropic-beta')).toContain('claude-code-20250219');
      expect(got.json).toMatchObject({ model: 'claude-sonnet-5-5', stream: true, max_tokens: 128000, thinking: { type: 'adaptive' } });
      expect(got.json.tools.some((t: any) => t.defer_loading === true)).toBe(true); // forwarded as sent
    } finally {
      await g.stop();
      await anthropic.stop();
    }
  }, 90_000);
});

/** A minimal Anthropic text stream, each event terminated by its blank line. */
function anthropicTextStream(answer: string): string[] {
  const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return [
    ev('message_start', { message: { id: 'msg_cc_pass', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: answer } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } }),
    ev('message_stop', {}),
  ];
}
