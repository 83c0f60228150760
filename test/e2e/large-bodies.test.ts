/**
 * Bodies over 64 KB (long Claude Code conversations) take the scanned path: routing fields are checked at the
 * byte level and a passthrough forwards the bytes unparsed; a translation still parses and validates in full.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { bodyBuffersLent } from '../../src/pipeline/body-buffers.ts';
import { estimateInputTokens } from '../../src/accounting/estimate-tokens.ts';

let anthropicUp: MockUpstream;
let openaiUp: MockUpstream;
let gw: TestGateway;
beforeAll(() => {
  anthropicUp = startMockUpstream(() => json(JSON.parse(readFixture('anthropic/response-text.json'))));
  openaiUp = startMockUpstream(() => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
  gw = startGateway({ channels: [
    { name: 'a', type: 'anthropic', base_url: anthropicUp.url, models: { big: 'claude-up', same: 'same' } },
    { name: 'o', type: 'openai', base_url: `${openaiUp.url}/v1`, models: { 'to-openai': 'gpt-up' } },
  ] });
});
afterAll(async () => { await gw.stop(); await anthropicUp.stop(); await openaiUp.stop(); });

const pad = 'lorem "ipsum" \\ {dolor} [sit] ✓ '.repeat(4000); // ~130 KB of awkward text
const bigBody = (model: string, extra: Record<string, unknown> = {}) => JSON.stringify({
  messages: [{ role: 'user', content: [{ type: 'text', text: pad }] }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'go on' }],
  max_tokens: 100, model, stream: false, metadata: { model: 'not this one' }, ...extra,
});
const post = (path: string, body: string) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('large bodies', () => {
  test('passthrough: bytes forwarded unparsed, only the top-level model rewritten', async () => {
    const body = bigBody('big');
    expect(body.length).toBeGreaterThan(64 * 1024);
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(200);
    expect(anthropicUp.requests.at(-1)!.text).toBe(body.replace('"model":"big"', '"model":"claude-up"'));
  });

  test('passthrough without mapping: the very same bytes', async () => {
    const body = bigBody('same');
    await post('/v1/messages', body);
    expect(anthropicUp.requests.at(-1)!.text).toBe(body);
  });

  test.each([
    ['missing max_tokens', JSON.stringify({ model: 'big', messages: [{ role: 'user', content: pad }] }), 'max_tokens: Field required'],
    ['messages not an array', JSON.stringify({ model: 'big', max_tokens: 5, messages: { x: pad } }), 'messages:'],
    ['stream not a boolean', bigBody('big', { stream: 'yes' }), 'stream:'],
    ['model missing', JSON.stringify({ max_tokens: 5, messages: [{ role: 'user', content: pad }] }), 'model: Field required'],
    ['truncated JSON', bigBody('big').slice(0, -5), 'not valid JSON'],
    ['trailing garbage', bigBody('big') + 'x', 'not valid JSON'],
  ])('%s → the gateway\'s own 400 naming the field', async (_name, body, message) => {
    const n = anthropicUp.requests.length;
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(400);
    const err = await res.json() as any;
    expect(err.error.type).toBe('invalid_request_error');
    expect(err.error.message).toContain(message);
    expect(anthropicUp.requests.length).toBe(n);
  });

  test('a deep type error in a large passthrough body is left to the upstream (same envelope)', async () => {
    anthropicUp.handler = () => json({ type: 'error', error: { type: 'invalid_request_error', message: 'messages.0.content.0.text: Input should be a valid string' } }, 400);
    const body = JSON.stringify({ model: 'big', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }], pad });
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(400);
    expect((await res.json() as any).error.message).toContain('messages.0.content.0.text');
    anthropicUp.handler = () => json(JSON.parse(readFixture('anthropic/response-text.json')));
  });

  test('the same deep type error on a translated route is the gateway\'s own 400', async () => {
    const n = openaiUp.requests.length;
    const body = JSON.stringify({ model: 'to-openai', max_tokens: 5, messages: [{ role: 'user', content: 7 }], metadata: { pad } });
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(400);
    expect((await res.json() as any).error.message).toContain('messages.0.content');
    expect(openaiUp.requests.length).toBe(n);
  });

  test('a large body translates like a small one', async () => {
    const res = await post('/v1/messages', bigBody('to-openai'));
    expect(res.status).toBe(200);
    const sent = openaiUp.requests.at(-1)!.json;
    expect(sent.model).toBe('gpt-up');
    expect(sent.messages[0].content).toContain('lorem');
  });

  test('a large translated body carries every string exactly (long text goes through undecoded)', async () => {
    const png = Buffer.alloc(90_000, 3).toString('base64');
    const body = JSON.stringify({
      model: 'to-openai', max_tokens: 5, system: `sys ${pad}`,
      messages: [{ role: 'user', content: [{ type: 'text', text: pad }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Write', input: { content: pad } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: `${pad}\u0001 "end"` }] }],
    });
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(200);
    const sent = openaiUp.requests.at(-1)!.json;
    expect(sent.messages[0]).toEqual({ role: 'system', content: `sys ${pad}` });
    expect(sent.messages[1].content).toEqual([{ type: 'text', text: pad }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }]);
    expect(JSON.parse(sent.messages[2].tool_calls[0].function.arguments)).toEqual({ content: pad });
    expect(sent.messages[3]).toEqual({ role: 'tool', tool_call_id: 'toolu_1', content: `${pad}\u0001 "end"` });
  });

  test('large translated bodies sent at the same time each reach the upstream whole (their buffers are reused)', async () => {
    // different sizes and contents, so that a buffer reused too early would show as a mix of two bodies
    const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify({
      model: 'to-openai', max_tokens: 5 + i,
      messages: [{ role: 'user', content: [{ type: 'text', text: `${i}:${pad.slice(0, 70_000 + i * 9_000)}:${i}` }] }],
    }));
    const before = openaiUp.requests.length;
    const answers = await Promise.all(bodies.map((b) => post('/v1/messages', b)));
    expect(answers.map((r) => r.status)).toEqual(bodies.map(() => 200));
    const sent = openaiUp.requests.slice(before).map((r) => r.json).sort((a, b) => a.max_tokens - b.max_tokens);
    expect(sent).toHaveLength(12);
    sent.forEach((s, i) => expect(s.messages[0].content).toBe(`${i}:${pad.slice(0, 70_000 + i * 9_000)}:${i}`));
    expect(bodyBuffersLent()).toBe(0);
  });

  test('translated bodies too large to pool reach the upstream whole though their buffers are freed once sent', async () => {
    // past body-buffers' MAX_POOLED (1 MB): each gets a buffer of its own, detached as soon as `send` returned
    const big = Array.from({ length: 4 }, (_, i) => `${i}:${String.fromCharCode(97 + i).repeat(1_200_000 + i * 150_000)}:${i}`);
    const before = openaiUp.requests.length;
    const answers = await Promise.all(big.map((text, i) => post('/v1/messages', JSON.stringify({ model: 'to-openai', max_tokens: 10 + i, messages: [{ role: 'user', content: text }] }))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const sent = openaiUp.requests.slice(before).map((r) => r.json).sort((a, b) => a.max_tokens - b.max_tokens);
    expect(sent.map((s) => s.messages[0].content)).toEqual(big);
    expect(bodyBuffersLent()).toBe(0);
  });

  test('the tools of large translated requests: translated once, the same on every request, new ones when they change', async () => {
    const tool = (name: string, extra = '') => ({ name, description: `${name}: ${'does things. '.repeat(40)}${extra}`, input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } });
    const body = (tools: unknown[]) => bigBody('to-openai', { tools, tool_choice: { type: 'tool', name: 'Read' } });
    const first = [tool('Read'), tool('Write'), { name: 'Later', description: 'deferred', input_schema: { type: 'object' }, defer_loading: true }];
    const changed = [tool('Read', 'now with more words'), tool('Write')];
    const sent: any[] = [];
    for (const tools of [first, first, changed, first]) {
      const res = await post('/v1/messages', body(tools));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-dropped')).toBe(tools.length === 3 ? 'tools.Later (defer_loading)' : null);
      sent.push(openaiUp.requests.at(-1)!.json);
    }
    const expected = (tools: Array<ReturnType<typeof tool>>) => tools.map((t) => ({ type: 'function', function: { name: t.name, parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] }, description: t.description } }));
    expect(sent[0].tools).toEqual(expected(first.slice(0, 2) as never));
    expect(sent[1].tools).toEqual(sent[0].tools);
    expect(sent[2].tools).toEqual(expected(changed));
    expect(sent[3].tools).toEqual(sent[0].tools);
    for (const s of sent) expect(s.tool_choice).toEqual({ type: 'function', function: { name: 'Read' } });
    expect(bodyBuffersLent()).toBe(0);
  });

  test('a large body whose translation reads a string (a base64 text document) takes the full parse', async () => {
    const doc = Buffer.from(pad).toString('base64');
    const body = JSON.stringify({ model: 'to-openai', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'text/plain', data: doc } }] }] });
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(200);
    expect(openaiUp.requests.at(-1)!.json.messages[0].content).toBe(pad);
  });

  test('malformed large bodies on a translated route: the gateway\'s own 400, never a 500', async () => {
    const good = bigBody('to-openai');
    const n = openaiUp.requests.length;
    for (const bad of [good.slice(0, -1), `${good} trailing`, good.replace('"messages":[', '"messages":[[') , good.replace(/"max_tokens":100/, '"max_tokens":"100"'), `[${good}]`]) {
      const res = await post('/v1/messages', bad);
      expect(res.status).toBe(400);
      expect((await res.json() as any).type).toBe('error');
    }
    expect(openaiUp.requests.length).toBe(n);
  });

  test('Chat Completions passthrough of a large body', async () => {
    const gw2 = startGateway({ channels: [{ name: 'o', type: 'openai', base_url: `${openaiUp.url}/v1`, models: { c: 'gpt-up' } }] });
    const body = JSON.stringify({ model: 'c', messages: [{ role: 'user', content: pad }], stream: false });
    const res = await fetch(`${gw2.url}/v1/chat/completions`, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(openaiUp.requests.at(-1)!.text).toBe(body.replace('"model":"c"', '"model":"gpt-up"'));
    await gw2.stop();
  });
});

/**
 * Bodies over 1 MB are handed back to the allocator (detached) as soon as nothing reads them again: the request's
 * bytes once every attempt is over, a rewritten or translated copy once fetch has copied it. Whatever the path, the
 * upstream gets every byte and the answer, streamed or not, reaches the client.
 */
describe('multi-megabyte bodies', () => {
  let flaky: MockUpstream;
  let steady: MockUpstream;
  let streamingOpenai: MockUpstream;
  let g: TestGateway;
  beforeAll(() => {
    flaky = startMockUpstream(() => json({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } }, 529));
    steady = startMockUpstream(() => json(JSON.parse(readFixture('anthropic/response-text.json'))));
    streamingOpenai = startMockUpstream(() => new Response(readFixture('openai-chat/stream-text-usage-chunk.sse'), { headers: { 'content-type': 'text/event-stream' } }));
    g = startGateway({
      routing: { max_attempts: 2 },
      channels: [
        { name: 'first', type: 'anthropic', base_url: flaky.url, models: { huge: 'up-first' }, priority: 2 },
        { name: 'second', type: 'anthropic', base_url: steady.url, models: { huge: 'up-second' }, priority: 1 },
        { name: 'o', type: 'openai', base_url: `${streamingOpenai.url}/v1`, models: { 'huge-openai': 'gpt-up' } },
      ],
    });
  });
  afterAll(async () => { await g.stop(); await flaky.stop(); await steady.stop(); await streamingOpenai.stop(); });

  const huge = (model: string, stream = false, i = 0) => JSON.stringify({
    model, max_tokens: 10 + i, stream,
    messages: [{ role: 'user', content: [{ type: 'text', text: `${i}:${'ü'.repeat(700_000)}:${i}` }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: Buffer.alloc(600_000, i).toString('base64') } }] }],
  });
  const send = (body: string) => fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  test('a passthrough that falls back sends every byte to each channel, its model rewritten for each', async () => {
    const body = huge('huge');
    expect(Buffer.byteLength(body)).toBeGreaterThan(2 * 1024 * 1024);
    const res = await send(body);
    expect(res.status).toBe(200);
    expect(flaky.requests.at(-1)!.text).toBe(body.replace('"model":"huge"', '"model":"up-first"'));
    expect(steady.requests.at(-1)!.text).toBe(body.replace('"model":"huge"', '"model":"up-second"'));
  });

  test('several at once, passthrough and translated, each arrives whole; the streamed translation answers in full', async () => {
    const before = steady.requests.length;
    const bodies = [0, 1, 2].map((i) => huge('huge', false, i));
    const streamed = huge('huge-openai', true, 7);
    const [answers, streamedText] = await Promise.all([
      Promise.all(bodies.map(send)),
      send(streamed).then((r) => { expect(r.status).toBe(200); return r.text(); }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const got = steady.requests.slice(before).map((r) => r.text).sort();
    expect(got).toEqual(bodies.map((b) => b.replace('"model":"huge"', '"model":"up-second"')).sort());
    const up = JSON.parse(streamingOpenai.requests.at(-1)!.text);
    expect(up.messages[0].content[0]).toEqual({ type: 'text', text: `7:${'ü'.repeat(700_000)}:7` });
    expect(up.messages[0].content[1].image_url.url).toBe(`data:image/png;base64,${Buffer.alloc(600_000, 7).toString('base64')}`);
    expect(streamedText).toContain('event: message_stop');
    // message_start's input tokens: the estimate, made while the request travelled and before its bytes (whose long
    // strings it prices) were handed back
    expect(startTokens(streamedText)).toBeWithin(0.95 * expectedEstimate(streamed), 1.05 * expectedEstimate(streamed) + 1);
    expect(bodyBuffersLent()).toBe(0);
  });
});

/** `message_start.message.usage.input_tokens` of a Messages stream. */
function startTokens(sse: string): number {
  const line = sse.split('\n').find((l) => l.startsWith('data: ') && l.includes('"message_start"'))!;
  return JSON.parse(line.slice(6)).message.usage.input_tokens;
}

/** The stream-start estimate of a body, from its full parse (the gateway prices long strings from their bytes: within a few %). */
function expectedEstimate(body: string): number {
  return estimateInputTokens(JSON.parse(body), { fast: true });
}

describe('a large streamed translation', () => {
  test('message_start carries the input-token estimate (the upstream reports usage only at the end)', async () => {
    const up = startMockUpstream(() => new Response(readFixture('openai-chat/stream-text-usage-chunk.sse'), { headers: { 'content-type': 'text/event-stream' } }));
    const g = startGateway({ channels: [{ name: 'o', type: 'openai', base_url: `${up.url}/v1`, models: { m: 'gpt-up' } }] });
    try {
      for (const body of [bigBody('m', { stream: true }), JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hello there' }] })]) {
        const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(res.status).toBe(200);
        const tokens = startTokens(await res.text());
        const expected = expectedEstimate(body);
        expect(expected).toBeGreaterThan(body.length > 64 * 1024 ? 20_000 : 5);
        expect(tokens).toBeWithin(Math.floor(0.95 * expected), Math.ceil(1.05 * expected) + 1);
      }
    } finally {
      await g.stop();
      await up.stop();
    }
  });
});
