/**
 * One exposed model served by an anthropic channel and an openai channel: when the first one fails before its first
 * byte, the next one in the other format answers, and each gets the request in its own format (the passthrough the
 * client's own bytes, model rewritten; the translation a Chat Completions body), whichever came first. Driven with
 * the Anthropic and openai SDKs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatTextStream, chatToolCallStream } from '../helpers/claude-code.ts';
import { fixtureSseBody } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-cross-format-1';
let claudeUp: MockUpstream;
let gptUp: MockUpstream;
/** `m`: the anthropic channel first, the openai one second. */
let claudeFirst: TestGateway;
/** `m`: the openai channel first, the anthropic one second. */
let gptFirst: TestGateway;

const overloaded = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529);
const chatAnswer = {
  id: 'chatcmpl-x', object: 'chat.completion', created: 1_790_000_000, model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'From GPT.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
};

beforeAll(() => {
  claudeUp = startMockUpstream(overloaded);
  gptUp = startMockUpstream(() => json(chatAnswer));
  const channels = (claudePriority: number, gptPriority: number) => [
    { name: 'claude', type: 'anthropic', base_url: claudeUp.url, api_key: 'sk-ant-upstream', models: { m: 'claude-sonnet-4-5' }, priority: claudePriority },
    { name: 'gpt', type: 'openai', provider: 'openai', base_url: `${gptUp.url}/v1`, api_key: 'sk-openai-upstream', models: { m: 'gpt-4o' }, priority: gptPriority },
  ];
  const routing = { circuit_failures: 1000, max_retry_after_ms: 50 };
  claudeFirst = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: channels(10, 0) });
  gptFirst = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: channels(0, 10) });
});
afterAll(async () => {
  await claudeFirst?.stop();
  await gptFirst?.stop();
  await claudeUp?.stop();
  await gptUp?.stop();
});
beforeEach(() => {
  claudeUp.requests.length = 0;
  gptUp.requests.length = 0;
});

const anthropic = (g: TestGateway) => new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
const openai = (g: TestGateway) => new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
const lastLog = async (g: TestGateway, count: number) => {
  await until(() => g.requestLogs().length >= count);
  return g.requestLogs().at(-1);
};

describe('a Messages client: the anthropic channel fails, the openai channel answers (translated)', () => {
  test('a stream (Claude Code\'s shape: tools, a tool result, thinking)', async () => {
    claudeUp.handler = overloaded;
    gptUp.handler = (r) => sse(chatTextStream('From GPT, streamed.'), { signal: r.signal });
    const before = claudeFirst.requestLogs().length;
    const msg = await anthropic(claudeFirst).messages.stream({
      model: 'm', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 512 },
      tools: [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }],
      messages: [
        { role: 'user', content: 'Read a.txt' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'read_file', input: { path: 'a.txt' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'hello' }] },
      ],
    }).finalMessage();
    expect(msg.content).toMatchObject([{ type: 'text', text: 'From GPT, streamed.' }]);
    expect(claudeUp.requests.length).toBe(1);
    expect(claudeUp.requests[0]!.json).toMatchObject({ model: 'claude-sonnet-4-5', stream: true });
    // the second attempt is a translation of the client's request, not of the first attempt's bytes
    const chat = gptUp.requests[0]!.json as any;
    expect(chat.model).toBe('gpt-4o');
    expect(chat.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(chat.messages[1].tool_calls[0]).toMatchObject({ id: 'toolu_01', function: { name: 'read_file', arguments: '{"path":"a.txt"}' } });
    expect(chat.messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'toolu_01', content: 'hello' });
    expect(chat.tools[0].function.name).toBe('read_file');
    expect(await lastLog(claudeFirst, before + 1)).toMatchObject({ channel: 'gpt', upstream_model: 'gpt-4o', attempts: 2, status: 200, outcome: 'ok', output_tokens: 8 });
  });

  test('a JSON answer, and an Anthropic stream that opens with overloaded_error', async () => {
    claudeUp.handler = () => json({ type: 'error', error: { type: 'api_error', message: 'Internal' } }, 500);
    gptUp.handler = () => json(chatAnswer);
    const msg = await anthropic(claudeFirst).messages.create({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg).toMatchObject({ type: 'message', model: 'm', content: [{ type: 'text', text: 'From GPT.' }], usage: { input_tokens: 12, output_tokens: 3 } });

    claudeUp.handler = () => new Response('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', { headers: { 'content-type': 'text/event-stream' } });
    gptUp.handler = (r) => sse(chatToolCallStream('call_1', 'read_file', { path: 'b.txt' }), { signal: r.signal });
    const streamed = await anthropic(claudeFirst).messages.stream({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'read b.txt' }], tools: [{ name: 'read_file', input_schema: { type: 'object' } }] }).finalMessage();
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.content).toMatchObject([{ type: 'tool_use', name: 'read_file', input: { path: 'b.txt' } }]);
  });
});

describe('a Messages client: the openai channel fails, the anthropic channel answers (passthrough)', () => {
  test('the Anthropic upstream gets the client\'s own bytes, model rewritten, not the translation that went first', async () => {
    gptUp.handler = () => json({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, 429, { 'retry-after': '0' });
    const recorded = fixtureSseBody('anthropic/stream-text-basic.sse');
    claudeUp.handler = (r) => sse(sseEvents(recorded), { signal: r.signal });
    const body = '{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Héllo ✓"}],"metadata":{"user_id":"u-1"},"some_new_field":[1,2]}';
    const res = await fetch(`${gptFirst.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(recorded);
    expect(gptUp.requests.length).toBe(1);
    expect((gptUp.requests[0]!.json as any).model).toBe('gpt-4o');
    expect(claudeUp.requests[0]!.text).toBe(body.replace('"model":"m"', '"model":"claude-sonnet-4-5"'));
  });
});

describe('a Chat Completions client, both ways', () => {
  test('the openai channel fails: the anthropic channel answers, translated for the openai SDK', async () => {
    gptUp.handler = () => json({ error: { message: 'The server is overloaded', type: 'server_error' } }, 503);
    claudeUp.handler = (r) => sse(sseEvents(fixtureSseBody('anthropic/stream-text-basic.sse')), { signal: r.signal });
    const completion = await openai(gptFirst).chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion();
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(gptUp.requests.length).toBe(1);
    expect(claudeUp.requests[0]!.json).toMatchObject({ model: 'claude-sonnet-4-5', stream: true, messages: [{ role: 'user' }] });
  });

  test('the anthropic channel fails: the openai channel gets the client\'s own bytes', async () => {
    claudeUp.handler = overloaded;
    gptUp.handler = () => json(chatAnswer);
    const body = '{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":7,"logit_bias":{"50256":-100}}';
    const res = await fetch(`${claudeFirst.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(chatAnswer);
    expect(claudeUp.requests.length).toBe(1);
    expect(gptUp.requests[0]!.text).toBe(body.replace('"model":"m"', '"model":"gpt-4o"'));
  });

  test('both fail: the last one\'s error, in the client\'s envelope', async () => {
    claudeUp.handler = overloaded;
    gptUp.handler = () => json({ error: { message: 'The server is overloaded', type: 'server_error' } }, 503);
    const err: any = await openai(claudeFirst).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(503);
    expect(err.error).toMatchObject({ message: 'The server is overloaded' });
    const err2: any = await anthropic(gptFirst).messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    expect(err2).toBeInstanceOf(Anthropic.APIError);
    expect(err2.status).toBe(529);
    expect(err2.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
});


describe('a Messages request the openai channel\'s translation refuses (a web search turn in its history, more stop sequences than OpenAI takes)', () => {
  // an Anthropic answer to a web search, pushed back into the history as the SDK gives it: its server-tool blocks have
  // no Chat Completions form, so the translation refuses it (400 naming the block)
  const searched = [
    { role: 'user' as const, content: 'Any news?' },
    { role: 'assistant' as const, content: [
      { type: 'server_tool_use' as const, id: 'srvtoolu_01', name: 'web_search' as const, input: { query: 'news' } },
      { type: 'web_search_tool_result' as const, tool_use_id: 'srvtoolu_01', content: [{ type: 'web_search_result' as const, url: 'https://news.example/', title: 'News', encrypted_content: 'EqgfCi', page_age: null }] },
      { type: 'text' as const, text: 'Here is the news.' },
    ] },
    { role: 'user' as const, content: 'More?' },
  ];
  const requests: Array<[string, Omit<Anthropic.MessageCreateParamsNonStreaming, 'model' | 'max_tokens'>]> = [
    ['a web search turn', { messages: searched, tools: [{ type: 'web_search_20250305' as const, name: 'web_search' as const }]  }],
    ['five stop sequences', { messages: [{ role: 'user', content: 'hi' }], stop_sequences: ['a', 'b', 'c', 'd', 'e'] }],
  ];

  for (const [name, params] of requests) {
    test(`${name}: the anthropic channel's overload stays the answer (the SDK retries it), not a 400 blaming the request`, async () => {
      claudeUp.handler = overloaded;
      gptUp.handler = () => json(chatAnswer);
      const err: any = await anthropic(claudeFirst).messages.create({ model: 'm', max_tokens: 64, ...params }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect([err.status, err.error.error.type]).toEqual([529, 'overloaded_error']);
      expect([claudeUp.requests.length, gptUp.requests.length]).toEqual([1, 0]);
    });

    test(`${name}: the log line names the channel whose failure is the answer, and the one upstream call made`, async () => {
      claudeUp.handler = overloaded;
      const before = claudeFirst.requestLogs().length;
      await anthropic(claudeFirst).messages.create({ model: 'm', max_tokens: 64, ...params }).then(() => null, (e) => e);
      expect(await lastLog(claudeFirst, before + 1)).toMatchObject({ channel: 'claude', upstream_model: 'claude-sonnet-4-5', attempts: 1, status: 529, outcome: 'error' });
    });

    test(`${name}: the openai channel first cannot carry it, the anthropic channel after it answers`, async () => {
      claudeUp.handler = () => json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'From Claude.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 9, output_tokens: 3 } });
      gptUp.handler = () => json(chatAnswer);
      const before = gptFirst.requestLogs().length;
      const msg = await anthropic(gptFirst).messages.create({ model: 'm', max_tokens: 64, ...params });
      expect(msg.content).toEqual([{ type: 'text', text: 'From Claude.' }] as any);
      expect([claudeUp.requests.length, gptUp.requests.length]).toEqual([1, 0]);
      expect(await lastLog(gptFirst, before + 1)).toMatchObject({ channel: 'claude', upstream_model: 'claude-sonnet-4-5', attempts: 1, status: 200, outcome: 'ok' });
    });
  }

  test('the anthropic channel after the refusal answers with an error inside a 200: that error is the answer, counted once', async () => {
    claudeUp.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 200);
    const before = gptFirst.requestLogs().length;
    const err: any = await anthropic(gptFirst).messages.create({ model: 'm', max_tokens: 64, ...requests[0]![1] }).then(() => null, (e) => e);
    expect([err?.status, err?.error?.error?.type, err?.error?.error?.message]).toEqual([529, 'overloaded_error', 'channel claude: Overloaded']);
    expect([claudeUp.requests.length, gptUp.requests.length]).toEqual([1, 0]);
    expect(await lastLog(gptFirst, before + 1)).toMatchObject({ channel: 'claude', attempts: 1, status: 529, outcome: 'error' });
  });

  test('an error inside the anthropic channel\'s 200, then the refusal: the error is the answer', async () => {
    claudeUp.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 200);
    const err: any = await anthropic(claudeFirst).messages.create({ model: 'm', max_tokens: 64, ...requests[0]![1] }).then(() => null, (e) => e);
    expect([err?.status, err?.error?.error?.type, err?.error?.error?.message]).toEqual([529, 'overloaded_error', 'channel claude: Overloaded']);
    expect([claudeUp.requests.length, gptUp.requests.length]).toEqual([1, 0]);
  });

  test('a refusal, then a channel that retries within the output ceiling it named: attempts counts the two calls made', async () => {
    // five stop sequences: the openai preset takes four; a server without the limit names its output ceiling first
    const mock = startMockUpstream((r) => (r.json.max_tokens > 1000
      ? json({ error: { message: `max_tokens is too large: ${r.json.max_tokens}. This model supports at most 1000 completion tokens, whereas you provided ${r.json.max_tokens}.`, type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_value' } }, 400)
      : json(chatAnswer)));
    const g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [
      { name: 'gpt', type: 'openai', provider: 'openai', base_url: `${mock.url}/v1`, api_key: 'k', models: { m: 'gpt-4o' }, priority: 10 },
      { name: 'local', type: 'openai', base_url: `${mock.url}/v1`, api_key: 'k', models: { m: 'local-model' } },
    ] });
    try {
      const msg = await anthropic(g).messages.create({ model: 'm', max_tokens: 4000, stop_sequences: ['a', 'b', 'c', 'd', 'e'], messages: [{ role: 'user', content: 'hi' }] });
      expect(msg.content).toEqual([{ type: 'text', text: 'From GPT.' }] as any);
      expect(mock.requests.map((r) => [r.json.model, r.json.max_tokens])).toEqual([['local-model', 4000], ['local-model', 1000]]);
      await until(() => g.requestLogs().length > 0);
      expect(g.requestLogs().at(-1)).toMatchObject({ channel: 'local', upstream_model: 'local-model', attempts: 2, status: 200, outcome: 'ok' });
    } finally { await g.stop(); await mock.stop(); }
  });

  test('with no other channel to take it, the translation\'s 400 naming the field is the answer, as before', async () => {
    claudeUp.handler = () => json({ type: 'error', error: { type: 'invalid_request_error', message: 'unreachable' } }, 400);
    const mock = startMockUpstream(() => json(chatAnswer));
    const g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [{ name: 'gpt', type: 'openai', provider: 'openai', base_url: `${mock.url}/v1`, api_key: 'k', models: ['m'] }] });
    try {
      const err: any = await anthropic(g).messages.create({ model: 'm', max_tokens: 64, ...requests[0]![1] }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.error.message).toBe('messages.1.content.0.type: block type "server_tool_use" cannot be sent to an OpenAI-compatible provider');
      expect(mock.requests.length).toBe(0);
      // no upstream attempt made; the channel that refused named
      await until(() => g.requestLogs().length > 0);
      expect(g.requestLogs().at(-1)).toMatchObject({ channel: 'gpt', attempts: 0, status: 400, outcome: 'error' });
    } finally { await g.stop(); await mock.stop(); }
  });

  test('a message thread, which the translation refuses with the error the SDK recovers from, is still refused so after an overload', async () => {
    claudeUp.handler = overloaded;
    const before = claudeFirst.requestLogs().length;
    const err: any = await anthropic(claudeFirst).beta.messages.create({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], thread: { type: 'create' } } as any).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.ThreadUnsupportedRequestError);
    expect(gptUp.requests.length).toBe(0);
    // the refusal is the answer: the line names the channel that refused it, beside the one upstream call made
    const line = await lastLog(claudeFirst, before + 1);
    expect(line).toMatchObject({ channel: 'gpt', upstream_model: 'gpt-4o', attempts: 1, status: 400, outcome: 'error' });
    expect(line.error).toContain('thread');
  });
});
