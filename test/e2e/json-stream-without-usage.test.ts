/**
 * A Chat Completions client on an anthropic channel that streams its request, answered with a whole Anthropic Message
 * JSON (an Anthropic-compatible proxy or server that ignores `stream`) which reports no usage, or usage without
 * `output_tokens`: the answer is given in full and must reach the client as its stream, usage the local estimate
 * (logged `usage_estimated`), never a null in a count. Driven by the official openai SDK through the gateway.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-json-no-usage-1';
let claude: MockUpstream;
let spare: MockUpstream;
let gw: TestGateway;
let oa: OpenAI;

const MESSAGE = {
  id: 'msg_01NoUsage', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'Paris is the capital of France.' }], stop_reason: 'end_turn', stop_sequence: null,
};

beforeAll(() => {
  claude = startMockUpstream(() => json(MESSAGE));
  spare = startMockUpstream(() => json({ id: 'chatcmpl-spare', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'from the fallback' } }] }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'compat', type: 'anthropic', base_url: claude.url, api_key: 'sk-ant-up', models: ['claude-sonnet-4-5'], priority: 2 },
      { name: 'spare', type: 'openai', base_url: `${spare.url}/v1`, api_key: 'sk-up', models: { 'claude-sonnet-4-5': 'gpt-4o' }, priority: 1 },
    ],
  });
  oa = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await claude?.stop();
  await spare?.stop();
});
beforeEach(() => {
  claude.requests.length = 0;
  spare.requests.length = 0;
});

const ask = { model: 'claude-sonnet-4-5', messages: [{ role: 'user' as const, content: 'What is the capital of France? Answer in one sentence, please.' }] };

describe('a streamed Chat request answered with a whole Message JSON without usage', () => {
  for (const [name, usage] of [['no usage', undefined], ['usage without output_tokens', { input_tokens: 21 }], ['usage of nulls', { input_tokens: null, output_tokens: null }]] as const) {
    test(`${name}: the openai SDK's stream carries the answer, usage the estimate (no nulls), logged usage_estimated; no fallback`, async () => {
      claude.handler = () => json(usage === undefined ? MESSAGE : { ...MESSAGE, usage });
      const before = gw.requestLogs().length;
      const stream = await oa.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(MESSAGE.content[0]!.text);
      expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]!.finish_reason).toBe('stop');
      const counted = chunks.at(-1)!.usage!;
      expect(counted.prompt_tokens).toBe(usage?.input_tokens ?? counted.prompt_tokens);
      for (const n of [counted.prompt_tokens, counted.completion_tokens, counted.total_tokens]) expect(n).toBeGreaterThan(0);
      expect(counted.total_tokens).toBe(counted.prompt_tokens + counted.completion_tokens);
      expect(claude.requests).toHaveLength(1);
      expect(spare.requests).toHaveLength(0);

      await until(() => gw.requestLogs().length > before);
      const line = gw.requestLogs().at(-1)!;
      expect(line).toMatchObject({ status: 200, outcome: 'ok', channel: 'compat', usage_estimated: true, output_tokens: counted.completion_tokens });
      expect(line.input_tokens).toBeGreaterThan(0);
    });
  }

  test('streamed without include_usage, through the stream helper: the answer whole', async () => {
    claude.handler = () => json(MESSAGE);
    const completion = await oa.chat.completions.stream({ ...ask, stream: true }).finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBe(MESSAGE.content[0]!.text);
    expect(spare.requests).toHaveLength(0);
  });

  test('not streamed: the estimate too, marked so', async () => {
    claude.handler = () => json(MESSAGE);
    const before = gw.requestLogs().length;
    const completion = await oa.chat.completions.create(ask);
    expect(completion.choices[0]!.message.content).toBe(MESSAGE.content[0]!.text);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    await until(() => gw.requestLogs().length > before);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, channel: 'compat', usage_estimated: true });
  });

  test('a Messages client\'s stream, relayed, of a Message whose usage lacks output_tokens: the estimate, never null', async () => {
    claude.handler = () => json({ ...MESSAGE, usage: { input_tokens: 21 } });
    const sdk = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    const stream = sdk.messages.stream({ ...ask, max_tokens: 256 });
    stream.on('streamEvent', (e) => events.push(structuredClone(e))); // the SDK builds its snapshot from message_start's objects
    const msg = await stream.finalMessage();
    expect(msg.content).toEqual(MESSAGE.content as never);
    expect(msg.usage.input_tokens).toBe(21);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    const start = events.find((e) => e.type === 'message_start') as Anthropic.RawMessageStartEvent;
    expect(start.message.usage.output_tokens).toBe(1);
  });

  test('a Message with its usage keeps Anthropic\'s counts, unmarked', async () => {
    claude.handler = () => json({ ...MESSAGE, usage: { input_tokens: 21, output_tokens: 9 } });
    const before = gw.requestLogs().length;
    const stream = await oa.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 });
    await until(() => gw.requestLogs().length > before);
    const line = gw.requestLogs().at(-1)!;
    expect(line).toMatchObject({ input_tokens: 21, output_tokens: 9 });
    expect(line.usage_estimated).toBeUndefined();
  });
});
