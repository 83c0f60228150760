/**
 * The real Claude Code CLI in a session that moves from an `openai` channel (DeepSeek, answering with its recorded
 * `reasoning_content`, which the gateway hands Claude Code as thinking blocks Anthropic never signed) to an
 * `anthropic` channel, whose mock refuses, as Anthropic does, a thinking block whose signature it did not write for
 * the model, and a tool loop whose last assistant turn does not start with one while thinking is on
 * (test/helpers/anthropic-rules.ts). Both channels serve one model name, DeepSeek's first; it goes down:
 *
 * 1. between two `claude -p` runs (`--continue`, same HOME and working directory): the second run sends the first
 *    run's thinking blocks back to Anthropic, which refuses them; the gateway sends the turn once more without them;
 * 2. in the middle of a tool loop (one `claude -p`): the call's turn, with its DeepSeek thinking block, reaches
 *    Anthropic with the tool result; sent again without the block and with thinking off, it is answered.
 *
 * And what Claude Code itself does on a `--model` change: it sends no thinking block of the earlier model's turns, so
 * a model switch by name never meets the refusal (README: "What a translation cannot carry"). Skipped loudly if the
 * CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, sse, sseEvents } from '../helpers/upstream.ts';
import { startGateway, until } from '../helpers/gateway.ts';
import { fixtureSseBody } from '../helpers/fixtures.ts';
import { anthropicHistoryRefusal } from '../helpers/anthropic-rules.ts';
import { claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-model-switch-1';
const CLI = claudeForFile('test/e2e/claude-code-model-switch.test.ts');
const freshDir = tempDirs();

/** The one signature the mock Anthropic wrote for claude-opus-5-5. */
const OPUS_SIG = 'EqOpusSignedThis==';

const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
/** An Anthropic answer with a thinking block Anthropic signed for claude-opus-5-5, then its text. */
function opusStream(text: string): string[] {
  return [
    ev('message_start', { message: { id: 'msg_01Switched', type: 'message', role: 'assistant', model: 'claude-opus-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 120, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: OPUS_SIG } }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text } }),
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }),
    ev('message_stop', {}),
  ];
}

const isThinking = (b: any) => b?.type === 'thinking' || b?.type === 'redacted_thinking';
const thinkingBlocks = (body: any) => (body.messages as any[]).filter((m) => m.role === 'assistant' && Array.isArray(m.content)).flatMap((m) => m.content.filter(isThinking));

type Chunk = Record<string, any>;
/** A recorded DeepSeek stream's chunks (`.chunks.jsonl` or `.sse`), parsed. */
const recorded = (rel: string): Chunk[] => fixtureSseBody(`openai-compatible/deepseek/${rel}`).split(/(?<=\n\n)/).flatMap((ev) => {
  const m = /^data: (\{.*\})\s*$/s.exec(ev);
  return m ? [JSON.parse(m[1]!)] : [];
});

/**
 * DeepSeek's recorded reasoning and tool call, the call turned into Claude Code's `Read` of `file`: its name replaced,
 * its argument fragments replaced by as many slices of the new arguments; every other field as recorded.
 */
function deepseekReads(file: string): string[] {
  const chunks = recorded('stream-reasoning-tool-call.chunks.jsonl');
  const args = JSON.stringify({ file_path: file });
  const frags = chunks.flatMap((c) => (c.choices ?? []).flatMap((ch: Chunk) => (ch.delta?.tool_calls ?? []).map((tc: Chunk) => tc.function).filter((f: Chunk) => f?.arguments)));
  const size = Math.ceil(args.length / frags.length);
  frags.forEach((f, i) => { f.arguments = args.slice(i * size, i === frags.length - 1 ? undefined : (i + 1) * size); });
  for (const c of chunks) for (const ch of c.choices ?? []) for (const tc of ch.delta?.tool_calls ?? []) if (tc.function?.name) tc.function.name = 'Read';
  return [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
}

const SIGNATURE_DROPPED = 'thinking blocks of earlier turns (Anthropic refused a signature it did not write for this model)';
const busy = () => Response.json({ error: { message: 'Server overloaded, please retry shortly.', type: 'server_error' } }, { status: 503 });

/**
 * A gateway whose `claude-opus-5-5` is served by DeepSeek first (a Read of notes.txt, then its recorded answer), by
 * Anthropic when DeepSeek fails; `claude-sonnet-5-5` by DeepSeek only. `down(req)`: whether DeepSeek answers 503.
 */
function setUp(down: (req: any) => boolean) {
  const cwd = freshDir('sb-ccms-cwd-');
  const file = join(cwd, 'notes.txt');
  writeFileSync(file, 'The launch code is MANGO-4410.\n');
  const deepseek = startMockUpstream((r) => {
    if (down(r.json)) return busy();
    const answered = r.json.messages.some((m: any) => m.role === 'tool');
    return sse(answered ? sseEvents(fixtureSseBody('openai-compatible/deepseek/stream-reasoning.sse')) : deepseekReads(file), { signal: r.signal });
  });
  const anthropic = startMockUpstream((r) => anthropicHistoryRefusal(r.json, { 'claude-opus-5-5': new Set([OPUS_SIG]) }) ?? sse(opusStream('Still here, now on Claude.'), { signal: r.signal }));
  const gw = startGateway({
    keys: [{ key: KEY, name: 'claude-code' }],
    channels: [
      { name: 'deepseek', type: 'openai', provider: 'deepseek', base_url: `${deepseek.url}/v1`, api_key: 'sk-ds-up', models: { 'claude-opus-5-5': 'deepseek-reasoner', 'claude-sonnet-5-5': 'deepseek-reasoner' }, priority: 10 },
      { name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-up', models: ['claude-opus-5-5'] },
    ],
    routing: { max_retry_after_ms: 0 },
  });
  const opts = { baseUrl: gw.url, token: KEY, home: freshDir('sb-ccms-home-'), cwd, timeoutMs: 75_000 };
  const claude = async (args: string[]) => {
    const run = await runClaude(['-p', ...args, '--output-format', 'json'], opts);
    if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
    const result = JSON.parse(run.stdout);
    expect(result.is_error, describeRun(run)).toBe(false);
    return result;
  };
  return { deepseek, anthropic, gw, claude, async stop() { await gw.stop(); await deepseek.stop(); await anthropic.stop(); } };
}

const DEEPSEEK_ANSWER = 'Hello there! 😊 How can I help you today?';

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: a session moved from DeepSeek (openai channel) to Anthropic`, () => {
  test('--continue after DeepSeek went down: the refused thinking blocks are left out and the turn is answered', async () => {
    let down = false;
    const env = setUp(() => down);
    try {
      expect(await env.claude(['Read notes.txt', '--model', 'claude-opus-5-5'])).toMatchObject({ result: DEEPSEEK_ANSWER, num_turns: 2 });
      expect(env.anthropic.requests).toHaveLength(0);
      down = true;
      const before = env.gw.requestLogs().length;
      expect(await env.claude(['Are you still there?', '--continue', '--model', 'claude-opus-5-5'])).toMatchObject({ result: 'Still here, now on Claude.' });

      // the CLI sent DeepSeek's reasoning back as thinking blocks; Anthropic refused them; the retry went without them
      expect(env.anthropic.requests).toHaveLength(2);
      const [refused, retried] = env.anthropic.requests.map((r) => r.json);
      expect(thinkingBlocks(refused).length).toBe(2);
      expect(thinkingBlocks(refused).every((b: any) => b.signature !== OPUS_SIG)).toBe(true);
      expect(thinkingBlocks(retried)).toEqual([]);
      const withoutThinking = structuredClone(refused);
      for (const m of withoutThinking.messages) if (m.role === 'assistant' && Array.isArray(m.content)) m.content = m.content.filter((b: any) => !isThinking(b));
      expect(retried).toEqual(withoutThinking); // thinking stays on: a new user turn, no tool loop under way
      expect(env.anthropic.requests[1]!.search).toBe('?beta=true');
      await until(() => env.gw.requestLogs().length >= before + 1, 3000);
      expect(env.gw.requestLogs().slice(before)).toMatchObject([{ status: 200, attempts: 3, channel: 'claude', dropped: [SIGNATURE_DROPPED] }]);
    } finally { await env.stop(); }
  }, 120_000);

  test('DeepSeek down in the middle of a tool loop: the result goes to Anthropic without the call\'s thinking block, thinking off', async () => {
    // the call is made; the turn that carries its result finds DeepSeek down
    const env = setUp((body) => body.messages.some((m: any) => m.role === 'tool'));
    try {
      expect(await env.claude(['Read notes.txt', '--model', 'claude-opus-5-5'])).toMatchObject({ result: 'Still here, now on Claude.', num_turns: 2 });
      expect(env.anthropic.requests).toHaveLength(2);
      const [refused, retried] = env.anthropic.requests.map((r) => r.json);
      expect(thinkingBlocks(refused)).toHaveLength(1);
      expect(thinkingBlocks(retried)).toEqual([]);
      expect(refused.thinking.type).toBe('adaptive');
      expect(retried.thinking).toEqual({ type: 'disabled' });
      expect(retried.context_management).toBeUndefined(); // Claude Code's clear_thinking edit, which needs thinking
      expect(retried.messages.at(-1)).toEqual(refused.messages.at(-1)); // the tool result as the CLI sent it
      expect(JSON.stringify(retried.messages)).toContain('MANGO-4410');
      await until(() => env.gw.requestLogs().length >= 2, 3000);
      expect(env.gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 3, channel: 'claude' });
      expect(env.gw.requestLogs().at(-1).dropped).toContain(SIGNATURE_DROPPED);
    } finally { await env.stop(); }
  }, 120_000);

  test('what the CLI does on a --model change: the earlier model\'s thinking blocks are not sent, so there is no refusal to meet', async () => {
    let down = false;
    const env = setUp(() => down);
    try {
      expect(await env.claude(['Read notes.txt', '--model', 'claude-sonnet-5-5'])).toMatchObject({ result: DEEPSEEK_ANSWER });
      down = true;
      expect(await env.claude(['Are you still there?', '--continue', '--model', 'claude-opus-5-5'])).toMatchObject({ result: 'Still here, now on Claude.' });
      expect(env.anthropic.requests).toHaveLength(1);
      const sent = env.anthropic.requests[0]!.json;
      expect(sent.messages.some((m: any) => m.role === 'assistant' && m.content.some((b: any) => b.type === 'tool_use'))).toBe(true); // the earlier turns are there
      expect(thinkingBlocks(sent)).toEqual([]);
    } finally { await env.stop(); }
  }, 120_000);
});
