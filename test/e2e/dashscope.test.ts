/**
 * @module test/e2e/dashscope
 * The `dashscope` preset (Qwen on Alibaba Cloud Model Studio's OpenAI-compatible mode): the Anthropic SDK → gateway →
 * a mock of DashScope that refuses what DashScope refuses (test/helpers/dashscope-rules.ts) and otherwise answers
 * with the recorded qwen3-max tool call (../shared/fixtures/upstream/openai-compatible/alibaba), or a text answer
 * in DashScope's shape (`reasoning_content` before `content`, usage in a last chunk with `choices: []`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';
import { dashscopeRefusal, thinksByDefault } from '../helpers/dashscope-rules.ts';
import { claudeCodeBody } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-dashscope-1';
const RECORDED = 'openai-compatible/alibaba/stream-tool-call-empty-ids.chunks.jsonl';

const chunk = (model: string, delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-qwen-1', object: 'chat.completion.chunk', created: 1770764938, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], usage: null })}\n\n`;

/** A text answer as DashScope streams one: reasoning_content first when thinking, then content, then a usage chunk. */
function textStream(model: string, thinking: boolean): string[] {
  return [
    chunk(model, { role: 'assistant', content: '', ...(thinking ? { reasoning_content: 'The user wants the weather; ' } : {}) }),
    ...(thinking ? [chunk(model, { reasoning_content: 'the tool said fog.' })] : []),
    chunk(model, { content: 'It is 14°C and foggy' }),
    chunk(model, { content: ' in San Francisco.' }),
    chunk(model, {}, 'stop'),
    `data: ${JSON.stringify({ id: 'chatcmpl-qwen-1', object: 'chat.completion.chunk', created: 1770764938, model, choices: [], usage: { prompt_tokens: 310, completion_tokens: 19, total_tokens: 329, prompt_tokens_details: { cached_tokens: 0 } } })}\n\n`,
    'data: [DONE]\n\n',
  ];
}

/** The recorded tool call as DashScope answers a non-streamed request: its fragments joined into one message. */
function recordedAsJson(): unknown {
  const chunks = readFixture(RECORDED).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const call = { id: '', type: 'function', function: { name: '', arguments: '' } };
  for (const c of chunks) {
    for (const t of c.choices[0]?.delta?.tool_calls ?? []) {
      if (t.id) call.id = t.id;
      if (t.function?.name) call.function.name = t.function.name;
      call.function.arguments += t.function?.arguments ?? '';
    }
  }
  const last = chunks.at(-1);
  return {
    id: last.id, object: 'chat.completion', created: last.created, model: last.model, system_fingerprint: null,
    choices: [{ index: 0, message: { role: 'assistant', content: '', tool_calls: [call] }, finish_reason: 'tool_calls', logprobs: null }],
    usage: last.usage,
  };
}

const weather: Anthropic.Tool = {
  name: 'weather', description: 'The current weather in a city.',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r) => {
    const refused = dashscopeRefusal(r.json);
    if (refused) return refused;
    const body = r.json;
    const answered = body.messages.some((m: any) => m.role === 'tool');
    const wantsTool = Array.isArray(body.tools) && !answered;
    if (body.stream === true) {
      if (wantsTool) return sse(sseEvents(fixtureSseBody(RECORDED)));
      return sse(textStream(body.model, body.enable_thinking ?? thinksByDefault(body.model)));
    }
    if (wantsTool) return json(recordedAsJson());
    return json({
      id: 'chatcmpl-qwen-2', object: 'chat.completion', created: 1770764938, model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help?' }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'dashscope' }],
    routing: { circuit_failures: 1000 },
    channels: [{
      name: 'qwen', type: 'openai', provider: 'dashscope', base_url: `${upstream.url}/compatible-mode/v1`, api_key: 'sk-ds-up',
      models: { 'claude-haiku-5-5': 'qwen3-32b', 'claude-sonnet-5-5': 'qwen3-max', 'claude-opus-5-5': 'qwen3-coder-plus', 'claude-3-haiku': 'qwen-max', 'claude-haiku-4-5': 'qwen3.5-plus' },
    }, {
      // a user who wants the open Qwen3 models to think when the client did not ask
      name: 'qwen-thinks', type: 'openai', provider: 'dashscope', base_url: `${upstream.url}/compatible-mode/v1`, api_key: 'sk-ds-up',
      quirks: { thinking_by_default_models: [] }, models: { 'claude-3-5-haiku': 'qwen3-32b' },
    }],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const sent = () => upstream.requests.at(-1)!.json;

describe('thinking on DashScope: enable_thinking', () => {
  test('a non-streamed request to an open Qwen3 model (thinking on by default, refused unless off) is answered: enable_thinking false goes with it', async () => {
    const res = await client.messages.create({ model: 'claude-haiku-5-5', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.content.map((b) => (b as Anthropic.TextBlock).text)).toEqual(['Hello! How can I help?']);
    expect(sent()).toMatchObject({ model: 'qwen3-32b', enable_thinking: false });
    expect(upstream.requests.at(-1)!.path).toBe('/compatible-mode/v1/chat/completions');
  });

  test('a non-streamed request that asks for thinking is answered without it, and says so', async () => {
    const res = await client.messages.create({
      model: 'claude-haiku-5-5', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'hi' }],
    }).withResponse();
    expect(res.data.content.map((b) => b.type)).toEqual(['text']);
    expect(sent().enable_thinking).toBe(false);
    expect(sent().thinking_budget).toBeUndefined();
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('thinking (the provider thinks on streamed requests only)');
  });

  test('streamed with thinking: enable_thinking true and the budget as thinking_budget; reasoning_content becomes the thinking block', async () => {
    const msg = await client.messages.stream({
      model: 'claude-haiku-5-5', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'weather?' }],
    }).finalMessage();
    expect(sent()).toMatchObject({ model: 'qwen3-32b', stream: true, stream_options: { include_usage: true }, enable_thinking: true, thinking_budget: 2048 });
    expect(sent().thinking).toBeUndefined();
    expect(sent().reasoning_effort).toBeUndefined();
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect((msg.content[0] as Anthropic.ThinkingBlock).thinking).toBe('The user wants the weather; the tool said fog.');
    expect(msg.usage).toMatchObject({ input_tokens: 310, output_tokens: 19 });
  });

  test('streamed with thinking disabled: enable_thinking false; adaptive thinking: true with no budget', async () => {
    const off = await client.messages.stream({ model: 'claude-haiku-5-5', max_tokens: 1024, thinking: { type: 'disabled' }, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(sent().enable_thinking).toBe(false);
    expect(off.content.map((b) => b.type)).toEqual(['text']);
    await client.messages.stream({ model: 'claude-haiku-5-5', max_tokens: 1024, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'hi' }] } as Anthropic.MessageStreamParams).finalMessage();
    expect(sent().enable_thinking).toBe(true);
    expect(sent().thinking_budget).toBeUndefined();
  });

  test('qwen3-coder-plus (no thinking mode) gets no thinking control: Claude Code\'s adaptive thinking is reported, not sent', async () => {
    const { stream: _s, ...params } = claudeCodeBody({ model: 'claude-opus-5-5', prompt: 'hi' });
    await client.messages.stream({ ...params, tools: [weather], max_tokens: 32000 } as Anthropic.MessageStreamParams).finalMessage();
    expect(sent().enable_thinking).toBeUndefined();
    expect(sent().model).toBe('qwen3-coder-plus');
    expect(gw.requestLogs().at(-1).dropped).toContain('thinking (qwen3-coder-plus has no reasoning control)');
  });
});

describe('thinking the client did not ask for (Anthropic gives none; open Qwen3 and Qwen3.5 think unless told not to)', () => {
  const ask = (model: string, streamed: boolean, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) => {
    const params = { model, max_tokens: 1024, messages: [{ role: 'user', content: 'weather?' }], ...extra } as Anthropic.MessageCreateParamsNonStreaming;
    return streamed ? client.messages.stream(params).finalMessage() : client.messages.create(params);
  };

  test.each([['claude-haiku-5-5', 'qwen3-32b'], ['claude-haiku-4-5', 'qwen3.5-plus']])('%s (%s), streamed and not: enable_thinking false, no thinking block, nothing reported', async (model, upstreamModel) => {
    for (const streamed of [true, false]) {
      const res = await ask(model, streamed);
      expect(res.content.map((b) => b.type)).toEqual(['text']);
      expect(sent()).toMatchObject({ model: upstreamModel, enable_thinking: false });
      expect(gw.requestLogs().at(-1).dropped).toBeUndefined();
    }
  });

  test('asked (adaptive), streamed: enable_thinking true, as before', async () => {
    const res = await ask('claude-haiku-4-5', true, { thinking: { type: 'adaptive' } as never });
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(sent()).toMatchObject({ model: 'qwen3.5-plus', enable_thinking: true });
  });

  test('qwen3-max (a commercial Qwen3: off by default) and qwen3-coder-plus (no thinking mode), streamed: no switch is sent', async () => {
    await ask('claude-sonnet-5-5', true, { tools: [weather] });
    expect(sent()).toMatchObject({ model: 'qwen3-max' });
    expect(sent().enable_thinking).toBeUndefined();
    await ask('claude-opus-5-5', true);
    expect(sent()).toMatchObject({ model: 'qwen3-coder-plus' });
    expect(sent().enable_thinking).toBeUndefined();
  });

  test('a channel with thinking_by_default_models: [] lets qwen3-32b think unasked when streamed (a non-streamed request still goes with it off)', async () => {
    const res = await ask('claude-3-5-haiku', true);
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(sent()).toMatchObject({ model: 'qwen3-32b' });
    expect(sent().enable_thinking).toBeUndefined();
    await ask('claude-3-5-haiku', false);
    expect(sent().enable_thinking).toBe(false);
  });
});

describe('the recorded qwen3-max tool call (ids "" on continuation fragments) in a tool loop', () => {
  const ask = (messages: Anthropic.MessageParam[]) => ({ model: 'claude-sonnet-5-5', max_tokens: 1024, tools: [weather], messages });

  test.each([true, false])('streamed %p: the call arrives whole under its id, and the result goes back to it', async (streamed) => {
    const first: Anthropic.MessageParam[] = [{ role: 'user', content: 'What is the weather in San Francisco?' }];
    const one = streamed ? await client.messages.stream(ask(first)).finalMessage() : await client.messages.create(ask(first));
    expect(one.stop_reason).toBe('tool_use');
    expect(one.content).toEqual([{ type: 'tool_use', id: 'call_eee11723464a4b9eb8cee71d', name: 'weather', input: { location: 'San Francisco' } } as never]);
    expect(one.usage).toMatchObject({ input_tokens: 295, output_tokens: 22 });
    if (!streamed) expect(sent().enable_thinking).toBe(false); // qwen3-max has reasoning control: off for a JSON answer

    const next: Anthropic.MessageParam[] = [...first, { role: 'assistant', content: one.content }, {
      role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_eee11723464a4b9eb8cee71d', content: '14°C, fog' }],
    }];
    const two = streamed ? await client.messages.stream(ask(next)).finalMessage() : await client.messages.create(ask(next));
    expect(two.content.some((b) => b.type === 'text')).toBe(true);
    expect(sent().messages.slice(-2)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_eee11723464a4b9eb8cee71d', type: 'function', function: { name: 'weather', arguments: '{"location":"San Francisco"}' } }] },
      { role: 'tool', tool_call_id: 'call_eee11723464a4b9eb8cee71d', content: '14°C, fog' },
    ]);
  });
});

describe('output ceilings', () => {
  test('Claude Code\'s 32000 to qwen-max (8192): DashScope\'s "Range of max_tokens should be [1, 8192]" is read, the request goes again within it, and the next one is capped before it goes', async () => {
    const before = upstream.requests.length;
    const ask = () => client.messages.stream({ model: 'claude-3-haiku', max_tokens: 32000, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    const res = await ask();
    expect(res.content.map((b) => b.type)).toEqual(['text']);
    expect(upstream.requests.slice(before).map((r) => r.json.max_tokens)).toEqual([32000, 8192]);
    await ask();
    expect(upstream.requests.slice(before).map((r) => r.json.max_tokens)).toEqual([32000, 8192, 8192]);
  });
});
