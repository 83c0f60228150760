/**
 * The request log line is true on every path a request takes: each of the four modes (Messages and Chat
 * Completions, passed through or translated), streamed or not, answered, refused, fallen back, cut off or left by
 * its client. Operators bill and debug from it: its usage is that of the answer the client got, its channel the one
 * that gave it, and nothing of the prompt or of any key is in it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-request-log-key-1';
const ANT_KEY = 'ant-channel-secret-0123456789';
const OA_KEY = 'oa-channel-secret-0123456789';
const PROMPT = 'my-secret-prompt-text';

let ant: MockUpstream;
let oa: MockUpstream;
let gw: TestGateway;

beforeAll(() => {
  ant = startMockUpstream(() => new Response('no handler', { status: 500 }));
  oa = startMockUpstream(() => new Response('no handler', { status: 500 }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    routing: { circuit_failures: 1000, max_retry_after_ms: 0 },
    channels: [
      { name: 'ant', type: 'anthropic', base_url: ant.url, api_key: ANT_KEY, models: { a: 'claude-up', both: 'claude-up' }, priority: 10 },
      { name: 'oa', type: 'openai', provider: 'openai', base_url: `${oa.url}/v1`, api_key: OA_KEY, models: { o: 'gpt-up', both: 'gpt-up' }, priority: 0 },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await ant?.stop();
  await oa?.stop();
});
beforeEach(() => {
  ant.requests.length = 0;
  oa.requests.length = 0;
});

const messagesBody = (model: string, stream: boolean) => JSON.stringify({ model, max_tokens: 64, stream, messages: [{ role: 'user', content: PROMPT }] });
const chatBody = (model: string, stream: boolean, extra: Record<string, unknown> = {}) => JSON.stringify({ model, stream, messages: [{ role: 'user', content: PROMPT }], ...extra });
const post = (path: string, body: string, signal?: AbortSignal) =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body, signal });

/** The log line of the request made by `run`, once it is written. */
async function logOf(run: () => Promise<unknown>) {
  const before = gw.requestLogs().length;
  await run();
  await until(() => gw.requestLogs().length > before);
  const line = gw.requestLogs()[before];
  const raw = JSON.stringify(line);
  for (const secret of [KEY, ANT_KEY, OA_KEY, PROMPT]) expect(raw).not.toContain(secret);
  expect(typeof line.latency_ms).toBe('number');
  if (line.ttfb_ms !== undefined) expect(line.ttfb_ms).toBeLessThanOrEqual(line.latency_ms);
  return line;
}

const anthropicAnswer = (usage: Record<string, number>) => ({
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'Hi.' }],
  stop_reason: 'end_turn', stop_sequence: null, usage,
});
const chatAnswer = (usage: Record<string, unknown>) => ({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-up',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.' }, finish_reason: 'stop' }], usage,
});
const anthropicStream = (startUsage: Record<string, number>, endUsage: Record<string, number>) => [
  `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, stop_sequence: null, usage: startUsage } })}\n\n`,
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi."}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: endUsage })}\n\n`,
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];
const chatStream = (usage: Record<string, unknown>) => [
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}\n\n',
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"content":"Hi."},"finish_reason":null}],"usage":null}\n\n',
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n',
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-up', choices: [], usage })}\n\n`,
  'data: [DONE]\n\n',
];

const COUNTS = ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const;
const counts = (l: any) => Object.fromEntries(COUNTS.map((k) => [k, l[k]]));

const MODES = [
  { name: 'Messages -> anthropic (passthrough)', path: '/v1/messages', model: 'a' },
  { name: 'Chat -> anthropic (translated)', path: '/v1/chat/completions', model: 'a' },
  { name: 'Chat -> openai (passthrough)', path: '/v1/chat/completions', model: 'o' },
  { name: 'Messages -> openai (translated)', path: '/v1/messages', model: 'o' },
] as const;
const bodyFor = (path: string, model: string, stream: boolean, extra: Record<string, unknown> = {}) =>
  path === '/v1/messages' ? JSON.stringify({ ...JSON.parse(messagesBody(model, stream)), ...extra }) : chatBody(model, stream, extra);

describe('the request log line, in each of the four modes', () => {
  test('one upstream answer logs the same four counts passed through and translated, JSON or streamed, a stream in one read or many (cache reads and writes too)', async () => {
    let delayMs = 0;
    ant.handler = (r) => r.json.stream
      ? sse(anthropicStream({ input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }, { output_tokens: 5 }), { delayMs })
      : json(anthropicAnswer({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }));
    const oaUsage = { prompt_tokens: 110, completion_tokens: 5, total_tokens: 115, prompt_tokens_details: { cached_tokens: 100 } };
    oa.handler = (r) => r.json.stream ? sse(chatStream(oaUsage), { delayMs }) : json(chatAnswer(oaUsage));
    for (const m of MODES) {
      for (const [stream, delay] of [[false, 0], [true, 0], [true, 2]] as const) {
        delayMs = delay;
        const l = await logOf(async () => (await post(m.path, bodyFor(m.path, m.model, stream, { stream_options: m.path === '/v1/chat/completions' && stream ? { include_usage: true } : undefined }))).text());
        expect(l).toMatchObject({ status: 200, outcome: 'ok', key: 'team', model: m.model, stream, attempts: 1, channel: m.model === 'a' ? 'ant' : 'oa' });
        expect(counts(l)).toEqual(m.model === 'a'
          ? { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }
          : { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 });
        expect(l.usage_estimated).toBeUndefined();
        expect(typeof l.ttfb_ms).toBe('number');
      }
    }
  });

  test('an HTTP error on the last channel: its status and type, "upstream HTTP <status>", no usage, neither the key nor the prompt it quotes', async () => {
    for (const status of [400, 500]) {
      ant.handler = () => json({ type: 'error', error: { type: status === 400 ? 'invalid_request_error' : 'api_error', message: `key ${ANT_KEY} prompt ${PROMPT}` } }, status);
      oa.handler = () => json({ error: { type: 'invalid_request_error', message: `key ${OA_KEY} prompt ${PROMPT}` } }, status);
      for (const m of MODES) {
        for (const stream of [false, true]) {
          const l = await logOf(async () => (await post(m.path, bodyFor(m.path, m.model, stream))).text());
          expect(l).toMatchObject({ status, outcome: 'error', error: `upstream HTTP ${status}`, error_type: status === 400 ? 'invalid_request_error' : 'api_error', attempts: 1 });
          expect(l.input_tokens).toBeUndefined();
        }
      }
    }
  });

  test('a client that leaves mid-stream: cancelled, with the usage read so far', async () => {
    // the text, then nothing more until the client has left: its finish and final usage never come, however slowly the
    // client gets to leave (a pace of 100 ms with a 120 ms sleep let them in on a loaded machine)
    ant.handler = (r) => sse(anthropicStream({ input_tokens: 10, output_tokens: 1 }, { output_tokens: 5 }).slice(0, 3), { delayMs: 20, signal: r.signal, hang: true });
    oa.handler = (r) => sse(chatStream({ prompt_tokens: 12, completion_tokens: 5 }).slice(0, 2), { delayMs: 20, signal: r.signal, hang: true });
    for (const m of MODES) {
      const l = await logOf(async () => {
        const ac = new AbortController();
        const res = await post(m.path, bodyFor(m.path, m.model, true), ac.signal);
        const reader = res.body!.getReader();
        let seen = '';
        while (!seen.includes('Hi.')) {
          const r = await reader.read();
          if (r.done) throw new Error(`the stream ended before its text: ${seen}`);
          seen += new TextDecoder().decode(r.value);
        }
        ac.abort();
        await reader.read().catch(() => {});
      });
      expect(l).toMatchObject({ status: 200, outcome: 'cancelled', stop_reason: null, output_tokens: 1 });
      expect(l.error).toBeUndefined();
      expect(l.input_tokens).toBeGreaterThan(0);
    }
  });

  test('a client that leaves once it has read the last event (openai 7 cancels the body at [DONE]) while the upstream has not closed yet: ok, not cancelled', async () => {
    // openai@7's Stream stops reading at `data: [DONE]` and cancels the response body (6 read on to the end); an
    // upstream whose connection closes a moment after its last event (here: never) had the answer logged cancelled
    ant.handler = (r) => sse(anthropicStream({ input_tokens: 10, output_tokens: 1 }, { output_tokens: 5 }), { signal: r.signal, hang: true });
    oa.handler = (r) => sse(chatStream({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }), { signal: r.signal, hang: true });
    for (const m of MODES) {
      const last = m.path === '/v1/messages' ? 'event: message_stop' : 'data: [DONE]';
      const l = await logOf(async () => {
        const res = await post(m.path, bodyFor(m.path, m.model, true, m.path === '/v1/chat/completions' ? { stream_options: { include_usage: true } } : {}));
        const reader = res.body!.getReader();
        let seen = '';
        while (!seen.includes(last)) {
          const r = await reader.read();
          if (r.done) throw new Error(`the stream ended before its last event: ${seen}`);
          seen += new TextDecoder().decode(r.value);
        }
        await reader.cancel();
      });
      expect(l).toMatchObject({ status: 200, outcome: 'ok', stop_reason: m.name === 'Chat -> openai (passthrough)' ? 'stop' : 'end_turn', output_tokens: 5 });
      expect(l.usage_estimated).toBeUndefined();
    }
  });

  test('an error event inside a 200 stream, at its start or mid-way, that quotes the channel key: masked in the log line', async () => {
    const antError = `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"refused key ${ANT_KEY}"}}\n\n`;
    const oaError = `data: {"error":{"type":"server_error","message":"refused key ${OA_KEY}"}}\n\n`;
    for (const midway of [false, true]) {
      ant.handler = () => sse([...(midway ? anthropicStream({ input_tokens: 10, output_tokens: 1 }, {}).slice(0, 3) : []), antError], { delayMs: 2 });
      oa.handler = () => sse([...(midway ? chatStream({}).slice(0, 2) : []), oaError], { delayMs: 2 });
      for (const m of MODES) {
        let client = '';
        const l = await logOf(async () => { client = await (await post(m.path, bodyFor(m.path, m.model, true))).text(); });
        // (a relayed Chat stream's error chunk keeps the upstream's own type, server_error, in its message)
        expect(l).toMatchObject({ outcome: 'error', error: m.name === 'Chat -> openai (passthrough)' ? 'server_error: refused key [redacted]' : 'refused key [redacted]' });
        // a translation writes the error in the client's format: the key masked there too (a relayed stream's bytes
        // go out as they came: README "What a translation cannot carry" is about translations only)
        if (m.name.includes('translated')) {
          expect(client).not.toContain(m.model === 'a' ? ANT_KEY : OA_KEY);
          expect(client).toContain('refused key [redacted]');
        }
      }
    }
  });

  // operators aggregate on error_type: a relayed Chat stream's error chunk is logged with Anthropic's type, as every
  // other line (and the same stream translated) is; the upstream's own word stays in the message
  const chatErrorChunks: Array<[string, Record<string, unknown>, string]> = [
    ["vLLM's (its fields at the top level, code 400)", { object: 'error', message: 'vLLM broke', type: 'BadRequestError', param: null, code: 400 }, 'invalid_request_error'],
    ["OpenAI's server_error (no status in it)", { error: { message: 'The server had an error', type: 'server_error', param: null, code: null } }, 'api_error'],
    ['one with a status_code 429', { error: { message: 'Slow down', type: 'tokens', code: 'rate_limit_exceeded', status_code: 429 } }, 'rate_limit_error'],
  ];
  for (const [what, chunk, type] of chatErrorChunks) {
    test(`a relayed Chat stream carrying ${what} error chunk: error_type ${type}, as when translated; the upstream's type in the message`, async () => {
      oa.handler = () => sse([...chatStream({}).slice(0, 2), `data: ${JSON.stringify(chunk)}\n\n`], { delayMs: 2 });
      const upstreamType = ((chunk.error ?? chunk) as { type: string }).type;
      const message = ((chunk.error ?? chunk) as { message: string }).message;
      for (const path of ['/v1/chat/completions', '/v1/messages']) {
        const l = await logOf(async () => { await (await post(path, bodyFor(path, 'o', true))).text(); });
        expect(`${path}: ${l.error_type}`).toBe(`${path}: ${type}`);
        expect(l).toMatchObject({ status: 200, outcome: 'error' });
        expect(l.error).toContain(message);
        if (path === '/v1/chat/completions') expect(l.error).toContain(upstreamType);
      }
    });
  }
  test('a relayed Chat stream whose error chunk already has an Anthropic type (a proxy in front of Anthropic): kept, the message as it came', async () => {
    oa.handler = () => sse([...chatStream({}).slice(0, 2), 'data: {"error":{"message":"Overloaded","type":"overloaded_error"}}\n\n'], { delayMs: 2 });
    const l = await logOf(async () => { await (await post('/v1/chat/completions', bodyFor('/v1/chat/completions', 'o', true))).text(); });
    expect(l).toMatchObject({ status: 200, outcome: 'error', error_type: 'overloaded_error', error: 'Overloaded' });
  });

  test('an error envelope in a 200 answer that is translated, quoting the channel key: masked in the log line (and for the client), the channel named', async () => {
    oa.handler = () => json({ error: { type: 'server_error', message: `refused key ${OA_KEY}` } });
    for (const stream of [false, true]) {
      let client = '';
      const l = await logOf(async () => { client = await (await post('/v1/messages', bodyFor('/v1/messages', 'o', stream))).text(); });
      expect(l).toMatchObject({ status: 502, outcome: 'error', error_type: 'api_error', error: 'channel oa: refused key [redacted]' });
      expect(client).toContain('refused key [redacted]');
    }
  });

  test('a relayed Chat answer that is an error envelope inside a 200: the error (502: its code is no status), outcome error, no usage charged, the key masked', async () => {
    const envelope = { error: { message: `The server had an error (key ${OA_KEY})`, type: 'server_error', param: null, code: null } };
    oa.handler = () => json(envelope);
    let client: any;
    const l = await logOf(async () => { client = await (await post('/v1/chat/completions', bodyFor('/v1/chat/completions', 'o', false))).json(); });
    expect(client.error.message).toStartWith('channel oa: The server had an error');
    expect(client.error.message).not.toContain(OA_KEY);
    expect(l).toMatchObject({ status: 502, outcome: 'error', error_type: 'api_error', input_tokens: 0, output_tokens: 0 });
    expect(l.error).toContain('The server had an error');
    expect(l.usage_estimated).toBeUndefined();
  });

  test('a fallback: the channel, upstream model, usage and dropped fields of the answer the client got, attempts counting both', async () => {
    ant.handler = () => json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529);
    const usage = { prompt_tokens: 110, completion_tokens: 5, total_tokens: 115, prompt_tokens_details: { cached_tokens: 100 } };
    oa.handler = (r) => r.json.stream ? sse(chatStream(usage), { delayMs: 2 }) : json(chatAnswer(usage));
    for (const stream of [false, true]) {
      // a Chat client: the anthropic channel's translation drops `seed`; the openai channel that answers gets it as sent
      const chat = await logOf(async () => (await post('/v1/chat/completions', chatBody('both', stream, { seed: 3, stream_options: stream ? { include_usage: true } : undefined }))).text());
      expect(chat).toMatchObject({ status: 200, outcome: 'ok', channel: 'oa', upstream_model: 'gpt-up', attempts: 2, input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100 });
      expect(oa.requests.at(-1)!.json.seed).toBe(3);
      expect(chat.dropped).toBeUndefined();
      // a Messages client: passed through to the anthropic channel as sent, then translated for the openai one, which drops `top_k`
      const messages = await logOf(async () => (await post('/v1/messages', bodyFor('/v1/messages', 'both', stream, { top_k: 3 }))).text());
      expect(messages).toMatchObject({ status: 200, outcome: 'ok', channel: 'oa', upstream_model: 'gpt-up', attempts: 2, input_tokens: 10, dropped: ['top_k'] });
    }
  });

  test('count_tokens: the anthropic channel\'s count as it is, the local estimate for an openai channel marked as one', async () => {
    ant.handler = () => json({ input_tokens: 42 });
    const count = (model: string) => post('/v1/messages/count_tokens', JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }] }));
    const relayed = await logOf(async () => (await count('a')).text());
    expect(relayed).toMatchObject({ status: 200, outcome: 'ok', channel: 'ant', input_tokens: 42 });
    expect(relayed.usage_estimated).toBeUndefined();
    let answer: any;
    const local = await logOf(async () => { answer = await (await count('o')).json(); });
    expect(local).toMatchObject({ status: 200, outcome: 'ok', input_tokens: answer.input_tokens, usage_estimated: true });
    expect(oa.requests.length).toBe(0);
  });

  test('ttfb_ms: when the answer began, not when an earlier attempt\'s refusal was read', async () => {
    // the openai channel refuses max_tokens above its ceiling (400), then answers the capped retry after 150 ms
    oa.handler = async (r) => {
      const asked = r.json.max_completion_tokens ?? r.json.max_tokens;
      if (asked > 16384) return json({ error: { type: 'invalid_request_error', message: `max_tokens is too large: ${asked}. This model supports at most 16384 completion tokens, whereas you provided ${asked}.` } }, 400);
      await Bun.sleep(150);
      return json(chatAnswer({ prompt_tokens: 12, completion_tokens: 5 }));
    };
    const l = await logOf(async () => (await post('/v1/messages', bodyFor('/v1/messages', 'o', false, { max_tokens: 128000 }))).text());
    expect(l).toMatchObject({ status: 200, outcome: 'ok', attempts: 2, input_tokens: 12, output_tokens: 5 });
    expect(l.error).toBeUndefined();
    expect(l.ttfb_ms).toBeGreaterThanOrEqual(150);
  });
});

describe('the request log line, when a channel is skipped by its circuit breaker mid-request', () => {
  test('channel and attempts are those of the attempts made, not of a candidate the breaker skipped', async () => {
    const p = startMockUpstream(() => json({}));
    const s = startMockUpstream(() => json(anthropicAnswer({ input_tokens: 1, output_tokens: 1 })));
    const g = startGateway({
      keys: [{ key: KEY, name: 'team' }],
      routing: { circuit_failures: 1, max_retry_after_ms: 0 },
      channels: [
        { name: 'p', type: 'anthropic', base_url: p.url, api_key: ANT_KEY, models: { m: 'claude-p' }, priority: 10 },
        { name: 's', type: 'anthropic', base_url: s.url, api_key: ANT_KEY, models: { m: 'claude-s' }, priority: 0 },
      ],
    });
    try {
      // while the request waits on p, another request's failure opens s's circuit
      p.handler = () => { g.deps.breaker.failure('s'); return json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529); };
      const before = g.requestLogs().length;
      const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: messagesBody('m', false) });
      expect(res.status).toBe(529);
      await until(() => g.requestLogs().length > before);
      const l = g.requestLogs()[before];
      expect(s.requests.length).toBe(0);
      expect(l).toMatchObject({ status: 529, outcome: 'error', channel: 'p', upstream_model: 'claude-p', attempts: 1 });
    } finally {
      await g.stop(); await p.stop(); await s.stop();
    }
  });
});
