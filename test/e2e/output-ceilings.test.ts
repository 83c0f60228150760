/**
 * A provider that refuses Claude Code's `max_tokens: 128000` names its ceiling; the gateway sends the request again
 * within it, and remembers a model's own ceiling for the channel (pipeline/output-ceilings.ts). The mock enforces the
 * limit with each provider's own wording of the refusal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatTextStream } from '../helpers/claude-code.ts';
import { refusedCeiling } from '../../src/pipeline/output-ceilings.ts';

const KEY = 'sk-gw-ceilings-1';
let upstream: MockUpstream;
let gw: TestGateway;
let sdk: Anthropic;

/** Each provider's refusal, for a model whose output ceiling is `limit`, of a request asking for `asked`. */
const REFUSALS: Record<string, (limit: number, asked: number, input: number) => string> = {
  groq: (limit) => `\`max_completion_tokens\` must be less than or equal to \`${limit}\`, the maximum value for \`max_completion_tokens\` is less than the \`context_window\` for this model`,
  openai: (limit, asked) => `max_tokens is too large: ${asked}. This model supports at most ${limit} completion tokens, whereas you provided ${asked}.`,
  deepseek: (limit) => `Invalid max_tokens value, the valid range of max_tokens is [1, ${limit}]`,
  // Gemini, its OpenAI-compatible endpoint included: the upper end of the range is exclusive
  gemini: (limit, asked) => `Unable to submit request because it has a maxOutputTokens value of ${asked} but the supported range is from 1 (inclusive) to ${limit + 1} (exclusive). Update the value and try again.`,
  vllm: (limit, asked, input) => `'max_tokens' or 'max_completion_tokens' is too large: ${asked}. This model's maximum context length is ${limit + input} tokens and your request has ${input} input tokens (${asked} > ${limit + input} - ${input}).`,
};

/** An upstream model of each kind: its ceiling, and how it words a refusal. */
const MODELS: Record<string, { limit: number; says: keyof typeof REFUSALS }> = {
  'llama-groq': { limit: 40960, says: 'groq' },
  'gpt-small': { limit: 16384, says: 'openai' },
  'deepseek-chat': { limit: 8192, says: 'deepseek' },
  'gemini-2.5-pro': { limit: 65536, says: 'gemini' },
  'qwen-local': { limit: 30000, says: 'vllm' },
  'stubborn': { limit: 1000, says: 'groq' },
};

beforeAll(() => {
  upstream = startMockUpstream(() => json({ error: { message: 'no handler' } }, 500));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'compat', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: ['*'] },
    ],
  });
  sdk = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});
beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (r) => {
    const body = r.json;
    const model = MODELS[body.model]!;
    const asked = body.max_completion_tokens ?? body.max_tokens;
    // `stubborn` refuses even its own ceiling (a provider whose message is wrong): no second retry
    if (asked > model.limit || body.model === 'stubborn') {
      return json({ error: { message: REFUSALS[model.says]!(model.limit, asked, 1234), type: 'invalid_request_error', param: 'max_tokens', code: null } }, 400);
    }
    return sse(chatTextStream('Fits now.'), { signal: r.signal });
  };
});

const ask = (model: string, max_tokens = 128000) =>
  sdk.messages.stream({ model, max_tokens, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
const sent = () => upstream.requests.map((r) => r.json.max_completion_tokens ?? r.json.max_tokens);

describe('output ceilings named in a provider\'s refusal', () => {
  for (const [model, { limit }] of Object.entries(MODELS).filter(([m]) => m !== 'qwen-local' && m !== 'stubborn')) {
    test(`${model}: refused at 128000, answered within ${limit}, and the next request is capped before it goes`, async () => {
      const before = gw.requestLogs().length;
      const msg = await ask(model);
      expect(msg.content).toMatchObject([{ type: 'text', text: 'Fits now.' }]);
      expect(sent()).toEqual([128000, limit]);
      await until(() => gw.requestLogs().length === before + 1);
      const log = gw.requestLogs().at(-1);
      expect(log).toMatchObject({ status: 200, attempts: 2, outcome: 'ok', upstream_model: model });
      expect(log.error).toBeUndefined();
      expect(gw.logs.some((l) => l.msg === 'upstream refused max_tokens: sent again within its ceiling' && l.ceiling === limit && l.remembered === true)).toBe(true);

      upstream.requests.length = 0;
      await ask(model);
      expect(sent()).toEqual([limit]);
      // a smaller request is left as it is
      upstream.requests.length = 0;
      await ask(model, 100);
      expect(sent()).toEqual([100]);
    });
  }

  test('a ceiling left by the context window (vLLM) serves this request\'s retry only', async () => {
    await ask('qwen-local');
    expect(sent()).toEqual([128000, 30000]);
    upstream.requests.length = 0;
    await ask('qwen-local');
    expect(sent()).toEqual([128000, 30000]);
  });

  test('one retry at most: a provider that refuses its own ceiling gets its error to the client', async () => {
    const err: any = await ask('stubborn').then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toContain('must be less than or equal to `1000`');
    expect(sent()).toEqual([128000, 1000]);
  });

  test('a Chat client\'s own request to an openai channel is relayed, refusal included, not retried', async () => {
    const oa = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const err: any = await oa.chat.completions.create({ model: 'gpt-small', max_tokens: 50000, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error.message).toContain('supports at most 16384 completion tokens');
    expect(sent()).toEqual([50000]);
  });

  test('a 400 that names no ceiling, or one above what was sent, is the client\'s error at once', async () => {
    upstream.handler = () => json({ error: { message: 'messages: must not be empty', type: 'invalid_request_error' } }, 400);
    expect(await ask('llama-groq').then(() => null, (e) => e)).toBeInstanceOf(Anthropic.BadRequestError);
    expect(sent()).toHaveLength(1);
    upstream.requests.length = 0;
    upstream.handler = () => json({ error: { message: REFUSALS.groq!(999999, 0, 0) } }, 400);
    expect(await ask('deepseek-chat', 50).then(() => null, (e) => e)).toBeInstanceOf(Anthropic.BadRequestError);
    expect(sent()).toHaveLength(1);
  });
});

describe('with fallback', () => {
  test('each channel gets its own retry within the ceiling it names: the second channel too, after the first failed', async () => {
    const sent: Array<[string, number]> = [];
    const mock = (name: string, limit: number, afterwards: () => Response) => startMockUpstream((r) => {
      const asked = r.json.max_completion_tokens ?? r.json.max_tokens;
      sent.push([name, asked]);
      if (asked > limit) return json({ error: { message: REFUSALS.groq!(limit, asked, 0), type: 'invalid_request_error' } }, 400);
      return afterwards();
    });
    const a = mock('a', 40960, () => json({ error: { message: 'overloaded', type: 'server_error' } }, 503));
    const b = mock('b', 8192, () => sse(chatTextStream('From b.')));
    const g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [
      { name: 'a', type: 'openai', base_url: `${a.url}/v1`, api_key: 'sk-a', models: ['fb-model'], priority: 10 },
      { name: 'b', type: 'openai', base_url: `${b.url}/v1`, api_key: 'sk-b', models: ['fb-model'], priority: 0 },
    ], routing: { max_retry_after_ms: 0 } });
    try {
      const msg = await new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 }).messages.stream({ model: 'fb-model', max_tokens: 128000, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
      expect(msg.content).toMatchObject([{ type: 'text', text: 'From b.' }]);
      expect(sent).toEqual([['a', 128000], ['a', 40960], ['b', 128000], ['b', 8192]]);
    } finally {
      await g.stop();
      await a.stop();
      await b.stop();
    }
  });
});

describe('a Chat client served by an anthropic channel', () => {
  test('Anthropic\'s refusal of max_tokens names its ceiling: sent again within it, then capped before it goes', async () => {
    const claude = startMockUpstream((r) => {
      const asked = r.json.max_tokens;
      if (asked > 64000) return json({ type: 'error', error: { type: 'invalid_request_error', message: `max_tokens: ${asked} > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929` } }, 400);
      return json({ id: 'msg_1', type: 'message', role: 'assistant', model: r.json.model, content: [{ type: 'text', text: 'Within.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 2 } });
    });
    const g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [{ name: 'claude', type: 'anthropic', base_url: claude.url, api_key: 'sk-ant', models: ['claude-sonnet-4-5'] }] });
    try {
      const oa = new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
      for (const expected of [[100000, 64000], [64000]]) {
        claude.requests.length = 0;
        const got = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', max_tokens: 100000, messages: [{ role: 'user', content: 'hi' }] });
        expect(got.choices[0]!.message.content).toBe('Within.');
        expect(claude.requests.map((r) => r.json.max_tokens)).toEqual(expected);
      }
    } finally {
      await g.stop();
      await claude.stop();
    }
  });
});

describe('refusedCeiling', () => {
  test('reads each provider\'s wording, and only a limit on output tokens', () => {
    expect(refusedCeiling(REFUSALS.groq!(40960, 128000, 0))).toEqual({ ceiling: 40960, remember: true });
    expect(refusedCeiling('max_tokens must be less than or equal to 16384')).toEqual({ ceiling: 16384, remember: true }); // Groq, older
    expect(refusedCeiling(REFUSALS.openai!(4096, 8192, 0))).toEqual({ ceiling: 4096, remember: true });
    expect(refusedCeiling(REFUSALS.deepseek!(8192, 0, 0))).toEqual({ ceiling: 8192, remember: true });
    expect(refusedCeiling(REFUSALS.gemini!(65536, 128000, 0))).toEqual({ ceiling: 65536, remember: true });
    expect(refusedCeiling('Unable to submit request because it has a maxOutputTokens value of 256000 but the supported range is from 1 (inclusive)to 65537 (exclusive).')).toEqual({ ceiling: 65536, remember: true });
    expect(refusedCeiling('The parameter `max_completion_tokens` specified in the request are not valid: integer above maximum value, expected a value <= 12288, but got 32000 instead. Request id: 02')).toEqual({ ceiling: 12288, remember: true });
    expect(refusedCeiling('max_tokens: 128000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929')).toEqual({ ceiling: 64000, remember: true });
    // DashScope (Qwen on Alibaba Cloud Model Studio): musistudio/claude-code-router#184, Kilo-Org/kilocode#5871
    expect(refusedCeiling('<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be [1, 8192]')).toEqual({ ceiling: 8192, remember: true });
    expect(refusedCeiling('Range of max_tokens should be [1, 131072]')).toEqual({ ceiling: 131072, remember: true });
    expect(refusedCeiling(REFUSALS.vllm!(39766, 64000, 24235))).toEqual({ ceiling: 39766, remember: false });
    expect(refusedCeiling("This model's maximum context length is 8192 tokens. However, you requested 8256 tokens (64 in the messages, 8192 in the completion). Please reduce the length of the messages or completion.")).toEqual({ ceiling: 8128, remember: false });
    // a prompt that fills the window leaves no room: not a ceiling
    expect(refusedCeiling("'max_tokens' or 'max_completion_tokens' is too large: 100. This model's maximum context length is 8192 tokens and your request has 9000 input tokens (100 > 8192 - 9000).")).toBeNull();
    for (const other of ['Range of temperature should be [0, 2)', 'messages: must be less than or equal to 5', 'temperature must be less than or equal to 2', 'prompt is too long: 210000 tokens > 200000 maximum', 'Unsupported parameter: max_tokens', '']) {
      expect(refusedCeiling(other)).toBeNull();
    }
  });
});
