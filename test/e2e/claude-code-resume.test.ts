/**
 * @module test/e2e/claude-code-resume
 * The real Claude Code CLI resuming (`claude -p --continue`, same HOME and working directory) a session whose earlier
 * turns another kind of channel answered, for one model name served by an `openai` channel first and an `anthropic`
 * channel when it is down (test/e2e/claude-code-model-switch.test.ts drives the thinking blocks of such a move; this
 * file the tool calls' ids, and the way back):
 *
 * - a provider whose tool-call ids are outside Anthropic's `^[a-zA-Z0-9_-]+$` (Kimi K2's `functions.Read:0`, as
 *   SGLang's and vLLM's kimi_k2 parsers write them: sgl-project/sglang#9606), which Anthropic refuses
 *   ("messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"): Claude Code keeps the id
 *   it is given (one within the pattern that carries Kimi's: formats/openai-chat/foreign-tool-id.ts) and sends it
 *   back with every later turn, whether the session goes on after the loop or in the middle of it, and on Kimi again;
 * - the way back: turns Anthropic answered (its signed thinking, `toolu_…` ids) resumed on the openai channel.
 *
 * The anthropic mock enforces Anthropic's rules (test/helpers/anthropic-rules.ts). Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until } from '../helpers/gateway.ts';
import { anthropicHistoryRefusal, anthropicToolIdRefusal } from '../helpers/anthropic-rules.ts';
import { chatText, chatTextStream, chatToolCallStream, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';
import { readClientToolId } from '../../src/formats/openai-chat/foreign-tool-id.ts';

const KEY = 'sk-gw-claude-code-resume-1';
const CLI = claudeForFile('test/e2e/claude-code-resume.test.ts');
const freshDir = tempDirs();

const SIGNED = 'EqSonnetSignedThis==';
const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
/** An Anthropic answer: a thinking block it signed for claude-sonnet-5-5, then a text or a Read call. */
function anthropicStream(then: { text: string } | { read: string; id: string }): string[] {
  const block = 'text' in then
    ? [ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }), ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: then.text } })]
    : [ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: then.id, name: 'Read', input: {} } }), ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ file_path: then.read }) } })];
  return [
    ev('message_start', { message: { id: 'msg_01Resumed', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 120, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me see.' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: SIGNED } }),
    ev('content_block_stop', { index: 0 }),
    ...block,
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', { delta: { stop_reason: 'text' in then ? 'end_turn' : 'tool_use', stop_sequence: null }, usage: { output_tokens: 9 } }),
    ev('message_stop', {}),
  ];
}

const hasToolResult = (r: RecordedRequest) => JSON.stringify(r.json.messages.at(-1)).includes('"tool_result"') || r.json.messages.some((m: any) => m.role === 'tool');
const toolIds = (body: any): string[] => body.messages.flatMap((m: any) => (Array.isArray(m.content) ? m.content : []).flatMap((b: any) => (b.type === 'tool_use' ? [b.id] : b.type === 'tool_result' ? [b.tool_use_id] : [])));

/**
 * `claude-sonnet-5-5` on an openai channel ("kimi", first) and an anthropic one. `openaiDown(body)` / `anthropicDown`:
 * whether that channel answers 503 to this request. The openai mock calls Read with `callId` until a tool message
 * is in, then answers; the anthropic mock, past Anthropic's rules, likewise with `toolu_01…`.
 */
function setUp(callId: string, down: { openai?: (body: any) => boolean; anthropic?: (body: any) => boolean }) {
  const cwd = freshDir('sb-ccr-cwd-');
  const file = join(cwd, 'notes.txt');
  writeFileSync(file, 'The launch code is KIWI-3390.\n');
  const busy = () => Response.json({ error: { message: 'Server overloaded, please retry shortly.', type: 'server_error' } }, { status: 503 });
  const openai = startMockUpstream((r) => {
    if (down.openai?.(r.json)) return busy();
    return sse(hasToolResult(r) ? chatTextStream('It says KIWI-3390.') : chatToolCallStream(callId, 'Read', { file_path: file }), { signal: r.signal });
  });
  const anthropic = startMockUpstream((r) => {
    if (down.anthropic?.(r.json)) return Response.json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, { status: 529 });
    return anthropicToolIdRefusal(r.json) ?? anthropicHistoryRefusal(r.json, { 'claude-sonnet-5-5': new Set([SIGNED]) })
      ?? sse(anthropicStream(hasToolResult(r) ? { text: 'Claude here: KIWI-3390.' } : { read: file, id: 'toolu_01ReadNotes' }), { signal: r.signal });
  });
  const gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [
      { name: 'kimi', type: 'openai', base_url: `${openai.url}/v1`, api_key: 'sk-kimi-up', models: { 'claude-sonnet-5-5': 'kimi-k2' }, priority: 10 },
      { name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-up', models: ['claude-sonnet-5-5'] },
    ],
    routing: { max_retry_after_ms: 0 },
  });
  const opts = { baseUrl: gw.url, token: KEY, home: freshDir('sb-ccr-home-'), cwd, timeoutMs: 20_000 };
  const claude = async (args: string[]) => {
    const run = await runClaude(['-p', ...args, '--model', 'claude-sonnet-5-5', '--output-format', 'json'], opts);
    if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
    const result = JSON.parse(run.stdout);
    expect(result.is_error, describeRun(run)).toBe(false);
    return result;
  };
  return { openai, anthropic, gw, claude, async stop() { await gw.stop(); await openai.stop(); await anthropic.stop(); } };
}

const TOOL_IDS_REWRITTEN = 'tool_use ids outside ^[a-zA-Z0-9_-]+$ (Anthropic refuses them: sent as ids within it)';

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: a session resumed on another kind of channel`, () => {
  test('Kimi\'s functions.Read:0 ids, then --continue on Anthropic and back on Kimi: the CLI keeps ids within Anthropic\'s pattern, each turn taken at once, Kimi gets its own ids back', async () => {
    let down = false;
    const env = setUp('functions.Read:0', { openai: () => down });
    try {
      expect(await env.claude(['Read notes.txt'])).toMatchObject({ result: 'It says KIWI-3390.', num_turns: 2 });
      const kimiIds = (body: any) => body.messages.flatMap((m: any) => (m.tool_calls ?? []).map((c: any) => c.id).concat(m.role === 'tool' ? [m.tool_call_id] : []));
      expect(kimiIds(env.openai.requests[1]!.json)).toEqual(['functions.Read:0', 'functions.Read:0']);
      down = true;
      const before = env.gw.requestLogs().length;
      expect(await env.claude(['And once more?', '--continue'])).toMatchObject({ result: 'Claude here: KIWI-3390.' });

      // Anthropic calls Read itself, then answers: each of the two turns taken on the first try
      expect(env.anthropic.requests).toHaveLength(2);
      const [use, result] = toolIds(env.anthropic.requests[0]!.json); // as the CLI keeps them
      expect(use).toMatch(/^[a-zA-Z0-9_-]+$/);
      expect(readClientToolId(use!)).toBe('functions.Read:0');
      expect(result).toBe(use!);
      expect(toolIds(env.anthropic.requests[1]!.json)).toEqual([use, use, 'toolu_01ReadNotes', 'toolu_01ReadNotes']);
      await until(() => env.gw.requestLogs().length >= before + 2, 3000);
      expect(env.gw.requestLogs().slice(before)).toMatchObject(Array(2).fill({ status: 200, attempts: 2, channel: 'claude' }));
      expect(env.gw.requestLogs().slice(before).flatMap((l) => l.dropped ?? [])).not.toContain(TOOL_IDS_REWRITTEN);
      expect(env.gw.logs.some((l) => /tool-call ids/.test(l.msg ?? ''))).toBe(false);

      // and back on Kimi: its own id, in the call and its result, Anthropic's as it gave it
      down = false;
      const onKimi = env.openai.requests.length;
      expect(await env.claude(['And on Kimi?', '--continue'])).toMatchObject({ result: 'It says KIWI-3390.' });
      expect(kimiIds(env.openai.requests[onKimi]!.json)).toEqual(['functions.Read:0', 'functions.Read:0', 'toolu_01ReadNotes', 'toolu_01ReadNotes']);
    } finally { await env.stop(); }
  }, 60_000);

  test('Kimi down in the middle of the loop: the result goes to Anthropic under the id the CLI was given, without thinking', async () => {
    const env = setUp('functions.Read:0', { openai: (body) => body.messages.some((m: any) => m.role === 'tool') });
    try {
      expect(await env.claude(['Read notes.txt'])).toMatchObject({ result: 'Claude here: KIWI-3390.', num_turns: 2 });
      // taken with its ids; refused for the loop's last turn without a thinking block, then sent without thinking
      expect(env.anthropic.requests).toHaveLength(2);
      const last = env.anthropic.requests[1]!.json;
      expect(last.thinking).toEqual({ type: 'disabled' });
      expect(toolIds(last)).toHaveLength(2);
      expect(toolIds(last).every((id) => id === toolIds(last)[0] && /^[a-zA-Z0-9_-]+$/.test(id))).toBe(true);
      expect(readClientToolId(toolIds(last)[0]!)).toBe('functions.Read:0');
      expect(JSON.stringify(last.messages)).toContain('KIWI-3390');
      await until(() => env.gw.requestLogs().length >= 2, 3000);
      expect(env.gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 3, channel: 'claude' });
      expect(env.gw.requestLogs().at(-1).dropped ?? []).not.toContain(TOOL_IDS_REWRITTEN);
    } finally { await env.stop(); }
  }, 60_000);

  test('the way back: Anthropic\'s turns (signed thinking, toolu_ ids) resumed on the openai channel go without the thinking, ids kept', async () => {
    let anthropicDown = false;
    const env = setUp('call_unused', { openai: () => !anthropicDown, anthropic: () => anthropicDown });
    try {
      expect(await env.claude(['Read notes.txt'])).toMatchObject({ result: 'Claude here: KIWI-3390.', num_turns: 2 });
      expect(env.openai.requests.length).toBeGreaterThan(0); // refused with 503 each time, Anthropic answered
      const onOpenai = env.openai.requests.length;
      anthropicDown = true;
      expect(await env.claude(['And once more?', '--continue'])).toMatchObject({ result: 'It says KIWI-3390.' });
      const body = env.openai.requests[onOpenai]!.json;
      const call = body.messages.find((m: any) => m.tool_calls);
      expect(call.tool_calls).toMatchObject([{ id: 'toolu_01ReadNotes', function: { name: 'Read' } }]);
      expect(call.reasoning_content).toBeUndefined();
      expect(JSON.stringify(body)).not.toContain(SIGNED);
      expect(body.messages.find((m: any) => m.role === 'tool')).toMatchObject({ tool_call_id: 'toolu_01ReadNotes' });
      expect(chatText(body.messages.find((m: any) => m.role === 'tool'))).toContain('KIWI-3390');
      expect(body.messages.at(-1).role).toBe('user');
      expect(chatText(body.messages.at(-1))).toContain('And once more?');
    } finally { await env.stop(); }
  }, 60_000);
});
