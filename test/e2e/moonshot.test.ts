/**
 * @module test/e2e/moonshot
 * The `moonshot` preset (Kimi on https://api.moonshot.ai/v1): the Anthropic SDK → gateway → a mock of Kimi's API that
 * refuses what Kimi refuses (test/helpers/moonshot-rules.ts) and otherwise answers in Kimi's documented shape: the
 * reasoning in `reasoning_content` before the content or the tool call, streamed or not. No Kimi traffic is recorded in
 * ../shared/fixtures, so the answers are written here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { kimiThinks, moonshotRefusal } from '../helpers/moonshot-rules.ts';
import { READ_FILE_TOOLS, readFileResults } from '../helpers/tool-loop.ts';

const KEY = 'sk-gw-moonshot-1';
const REASONING = 'The user wants README.md; I will read it.';
const CALL_ID = 'read_file:0';

/** Kimi's answer to a body: a read_file call until the conversation holds its result, then text. */
function answerOf(body: any): { reasoning?: string; content: string; call?: { id: string; name: string; arguments: string } } {
  const reasoning = kimiThinks(body) ? REASONING : undefined;
  const answered = body.messages.some((m: any) => m.role === 'tool');
  if (Array.isArray(body.tools) && body.tool_choice !== 'none' && !answered) {
    const name = typeof body.tool_choice === 'object' ? body.tool_choice.function.name : body.tools[0].function.name;
    return { reasoning, content: '', call: { id: CALL_ID, name, arguments: '{"path": "README.md"}' } };
  }
  return { reasoning, content: 'README.md says hello.' };
}

function kimiJson(body: any): Response {
  const a = answerOf(body);
  const message: Record<string, unknown> = { role: 'assistant', content: a.content };
  if (a.reasoning) message.reasoning_content = a.reasoning;
  if (a.call) message.tool_calls = [{ index: 0, id: a.call.id, type: 'function', function: { name: a.call.name, arguments: a.call.arguments } }];
  return json({
    id: 'chatcmpl-kimi-1', object: 'chat.completion', created: 1762000000, model: body.model,
    choices: [{ index: 0, message, finish_reason: a.call ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, cached_tokens: 0 },
  });
}

function kimiStream(body: any): Response {
  const a = answerOf(body);
  const c = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-kimi-1', object: 'chat.completion.chunk', created: 1762000000, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  const out = [c({ role: 'assistant', content: '' })];
  if (a.reasoning) out.push(c({ reasoning_content: a.reasoning.slice(0, 20) }), c({ reasoning_content: a.reasoning.slice(20) }));
  if (a.call) {
    out.push(c({ tool_calls: [{ index: 0, id: a.call.id, type: 'function', function: { name: a.call.name, arguments: '' } }] }));
    out.push(c({ tool_calls: [{ index: 0, function: { arguments: a.call.arguments } }] }));
  } else out.push(c({ content: a.content }));
  out.push(c({}, a.call ? 'tool_calls' : 'stop', { usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, cached_tokens: 0 } }));
  out.push('data: [DONE]\n\n');
  return sse(out);
}

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r) => moonshotRefusal(r.json) ?? (r.json.stream === true ? kimiStream(r.json) : kimiJson(r.json)));
  gw = startGateway({
    keys: [{ key: KEY, name: 'moonshot' }],
    routing: { circuit_failures: 1000 },
    channels: [{
      name: 'kimi', type: 'openai', provider: 'moonshot', base_url: `${upstream.url}/v1`, api_key: 'sk-kimi-up',
      models: { 'claude-sonnet-5-5': 'kimi-k2.6', 'claude-opus-5-5': 'kimi-k2-thinking', 'claude-haiku-5-5': 'kimi-k2-0905-preview' },
    }, {
      // a user who wants kimi-k2.6 to think when the client did not ask
      name: 'kimi-thinks', type: 'openai', provider: 'moonshot', base_url: `${upstream.url}/v1`, api_key: 'sk-kimi-up',
      quirks: { thinking_by_default_models: [] }, models: { 'claude-3-haiku': 'kimi-k2.6' },
    }],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const sent = () => upstream.requests.at(-1)!.json;

describe('a tool loop with thinking: reasoning_content goes back on the assistant tool-call message', () => {
  test.each([
    ['kimi-k2.6, adaptive thinking (as Claude Code sends it)', 'claude-sonnet-5-5', { type: 'adaptive' }],
    ['kimi-k2.6, no thinking field, on a channel that lets it think unasked (thinking_by_default_models: [])', 'claude-3-haiku', undefined],
    ['kimi-k2-thinking (always thinks)', 'claude-opus-5-5', { type: 'enabled', budget_tokens: 8000 }],
  ] as const)('%s, streamed and not', async (_name, model, thinking) => {
    for (const streamed of [true, false]) {
      const params = (messages: Anthropic.MessageParam[]) => ({ model, max_tokens: 16000, tools: READ_FILE_TOOLS, messages, ...(thinking ? { thinking } : {}) }) as Anthropic.MessageCreateParamsNonStreaming;
      const ask = (messages: Anthropic.MessageParam[]) => (streamed ? client.messages.stream(params(messages)).finalMessage() : client.messages.create(params(messages)));
      const first: Anthropic.MessageParam[] = [{ role: 'user', content: 'What is in README.md?' }];
      const one = await ask(first);
      expect(one.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
      expect((one.content[0] as Anthropic.ThinkingBlock).thinking).toBe(REASONING);
      expect(one.content[1]).toMatchObject({ type: 'tool_use', name: 'read_file', input: { path: 'README.md' } });

      const two = await ask([...first, { role: 'assistant', content: one.content }, { role: 'user', content: readFileResults(one) }]);
      expect(two.content.at(-1)).toMatchObject({ type: 'text', text: 'README.md says hello.' });
      expect(sent().messages[1]).toMatchObject({ role: 'assistant', reasoning_content: REASONING, tool_calls: [{ id: CALL_ID, function: { name: 'read_file' } }] });
      if (model === 'claude-sonnet-5-5') expect(sent().thinking).toEqual({ type: 'enabled' });
      else if (model === 'claude-3-haiku') expect(sent().thinking).toBeUndefined();
      else {
        expect(sent().thinking).toBeUndefined(); // kimi-k2-thinking: nothing to switch, and nothing lost
        expect(gw.requestLogs().at(-1).dropped).toBeUndefined();
      }
      expect(sent().max_completion_tokens).toBe(16000);
      expect(sent().max_tokens).toBeUndefined();
    }
  });

  test('a history from another model (a tool call with no thinking block) goes with an empty reasoning_content', async () => {
    const res = await client.messages.create({
      model: 'claude-opus-5-5', max_tokens: 4096, tools: READ_FILE_TOOLS, messages: [
        { role: 'user', content: 'What is in README.md?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'read_file', input: { path: 'README.md' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: 'hello' }] },
      ],
    });
    expect(res.content.at(-1)).toMatchObject({ type: 'text' });
    expect(sent().messages[1].reasoning_content).toBe('');
  });
});

describe('thinking the client did not ask for (Anthropic gives none; kimi-k2.5 / kimi-k2.6 think unless told not to)', () => {
  const ask = (model: string, streamed: boolean, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) => {
    const params = { model, max_tokens: 1024, tools: READ_FILE_TOOLS, messages: [{ role: 'user', content: 'What is in README.md?' }], ...extra } as Anthropic.MessageCreateParamsNonStreaming;
    return streamed ? client.messages.stream(params).finalMessage() : client.messages.create(params);
  };

  test.each([true, false])('kimi-k2.6, streamed %p: thinking {type: disabled} goes, and the answer has no thinking block; nothing is reported', async (streamed) => {
    const res = await ask('claude-sonnet-5-5', streamed);
    expect(res.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(sent()).toMatchObject({ model: 'kimi-k2.6', thinking: { type: 'disabled' } });
    expect(gw.requestLogs().at(-1).dropped).toBeUndefined();
  });

  test.each([true, false])('asked (adaptive), streamed %p: thinking {type: enabled}, as before', async (streamed) => {
    const res = await ask('claude-sonnet-5-5', streamed, { thinking: { type: 'adaptive' } as never });
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(sent().thinking).toEqual({ type: 'enabled' });
  });

  test.each([true, false])('kimi-k2-thinking (always thinks) and kimi-k2-0905-preview (never does), streamed %p: no switch is sent', async (streamed) => {
    const always = await ask('claude-opus-5-5', streamed);
    expect(always.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(sent().thinking).toBeUndefined();
    const never = await ask('claude-haiku-5-5', streamed);
    expect(never.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(sent().thinking).toBeUndefined();
  });

  test.each([true, false])('a channel with thinking_by_default_models: [] lets kimi-k2.6 think unasked, streamed %p', async (streamed) => {
    const res = await ask('claude-3-haiku', streamed);
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(sent()).toMatchObject({ model: 'kimi-k2.6' });
    expect(sent().thinking).toBeUndefined();
  });
});

describe('a forced tool_choice, which Kimi refuses with thinking on', () => {
  test('kimi-k2.6 (thinks by default): tool_choice any goes as required with thinking disabled, and is answered with the call', async () => {
    const res = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 1024, tools: READ_FILE_TOOLS, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Read README.md' }] }).withResponse();
    expect(res.data.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(sent()).toMatchObject({ tool_choice: 'required', thinking: { type: 'disabled' } });
    expect(res.response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('kimi-k2.6 with thinking asked and a named tool: the function is forced, thinking is off and reported', async () => {
    const res = await client.messages.create({
      model: 'claude-sonnet-5-5', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, tools: READ_FILE_TOOLS,
      tool_choice: { type: 'tool', name: 'read_file' }, messages: [{ role: 'user', content: 'Read README.md' }],
    }).withResponse();
    expect(res.data.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(sent()).toMatchObject({ tool_choice: { type: 'function', function: { name: 'read_file' } }, thinking: { type: 'disabled' } });
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('thinking (off: the provider refuses a forced tool_choice with thinking)');
  });

  test('kimi-k2-thinking (always thinks): the forced choice goes as auto, reported; the model still calls the tool it was asked to', async () => {
    const res = await client.messages.stream({ model: 'claude-opus-5-5', max_tokens: 4096, tools: READ_FILE_TOOLS, tool_choice: { type: 'tool', name: 'read_file' }, messages: [{ role: 'user', content: 'Read README.md' }] }).finalMessage();
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(sent().tool_choice).toBe('auto');
    expect(sent().thinking).toBeUndefined();
    expect(gw.requestLogs().at(-1).dropped).toEqual(['tool_choice (sent as auto: kimi-k2-thinking always thinks, and the provider refuses a forced tool_choice with thinking)']);
  });

  test('kimi-k2-0905-preview (no thinking): tool_choice any goes as required, nothing else', async () => {
    await client.messages.create({ model: 'claude-haiku-5-5', max_tokens: 1024, tools: READ_FILE_TOOLS, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Read README.md' }] });
    expect(sent().tool_choice).toBe('required');
    expect(sent().thinking).toBeUndefined();
  });
});

describe('sampling', () => {
  test('temperature and top_p are left out for kimi-k2.6 (its own values only) and reported; the K2 instruct models get them', async () => {
    const params = { max_tokens: 256, temperature: 0.2, top_p: 0.9, messages: [{ role: 'user' as const, content: 'hi' }] };
    const res = await client.messages.create({ ...params, model: 'claude-sonnet-5-5' }).withResponse();
    expect(res.data.content.at(-1)).toMatchObject({ type: 'text', text: 'README.md says hello.' });
    expect(sent().temperature).toBeUndefined();
    expect(sent().top_p).toBeUndefined();
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('temperature (kimi-k2.6 takes only its default), top_p (kimi-k2.6 takes only its default)');
    await client.messages.create({ ...params, model: 'claude-haiku-5-5' });
    expect(sent()).toMatchObject({ model: 'kimi-k2-0905-preview', temperature: 0.2, top_p: 0.9 });
  });

  test('thinking disabled on kimi-k2.6: thinking {type: disabled}, and a history without reasoning is taken', async () => {
    const res = await client.messages.stream({
      model: 'claude-sonnet-5-5', max_tokens: 1024, thinking: { type: 'disabled' }, tools: READ_FILE_TOOLS, messages: [
        { role: 'user', content: 'What is in README.md?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01B', name: 'read_file', input: { path: 'README.md' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01B', content: 'hello' }] },
      ],
    }).finalMessage();
    expect(res.content.map((b) => b.type)).toEqual(['text']);
    expect(sent().thinking).toEqual({ type: 'disabled' });
  });
});
