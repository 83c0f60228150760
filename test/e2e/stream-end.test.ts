/**
 * @module test/e2e/stream-end
 * A stream whose upstream sends its format's last event (`message_stop`, `data: [DONE]`) and then keeps its connection
 * open (a proxy or load balancer that holds the final chunk back, a server that never ends its body): the client's
 * answer ends at that event, in each of the four modes, with the official SDKs and with a client that reads the body
 * to its end; the log line is written at once, ok with the answer's usage, and the upstream request is aborted. And
 * a stream whose text quotes those markers is not cut short by them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, sse, sseEvents, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-stream-end-key';
const IDLE_MS = 10_000;
/** How long the client may take, at most: far below the idle timeout that ended such a stream before. */
const PROMPT_MS = 3_000;

// Anthropic's recording lost the blank line after its last event (the recorder trimmed it): Anthropic sends one
const ANT_STREAM = `${readFixture('anthropic/stream-text-basic.sse')}\n\n`; // "Hello there!", 11 in, 6 out
const OA_STREAM = readFixture('openai-chat/stream-text-usage-chunk.sse'); // 14 in, 30 out, ends with data: [DONE]
const OA_TEXT = [...OA_STREAM.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`)).join('');

let ant: MockUpstream;
let oa: MockUpstream;
let gw: TestGateway;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(() => {
  ant = startMockUpstream(() => new Response('no handler', { status: 500 }));
  oa = startMockUpstream(() => new Response('no handler', { status: 500 }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'ant', type: 'anthropic', base_url: ant.url, api_key: 'sk-ant-x', models: { a: 'claude-up' }, stream_idle_timeout_ms: IDLE_MS },
      { name: 'oa', type: 'openai', provider: 'openai', base_url: `${oa.url}/v1`, api_key: 'sk-oa-x', models: { o: 'gpt-up' }, stream_idle_timeout_ms: IDLE_MS },
    ],
  });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await ant?.stop();
  await oa?.stop();
});

const MODES = [
  { name: 'Messages -> anthropic (passthrough)', path: '/v1/messages', model: 'a', text: 'Hello there!', usage: { input_tokens: 11, output_tokens: 6 }, stop: 'end_turn' },
  { name: 'Messages -> openai (translated)', path: '/v1/messages', model: 'o', text: OA_TEXT, usage: { input_tokens: 14, output_tokens: 30 }, stop: 'end_turn' },
  { name: 'Chat -> openai (passthrough)', path: '/v1/chat/completions', model: 'o', text: OA_TEXT, usage: { input_tokens: 14, output_tokens: 30 }, stop: 'stop' },
  { name: 'Chat -> anthropic (translated)', path: '/v1/chat/completions', model: 'a', text: 'Hello there!', usage: { input_tokens: 11, output_tokens: 6 }, stop: 'end_turn' },
] as const;
type Mode = (typeof MODES)[number];

interface Read { value: string; requestId: string }

/** The text of the answer as the mode's official SDK reads it (and its request id), the request aborted past `signal`. */
async function sdkText(m: Mode, signal: AbortSignal): Promise<Read> {
  if (m.path === '/v1/messages') {
    const stream = anthropic.messages.stream({ model: m.model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }, { signal });
    const msg = await stream.finalMessage();
    return { value: msg.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), requestId: stream.request_id! };
  }
  let value = '';
  const { data: stream, response } = await openai.chat.completions.create({ model: m.model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }, { signal }).withResponse();
  for await (const c of stream) value += c.choices[0]?.delta.content ?? '';
  return { value, requestId: response.headers.get('request-id')! };
}

/** The body read to its end, as a client that is not an SDK reads it (curl, openai 6, Python's SDK drains it). */
async function rawBody(m: Mode, signal: AbortSignal): Promise<Read> {
  const body = m.path === '/v1/messages'
    ? { model: m.model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] }
    : { model: m.model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] };
  const res = await fetch(`${gw.url}${m.path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  expect(res.status).toBe(200);
  return { value: await res.text(), requestId: res.headers.get('request-id')! };
}

/** The request's log line, once it is written. */
async function logLine(requestId: string) {
  expect(requestId).toBeTruthy();
  await until(() => gw.requestLogs().some((l) => l.request_id === requestId));
  return gw.requestLogs().find((l) => l.request_id === requestId);
}

/** Runs `read` with a deadline of PROMPT_MS (then aborted: a test that fails does not wait for the idle timeout). */
async function promptly<T>(read: (signal: AbortSignal) => Promise<T>): Promise<{ value: T; ms: number }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`the client was not done within ${PROMPT_MS} ms`)), PROMPT_MS);
  const t0 = performance.now();
  try {
    const value = await read(ac.signal);
    return { value, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the mock saw the gateway abort `rec` (false: not within `ms`). */
const abortedWithin = (rec: RecordedRequest, ms: number) => Promise.race([rec.aborted.then(() => true), Bun.sleep(ms).then(() => false)]);

describe('an upstream that keeps its connection open after its last event', () => {
  for (const m of MODES) {
    for (const [chunking, split] of [['in one write', (s: string) => [s]], ['event by event', sseEvents]] as const) {
      test(`${m.name}, ${chunking}: the client is done at once, logged ok with its usage, the upstream request aborted`, async () => {
        const upstream = m.model === 'a' ? ant : oa;
        const body = m.model === 'a' ? ANT_STREAM : OA_STREAM;
        upstream.handler = (r) => sse(split(body), { signal: r.signal, hang: true, delayMs: chunking === 'event by event' ? 2 : 0 });
        for (const [client, read] of [['SDK', (s: AbortSignal) => sdkText(m, s)], ['body read to its end', (s: AbortSignal) => rawBody(m, s)]] as const) {
          const seen = upstream.requests.length;
          const { value: { value, requestId }, ms } = await promptly(read);
          if (client === 'SDK') expect(value).toBe(m.text);
          else {
            expect(value.endsWith(m.path === '/v1/messages' ? 'event: message_stop\ndata: {"type":"message_stop"}\n\n' : 'data: [DONE]\n\n')).toBe(true);
            // a relayed stream comes as it came
            if (m.name.includes('passthrough')) expect(value).toBe(body);
          }
          expect(ms).toBeLessThan(PROMPT_MS);
          const line = await logLine(requestId);
          expect(line).toMatchObject({ status: 200, outcome: 'ok', stop_reason: m.stop, ...m.usage });
          expect(line.usage_estimated).toBeUndefined();
          expect(line.error).toBeUndefined();
          expect(upstream.requests.length).toBe(seen + 1);
          expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
        }
      });
    }
  }
});

describe('a text that quotes the last event is no end', () => {
  // the quoted markers with the line breaks around them, as JSON writes them inside a string (escaped: no raw line
  // break), close enough to the chunk's end to be in the last 256 bytes a look at the chunk's tail searches
  const QUOTE = '\n\ndata: [DONE]\n\nevent: message_stop\n\n';
  const antEvent = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const chatEvent = (choices: unknown[], usage?: unknown) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-up', choices, ...(usage ? { usage } : {}) })}\n\n`;
  // the quote in the last text, read in the same upstream chunk as the answer's stop reason (Anthropic's message_delta;
  // a Chat chunk whose last token comes with its finish_reason, as many servers send it); the real last event later
  const ANT = [
    antEvent('message_start', { message: { id: 'msg_q', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }),
    antEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    antEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `Quote:${QUOTE}` } })
      + antEvent('content_block_stop', { index: 0 })
      + antEvent('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }),
    antEvent('message_stop', {}),
  ];
  const OA = [
    chatEvent([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
    chatEvent([{ index: 0, delta: { content: `Quote:${QUOTE}` }, finish_reason: 'stop' }]),
    chatEvent([], { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 }),
    'data: [DONE]\n\n',
  ];

  for (const m of MODES) {
    test(`${m.name}: the whole answer, its usage and its real end reach the client`, async () => {
      const upstream = m.model === 'a' ? ant : oa;
      const chunks = m.model === 'a' ? ANT : OA;
      // a pause before the real last event: a stream ended at the quote would have ended by then
      upstream.handler = (r) => sse(chunks, { signal: r.signal, delayMs: 50 });
      for (const client of ['SDK', 'body read to its end'] as const) {
        const { value: { value, requestId } } = await promptly((s) => (client === 'SDK' ? sdkText(m, s) : rawBody(m, s)));
        if (client === 'SDK') expect(value).toBe(`Quote:${QUOTE}`);
        else if (m.name.includes('passthrough')) expect(value).toBe(chunks.join(''));
        else expect(value.endsWith(m.path === '/v1/messages' ? 'event: message_stop\ndata: {"type":"message_stop"}\n\n' : 'data: [DONE]\n\n')).toBe(true);
        expect(await logLine(requestId)).toMatchObject({ status: 200, outcome: 'ok', stop_reason: m.stop, input_tokens: 9, output_tokens: 7 });
      }
    });
  }
});

describe('a last event that does not end a whole answer', () => {
  test('Chat -> anthropic (translated): a message_stop with no message_delta before it, the connection held: an error to the SDK at once, logged an error', async () => {
    const cut = ANT_STREAM.slice(0, ANT_STREAM.indexOf('event: message_delta')) + 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    ant.handler = (r) => sse([cut], { signal: r.signal, hang: true });
    let requestId = '';
    const { value: err, ms } = await promptly(async (signal) => {
      const { data: stream, response } = await openai.chat.completions.create({ model: 'a', stream: true, messages: [{ role: 'user', content: 'Hi' }] }, { signal }).withResponse();
      requestId = response.headers.get('request-id')!;
      try { for await (const _ of stream); } catch (e) { return e as Error; }
      return null;
    });
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err!.message).toContain('ended before the message was complete');
    expect(await logLine(requestId)).toMatchObject({ status: 200, outcome: 'error', error_type: 'api_error' });
    expect(await abortedWithin(ant.requests.at(-1)!, 2000)).toBe(true);
  });
});

describe('a last event split between two reads of the upstream body (a proxy that cuts its chunks anywhere)', () => {
  for (const m of MODES) {
    test(`${m.name}: the client is done at once, logged ok, the upstream request aborted`, async () => {
      const upstream = m.model === 'a' ? ant : oa;
      const body = m.model === 'a' ? ANT_STREAM : OA_STREAM;
      const last = body.lastIndexOf(m.model === 'a' ? 'event: message_stop' : 'data: [DONE]');
      // before the blank line's second break, inside the marker, after it, inside the last event's data line
      for (const cut of [last - 1, last + 8, last + (m.model === 'a' ? 20 : 12), body.length - 4]) {
        upstream.handler = (r) => sse([body.slice(0, cut), body.slice(cut)], { signal: r.signal, hang: true, delayMs: 30 });
        const { value: { value, requestId }, ms } = await promptly((s) => rawBody(m, s));
        if (m.name.includes('passthrough')) expect(value).toBe(body);
        expect(ms).toBeLessThan(PROMPT_MS);
        expect(await logLine(requestId)).toMatchObject({ status: 200, outcome: 'ok', stop_reason: m.stop, ...m.usage });
        expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
      }
    });
  }
});

describe('a Chat stream whose finish_reason is cut between two reads, the connection held after [DONE]', () => {
  // the stop reason is what lets a relay end at its last event: read across the cut, the relay ends there
  const m = MODES[2];
  test(`${m.name}: cut inside the finish_reason key and inside its value, the client is done at once, logged ok with it`, async () => {
    const at = OA_STREAM.indexOf('"finish_reason":"stop"');
    expect(at).toBeGreaterThan(0);
    for (const cut of [at + 5, at + 15, at + 19]) {
      oa.handler = (r) => sse([OA_STREAM.slice(0, cut), OA_STREAM.slice(cut)], { signal: r.signal, hang: true, delayMs: 30 });
      const { value: { value, requestId }, ms } = await promptly((s) => rawBody(m, s));
      expect(value).toBe(OA_STREAM);
      expect(ms).toBeLessThan(PROMPT_MS);
      expect(await logLine(requestId)).toMatchObject({ status: 200, outcome: 'ok', stop_reason: 'stop', ...m.usage });
      expect(await abortedWithin(oa.requests.at(-1)!, 2000)).toBe(true);
    }
  });
});
