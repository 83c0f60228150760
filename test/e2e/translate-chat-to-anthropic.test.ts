/**
 * Official `openai` SDK client → POST /v1/chat/completions (real HTTP) → `anthropic` channel → mock Anthropic upstream
 * replaying the recordings in ../shared/fixtures/upstream/anthropic. Expectations are read from the recordings by the
 * small reference reader below, never by calling the gateway's converters.
 * Also: /v1/chat/completions to an `openai` channel is a byte passthrough (model rewritten at most).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, listFixtures, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-chat-key-1';
const UPSTREAM_KEY = 'sk-ant-upstream-secret-1';
const OPENAI_KEY = 'sk-openai-upstream-secret-1';
const DEFAULT_MAX_TOKENS = 4000;

const anthropicRecordings = listFixtures('anthropic');
const allStreams = anthropicRecordings.filter((f) => /\/stream-[^/]*\.(sse|chunks\.jsonl)$/.test(f));
/** A stream must end with the blank line that dispatches its last event (message_stop); two recordings do not. */
const endsProperly = (rel: string) => /\n\n$|\r\n\r\n$/.test(fixtureSseBody(rel));
const streams = allStreams.filter(endsProperly);
const cutStreams = allStreams.filter((f) => !endsProperly(f));
const responses = anthropicRecordings.filter((f) => /\/response-[^/]*\.json$/.test(f));

// ---------------------------------------------------------------------------------------------------------------
// Reference reader: the Chat Completions answer a recording stands for
// ---------------------------------------------------------------------------------------------------------------

interface ExpectedChat {
  content: string | null;
  tool_calls: Array<{ id: string; name: string; arguments: string }>;
  finish_reason: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const FINISH: Record<string, string> = {
  end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop', max_tokens: 'length',
  model_context_window_exceeded: 'length', tool_use: 'tool_calls', refusal: 'content_filter',
};

/** OpenAI's prompt_tokens includes cached tokens; Anthropic counts cache reads and writes apart. */
function chatUsage(u: any): ExpectedChat['usage'] {
  const prompt = (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
  const completion = u.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Data payloads of an SSE body, one per event (a last event without its blank line included). */
function sseData(body: string): any[] {
  const out: any[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

function expectFromAnthropicStream(body: string): ExpectedChat {
  const blocks = new Map<number, { type: string; id?: string; name?: string; input?: unknown; text: string; args: string }>();
  let usage: any = {};
  let stop: string | null = null;
  for (const ev of sseData(body)) {
    switch (ev.type) {
      case 'message_start': usage = { ...ev.message.usage }; break;
      case 'content_block_start': blocks.set(ev.index, { ...ev.content_block, text: ev.content_block.text ?? '', args: '' }); break;
      case 'content_block_delta': {
        const b = blocks.get(ev.index)!;
        if (ev.delta.type === 'text_delta') b.text += ev.delta.text;
        if (ev.delta.type === 'input_json_delta') b.args += ev.delta.partial_json;
        break;
      }
      case 'message_delta':
        stop = ev.delta.stop_reason;
        for (const [k, v] of Object.entries(ev.usage ?? {})) if (v != null) usage[k] = v;
        break;
    }
  }
  const ordered = [...blocks.entries()].sort(([a], [b]) => a - b).map(([, b]) => b);
  const texts = ordered.filter((b) => b.type === 'text');
  const tools = ordered.filter((b) => b.type === 'tool_use').map((b) => ({
    id: b.id!, name: b.name!,
    arguments: b.args !== '' ? b.args : JSON.stringify(b.input && Object.keys(b.input).length ? b.input : {}),
  }));
  return { content: texts.length ? texts.map((b) => b.text).join('') : null, tool_calls: tools, finish_reason: FINISH[stop!]!, usage: chatUsage(usage) };
}

function expectFromAnthropicMessage(msg: any): ExpectedChat {
  const texts = msg.content.filter((b: any) => b.type === 'text');
  return {
    content: texts.length ? texts.map((b: any) => b.text).join('') : null,
    tool_calls: msg.content.filter((b: any) => b.type === 'tool_use').map((b: any) => ({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) })),
    finish_reason: FINISH[msg.stop_reason]!,
    usage: chatUsage(msg.usage),
  };
}

/** Arguments compared as JSON values where they parse (a stream cut by max_tokens leaves them unfinished). */
function argsValue(s: string): unknown {
  try { return JSON.parse(s); } catch { return { unparsed: s }; }
}

function expectCompletion(c: OpenAI.ChatCompletion, exp: ExpectedChat, model: string, streamed: boolean) {
  expect(c.id).toMatch(/^chatcmpl-/);
  expect(c.object).toBe('chat.completion');
  expect(c.model).toBe(model);
  expect(c.choices.length).toBe(1);
  const choice = c.choices[0]!;
  expect(choice.index).toBe(0);
  expect(choice.message.role).toBe('assistant');
  if (streamed) expect(choice.message.content ?? '').toBe(exp.content ?? ''); // a stream starts with content: ""
  else expect(choice.message.content).toBe(exp.content);
  const calls = (choice.message.tool_calls ?? []).map((t) => {
    expect(t.type).toBe('function');
    const fn = (t as OpenAI.ChatCompletionMessageFunctionToolCall).function;
    return { id: t.id, name: fn.name, arguments: argsValue(fn.arguments) };
  });
  expect(calls).toEqual(exp.tool_calls.map((t) => ({ ...t, arguments: argsValue(t.arguments) })));
  expect(choice.finish_reason).toBe(exp.finish_reason as OpenAI.ChatCompletion.Choice['finish_reason']);
  expect(c.usage).toMatchObject(exp.usage);
}

// ---------------------------------------------------------------------------------------------------------------
// What a valid Anthropic Messages request is
// ---------------------------------------------------------------------------------------------------------------

const MESSAGES_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'tools', 'tool_choice', 'thinking', 'output_config', 'stop_sequences',
  'temperature', 'top_p', 'top_k', 'metadata', 'stream', 'service_tier', 'container', 'context_management', 'mcp_servers', 'inference_geo',
]);
const BLOCK_TYPES = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'search_result']);

function anthropicBodyProblems(body: any): string[] {
  const p: string[] = [];
  if (typeof body?.model !== 'string' || !body.model) p.push('model: missing');
  if (!Number.isInteger(body?.max_tokens) || body.max_tokens < 1) p.push('max_tokens: missing or not a positive integer');
  for (const k of Object.keys(body ?? {})) if (!MESSAGES_FIELDS.has(k)) p.push(`${k}: not a Messages API field`);
  if (body.system !== undefined && typeof body.system !== 'string' && !(Array.isArray(body.system) && body.system.every((b: any) => b.type === 'text'))) p.push('system: not a string or text blocks');
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  if (msgs.length === 0) p.push('messages: missing or empty');
  if (msgs[0] && msgs[0].role !== 'user') p.push('messages.0: must be a user turn');
  const pendingToolUse = new Set<string>();
  msgs.forEach((m, i) => {
    if (m.role !== 'user' && m.role !== 'assistant') p.push(`messages.${i}.role: ${m.role}`);
    if (i > 0 && msgs[i - 1].role === m.role) p.push(`messages.${i}: roles must alternate`);
    const blocks: any[] = typeof m.content === 'string' ? [] : Array.isArray(m.content) ? m.content : (p.push(`messages.${i}.content: not a string or blocks`), []);
    blocks.forEach((b, j) => {
      if (!BLOCK_TYPES.has(b?.type)) p.push(`messages.${i}.content.${j}.type: ${b?.type}`);
      if (b.type === 'tool_use') {
        if (m.role !== 'assistant') p.push(`messages.${i}.content.${j}: tool_use outside an assistant turn`);
        if (typeof b.id !== 'string' || typeof b.name !== 'string' || typeof b.input !== 'object' || b.input === null || Array.isArray(b.input)) p.push(`messages.${i}.content.${j}: tool_use needs id, name, object input`);
        pendingToolUse.add(b.id);
      }
      if (b.type === 'tool_result') {
        if (m.role !== 'user') p.push(`messages.${i}.content.${j}: tool_result outside a user turn`);
        if (!pendingToolUse.has(b.tool_use_id)) p.push(`messages.${i}.content.${j}: tool_result for unknown tool_use ${b.tool_use_id}`);
        if (blocks.slice(0, j).some((x) => x.type !== 'tool_result')) p.push(`messages.${i}.content.${j}: tool_result must lead its turn`);
      }
    });
  });
  (body.tools ?? []).forEach((t: any, i: number) => {
    if (typeof t.name !== 'string') p.push(`tools.${i}.name: missing`);
    if (t.input_schema?.type !== 'object') p.push(`tools.${i}.input_schema.type must be "object"`);
    for (const k of ['type', 'function', 'parameters']) if (k in t && !(k === 'type' && t.type === 'custom')) p.push(`tools.${i}.${k}: OpenAI tool shape`);
  });
  // Anthropic's API reference: metadata.user_id maxLength 256 (512 in later versions)
  if (body.metadata?.user_id != null && !(typeof body.metadata.user_id === 'string' && body.metadata.user_id.length <= 256)) p.push('metadata.user_id: longer than 256 characters');
  const th = body.thinking;
  if (th?.type === 'enabled' && !(Number.isInteger(th.budget_tokens) && th.budget_tokens >= 1024 && th.budget_tokens < body.max_tokens)) p.push('thinking.budget_tokens: must be ≥ 1024 and < max_tokens');
  if (th?.type === 'adaptive' && 'budget_tokens' in th) p.push('thinking: adaptive takes no budget_tokens');
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway and mock upstreams
// ---------------------------------------------------------------------------------------------------------------

let upstream: MockUpstream;
let openaiUpstream: MockUpstream;
let gw: TestGateway;
let oa: OpenAI;
const textMessage = JSON.parse(readFixture('anthropic/response-text.json'));

beforeAll(() => {
  upstream = startMockUpstream(() => json(textMessage));
  openaiUpstream = startMockUpstream(() => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
  gw = startGateway({
    keys: [{ key: KEY, name: 'chat' }],
    default_max_tokens: DEFAULT_MAX_TOKENS,
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: UPSTREAM_KEY, models: ['claude-opus-5-5', 'claude-sonnet-4-5'] },
      // the channel's `thinking` setting overrides the per-model default
      { name: 'claude-budget', type: 'anthropic', base_url: upstream.url, api_key: UPSTREAM_KEY, models: { 'opus-as-budget': 'claude-opus-5-5' }, thinking: { 'claude-opus-5-5': 'budget' } },
      { name: 'claude-plain', type: 'anthropic', base_url: upstream.url, api_key: UPSTREAM_KEY, models: { 'opus-no-thinking': 'claude-opus-5-5' }, thinking: { '*': 'none' } },
      { name: 'openai', type: 'openai', provider: 'openai', base_url: openaiUpstream.url, api_key: OPENAI_KEY, models: { 'gpt-alias': 'gpt-4o-2024-08-06', 'gpt-4o': 'gpt-4o' } },
    ],
  });
  oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); await openaiUpstream.stop(); });

const replay = (body: string) => (r: RecordedRequest) => sse(sseEvents(body), { signal: r.signal });
const hi: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi' }];

function expectAnthropicUpstream(rec: RecordedRequest) {
  expect(rec.method).toBe('POST');
  expect(rec.path).toBe('/v1/messages');
  expect(rec.headers.get('x-api-key')).toBe(UPSTREAM_KEY);
  expect(rec.headers.get('anthropic-version')).toBe('2023-06-01');
  expect(rec.headers.get('authorization')).toBeNull();
  for (const [, v] of rec.headers) expect(v).not.toContain(KEY);
  expect(anthropicBodyProblems(rec.json)).toEqual([]);
}

describe('the recordings', () => {
  test('streams to replay, and which lack the final blank line', () => {
    expect(streams.length).toBeGreaterThanOrEqual(10);
    expect(responses.length).toBeGreaterThanOrEqual(5);
    // recorded without the blank line after their last event: a strict SSE reader never dispatches their message_stop
    expect(cutStreams).toContain('anthropic/stream-tool-use-input-json-delta.sse');
    for (const f of cutStreams) expect(fixtureSseBody(f).trimEnd().endsWith('{"type":"message_stop"}')).toBe(true);
  });
});

describe('streamed: chat.completions.stream().finalChatCompletion() over every Anthropic recording', () => {
  for (const rel of streams) {
    test(rel, async () => {
      const recorded = fixtureSseBody(rel);
      const exp = expectFromAnthropicStream(recorded);
      upstream.handler = replay(recorded);
      const before = upstream.requests.length;
      const logsBefore = gw.requestLogs().length;
      const completion = await oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } }).finalChatCompletion();
      expectCompletion(completion, exp, 'claude-opus-5-5', true);
      await until(() => gw.requestLogs().length > logsBefore, 3000);
      expect(gw.requestLogs().at(-1)!.outcome).toBe('ok');
      expect(upstream.requests.length).toBe(before + 1);
      const got = upstream.requests.at(-1)!;
      expectAnthropicUpstream(got);
      expect(got.json).toEqual({ model: 'claude-opus-5-5', messages: [{ role: 'user', content: 'Hi' }], max_tokens: DEFAULT_MAX_TOKENS, stream: true });
    });
  }

  for (const rel of cutStreams) {
    test(`${rel}, cut before its final blank line: the answer still completes (message_delta carried the finish)`, async () => {
      const recorded = fixtureSseBody(rel);
      upstream.handler = replay(recorded);
      const completion = await oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } }).finalChatCompletion();
      expectCompletion(completion, expectFromAnthropicStream(recorded), 'claude-opus-5-5', true);
    });
  }

  test('a recording cut off before its message_delta: the SDK gets an error, not an answer that looks whole, and the log says so', async () => {
    const recorded = fixtureSseBody('anthropic/stream-text-basic.sse');
    upstream.handler = replay(recorded.slice(0, recorded.indexOf('event: message_delta')));
    const logsBefore = gw.requestLogs().length;
    const err = await oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi }).finalChatCompletion().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('ended before the message was complete');
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, outcome: 'error', error_type: 'api_error' });
  });

  test('the raw chunk sequence: one id, the client\'s model name, finish chunk, usage chunk with choices: [], then [DONE]', async () => {
    upstream.handler = replay(fixtureSseBody('anthropic/stream-tool-use-haiku.sse'));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-opus-5-5', messages: hi, stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const c of chunks) { expect(c.object).toBe('chat.completion.chunk'); expect(c.model).toBe('claude-opus-5-5'); }
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage.total_tokens).toBe(last.usage.prompt_tokens + last.usage.completion_tokens);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['tool_calls']);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  test('the usage chunk, exactly: choices [], prompt_tokens input + cache reads + writes, cached_tokens the reads, completion_tokens the output', async () => {
    const ev = (e: Record<string, unknown>) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    upstream.handler = (r) => sse([
      { type: 'message_start', message: { id: 'msg_cache1', type: 'message', role: 'assistant', model: 'claude-opus-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30 } },
      { type: 'message_stop' },
    ].map(ev), { signal: r.signal });
    const stream = oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    stream.on('chunk', (c) => chunks.push(c));
    const completion = await stream.finalChatCompletion();
    const usage = { prompt_tokens: 1212, completion_tokens: 30, total_tokens: 1242, prompt_tokens_details: { cached_tokens: 1000 } };
    expect(chunks.at(-1)).toEqual({ id: 'chatcmpl-cache1', object: 'chat.completion.chunk', created: expect.any(Number), model: 'claude-opus-5-5', choices: [], usage } as any);
    expect(chunks.filter((c) => c.usage)).toHaveLength(1);
    expect(completion.usage).toEqual(usage);
    expect(completion.choices[0]!.message.content).toBe('Hello');
  });

  test('what is left out of a streamed answer (server-tool blocks, citations) is named in the log line\'s `dropped`: the header went out before', async () => {
    upstream.handler = replay(fixtureSseBody('anthropic/stream-web-search-server-tool-citations.sse'));
    const logsBefore = gw.requestLogs().length;
    const stream = oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, seed: 1 });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBeTruthy();
    expect(JSON.stringify(completion)).not.toContain('srvtoolu_');
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)!.dropped).toEqual([
      'seed', 'content.server_tool_use (no Chat Completions equivalent)', 'content.web_search_tool_result (no Chat Completions equivalent)', 'citations',
    ]);
    // the header carries what the request lost, known before the answer began
    const { data, response } = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, seed: 1, stream: true }).withResponse();
    for await (const _ of data) { /* read to the end */ }
    expect(response.headers.get('x-switchboard-dropped')).toBe('seed');
  });

  test('without include_usage there is no usage chunk', async () => {
    upstream.handler = replay(fixtureSseBody('anthropic/stream-thinking-signature-delta.sse'));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'claude-opus-5-5', messages: hi, stream: true }),
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = body.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.choices).toHaveLength(1);
      expect(c).not.toHaveProperty('usage');
    }
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
  });
});

describe('non-streamed: chat.completions.create() over every Anthropic response', () => {
  for (const rel of responses) {
    test(rel, async () => {
      const body = JSON.parse(readFixture(rel));
      upstream.handler = () => json(body);
      const completion = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi });
      expectCompletion(completion, expectFromAnthropicMessage(body), 'claude-opus-5-5', false);
      const got = upstream.requests.at(-1)!;
      expectAnthropicUpstream(got);
      expect(got.json.stream).toBeUndefined();
    });
  }

  // an upstream (or a proxy in front of it) that answers a streamed request whole: the client still gets its stream
  for (const rel of responses) {
    test(`${rel}, sent as the answer to a streamed request: chat.completions.stream() reads the same completion`, async () => {
      const body = JSON.parse(readFixture(rel));
      upstream.handler = () => json(body);
      const completion = await oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } }).finalChatCompletion();
      expectCompletion(completion, expectFromAnthropicMessage(body), 'claude-opus-5-5', true);
    });
  }

  test('cache reads and writes count in prompt_tokens, reads as cached_tokens (no recording has any)', async () => {
    const usage = { input_tokens: 12, output_tokens: 30, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200 };
    upstream.handler = () => json({ ...textMessage, usage });
    const completion = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi });
    expect(completion.usage).toMatchObject({ prompt_tokens: 1212, completion_tokens: 30, total_tokens: 1242, prompt_tokens_details: { cached_tokens: 1000 } });
  });
});

describe('what the Anthropic upstream receives', () => {
  test('system and developer messages are hoisted into `system`; max_tokens defaults when absent, else is kept', async () => {
    upstream.handler = () => json(textMessage);
    await oa.chat.completions.create({
      model: 'claude-opus-5-5',
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'developer', content: 'Answer in French.' }, { role: 'user', content: 'Hi' }],
    });
    let got = upstream.requests.at(-1)!.json;
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(got.system).toBe('You are terse.\n\nAnswer in French.');
    expect(got.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(got.max_tokens).toBe(DEFAULT_MAX_TOKENS);

    await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, max_completion_tokens: 777, temperature: 0.5, stop: ['###'] });
    got = upstream.requests.at(-1)!.json;
    expect(got).toMatchObject({ max_tokens: 777, temperature: 0.5, stop_sequences: ['###'] });
  });

  test('a tool round trip: tools, tool_choice, assistant tool_calls → tool_use, tool messages → tool_result', async () => {
    upstream.handler = () => json(textMessage);
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
    ];
    const completion = await oa.chat.completions.create({
      model: 'claude-opus-5-5',
      tools,
      tool_choice: 'required',
      messages: [
        { role: 'system', content: 'Use tools.' },
        { role: 'user', content: 'Weather and time in Paris?' },
        { role: 'assistant', content: 'Let me check.', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '14:05' }] },
        { role: 'user', content: 'Thanks, summarise.' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe(textMessage.content[0].text);
    const got = upstream.requests.at(-1)!.json;
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(got.system).toBe('Use tools.');
    expect(got.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } },
    ]);
    expect(got.tool_choice).toEqual({ type: 'any' });
    expect(got.messages).toHaveLength(3);
    expect(got.messages[0]).toEqual({ role: 'user', content: 'Weather and time in Paris?' });
    expect(got.messages[1].role).toBe('assistant');
    const assistant = typeof got.messages[1].content === 'string' ? [{ type: 'text', text: got.messages[1].content }] : got.messages[1].content;
    expect(assistant).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_time', input: { tz: 'Europe/Paris' } },
    ]);
    expect(got.messages[2].role).toBe('user');
    const results = got.messages[2].content.filter((b: any) => b.type === 'tool_result');
    expect(results.map((b: any) => [b.tool_use_id, JSON.stringify(b.content)])).toEqual([['call_1', expect.stringContaining('18°C')], ['call_2', expect.stringContaining('14:05')]]);
    expect(got.messages[2].content.at(-1)).toMatchObject({ type: 'text', text: 'Thanks, summarise.' });
  });

  test('reasoning_effort → adaptive thinking + output_config.effort on claude-opus-5-5', async () => {
    upstream.handler = () => json(textMessage);
    const { response } = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, reasoning_effort: 'high' }).withResponse();
    expect(response.status).toBe(200);
    const got = upstream.requests.at(-1)!.json;
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(got.thinking).toEqual({ type: 'adaptive' });
    expect(got.output_config).toEqual({ effort: 'high' });
    expect(got.reasoning_effort).toBeUndefined();
  });

  test('reasoning_effort → a thinking budget on claude-sonnet-4-5, larger for higher effort, max_tokens above it', async () => {
    upstream.handler = () => json(textMessage);
    const budgets: number[] = [];
    for (const effort of ['low', 'high'] as const) {
      await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: hi, reasoning_effort: effort, max_completion_tokens: 2000 });
      const got = upstream.requests.at(-1)!.json;
      expect(anthropicBodyProblems(got)).toEqual([]); // budget ≥ 1024 and < max_tokens, even though 2000 was asked for
      expect(got.thinking.type).toBe('enabled');
      expect(got.output_config?.effort).toBeUndefined();
      budgets.push(got.thinking.budget_tokens);
    }
    expect(budgets[0]!).toBeLessThan(budgets[1]!);
  });

  test('reasoning_effort with a forced tool_choice (required, a named function): the tool call wins, thinking is left off and reported, whatever the thinking style', async () => {
    // Anthropic refuses thinking, adaptive or budget, with a tool_choice that forces tool use
    // (https://platform.claude.com/docs/en/build-with-claude/extended-thinking#extended-thinking-with-tool-use)
    const toolAnswer = JSON.parse(readFixture('anthropic/response-parallel-tool-use.json'));
    upstream.handler = (r) => (r.json.thinking && ['any', 'tool'].includes(r.json.tool_choice?.type)
      ? json({ type: 'error', error: { type: 'invalid_request_error', message: 'Thinking may not be enabled when tool_choice forces tool use.' } }, 400)
      : json(toolAnswer));
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'retrieve_entity_info', parameters: { type: 'object', properties: { name: { type: 'string' } } } } }];
    const forced: Array<[OpenAI.ChatCompletionToolChoiceOption, unknown]> = [
      ['required', { type: 'any' }],
      [{ type: 'function', function: { name: 'retrieve_entity_info' } }, { type: 'tool', name: 'retrieve_entity_info' }],
    ];
    for (const model of ['claude-opus-5-5', 'claude-sonnet-4-5']) { // adaptive, budget
      for (const [toolChoice, upstreamChoice] of forced) {
        const { data, response } = await oa.chat.completions.create({ model, messages: hi, tools, tool_choice: toolChoice, reasoning_effort: 'high' }).withResponse();
        expect(data.choices[0]!.finish_reason).toBe('tool_calls');
        expect(data.choices[0]!.message.tool_calls).toHaveLength(4);
        expect(response.headers.get('x-switchboard-dropped')).toBe('reasoning_effort (thinking cannot be combined with a forced tool_choice)');
        expect(upstream.requests.at(-1)!.json).toEqual({
          model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: DEFAULT_MAX_TOKENS,
          tools: [{ name: 'retrieve_entity_info', input_schema: { type: 'object', properties: { name: { type: 'string' } } } }],
          tool_choice: upstreamChoice,
        });
      }
    }
    // auto leaves the model free: thinking goes as asked
    await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, tools, tool_choice: 'auto', reasoning_effort: 'high' });
    expect(upstream.requests.at(-1)!.json).toMatchObject({ thinking: { type: 'adaptive' }, output_config: { effort: 'high' }, tool_choice: { type: 'auto' } });
  });

  test("the channel's `thinking` setting overrides the model default: budget for claude-opus-5-5, or none", async () => {
    upstream.handler = () => json(textMessage);
    await oa.chat.completions.create({ model: 'opus-as-budget', messages: hi, reasoning_effort: 'medium' });
    let got = upstream.requests.at(-1)!.json;
    expect(got.model).toBe('claude-opus-5-5');
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(got.thinking).toMatchObject({ type: 'enabled', budget_tokens: expect.any(Number) });
    expect(got.output_config?.effort).toBeUndefined();

    const { response } = await oa.chat.completions.create({ model: 'opus-no-thinking', messages: hi, reasoning_effort: 'medium' }).withResponse();
    got = upstream.requests.at(-1)!.json;
    expect(got.thinking).toBeUndefined();
    expect(got.output_config).toBeUndefined();
    expect(response.headers.get('x-switchboard-dropped') ?? '').toContain('reasoning_effort');
  });

  test('participant names (a group chat) cannot be carried: the turns go without them, named in x-switchboard-dropped', async () => {
    upstream.handler = () => json(textMessage);
    const { response } = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: [
      { role: 'user', name: 'alice', content: 'I want tea.' }, { role: 'user', name: 'bob', content: 'I want coffee.' }, { role: 'user', content: 'Who wants what?' },
    ] }).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBe('messages.name (Anthropic has no participant names)');
    expect(anthropicBodyProblems(upstream.requests.at(-1)!.json)).toEqual([]);

    await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi }).withResponse().then(({ response: r }) => expect(r.headers.get('x-switchboard-dropped')).toBeNull());
  });

  test('user → metadata.user_id; one longer than Anthropic takes (256) is hashed to fit rather than refused', async () => {
    upstream.handler = () => json(textMessage);
    await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, user: 'user-42' });
    expect(upstream.requests.at(-1)!.json.metadata).toEqual({ user_id: 'user-42' });
    const long = JSON.stringify({ app: 'helpdesk', tenant: 't'.repeat(120), session: 's'.repeat(120) });
    for (let i = 0; i < 2; i++) {
      const { response } = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, user: long }).withResponse();
      expect(response.status).toBe(200);
      expect(anthropicBodyProblems(upstream.requests.at(-1)!.json)).toEqual([]);
      const id = upstream.requests.at(-1)!.json.metadata.user_id;
      expect(id).toMatch(/^[0-9a-f]{64}$/); // one end user, one id
      expect(id).toBe(new Bun.CryptoHasher('sha256').update(long).digest('hex'));
    }
  });

  test('top_k (an extra the openai SDK passes on) → Anthropic\'s top_k; a bad one is a 400 naming it', async () => {
    upstream.handler = () => json(textMessage);
    const { response } = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: hi, temperature: 0.4, top_k: 20 } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    expect(upstream.requests.at(-1)!.json).toMatchObject({ top_k: 20, temperature: 0.4 });
    const err: any = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: hi, top_k: 0 } as OpenAI.ChatCompletionCreateParamsNonStreaming).then(() => null, (e) => e);
    expect(err?.status).toBe(400);
    expect(err.error.message).toContain('top_k');
  });

  // openai 7.59's explicit prompt caching (ChatCompletionContentPartText.PromptCacheBreakpoint, on text, image and
  // file parts; prompt_cache_options on the request): OpenAI's own form of Anthropic's cache_control
  const PDF = `data:application/pdf;base64,${Buffer.from('%PDF-1.4 tiny').toString('base64')}`;
  const PNG = 'data:image/png;base64,iVBORw0KGgo=';
  test('prompt_cache_breakpoint on text, image, file and tool-message parts → cache_control on those blocks ("12h" → Anthropic\'s longest, 1h); prompt_cache_options taken, not reported', async () => {
    upstream.handler = () => json(textMessage);
    const bp = { mode: 'explicit' } as const;
    const { response } = await oa.chat.completions.create({
      model: 'claude-opus-5-5',
      prompt_cache_options: { mode: 'explicit', ttl: '30m' },
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'A long style guide.', prompt_cache_breakpoint: { mode: 'explicit', ttl: '12h' } }] },
        { role: 'user', content: [
          { type: 'file', file: { file_data: PDF, filename: 'contract.pdf' }, prompt_cache_breakpoint: bp },
          { type: 'image_url', image_url: { url: PNG } },
          { type: 'text', text: 'What does clause 4 say?' },
        ] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"clause":4}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'Clause 4: …', prompt_cache_breakpoint: bp }] },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: PNG }, prompt_cache_breakpoint: bp }, { type: 'text', text: 'And this page?' }] },
      ],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { clause: { type: 'number' } } } } }],
    }).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    const got = upstream.requests.at(-1)!.json;
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(JSON.stringify(got)).not.toContain('prompt_cache');
    expect(got.system).toEqual([{ type: 'text', text: 'A long style guide.', cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(got.messages[0].content[0]).toMatchObject({ type: 'document', cache_control: { type: 'ephemeral' } });
    expect(got.messages[0].content[1].cache_control).toBeUndefined();
    expect(got.messages[2].content[0]).toMatchObject({ type: 'tool_result', content: [{ type: 'text', text: 'Clause 4: …', cache_control: { type: 'ephemeral' } }] });
    expect(got.messages[2].content[1]).toMatchObject({ type: 'image', cache_control: { type: 'ephemeral' } });
  });

  test('more breakpoints than Anthropic takes (4: a conversation that keeps its earlier ones; OpenAI writes the latest four), a 12h one after shorter ones: the latest four kept, the earlier ones made 1h too, which Anthropic requires', async () => {
    upstream.handler = () => json(textMessage);
    const turn = (text: string, ttl?: '12h'): OpenAI.ChatCompletionMessageParam[] => [
      { role: 'user', content: [{ type: 'text', text, prompt_cache_breakpoint: ttl ? { mode: 'explicit', ttl } : { mode: 'explicit' } }] },
      { role: 'assistant', content: `Noted: ${text}` },
    ];
    const { response } = await oa.chat.completions.create({
      model: 'claude-opus-5-5',
      messages: [...turn('one'), ...turn('two'), ...turn('three'), ...turn('four'), ...turn('five', '12h'), { role: 'user', content: [{ type: 'text', text: 'six', prompt_cache_breakpoint: { mode: 'explicit' } }] }],
    }).withResponse();
    expect(response.status).toBe(200);
    const got = upstream.requests.at(-1)!.json;
    const marks = got.messages.flatMap((m: any, i: number) => (typeof m.content === 'string' ? [] : m.content.filter((b: any) => b.cache_control).map((b: any) => [i, b.text, b.cache_control.ttl ?? '5m'])));
    expect(marks).toEqual([[4, 'three', '1h'], [6, 'four', '1h'], [8, 'five', '1h'], [10, 'six', '5m']]);
    expect(response.headers.get('x-switchboard-dropped')).toBe('prompt_cache_breakpoint (the 2 earliest: Anthropic takes 4)');
  });

  test('response_format json_schema → output_config.format', async () => {
    upstream.handler = () => json({ ...textMessage, content: [{ type: 'text', text: '{"city":"Paris"}' }] });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const completion = await oa.chat.completions.create({
      model: 'claude-opus-5-5', messages: hi,
      response_format: { type: 'json_schema', json_schema: { name: 'City', schema, strict: true } },
    });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ city: 'Paris' });
    const got = upstream.requests.at(-1)!.json;
    expect(anthropicBodyProblems(got)).toEqual([]);
    expect(got.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(got.response_format).toBeUndefined();
  });
});

describe('errors in the OpenAI envelope', () => {
  const fnTool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } });
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['a message with an unknown role', { model: 'claude-opus-5-5', messages: [{ role: 'robot', content: 'x' }] }, 'messages.0.role'],
    ['no messages', { model: 'claude-opus-5-5' }, 'messages'],
    ['max_tokens of the wrong type', { model: 'claude-opus-5-5', messages: hi, max_tokens: 'ten' }, 'max_tokens'],
    ['n > 1', { model: 'claude-opus-5-5', messages: hi, n: 2 }, 'n'],
    // README's "rejected" row: what has no Anthropic form and would change the answer
    ['input_audio', { model: 'claude-opus-5-5', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages.0.content.0'],
    ['a file_id', { model: 'claude-opus-5-5', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }, 'messages.0.content.0.file.file_id'],
    ['audio output', { model: 'claude-opus-5-5', messages: hi, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }, 'modalities'],
    ['web_search_options', { model: 'claude-opus-5-5', messages: hi, web_search_options: {} }, 'web_search_options'],
    // moderation that blocks (openai 7.59's `moderation.policy`): Anthropic runs none, and the unmoderated answer the
    // client's users would get is not the one asked for; scores alone are a report the answer goes without (below)
    ['moderation blocking the input', { model: 'claude-opus-5-5', messages: hi, moderation: { model: 'omni-moderation-latest', policy: { input: { mode: 'block' } } } }, 'moderation.policy.input.mode'],
    ['moderation blocking the output', { model: 'claude-opus-5-5', messages: hi, moderation: { model: 'omni-moderation-latest', policy: { input: { mode: 'score' }, output: { mode: 'block' } } } }, 'moderation.policy.output.mode'],
    ['a custom tool', { model: 'claude-opus-5-5', messages: hi, tools: [fnTool('f'), { type: 'custom', custom: { name: 'grammar' } }] }, 'tools.1'],
    ['legacy functions', { model: 'claude-opus-5-5', messages: hi, functions: [{ name: 'f', parameters: {} }] }, 'functions'],
    ['legacy function_call', { model: 'claude-opus-5-5', messages: hi, function_call: 'auto' }, 'function_call'],
    // a choice naming a tool the request does not offer: Anthropic would refuse it without naming the field
    ['tool_choice naming no tool of the request', { model: 'claude-opus-5-5', messages: hi, tools: [fnTool('f')], tool_choice: { type: 'function', function: { name: 'g' } } }, 'tool_choice.function.name'],
    ['allowed_tools naming no tool of the request', {
      model: 'claude-opus-5-5', messages: hi, tools: [fnTool('f')],
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'g' } }] } },
    }, 'tool_choice.allowed_tools.tools.1'],
    // what OpenAI itself refuses, and Anthropic would have answered as if it were not there: OpenAI's 400s
    // ("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", the same for
    // parallel_tool_calls; "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
    ['tool_choice without tools', { model: 'claude-opus-5-5', messages: hi, tool_choice: 'required' }, 'tool_choice'],
    ['a named tool_choice with an empty tools list', { model: 'claude-opus-5-5', messages: hi, tools: [], tool_choice: { type: 'function', function: { name: 'f' } } }, 'tool_choice'],
    ['parallel_tool_calls without tools', { model: 'claude-opus-5-5', messages: hi, parallel_tool_calls: false }, 'parallel_tool_calls'],
    // OpenAI's 400 (code invalid_parameter_combination); max_completion_tokens silently won before
    ['both max_tokens and max_completion_tokens', { model: 'claude-opus-5-5', messages: hi, max_tokens: 100, max_completion_tokens: 200 }, 'max_tokens'],
    ['stream_options without stream', { model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } }, 'stream_options'],
    ['stream_options with stream: false', { model: 'claude-opus-5-5', messages: hi, stream: false, stream_options: { include_usage: true } }, 'stream_options'],
    // a history OpenAI refuses ("messages with role 'tool' must be a response to a preceeding message with
    // 'tool_calls'", "An assistant message with 'tool_calls' must be followed by tool messages responding to each
    // 'tool_call_id'", "Invalid value for 'content': expected a string, got null."): Anthropic refuses the first two
    // too, but naming the translated turns (messages.1.content.0), which the client never sent
    ['a tool message answering no call', { model: 'claude-opus-5-5', messages: [...hi, { role: 'tool', tool_call_id: 'call_1', content: '18°C' }] }, 'messages.1.role'],
    ['a tool message whose tool_call_id matches no call', {
      model: 'claude-opus-5-5', messages: [...hi, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'call_2', content: '18°C' }],
    }, 'messages.2.tool_call_id'],
    ['a tool call left unanswered', {
      model: 'claude-opus-5-5', messages: [...hi, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'call_2', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'call_1', content: '18°C' }, { role: 'user', content: 'and?' }],
    }, 'messages.1.tool_calls'],
    ['an assistant message with neither content nor tool_calls', { model: 'claude-opus-5-5', messages: [...hi, { role: 'assistant', content: null }, { role: 'user', content: 'Hello?' }] }, 'messages.1.content'],
  ];
  for (const [name, body, field] of invalid) {
    test(`invalid body (${name}) → 400 naming ${field}, a BadRequestError for the SDK`, async () => {
      const before = upstream.requests.length;
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      const err = await res.json() as any;
      expect(Object.keys(err)).toEqual(['error']);
      expect(Object.keys(err.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(err.error.type).toBe('invalid_request_error');
      expect(err.error.param).toBe(field);
      expect(err.error.message).toContain(field);
      expect(upstream.requests.length).toBe(before);

      const sdkErr: any = await oa.chat.completions.create(body as any).then(() => null, (e) => e);
      expect(sdkErr).toBeInstanceOf(OpenAI.BadRequestError);
      expect(sdkErr.status).toBe(400);
      expect(sdkErr.param).toBe(field);
      expect(sdkErr.type).toBe('invalid_request_error');
      expect(sdkErr.message).toContain(field);
    });
  }

  const upstreamErrors: Array<[number, any, new (...args: any[]) => Error, string]> = [
    [429, JSON.parse(readFixture('anthropic/error-429-rate-limit.json')), OpenAI.RateLimitError, 'rate_limit_error'],
    [529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, OpenAI.InternalServerError, 'server_error'],
    [500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }, OpenAI.InternalServerError, 'server_error'],
    [400, JSON.parse(readFixture('anthropic/error-400-invalid-request-tool-result.json')), OpenAI.BadRequestError, 'invalid_request_error'],
    [400, JSON.parse(readFixture('anthropic/error-400-unsupported-effort.json')), OpenAI.BadRequestError, 'invalid_request_error'],
  ];
  for (const [status, body, cls, type] of upstreamErrors) {
    for (const mode of ['create', 'stream'] as const) {
      test(`upstream ${status} ${body.error.type} → ${cls.name} (${mode})`, async () => {
        upstream.handler = () => json(body, status, { 'retry-after': '3' });
        const params = { model: 'claude-opus-5-5', messages: hi };
        const err: any = await (mode === 'create' ? oa.chat.completions.create(params) : oa.chat.completions.stream(params).finalChatCompletion()).then(() => null, (e) => e);
        expect(err).toBeInstanceOf(cls);
        expect(err.status).toBe(status);
        expect(err.type).toBe(type);
        expect(err.error.message).toBe(body.error.message);
        expect(Object.keys(err.error).sort()).toEqual(['code', 'message', 'param', 'type']);
        if (status !== 400) expect(err.headers.get('retry-after')).toBe('3'); // retryable: the SDK waits it out
        expect(err.headers.get('x-request-id')).toMatch(/^req_/);
      });
    }
  }
  // Anthropic says "prompt is too long"; OpenAI says code context_length_exceeded, param messages, and that code is
  // what apps (and agent loops that trim their history) switch on
  const overflows = [
    'prompt is too long: 208310 tokens > 200000 maximum',
    'input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again',
  ];
  for (const message of overflows) {
    for (const mode of ['create', 'stream'] as const) {
      test(`upstream 400 "${message.slice(0, 30)}…" → code context_length_exceeded, param messages (${mode})`, async () => {
        upstream.handler = () => json({ type: 'error', error: { type: 'invalid_request_error', message } }, 400);
        const params = { model: 'claude-opus-5-5', messages: hi };
        const err: any = await (mode === 'create' ? oa.chat.completions.create(params) : oa.chat.completions.stream(params).finalChatCompletion()).then(() => null, (e) => e);
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect(err.error).toEqual({ message, type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' });
        expect(err.code).toBe('context_length_exceeded');
      });
    }
  }

  test('any other upstream 400 keeps code and param null', async () => {
    upstream.handler = () => json({ type: 'error', error: { type: 'invalid_request_error', message: 'messages.1.content.0: the prompt is too long to be polite' } }, 400);
    const err: any = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
  });

  // Anthropic's 404 for a model it does not have says `model: <name>` (anthropics/claude-code#5349); OpenAI's is
  // code model_not_found, param model, which apps switch on (the gateway's own 404 for a model it does not route says so too)
  for (const mode of ['create', 'stream'] as const) {
    test(`upstream 404 not_found_error "model: claude-nope" → code model_not_found, param model (${mode})`, async () => {
      upstream.handler = () => json({ type: 'error', error: { type: 'not_found_error', message: 'model: claude-nope' }, request_id: 'req_011CX' }, 404);
      const params = { model: 'claude-opus-5-5', messages: hi };
      const err: any = await (mode === 'create' ? oa.chat.completions.create(params) : oa.chat.completions.stream(params).finalChatCompletion()).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.status).toBe(404);
      expect(err.code).toBe('model_not_found');
      expect(err.param).toBe('model');
      expect(err.error).toEqual({ message: 'model: claude-nope', type: 'not_found_error', param: 'model', code: 'model_not_found' });
    });
  }

  test('any other upstream 404 keeps code and param null', async () => {
    upstream.handler = () => json({ type: 'error', error: { type: 'not_found_error', message: 'file_011CX not found' } }, 404);
    const err: any = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toEqual({ message: 'file_011CX not found', type: 'not_found_error', param: null, code: null });
  });
});

describe('an Anthropic stream that opens with an error event (a 200 whose first event is overloaded_error)', () => {
  const overloaded = 'event: error\ndata: {"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}}\n\n';
  let first: MockUpstream;
  let second: MockUpstream;
  let gw2: TestGateway;
  let oa2: OpenAI;
  beforeAll(() => {
    first = startMockUpstream(() => sse([overloaded]));
    second = startMockUpstream((r) => replay(fixtureSseBody('anthropic/stream-text-basic.sse'))(r));
    gw2 = startGateway({
      routing: { circuit_failures: 1000 },
      channels: [
        { name: 'first', type: 'anthropic', base_url: first.url, models: ['claude-opus-5-5', 'only-first'], priority: 10 },
        { name: 'second', type: 'anthropic', base_url: second.url, models: ['claude-opus-5-5'] },
      ],
    });
    oa2 = new OpenAI({ baseURL: `${gw2.url}/v1`, apiKey: 'unused-key', maxRetries: 0 });
  });
  afterAll(async () => { await gw2.stop(); await first.stop(); await second.stop(); });

  test('nothing has reached the client: the next channel answers', async () => {
    const completion = await oa2.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi }).finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBe(expectFromAnthropicStream(fixtureSseBody('anthropic/stream-text-basic.sse')).content);
    expect(first.requests.length).toBeGreaterThan(0);
    expect(gw2.requestLogs().at(-1)).toMatchObject({ status: 200, channel: 'second', attempts: 2, outcome: 'ok' });
  });

  test('with no channel left: a 529 in OpenAI\'s envelope, which the SDK can retry, not a status-less error inside a 200', async () => {
    const err: any = await oa2.chat.completions.stream({ model: 'only-first', messages: hi }).finalChatCompletion().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(529);
    expect(err.error).toEqual({ message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' });
    await until(() => gw2.requestLogs().at(-1)?.model === 'only-first', 3000);
    expect(gw2.requestLogs().at(-1)).toMatchObject({ status: 529, outcome: 'error' });
  });
});

describe('the openai SDK\'s request id (`_request_id`, read from x-request-id) is the gateway\'s, in every answer', () => {
  const cases: Array<[string, string, boolean]> = [
    ['translated, JSON', 'claude-sonnet-4-5', false],
    ['translated, stream', 'claude-sonnet-4-5', true],
    ['passthrough, JSON', 'gpt-alias', false],
    ['passthrough, stream', 'gpt-alias', true],
  ];
  for (const [name, model, stream] of cases) {
    test(name, async () => {
      upstream.handler = stream ? replay(fixtureSseBody('anthropic/stream-text-basic.sse')) : () => json(textMessage);
      openaiUpstream.handler = stream
        ? (r) => {
          const res = sse(sseEvents(fixtureSseBody('openai-chat/stream-text-usage-chunk.sse')), { signal: r.signal });
          res.headers.set('x-request-id', 'req_openai_upstream');
          return res;
        }
        : () => json(JSON.parse(readFixture('openai-chat/response-text.json')), 200, { 'x-request-id': 'req_openai_upstream' });
      const { data, response, request_id } = await oa.chat.completions.create({ model, messages: hi, stream } as OpenAI.ChatCompletionCreateParams).withResponse();
      if (stream) for await (const _ of data as AsyncIterable<unknown>) { /* read to the end */ }
      expect(request_id).toMatch(/^req_/);
      expect(request_id).toBe(response.headers.get('request-id'));
      // the upstream's own id, where there was one, under its own name
      if (model === 'gpt-alias') expect(response.headers.get('upstream-request-id')).toBe('req_openai_upstream');
    });
  }
});

describe('/v1/chat/completions to an openai channel: passthrough', () => {
  test('the upstream receives the client\'s bytes (model mapped), the client the upstream\'s bytes', async () => {
    const recorded = fixtureSseBody('openai-chat/stream-text-usage-chunk.sse');
    openaiUpstream.handler = (r) => sse(sseEvents(recorded), { signal: r.signal });
    const body = '{"model" :"gpt-alias",  "messages":[{"role":"user","content":"Héllo ✓","name":"x"}],"stream":true,\n"stream_options":{"include_usage":true},"brand_new_param":{"a":[1,2]},"temperature":1.5}';
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'openai-organization': 'org-1' }, body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(recorded);
    const got = openaiUpstream.requests.at(-1)!;
    expect(got.path).toBe('/chat/completions');
    expect(got.text).toBe(body.replace('"model" :"gpt-alias"', '"model" :"gpt-4o-2024-08-06"'));
    expect(got.headers.get('authorization')).toBe(`Bearer ${OPENAI_KEY}`);
    for (const [, v] of got.headers) expect(v).not.toContain(KEY);
  });

  test('same model name: the bytes are not touched at all; non-streamed responses too', async () => {
    const recorded = readFixture('openai-chat/response-tool-calls-parallel.json');
    openaiUpstream.handler = () => new Response(recorded, { headers: { 'content-type': 'application/json' } });
    const body = '{"messages":[{"role":"user","content":"Weather?"}],"model":"gpt-4o","seed":7}';
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body });
    expect(await res.text()).toBe(recorded);
    expect(openaiUpstream.requests.at(-1)!.text).toBe(body);
  });

  test('the openai SDK reads the passthrough stream', async () => {
    const recorded = fixtureSseBody('openai-chat/stream-tool-calls-parallel.sse');
    openaiUpstream.handler = (r) => sse(sseEvents(recorded), { signal: r.signal });
    const completion = await oa.chat.completions.stream({ model: 'gpt-alias', messages: hi, stream_options: { include_usage: true } }).finalChatCompletion();
    const expectedNames = [...recorded.matchAll(/"name":"(\w+)"/g)].map((m) => m[1]);
    expect(completion.choices[0]!.message.tool_calls!.map((t) => (t as OpenAI.ChatCompletionMessageFunctionToolCall).function.name)).toEqual(expectedNames);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.usage?.total_tokens).toBe(209);
  });

  test('an upstream error on passthrough reaches the SDK as the provider wrote it', async () => {
    const body = JSON.parse(readFixture('openai-chat/error-400-unsupported-value-developer-role.json'));
    openaiUpstream.handler = () => json(body, 400);
    const err: any = await oa.chat.completions.create({ model: 'gpt-alias', messages: hi }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toEqual(body.error);
    expect(err.code).toBe('unsupported_value');
  });
});
