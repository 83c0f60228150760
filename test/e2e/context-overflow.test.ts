/**
 * A provider's refusal of a conversation too long for its window, through an `openai` channel: a Messages client gets
 * it in Anthropic's words, 400 invalid_request_error "prompt is too long: N tokens > M maximum" followed by the
 * provider's sentence (pipeline/context-overflow.ts); a Chat Completions client gets the provider's own bytes.
 * With the real Claude Code CLI: it compacts the conversation (a summarising request) and goes on, also for a wording
 * it does not know, and it tells the user the sizes it was given.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatText, chatTextStream, chatToolCallStream, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-overflow-1';
const CLI = claudeForFile('test/e2e/context-overflow.test.ts');
const freshDir = tempDirs();

const OPENAI = { error: { message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } };
// GitHub Copilot's wording, which Claude Code 2.1.332 does not recognise as an overflow by itself
const COPILOT = { error: { message: 'prompt token count of 140000 exceeds the limit of 128000', code: 'model_max_prompt_tokens_exceeded' } };
const DASHSCOPE = { error: { message: '<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 30720]', type: 'invalid_request_error', param: null, code: 'invalid_parameter_error' } };

function gateway(upstream: MockUpstream): TestGateway {
  return startGateway({
    keys: [{ key: KEY, name: 'overflow' }],
    channels: [{ name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up-overflow', models: { 'claude-sonnet-5-5': 'gpt-5', 'gpt-5': 'gpt-5' } }],
  });
}

describe('the envelope, through the SDKs', () => {
  let upstream: MockUpstream;
  let gw: TestGateway;
  let body: unknown = OPENAI;
  beforeAll(() => {
    upstream = startMockUpstream(() => json(body, 400));
    gw = gateway(upstream);
  });
  afterAll(async () => { await gw.stop(); await upstream.stop(); });

  const anthropic = () => new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });

  test('Messages client: 400 invalid_request_error in Anthropic\'s words, the provider\'s sentence after it, and in the log', async () => {
    body = OPENAI;
    const e: any = await anthropic().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect(e.error.type).toBe('error');
    expect(e.error.error.type).toBe('invalid_request_error');
    expect(e.error.error.message).toBe(`prompt is too long: 130512 tokens > 128000 maximum (the provider said: ${OPENAI.error.message})`);
    await until(() => gw.requestLogs().length >= 1, 3000);
    expect(gw.requestLogs().at(-1).error).toContain(OPENAI.error.message);
  });

  test('a streamed Messages request: the same 400, before any event', async () => {
    body = COPILOT;
    const e: any = await anthropic().messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect(e.error.error.message).toBe(`prompt is too long: 140000 tokens > 128000 maximum (the provider said: ${COPILOT.error.message})`);
  });

  test('the limit alone: the gateway\'s estimate of the prompt when it exceeds it, else the provider\'s words', async () => {
    body = DASHSCOPE;
    const small: any = await anthropic().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
    expect(small.error.error.message).toBe(DASHSCOPE.error.message);
    const big: any = await anthropic().messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(8000) }] }).catch((x) => x);
    const m = /^prompt is too long: (\d+) tokens > 30720 maximum \(the gateway's estimate of the prompt, (\d+) tokens; the provider said: (.*)\)$/.exec(big.error.error.message);
    expect(m, big.error.error.message).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(30720);
    expect(m![3]).toBe(DASHSCOPE.error.message);
  });

  test('a Chat Completions client on the same channel: the provider\'s own error, untouched', async () => {
    body = OPENAI;
    const e: any = await new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.error).toEqual(OPENAI.error);
    expect(e.code).toBe('context_length_exceeded');
  });
});

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version} meets the provider's overflow`, () => {
  const SUMMARY = '<summary>The user asked what a.txt says; Read showed it says hello.</summary>';
  /** Turn 1 reads a.txt; turn 2 overflows with `refusal`; a summarising request is answered with a summary; then the answer. */
  async function session(refusal: unknown) {
    const cwd = freshDir('sb-ovf-cwd-');
    writeFileSync(join(cwd, 'a.txt'), 'hello\n');
    let refused = 0;
    const upstream = startMockUpstream((r) => {
      const msgs: any[] = r.json?.messages ?? [];
      const lastUser = chatText(msgs.filter((m) => m.role === 'user').at(-1) ?? {});
      if (/summary/i.test(lastUser) && /TEXT ONLY/.test(lastUser)) return sse(chatTextStream(SUMMARY), { signal: r.signal });
      if (!msgs.some((m) => m.role === 'tool')) return sse(chatToolCallStream('call_read_1', 'Read', { file_path: join(cwd, 'a.txt') }), { signal: r.signal });
      if (refused++ === 0) return json(refusal, 400);
      return sse(chatTextStream('It says hello.'), { signal: r.signal });
    });
    const gw = gateway(upstream);
    try {
      const run = await runClaude(['-p', 'What does a.txt say?', '--model', 'claude-sonnet-5-5', '--output-format', 'json'], { baseUrl: gw.url, token: KEY, home: freshDir('sb-ovf-home-'), cwd, timeoutMs: 75_000 });
      const summarising = upstream.requests.filter((r) => /TEXT ONLY/.test(chatText((r.json?.messages ?? []).filter((m: any) => m.role === 'user').at(-1) ?? {})));
      return { run, summarising, requests: upstream.requests.length };
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  }

  test('a wording Claude Code does not know (GitHub Copilot\'s): it compacts the conversation and goes on', async () => {
    const { run, summarising } = await session(COPILOT);
    expect(run.code, describeRun(run)).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.is_error).toBe(false);
    expect(summarising.length).toBe(1);
    expect(result.result).toBe('It says hello.');
  }, 90_000);

  test('a single exchange that overflows: it tells the user the sizes the provider named', async () => {
    const cwd = freshDir('sb-ovf-cwd-');
    const upstream = startMockUpstream(() => json({ error: { code: 400, message: 'The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).', status: 'INVALID_ARGUMENT' } }, 400));
    const gw = gateway(upstream);
    try {
      const run = await runClaude(['-p', 'hi', '--model', 'claude-sonnet-5-5', '--output-format', 'json'], { baseUrl: gw.url, token: KEY, home: freshDir('sb-ovf-home-'), cwd, timeoutMs: 75_000 });
      expect(run.code, describeRun(run)).toBe(1);
      const result = JSON.parse(run.stdout);
      expect(result.is_error).toBe(true);
      expect(result.result).toContain('the request is ~1200293 tokens (limit 1048576)');
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  }, 90_000);
});
