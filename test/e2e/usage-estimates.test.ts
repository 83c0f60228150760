/**
 * Answers that report no usage still get token counts in the request log: Switchboard's local estimate, marked
 * `usage_estimated: true`. A Chat Completions stream relayed to an openai channel for a client that did not ask for
 * `stream_options.include_usage` (the openai SDK's default) carries none; neither do some local servers' answers.
 * Upstreams replay recorded OpenAI traffic with the usage taken out, as OpenAI sends it without the option.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { rawUpstream, startMockUpstream, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-usage-estimates-1';
let upstream: MockUpstream;
let gw: TestGateway;
let oa: OpenAI;
let an: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream(() => new Response('no handler', { status: 500 }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [{ name: 'oa', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { 'gpt-4o': 'gpt-4o-2024-08-06' } }],
  });
  oa = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  an = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});

/** A recorded stream as OpenAI sends it without `include_usage`: no usage-only last chunk. */
function withoutUsage(rel: string): { events: string[]; usage: { prompt_tokens: number; completion_tokens: number } } {
  let usage: any;
  const events = sseEvents(fixtureSseBody(rel)).filter((e) => {
    const data = e.replace(/^data: /, '').trim();
    if (data === '[DONE]') return true;
    const chunk = JSON.parse(data);
    if (!chunk.usage) return true;
    expect(chunk.choices).toEqual([]); // the usage-only chunk: left out
    usage = chunk.usage;
    return false;
  });
  expect(usage).toBeDefined();
  return { events, usage };
}

const lastLog = async (n: number) => {
  await until(() => gw.requestLogs().length >= n);
  return gw.requestLogs()[n - 1];
};

/** The log line of the request `run` makes through `g`. */
async function logOf(g: TestGateway, run: () => Promise<unknown>) {
  const before = g.requestLogs().length;
  await run();
  await until(() => g.requestLogs().length > before);
  return g.requestLogs()[before];
}

/** Settles when `p` fails; a request that was to fail and did not fails the test. */
const failing = (p: Promise<unknown>) => p.then(() => { throw new Error('the answer did not fail'); }, () => {});

const question = (words: number) => [{ role: 'user' as const, content: `Write it out. ${'context '.repeat(words)}` }];

describe('usage that the upstream did not report is estimated, and marked so', () => {
  test('a relayed Chat stream without include_usage: the client gets the bytes as sent, the log an estimate near the real count', async () => {
    const { events, usage } = withoutUsage('openai-chat/stream-json-content-long.sse');
    upstream.handler = (r) => sse(events, { signal: r.signal });
    const before = gw.requestLogs().length;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: question(200) }),
    });
    expect(await res.text()).toBe(events.join(''));
    expect(upstream.requests.at(-1)!.headers.get('accept-encoding')).toBe('identity'); // answers uncompressed
    const log = await lastLog(before + 1);
    expect(log).toMatchObject({ channel: 'oa', stream: true, outcome: 'ok', usage_estimated: true, stop_reason: 'stop' });
    // ~4 characters a token: within a third of what OpenAI counted for this answer
    expect(log.output_tokens).toBeGreaterThan(usage.completion_tokens * 0.67);
    expect(log.output_tokens).toBeLessThan(usage.completion_tokens * 1.33);
    // from the request: 200 words of context are ~200 tokens
    expect(log.input_tokens).toBeGreaterThan(150);
    expect(log.input_tokens).toBeLessThan(400);
  });

  test('through the openai SDK\'s stream helper, tool calls counted too; a longer request estimates more', async () => {
    const { events, usage } = withoutUsage('openai-chat/stream-tool-calls-parallel.sse');
    upstream.handler = (r) => sse(events, { signal: r.signal });
    const before = gw.requestLogs().length;
    const done = await oa.chat.completions.stream({ model: 'gpt-4o', messages: question(50) }).finalChatCompletion();
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
    expect(done.usage ?? undefined).toBeUndefined(); // nothing added to the client's stream
    const short = await lastLog(before + 1);
    expect(short.usage_estimated).toBe(true);
    // the calls' names and arguments are the whole output
    expect(short.output_tokens).toBeGreaterThan(usage.completion_tokens * 0.4);
    expect(short.output_tokens).toBeLessThan(usage.completion_tokens * 1.5);
    await oa.chat.completions.stream({ model: 'gpt-4o', messages: question(1000) }).finalChatCompletion();
    const long = await lastLog(before + 2);
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens + 700);
  });

  test('a stream that asked for include_usage logs the upstream\'s own counts, not an estimate', async () => {
    const recorded = fixtureSseBody('openai-chat/stream-tool-calls-parallel.sse');
    upstream.handler = (r) => sse(sseEvents(recorded), { signal: r.signal });
    const before = gw.requestLogs().length;
    const done = await oa.chat.completions.stream({ model: 'gpt-4o', messages: question(5), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(done.usage?.total_tokens).toBe(209);
    const log = await lastLog(before + 1);
    expect(log).toMatchObject({ input_tokens: 149, output_tokens: 60 });
    expect(log.usage_estimated).toBeUndefined();
  });

  test('a relayed JSON answer without usage (some local servers) is estimated; one with usage is read', async () => {
    const recorded = JSON.parse(readFixture('openai-chat/response-text.json'));
    const bare = { ...recorded, usage: undefined };
    upstream.handler = () => Response.json(bare);
    const before = gw.requestLogs().length;
    const got = await oa.chat.completions.create({ model: 'gpt-4o', messages: question(100) });
    expect(got.choices[0]!.message.content).toBe(recorded.choices[0].message.content);
    const log = await lastLog(before + 1);
    expect(log.usage_estimated).toBe(true);
    expect(log.output_tokens).toBe(Math.ceil(recorded.choices[0].message.content.length / 4));
    expect(log.input_tokens).toBeGreaterThan(80);

    upstream.handler = () => Response.json(recorded);
    await oa.chat.completions.create({ model: 'gpt-4o', messages: question(100) });
    const real = await lastLog(before + 2);
    expect(real).toMatchObject({ input_tokens: 14, output_tokens: 37 });
    expect(real.usage_estimated).toBeUndefined();
  });

  test('a Messages stream translated from an upstream stream without usage: the log says its counts are estimates', async () => {
    const { events, usage } = withoutUsage('openai-chat/stream-json-content-long.sse');
    upstream.handler = (r) => sse(events, { signal: r.signal });
    const before = gw.requestLogs().length;
    const msg = await an.messages.stream({ model: 'gpt-4o', max_tokens: 500, messages: question(200) }).finalMessage();
    expect(msg.usage.output_tokens).toBeGreaterThan(usage.completion_tokens * 0.67);
    const log = await lastLog(before + 1);
    expect(log).toMatchObject({ usage_estimated: true, output_tokens: msg.usage.output_tokens });
    expect(log.input_tokens).toBeGreaterThan(150);

    // with usage: not an estimate
    upstream.handler = (r) => sse(sseEvents(fixtureSseBody('openai-chat/stream-json-content-long.sse')), { signal: r.signal });
    await an.messages.stream({ model: 'gpt-4o', max_tokens: 500, messages: question(200) }).finalMessage();
    const real = await lastLog(before + 2);
    expect(real).toMatchObject({ input_tokens: 19, output_tokens: 177 });
    expect(real.usage_estimated).toBeUndefined();
  });

  test('a translated stream that breaks off before the usage chunk: the counts logged are the estimate, and say so', async () => {
    // the upstream's first events, then its connection ends: no finish, no usage, no [DONE]
    const events = sseEvents(fixtureSseBody('openai-chat/stream-json-content-long.sse')).slice(0, 5);
    upstream.handler = (r) => sse(events, { signal: r.signal });
    const before = gw.requestLogs().length;
    const err = await an.messages.stream({ model: 'gpt-4o', max_tokens: 500, messages: question(200) }).finalMessage().then(() => null, (e) => e);
    expect(err).not.toBeNull();
    const log = await lastLog(before + 1);
    expect(log.outcome).toBe('error');
    expect(log.input_tokens).toBeGreaterThan(150); // the local estimate of the request: the upstream counted nothing
    expect(log.usage_estimated).toBe(true);
  });
});

/**
 * Answers cut short: by the upstream's connection, or by the client. What the provider counted before the cut (it
 * bills the prompt, and every token it generated) is in the log line: the upstream's own usage when it came, else the
 * estimate, marked so; never a bare 0 or message_start's placeholder of 1 output token.
 */
describe('usage of an answer that ends before its end', () => {
  const recorded = fixtureSseBody('openai-chat/stream-json-content-long.sse');
  const events = sseEvents(recorded);
  const usageAt = events.findIndex((e) => e.includes('"usage":{'));
  /** The recorded answer as OpenAI now streams it with include_usage: `"usage":null` on every chunk but the last. */
  const withNulls = events.map((e, i) => (i < usageAt && e.startsWith('data: {') ? e.replace(/}\n\n$/, ',"usage":null}\n\n') : e));
  const contentEvents = events.filter((e) => e.includes('"content":"')).length;
  /** An upstream that sends `body` in one chunk of a chunked answer, then closes its connection before the last chunk. */
  const cutAfter = (body: string) => rawUpstream(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`, { closeAfterMs: 20 });
  const beforeUsage = cutAfter(withNulls.slice(0, usageAt).join(''));
  const afterUsage = cutAfter(withNulls.slice(0, usageAt + 1).join(''));
  let g: TestGateway;
  let gOa: OpenAI;
  let gAn: Anthropic;
  beforeAll(() => {
    g = startGateway({
      keys: [{ key: KEY, name: 'k' }],
      channels: [
        { name: 'before-usage', type: 'openai', provider: 'openai', base_url: `${beforeUsage.url}/v1`, api_key: 'sk-up', models: { 'cut-before': 'gpt-4o-2024-08-06' } },
        { name: 'after-usage', type: 'openai', provider: 'openai', base_url: `${afterUsage.url}/v1`, api_key: 'sk-up', models: { 'cut-after': 'gpt-4o-2024-08-06' } },
        { name: 'oa', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { 'gpt-4o': 'gpt-4o-2024-08-06' } },
      ],
    });
    gOa = new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
    gAn = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await g?.stop();
    beforeUsage.stop();
    afterUsage.stop();
  });
  const logAfter = (run: () => Promise<unknown>) => logOf(g, run);

  test('a translated stream whose connection is cut after the usage chunk: the upstream\'s counts, not estimates', async () => {
    const log = await logAfter(() => failing(gAn.messages.stream({ model: 'cut-after', max_tokens: 500, messages: question(200) }).finalMessage()));
    expect(log).toMatchObject({ channel: 'after-usage', outcome: 'error', input_tokens: 19, output_tokens: 177 });
    expect(log.usage_estimated).toBeUndefined();
  });

  test('a translated stream cut before its usage, or left by its client: the output estimated from the text streamed, not 1', async () => {
    const cut = await logAfter(() => failing(gAn.messages.stream({ model: 'cut-before', max_tokens: 500, messages: question(200) }).finalMessage()));
    expect(cut).toMatchObject({ outcome: 'error', usage_estimated: true });
    // ~4 characters a token: within a third of the 177 OpenAI counted for this answer
    expect(cut.output_tokens).toBeGreaterThan(177 * 0.67);
    expect(cut.output_tokens).toBeLessThan(177 * 1.33);
    expect(cut.input_tokens).toBeGreaterThan(150);

    // the client leaves once it has the text: the rest (finish, usage) never comes
    upstream.handler = (r) => sse(events.slice(0, usageAt - 1), { signal: r.signal, hang: true });
    const left = await logAfter(async () => {
      const stream = gAn.messages.stream({ model: 'gpt-4o', max_tokens: 500, messages: question(200) });
      let text = '';
      await new Promise<void>((resolve) => {
        stream.on('text', (t) => { text += t; if (text.length > 400) { stream.abort(); resolve(); } });
        stream.on('error', () => resolve());
        stream.on('abort', () => resolve());
      });
    });
    expect(left).toMatchObject({ outcome: 'cancelled', usage_estimated: true });
    expect(left.output_tokens).toBeGreaterThan(50);
  });

  test('a relayed Chat stream that asked for include_usage, cut before the usage chunk: the estimate, not 0/0', async () => {
    const log = await logAfter(async () => {
      const stream = await gOa.chat.completions.create({ model: 'cut-before', stream: true, stream_options: { include_usage: true }, messages: question(200) });
      await failing((async () => { for await (const _ of stream); })());
    });
    expect(log).toMatchObject({ channel: 'before-usage', outcome: 'error', usage_estimated: true });
    expect(log.input_tokens).toBeGreaterThan(150);
    expect(log.output_tokens).toBeGreaterThanOrEqual(contentEvents);
  });

  test('a relayed Chat stream that asked for include_usage from a provider that ignores it: the input estimated, not 0', async () => {
    upstream.handler = (r) => sse(events.filter((e) => !e.includes('"usage":{')), { signal: r.signal });
    const log = await logAfter(async () => {
      const stream = await gOa.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: question(200) });
      for await (const _ of stream);
    });
    expect(log).toMatchObject({ outcome: 'ok', usage_estimated: true });
    expect(log.input_tokens).toBeGreaterThan(150);
  });

  test('a relayed Chat stream that is an error event and nothing else: no tokens charged, asked for include_usage or not', async () => {
    upstream.handler = () => sse(['data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n']);
    for (const includeUsage of [true, false]) {
      const log = await logAfter(async () => {
        const stream = await gOa.chat.completions.create({ model: 'gpt-4o', stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}), messages: question(200) });
        await failing((async () => { for await (const _ of stream); })());
      });
      expect(log).toMatchObject({ outcome: 'error', input_tokens: 0, output_tokens: 0 });
      expect(log.usage_estimated).toBeUndefined();
    }
  });
});

/**
 * Anthropic answers cut short. message_start says 1 output token; message_delta, which never came, would have said
 * how many Anthropic generated and bills. The log line gets the estimate from the text, thinking and tool input that
 * streamed (~4 characters a token), marked so; the input stays message_start's own count. Relayed as they are
 * (Messages → anthropic) and translated (Chat → anthropic). The recorded answer: 282 output tokens, ~1,220 characters.
 */
describe('usage of an Anthropic answer that ends before its message_delta', () => {
  const events = sseEvents(fixtureSseBody('anthropic/stream-thinking-signature-delta.sse'));
  const deltaAt = events.findIndex((e) => e.startsWith('event: message_delta'));
  const OUTPUT = 282;
  /** An upstream that sends the events before message_delta as one chunk of a chunked answer, then drops its connection. */
  const cut = rawUpstream(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${(() => {
    const body = events.slice(0, deltaAt).join('');
    return `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
  })()}`, { closeAfterMs: 20 });
  let anthropicUp: MockUpstream;
  let g: TestGateway;
  let gAn: Anthropic;
  let gOa: OpenAI;
  beforeAll(() => {
    anthropicUp = startMockUpstream(() => new Response('no handler', { status: 500 }));
    g = startGateway({
      keys: [{ key: KEY, name: 'k' }],
      channels: [
        { name: 'cut', type: 'anthropic', base_url: cut.url, api_key: 'sk-ant-up', models: ['claude-cut'] },
        { name: 'ant', type: 'anthropic', base_url: anthropicUp.url, api_key: 'sk-ant-up', models: ['claude-sonnet-4-5'] },
      ],
    });
    gAn = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
    gOa = new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await g?.stop();
    await anthropicUp?.stop();
    cut.stop();
  });
  const logAfter = (run: () => Promise<unknown>) => logOf(g, run);
  const near = (n: number) => {
    expect(n).toBeGreaterThan(OUTPUT * 0.67);
    expect(n).toBeLessThan(OUTPUT * 1.33);
  };

  test('relayed, the connection cut: the output estimated from what streamed, the input Anthropic\'s', async () => {
    const log = await logAfter(() => failing(gAn.messages.stream({ model: 'claude-cut', max_tokens: 500, messages: question(5) }).finalMessage()));
    expect(log).toMatchObject({ channel: 'cut', outcome: 'error', input_tokens: 43, usage_estimated: true });
    near(log.output_tokens);
  });

  test('relayed, the client leaving mid-answer: the output so far, not 1', async () => {
    anthropicUp.handler = (r) => sse(events.slice(0, deltaAt), { signal: r.signal, delayMs: 2, hang: true });
    const log = await logAfter(async () => {
      const stream = gAn.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 500, messages: question(5) });
      let seen = 0;
      await new Promise<void>((resolve) => {
        stream.on('streamEvent', (e) => { if (e.type === 'content_block_delta' && ++seen === 60) { stream.abort(); resolve(); } });
        stream.on('error', () => resolve());
        stream.on('abort', () => resolve());
      });
    });
    expect(log).toMatchObject({ outcome: 'cancelled', input_tokens: 43, usage_estimated: true });
    expect(log.output_tokens).toBeGreaterThan(100);
  });

  test('relayed, a body that ended (all of it in one read) without its message_delta: counted from its bytes', async () => {
    anthropicUp.handler = () => sse(events.slice(0, deltaAt));
    const log = await logAfter(async () => {
      const res = await fetch(`${g.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 500, stream: true, messages: question(5) }),
      });
      // the bytes as they came, then the error event that says the answer was cut off (not a clean end)
      const text = await res.text();
      expect(text.startsWith(events.slice(0, deltaAt).join(''))).toBe(true);
      expect(text.slice(events.slice(0, deltaAt).join('').length)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"channel ant: upstream stream ended before the message was complete"/);
    });
    expect(log).toMatchObject({ input_tokens: 43, usage_estimated: true, outcome: 'error' });
    near(log.output_tokens);
  });

  test('a whole answer keeps Anthropic\'s own count, unmarked', async () => {
    anthropicUp.handler = (r) => sse(events, { signal: r.signal, delayMs: 1 });
    const log = await logAfter(() => gAn.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 500, messages: question(5) }).finalMessage());
    expect(log).toMatchObject({ outcome: 'ok', input_tokens: 43, output_tokens: OUTPUT });
    expect(log.usage_estimated).toBeUndefined();
  });

  test('translated for a Chat client, the connection cut: the output estimated, not 1', async () => {
    const log = await logAfter(async () => {
      const stream = await gOa.chat.completions.create({ model: 'claude-cut', max_tokens: 500, stream: true, messages: [{ role: 'user', content: 'Why?' }] });
      await (async () => { for await (const _ of stream) { /* read to the cut */ } })().catch(() => {});
    });
    expect(log).toMatchObject({ channel: 'cut', input_tokens: 43, usage_estimated: true });
    near(log.output_tokens);
  });
});
