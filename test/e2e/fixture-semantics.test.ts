/**
 * What a client should see for recordings the generic "every fixture" loops only run through: each one replayed by a
 * mock upstream and read with the official SDKs, through a translation and, where the format matches, a passthrough.
 * Expectations are written out from the recording (the texts, ids, counts below are its own), not derived from the
 * gateway's converters.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-fixture-semantics-1';
const UPSTREAM_KEY = 'sk-upstream-semantics-secret-1';

/** Path prefix (one per channel) → what the mock answers there; set per test. */
const answers = new Map<string, (r: RecordedRequest) => Response>();
let upstream: MockUpstream;
let gw: TestGateway;
let ant: Anthropic;
let oa: OpenAI;

beforeAll(() => {
  upstream = startMockUpstream((r) => {
    const prefix = r.path.split('/')[1]!;
    const answer = answers.get(prefix);
    return answer ? answer(r) : json({ error: { message: `no answer set for /${prefix}` } }, 500);
  });
  const ch = (name: string, extra: Record<string, unknown>) => ({ name, base_url: `${upstream.url}/${name}`, api_key: UPSTREAM_KEY, ...extra });
  gw = startGateway({
    keys: [{ key: KEY, name: 'semantics' }],
    routing: { circuit_failures: 1000, max_retry_after_ms: 50 },
    channels: [
      ch('openai', { type: 'openai', provider: 'openai', models: { 'm-openai': 'gpt-4o-2024-08-06' } }),
      // a server with no preset: max_tokens sent as max_tokens
      ch('generic', { type: 'openai', models: { 'm-generic': 'o3-mini' } }),
      // Groq first, a backup behind it that must never be asked after a 4xx that is the request's own (a 404 is not)
      ch('groq', { type: 'openai', provider: 'groq', models: { 'm-groq': 'non-existent' }, priority: 10 }),
      ch('groqbackup', { type: 'openai', models: { 'm-groq': 'backup-model' }, priority: 0 }),
      // OpenRouter first, a backup behind it that a 429 falls back to; and a model OpenRouter alone serves
      ch('openrouter', { type: 'openai', provider: 'openrouter', models: { 'm-or': 'google/gemini-2.0-flash-exp:free', 'm-or-only': 'deepseek/deepseek-chat' }, priority: 10 }),
      ch('orbackup', { type: 'openai', models: { 'm-or': 'backup-model' }, priority: 0 }),
      ch('claude', { type: 'anthropic', models: ['claude-sonnet-4-5', 'claude-opus-4-5'] }),
    ],
  });
  ant = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
  oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const replay = (rel: string) => (r: RecordedRequest) => sse(sseEvents(fixtureSseBody(rel)), { signal: r.signal });
const replayJson = (rel: string, status = 200, headers: Record<string, string> = {}) => () => json(JSON.parse(readFixture(rel)), status, headers);
const userTurn: Anthropic.MessageParam[] = [{ role: 'user', content: 'Hello there' }];
const chatTurn: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hello there' }];
const requestsTo = (prefix: string) => upstream.requests.filter((r) => r.path.startsWith(`/${prefix}/`));

/** A message's blocks as the API sent them (the SDK's stream helper adds `parsed_output` to text blocks). */
function blocksOf(msg: Anthropic.Message): unknown[] {
  return msg.content.map((b) => (b.type === 'text' ? { type: 'text', text: b.text, ...(b.citations ? { citations: b.citations } : {}) } : b));
}

/** The request log line the gateway writes for the next request (streams: at their end). */
async function nextLogLine(run: () => Promise<unknown>): Promise<any> {
  const before = gw.requestLogs().length;
  await run();
  await until(() => gw.requestLogs().length > before, 3000);
  return gw.requestLogs().at(-1);
}

/** Data payloads of an SSE body, with their event names. */
function sseOf(body: string): Array<{ event?: string; data: any }> {
  const out: Array<{ event?: string; data: any }> = [];
  for (const block of body.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) out.push({ event, data: data[0] === '[DONE]' ? '[DONE]' : JSON.parse(data.join('\n')) });
  }
  return out;
}

/** A Messages stream through the gateway, read raw: every event well formed, blocks opened and closed in order. */
async function rawMessagesStream(body: Record<string, unknown>) {
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ max_tokens: 256, messages: userTurn, ...body, stream: true }),
  });
  expect(res.status).toBe(200);
  const events = sseOf(await res.text());
  for (const e of events) expect(e.data.type).toBe(e.event);
  let open: number | null = null;
  for (const { data: e } of events) {
    if (e.type === 'content_block_start') { expect(open).toBeNull(); open = e.index; }
    if (e.type === 'content_block_delta') expect(e.index).toBe(open!);
    if (e.type === 'content_block_stop') { expect(e.index).toBe(open!); open = null; }
    if (e.type === 'message_delta') expect(open).toBeNull();
  }
  return { res, events: events.map((e) => e.data) };
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI recordings → Anthropic SDK client (translated)
// ---------------------------------------------------------------------------------------------------------------

describe('refusals (openai-chat/stream-refusal*.sse): visible text, stop_reason "refusal"', () => {
  const cases: Array<[string, string]> = [
    ['openai-chat/stream-refusal.sse', "I'm sorry, I can't assist with that request."],
    ['openai-chat/stream-refusal-with-logprobs.sse', "I'm very sorry, but I can't assist with that request."],
  ];
  for (const [rel, refusal] of cases) {
    test(`${rel}: messages.stream().finalMessage()`, async () => {
      answers.set('openai', replay(rel));
      let msg!: Anthropic.Message;
      const texts: string[] = [];
      const line = await nextLogLine(async () => {
        const stream = ant.messages.stream({ model: 'm-openai', max_tokens: 256, messages: userTurn });
        stream.on('text', (t) => texts.push(t));
        msg = await stream.finalMessage();
      });
      // the refusal is what the model said: the user reads it, piece by piece as it came
      expect(blocksOf(msg)).toEqual([{ type: 'text', text: refusal }]);
      expect(texts.join('')).toBe(refusal);
      expect(texts.length).toBeGreaterThan(5);
      // and the stop reason says the model declined, as Anthropic's own refusals do (an agent loop must not read it as an answer)
      expect(msg.stop_reason).toBe('refusal');
      expect(JSON.stringify(msg)).not.toContain('logprob');
      expect(line).toMatchObject({ outcome: 'ok', stop_reason: 'refusal' });
    });
  }

  test('the raw event sequence: one text block, closed, then message_delta with stop_reason refusal', async () => {
    answers.set('openai', replay('openai-chat/stream-refusal.sse'));
    const { events } = await rawMessagesStream({ model: 'm-openai' });
    expect(events.map((e) => e.type).filter((t) => t !== 'content_block_delta')).toEqual(['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events.find((e) => e.type === 'message_delta')).toMatchObject({ delta: { stop_reason: 'refusal', stop_sequence: null }, usage: { output_tokens: 11 } });
  });

  test('the same refusal answered whole (openai-chat/response-refusal.json): the same message', async () => {
    const body = JSON.parse(readFixture('openai-chat/response-refusal.json'));
    answers.set('openai', () => json(body));
    const msg = await ant.messages.create({ model: 'm-openai', max_tokens: 256, messages: userTurn });
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: body.choices[0].message.refusal }]);
    expect(msg.stop_reason).toBe('refusal');
  });
});

describe('openai-chat/stream-content-with-logprobs.sse: logprobs the client never asked for do not disturb the text', () => {
  test('messages.stream().finalMessage()', async () => {
    answers.set('openai', replay('openai-chat/stream-content-with-logprobs.sse'));
    const msg = await ant.messages.stream({ model: 'm-openai', max_tokens: 256, messages: userTurn }).finalMessage();
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: '{"city":"San Francisco","units":"f"}' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 17, output_tokens: 10 });
    expect(JSON.stringify(msg)).not.toContain('logprob');
  });
});

describe('logprobs and n from a Chat client to an anthropic channel (README: logprobs dropped and reported, n > 1 a 400)', () => {
  test('logprobs/top_logprobs: the answer comes without them, and the header says so', async () => {
    answers.set('claude', replayJson('anthropic/response-text.json'));
    const { data: c, response } = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: chatTurn, logprobs: true, top_logprobs: 2 }).withResponse();
    expect(c.choices[0]!.message.content).toBeTruthy();
    expect(c.choices[0]!.logprobs ?? null).toBeNull();
    expect(response.headers.get('x-switchboard-dropped')).toContain('logprobs');
    expect(requestsTo('claude').at(-1)!.json.logprobs).toBeUndefined();
  });

  test('n: 3 is refused with a 400 naming n, before anything is sent', async () => {
    const before = requestsTo('claude').length;
    const err: any = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: chatTurn, n: 3 }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toMatch(/\bn\b/);
    expect(requestsTo('claude').length).toBe(before);
  });
});

describe('openai-chat/stream-tool-call-strict.sse: a strict tool call', () => {
  test('one tool_use block with the upstream id and parsed arguments, stop_reason tool_use; strict is not sent and is reported', async () => {
    answers.set('openai', replay('openai-chat/stream-tool-call-strict.sse'));
    const tool: Anthropic.Tool = { name: 'get_weather', strict: true, input_schema: { type: 'object', properties: { city: { type: 'string' }, state: { type: 'string' } }, required: ['city', 'state'], additionalProperties: false } } as Anthropic.Tool;
    const { data: stream, response } = await ant.messages.stream({ model: 'm-openai', max_tokens: 256, messages: userTurn, tools: [tool] }).withResponse();
    const msg = await stream.finalMessage();
    expect(blocksOf(msg)).toEqual([{ type: 'tool_use', id: 'call_CTf1nWJLqSeRgDqaCG27xZ74', name: 'get_weather', input: { city: 'San Francisco', state: 'CA' } }]);
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.usage).toMatchObject({ input_tokens: 48, output_tokens: 19 });
    // README: a tool's strict is not sent (OpenAI's strict refuses schemas Anthropic takes), and it is named
    const sent = requestsTo('openai').at(-1)!.json;
    expect(sent.tools[0].function.strict).toBeUndefined();
    expect(response.headers.get('x-switchboard-dropped')).toContain('strict');
  });
});

describe('openai-chat/stream-n3-multiple-choices.sse: n=3, only choice 0 reaches an Anthropic client', () => {
  test('the text is choice 0 alone, once; the other choices are reported as dropped', async () => {
    answers.set('openai', replay('openai-chat/stream-n3-multiple-choices.sse'));
    let msg!: Anthropic.Message;
    // `n` is an OpenAI-style extra an Anthropic client may send (README: carried)
    const line = await nextLogLine(async () => {
      msg = await ant.messages.stream({ model: 'm-openai', max_tokens: 256, messages: userTurn, n: 3 } as Anthropic.MessageStreamParams).finalMessage();
    });
    expect(requestsTo('openai').at(-1)!.json.n).toBe(3);
    // each choice streamed its own object (temperature 65, 61, 59): choice 0's alone, not three run together
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: '{"city":"San Francisco","temperature":65,"units":"f"}' }]);
    const text = (msg.content[0] as Anthropic.TextBlock).text;
    expect(text.match(/San Francisco/g)!.length).toBe(1);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 79, output_tokens: 42 });
    expect(line.dropped).toContain('choices 1+ (only the first choice is streamed)');
  });
});

describe('openai-chat/stream-length-cutoff.sse: cut by max_tokens', () => {
  test('the one token that came, stop_reason max_tokens', async () => {
    answers.set('openai', replay('openai-chat/stream-length-cutoff.sse'));
    const msg = await ant.messages.stream({ model: 'm-openai', max_tokens: 1, messages: userTurn }).finalMessage();
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: '{"' }]);
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage).toMatchObject({ input_tokens: 79, output_tokens: 1 });
  });
});

describe('openai-compatible/openrouter/stream-web-search-annotations.sse: url_citation annotations', () => {
  test('Anthropic client: the text whole, usage as reported; the annotations, which have no Messages form, are named as dropped', async () => {
    answers.set('openrouter', replay('openai-compatible/openrouter/stream-web-search-annotations.sse'));
    let msg!: Anthropic.Message;
    const line = await nextLogLine(async () => { msg = await ant.messages.stream({ model: 'm-or-only', max_tokens: 256, messages: userTurn }).finalMessage(); });
    const expected = sseOf(fixtureSseBody('openai-compatible/openrouter/stream-web-search-annotations.sse'))
      .filter((e) => e.data !== '[DONE]').map((e) => e.data.choices?.[0]?.delta?.content ?? '').join('');
    expect(expected.length).toBeGreaterThan(50);
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: expected }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 2317, output_tokens: 53 });
    expect(JSON.stringify(msg)).not.toContain('url_citation');
    // README, "What a translation cannot carry": left out, and said so
    expect(line.outcome).toBe('ok');
    expect(line.dropped).toContain('annotations (url citations)');
  });

  test('the same stream answered whole: the annotations are named in x-switchboard-dropped', async () => {
    const events = sseOf(fixtureSseBody('openai-compatible/openrouter/stream-web-search-annotations.sse')).filter((e) => e.data !== '[DONE]').map((e) => e.data);
    const annotations = events.flatMap((e) => e.choices?.[0]?.delta?.annotations ?? []);
    expect(annotations.length).toBe(5);
    const content = events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
    answers.set('openrouter', () => json({ id: 'gen-1', object: 'chat.completion', created: 1, model: 'deepseek/deepseek-chat', choices: [{ index: 0, message: { role: 'assistant', content, annotations }, finish_reason: 'stop' }], usage: events.at(-1).usage }));
    const { data: msg, response } = await ant.messages.create({ model: 'm-or-only', max_tokens: 256, messages: userTurn }).withResponse();
    expect(blocksOf(msg)).toEqual([{ type: 'text', text: content }]);
    expect(response.headers.get('x-switchboard-dropped')).toContain('annotations (url citations)');
  });

  test('openai SDK client on the same channel (passthrough): the annotations arrive as OpenRouter sent them', async () => {
    answers.set('openrouter', replay('openai-compatible/openrouter/stream-web-search-annotations.sse'));
    const stream = await oa.chat.completions.create({ model: 'm-or-only', messages: chatTurn, stream: true });
    const urls: string[] = [];
    let text = '';
    for await (const chunk of stream) {
      const d: any = chunk.choices[0]?.delta ?? {};
      for (const a of d.annotations ?? []) urls.push(a.url_citation.url);
      text += d.content ?? '';
    }
    expect(urls).toEqual([
      'https://github.com/pydantic/pydantic-ai', 'https://pydantic.dev/pydantic-ai', 'https://github.com/pydantic/pydantic-ai/releases/tag/v2.0.0',
      'https://pydantic.dev/docs/ai/overview/', 'https://github.com/pydantic/pydantic-ai/tree/refs/tags/v1.44.0',
    ]);
    expect(text.length).toBeGreaterThan(50);
  });
});

describe('provider error bodies', () => {
  test('openai-chat/error-400-invalid-request-web-search.json: Anthropic client gets BadRequestError with OpenAI\'s words; a Chat client on passthrough gets the body as it was', async () => {
    const body = JSON.parse(readFixture('openai-chat/error-400-invalid-request-web-search.json'));
    answers.set('openai', replayJson('openai-chat/error-400-invalid-request-web-search.json', 400));
    const err: any = await ant.messages.create({ model: 'm-openai', max_tokens: 64, messages: userTurn }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('Web search options not supported with this model.') } });

    const chatErr: any = await oa.chat.completions.create({ model: 'm-openai', messages: chatTurn, web_search_options: {} }).then(() => null, (e) => e);
    expect(chatErr).toBeInstanceOf(OpenAI.BadRequestError);
    expect(chatErr.error).toEqual(body.error);
    expect(chatErr.param).toBe('web_search_options');
    expect(requestsTo('openai').at(-1)!.json.web_search_options).toEqual({});
  });

  test('web_search_options from a Chat client to an anthropic channel: the gateway\'s own 400 naming the field (README), nothing sent upstream', async () => {
    const before = requestsTo('claude').length;
    const err: any = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: chatTurn, web_search_options: {} }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('web_search_options');
    expect(requestsTo('claude').length).toBe(before);
  });

  test('openai-chat/error-400-reasoning-model-legacy-parameter.json: the openai preset never sends max_tokens; a server without it relays OpenAI\'s words, no fallback', async () => {
    const body = JSON.parse(readFixture('openai-chat/error-400-reasoning-model-legacy-parameter.json'));
    answers.set('openai', () => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
    await ant.messages.create({ model: 'm-openai', max_tokens: 64, messages: userTurn });
    const sent = requestsTo('openai').at(-1)!.json;
    expect(sent.max_completion_tokens).toBe(64);
    expect(sent.max_tokens).toBeUndefined();

    answers.set('generic', replayJson('openai-chat/error-400-reasoning-model-legacy-parameter.json', 400));
    const before = requestsTo('generic').length;
    const err: any = await ant.messages.create({ model: 'm-generic', max_tokens: 64, messages: userTurn }).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining(body.error.message) });
    expect(requestsTo('generic').length).toBe(before + 1);

    // a Chat client on passthrough: OpenAI's code and param, for code that switches on them
    const chatErr: any = await oa.chat.completions.create({ model: 'm-generic', messages: chatTurn, max_tokens: 64 }).then(() => null, (e) => e);
    expect(chatErr).toBeInstanceOf(OpenAI.BadRequestError);
    expect(chatErr).toMatchObject({ code: 'unsupported_parameter', param: 'max_tokens' });
  });

  test('openai-compatible/groq/error-404-model-not-found.json: the channel lacks the model the gateway maps to, so the next channel answers (README: a 404 falls back); on the last channel, NotFoundError with Groq\'s words', async () => {
    const body = JSON.parse(readFixture('openai-compatible/groq/error-404-model-not-found.json'));
    const text = JSON.parse(readFixture('openai-chat/response-text.json')).choices[0].message.content;
    answers.set('groq', replayJson('openai-compatible/groq/error-404-model-not-found.json', 404));
    answers.set('groqbackup', () => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
    const [groq, backup] = [requestsTo('groq').length, requestsTo('groqbackup').length];
    const params = { model: 'm-groq', max_tokens: 64, messages: userTurn };
    for (const mode of ['create', 'stream', 'create', 'stream'] as const) {
      const msg = await (mode === 'create' ? ant.messages.create(params) : ant.messages.stream(params).finalMessage());
      expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text })]);
    }
    const chat = await oa.chat.completions.create({ model: 'm-groq', messages: chatTurn });
    expect(chat.choices[0]!.message.content).toBe(text);
    expect(requestsTo('groq').length - groq).toBe(5);
    expect(requestsTo('groqbackup').length - backup).toBe(5);

    answers.set('groqbackup', replayJson('openai-compatible/groq/error-404-model-not-found.json', 404));
    for (const mode of ['create', 'stream'] as const) {
      const err: any = await (mode === 'create' ? ant.messages.create(params) : ant.messages.stream(params).finalMessage()).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect(err.error.error).toEqual({ type: 'not_found_error', message: expect.stringContaining(body.error.message) });
    }
    const chatErr: any = await oa.chat.completions.create({ model: 'm-groq', messages: chatTurn }).then(() => null, (e) => e);
    expect(chatErr).toBeInstanceOf(OpenAI.NotFoundError);
    expect(chatErr.error).toEqual(body.error);
    expect(chatErr.code).toBe('model_not_found');
  });

  test('openai-compatible/groq/error-400-tool-use-failed.json: BadRequestError that says which tool call failed validation and why; no fallback', async () => {
    const body = JSON.parse(readFixture('openai-compatible/groq/error-400-tool-use-failed.json'));
    answers.set('groq', replayJson('openai-compatible/groq/error-400-tool-use-failed.json', 400));
    const backup = requestsTo('groqbackup').length;
    const err: any = await ant.messages.stream({ model: 'm-groq', max_tokens: 64, messages: userTurn }).finalMessage().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.type).toBe('invalid_request_error');
    expect(err.error.error.message).toContain("parameters for tool get_something_by_name did not match schema: errors: [missing properties: 'name', additionalProperties 'foo' not allowed]");
    const chatErr: any = await oa.chat.completions.create({ model: 'm-groq', messages: chatTurn }).then(() => null, (e) => e);
    expect(chatErr).toBeInstanceOf(OpenAI.BadRequestError);
    expect(chatErr.error).toEqual(body.error); // failed_generation included, as Groq sent it
    expect(requestsTo('groqbackup').length).toBe(backup);
  });

  test('openai-compatible/openrouter/error-429-provider-returned-error.json: the next channel answers; on the last one, RateLimitError quoting what the provider said', async () => {
    const body = JSON.parse(readFixture('openai-compatible/openrouter/error-429-provider-returned-error.json'));
    answers.set('openrouter', replayJson('openai-compatible/openrouter/error-429-provider-returned-error.json', 429));
    answers.set('orbackup', () => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
    const backup = requestsTo('orbackup').length;
    const msg = await ant.messages.create({ model: 'm-or', max_tokens: 64, messages: userTurn });
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect(requestsTo('orbackup').length).toBe(backup + 1);
    // the same for a Chat client, whose request is relayed: OpenRouter's 429 never reaches it
    const c = await oa.chat.completions.create({ model: 'm-or', messages: chatTurn });
    expect(c.choices[0]!.message.content).toBeTruthy();
    expect(requestsTo('orbackup').length).toBe(backup + 2);

    for (const mode of ['create', 'stream'] as const) {
      const params = { model: 'm-or-only', max_tokens: 64, messages: userTurn };
      const err: any = await (mode === 'create' ? ant.messages.create(params) : ant.messages.stream(params).finalMessage()).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      expect(err.error.error.type).toBe('rate_limit_error');
      // "Provider returned error" alone says nothing: the provider's own words come with it
      expect(err.error.error.message).toContain('Provider returned error');
      expect(err.error.error.message).toContain(body.error.metadata.raw);
    }
    // a Chat client on passthrough: OpenRouter's body as it was, metadata included
    const chatErr: any = await oa.chat.completions.create({ model: 'm-or-only', messages: chatTurn }).then(() => null, (e) => e);
    expect(chatErr).toBeInstanceOf(OpenAI.RateLimitError);
    expect(chatErr.error).toEqual(body.error);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Anthropic recordings → openai SDK client (translated) and Anthropic SDK client (passthrough)
// ---------------------------------------------------------------------------------------------------------------

describe('anthropic/stream-max-tokens-mid-tool-use.sse: a tool call cut by max_tokens part way through its arguments', () => {
  const rel = 'anthropic/stream-max-tokens-mid-tool-use.sse';
  const events = sseOf(fixtureSseBody(rel)).map((e) => e.data);
  const partial = events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
  const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');

  test('openai SDK, chat.completions.stream(): finish_reason length, the text, and the arguments exactly as far as they came', async () => {
    answers.set('claude', replay(rel));
    expect(() => JSON.parse(partial)).toThrow(); // unfinished
    const stream = oa.chat.completions.stream({ model: 'claude-sonnet-4-5', messages: chatTurn, max_tokens: 124, stream_options: { include_usage: true } });
    const c = await stream.finalChatCompletion();
    const choice = c.choices[0]!;
    expect(choice.finish_reason).toBe('length');
    expect(choice.message.content).toBe(text);
    expect(choice.message.tool_calls).toEqual([{ id: 'toolu_01EKqbqmZrGRXy18eN7m9kvY', type: 'function', function: { name: 'make_file', arguments: partial } }] as any);
    expect(c.usage).toMatchObject({ prompt_tokens: 450, completion_tokens: 124 });
  });

  test('Anthropic SDK (passthrough): finalMessage() with stop_reason max_tokens, the ping relayed as it came', async () => {
    answers.set('claude', replay(rel));
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 124, messages: userTurn, stream: true }),
    });
    expect(await res.text()).toBe(fixtureSseBody(rel));
    const msg = await ant.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 124, messages: userTurn }).finalMessage();
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
    expect((msg.content[0] as Anthropic.TextBlock).text).toBe(text);
  });
});

describe('anthropic/stream-text-ping.chunks.jsonl: a ping between a block start and its first delta', () => {
  const rel = 'anthropic/stream-text-ping.chunks.jsonl';
  const text = "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?";

  test('openai SDK: the text whole, finish_reason stop, and no chunk of the stream stands for the ping', async () => {
    answers.set('claude', replay(rel));
    const stream = await oa.chat.completions.create({ model: 'claude-sonnet-4-5', messages: chatTurn, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(text);
    // every chunk carries something: the role, text, the finish reason or the usage
    for (const c of chunks) {
      const ch = c.choices[0];
      const carries = c.usage || ch?.finish_reason || ch?.delta?.role || ch?.delta?.content;
      expect({ chunk: c, carries: Boolean(carries) }).toEqual({ chunk: c, carries: true });
    }
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual(['stop']);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 30 });
  });

  test('Anthropic SDK (passthrough): finalMessage() reads through the ping', async () => {
    answers.set('claude', replay(rel));
    const msg = await ant.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: userTurn }).finalMessage();
    expect(blocksOf(msg)).toEqual([{ type: 'text', text }]);
    expect(msg.stop_reason).toBe('end_turn');
  });
});

describe('anthropic/response-server-tool-and-client-tool.json: a server tool (code execution) calling a client tool', () => {
  const rel = 'anthropic/response-server-tool-and-client-tool.json';

  test('openai SDK: the text, the client tool call with its arguments, finish_reason tool_calls; the server tool use named as dropped', async () => {
    answers.set('claude', replayJson(rel));
    const { data: c, response } = await oa.chat.completions.create({ model: 'claude-opus-4-5', messages: chatTurn }).withResponse();
    const choice = c.choices[0]!;
    expect(choice.message.content).toBe("I'll check the weather for all three cities in Celsius simultaneously.");
    expect(choice.message.tool_calls).toEqual([{ id: 'toolu_011MDRpaZRMRRjtFkJizD6nS', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","units":"c"}' } }]);
    expect(choice.finish_reason).toBe('tool_calls');
    expect(c.usage).toMatchObject({ prompt_tokens: 3182, completion_tokens: 237 });
    expect(JSON.stringify(c)).not.toContain('srvtoolu_');
    // the server tool use is named; the answer's container and the calls' caller are left out unnamed (README)
    expect(response.headers.get('x-switchboard-dropped')).toBe('content.server_tool_use (no Chat Completions equivalent)');
    expect(JSON.stringify(c)).not.toContain('container_');
    expect(JSON.stringify(c)).not.toContain('caller');
  });

  test('openai SDK, streamed (the upstream answers whole): the same text and call, as a stream the helper reads', async () => {
    answers.set('claude', replayJson(rel));
    const c = await oa.chat.completions.stream({ model: 'claude-opus-4-5', messages: chatTurn }).finalChatCompletion();
    const choice = c.choices[0]!;
    expect(choice.message.content).toBe("I'll check the weather for all three cities in Celsius simultaneously.");
    expect(choice.message.tool_calls).toEqual([{ id: 'toolu_011MDRpaZRMRRjtFkJizD6nS', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","units":"c"}' } }] as any);
    expect(choice.finish_reason).toBe('tool_calls');
  });

  test('Anthropic SDK (passthrough): the message as Anthropic sent it, container and caller included', async () => {
    const body = JSON.parse(readFixture(rel));
    answers.set('claude', replayJson(rel));
    const msg: any = await ant.messages.create({ model: 'claude-opus-4-5', max_tokens: 1024, messages: userTurn });
    expect(msg.content).toEqual(body.content);
    expect(msg.container).toEqual(body.container);
    expect(msg.stop_reason).toBe('tool_use');
  });
});
