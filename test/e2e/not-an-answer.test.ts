/**
 * A 2xx from an upstream that is no answer in its format: an empty body (a proxy that lost its upstream, a server
 * that crashed after its headers), an HTML page (a captive portal, a base_url pointing at a web UI), plain text, a
 * JSON list, a JSON body or a page where a stream was asked for, an event stream with no event. In all four modes,
 * streamed and not, driven by the official SDKs: the client gets a 502 in its own envelope naming the channel and
 * what came back, the log line says error, the channel's circuit counts it, and a second channel answers when there
 * is one (nothing had reached the client).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';

const KEY = 'sk-gw-not-an-answer-1';
let bad: MockUpstream;
let good: MockUpstream;
let both: TestGateway;
let only: TestGateway;

/** A good answer in the format the path asks for, streamed when the request says so. */
function goodAnswer(r: RecordedRequest): Response {
  const anthropic = r.path.endsWith('/messages');
  if (r.json?.stream) {
    // the Anthropic recording ends without the blank line after its last event
    const body = anthropic ? `${fixtureSseBody('anthropic/stream-text-basic.sse')}\n\n` : fixtureSseBody('openai-chat/stream-text-usage-chunk.sse');
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }
  return new Response(readFixture(anthropic ? 'anthropic/response-text.json' : 'openai-chat/response-text.json'), { headers: { 'content-type': 'application/json' } });
}

const chunked = (text: string, type: string | null) => new Response(new ReadableStream<Uint8Array>({
  start(c) { if (text) c.enqueue(new TextEncoder().encode(text)); c.close(); },
}), { headers: type ? { 'content-type': type } : {} });
const whole = (text: string, type: string | null) => new Response(text, { headers: type ? { 'content-type': type } : {} });

const PAGE = '<!doctype html><html><head><title>Open WebUI</title></head><body><div id="app">Loading…</div></body></html>';

interface Case { answer: () => Response; says: string }

/** What an upstream answers to a request that is not streamed, and what the client's error says. */
const JSON_CASES: Record<string, Case> = {
  'an empty body': { answer: () => whole('', 'application/json'), says: 'upstream answered 200 with an empty body' },
  'an empty body, chunked': { answer: () => chunked('', 'application/json'), says: 'upstream answered 200 with an empty body' },
  'an HTML page': { answer: () => whole(PAGE, 'text/html; charset=utf-8'), says: 'upstream answered 200 with text/html, not JSON: is base_url right?' },
  'an HTML page, chunked': { answer: () => chunked(PAGE, 'text/html'), says: 'upstream answered 200 with text/html, not JSON: is base_url right?' },
  'plain text': { answer: () => whole('OK', 'text/plain'), says: 'upstream answered 200 with text/plain, not JSON: is base_url right? It began: "OK"' },
  'a JSON list': { answer: () => whole('[]', 'application/json'), says: 'upstream answered 200 with application/json that is not an object' },
};

/** What an upstream answers to a streamed request, and what the client's error says. */
const STREAM_CASES: Record<string, Case> = {
  'an empty body': { answer: () => whole('', 'text/event-stream'), says: 'upstream answered 200 with an empty body' },
  'an empty body, no content-type': { answer: () => chunked('', null), says: 'upstream answered 200 with an empty body' },
  'an HTML page': { answer: () => whole(PAGE, 'text/html'), says: 'upstream answered 200 with text/html, not an event stream: is base_url right?' },
  'an HTML page, chunked': { answer: () => chunked(PAGE, 'text/html; charset=utf-8'), says: 'upstream answered 200 with text/html, not an event stream: is base_url right?' },
  'plain text, chunked': { answer: () => chunked('OK', 'text/plain'), says: 'upstream answered 200 with text/plain, not an event stream' },
};

/** Only where the channel's format is the client's: a translation reads a JSON answer to a stream as the stream. */
const RELAYED_STREAM_CASES: Record<string, Case> = {
  'a JSON body': { answer: () => whole('{"status":"ok"}', 'application/json'), says: 'upstream answered 200 with application/json, not an event stream' },
};

/** A stream is read past its opening comments (OpenRouter's, a proxy's keep-alive) for its first event. */
const COMMENT_CASES: Record<string, Case> = {
  'comments and no event': { answer: () => chunked(': keep-alive\n\n', 'text/event-stream'), says: 'upstream answered 200 with an event stream that ended with no event' },
};

beforeAll(() => {
  bad = startMockUpstream(() => whole('', 'application/json'));
  good = startMockUpstream(goodAnswer);
  const channel = (name: string, type: string, up: MockUpstream, model: string, priority: number) =>
    ({ name, type, base_url: type === 'openai' ? `${up.url}/v1` : up.url, api_key: `sk-${name}-key`, models: [model], priority });
  // every test fails the bad channels: their circuits, left to open, would have later tests skip them
  const routing = { circuit_failures: 100000 };
  const badOnes = [channel('bad-ant', 'anthropic', bad, 'ma', 10), channel('bad-oai', 'openai', bad, 'mo', 10)];
  only = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: badOnes });
  both = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: [...badOnes, channel('good-ant', 'anthropic', good, 'ma', 0), channel('good-oai', 'openai', good, 'mo', 0)] });
});
afterAll(async () => {
  await both?.stop();
  await only?.stop();
  await bad?.stop();
  await good?.stop();
});

interface Mode { name: string; client: 'anthropic' | 'openai'; model: string; channel: string; relayed: boolean }
const MODES: Mode[] = [
  { name: 'Messages -> anthropic (relayed)', client: 'anthropic', model: 'ma', channel: 'bad-ant', relayed: true },
  { name: 'Messages -> openai (translated)', client: 'anthropic', model: 'mo', channel: 'bad-oai', relayed: false },
  { name: 'Chat -> openai (relayed)', client: 'openai', model: 'mo', channel: 'bad-oai', relayed: true },
  { name: 'Chat -> anthropic (translated)', client: 'openai', model: 'ma', channel: 'bad-ant', relayed: false },
];

/** The answer's text, through the mode's SDK. */
async function ask(g: TestGateway, mode: Mode, stream: boolean): Promise<string> {
  if (mode.client === 'anthropic') {
    const sdk = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
    const params = { model: mode.model, max_tokens: 50, messages: [{ role: 'user' as const, content: 'hi' }] };
    const msg = stream ? await sdk.messages.stream(params).finalMessage() : await sdk.messages.create(params);
    return msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  }
  const sdk = new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
  const params = { model: mode.model, messages: [{ role: 'user' as const, content: 'hi' }] };
  const done = stream ? await sdk.chat.completions.stream(params).finalChatCompletion() : await sdk.chat.completions.create(params);
  return done.choices[0]!.message.content ?? '';
}

async function expectFailure(mode: Mode, stream: boolean, c: Case) {
  bad.handler = c.answer;
  const before = only.requestLogs().length;
  const failuresBefore = only.deps.breaker.snapshot()[mode.channel]?.failures ?? 0;
  const err: any = await ask(only, mode, stream).then((text) => ({ answered: text }), (e) => e);
  const message = `channel ${mode.channel}: ${c.says}`;
  if (mode.client === 'anthropic') {
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(err.error.error.message).toStartWith(message);
  } else {
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ type: 'server_error' });
    expect(err.error.message).toStartWith(message);
  }
  await until(() => only.requestLogs().length === before + 1);
  const line = only.requestLogs().at(-1);
  expect(line).toMatchObject({ channel: mode.channel, status: 502, outcome: 'error', error_type: 'api_error' });
  expect(line.error).toStartWith(message);
  expect(only.deps.breaker.snapshot()[mode.channel]?.failures).toBe(failuresBefore + 1);
}

async function expectFallback(mode: Mode, stream: boolean, c: Case) {
  bad.handler = c.answer;
  const before = both.requestLogs().length;
  const text = await ask(both, mode, stream);
  expect(text.length).toBeGreaterThan(0);
  await until(() => both.requestLogs().length === before + 1);
  expect(both.requestLogs().at(-1)).toMatchObject({ channel: mode.channel.replace('bad', 'good'), attempts: 2, status: 200, outcome: 'ok' });
}

for (const mode of MODES) {
  describe(`${mode.name}: a 200 that is no answer`, () => {
    const cases: [boolean, Record<string, Case>][] = [[false, JSON_CASES], [true, STREAM_CASES]];
    if (mode.relayed) cases.push([true, RELAYED_STREAM_CASES]);
    cases.push([true, COMMENT_CASES]);
    for (const [stream, table] of cases) {
      for (const [name, c] of Object.entries(table)) {
        test(`${stream ? 'streamed' : 'not streamed'}, ${name}: a 502 naming the channel, logged an error and counted; the next channel answers`, async () => {
          await expectFailure(mode, stream, c);
          await expectFallback(mode, stream, c);
        });
      }
    }
  });
}

/**
 * A JSON object that is not the format's answer (FastAPI's `{"detail": "Not Found"}` from a wrong path, a health
 * check's `{"status": "ok"}`): not second-guessed on a relay, where the client's SDK reads it as it came; a translation,
 * whose converters cannot read it, fails the attempt as for any answer that is none.
 */
const OBJECTS: Record<string, string> = { 'FastAPI\'s not found': '{"detail":"Not Found"}', 'a health check': '{"status":"ok"}' };
const UNREADABLE: Record<string, string> = { 'bad-oai': 'upstream response has no choices', 'bad-ant': 'upstream returned a malformed message' };

for (const mode of MODES.filter((m) => !m.relayed)) {
  describe(`${mode.name}: a 200 with a JSON object that is not an answer`, () => {
    for (const [name, body] of Object.entries(OBJECTS)) {
      for (const stream of [false, true]) {
        test(`${stream ? 'streamed' : 'not streamed'}, ${name}: a 502 naming the channel and quoting the answer, logged an error and counted; the next channel answers`, async () => {
          const c: Case = { answer: () => whole(body, 'application/json'), says: `${UNREADABLE[mode.channel]}: is base_url right? It began: "${body}"` };
          await expectFailure(mode, stream, c);
          await expectFallback(mode, stream, c);
        });
      }
    }
  });
}

for (const mode of MODES.filter((m) => m.relayed)) {
  describe(`${mode.name}: a 200 with a JSON object that is not an answer`, () => {
    // found when the usage read finds no usage, then parsed (pipeline/answer.ts: errorInsideAnswer)
    for (const [name, body] of Object.entries(OBJECTS)) {
      test(`not streamed, ${name}: a 502 naming the channel and quoting the answer, logged an error and counted; the next channel answers`, async () => {
        const c: Case = { answer: () => whole(body, 'application/json'), says: `upstream answered 200 with JSON that is no answer (${mode.client === 'anthropic' ? 'no content' : 'no choices'}): is base_url right? It began: "${body}"` };
        await expectFailure(mode, false, c);
        await expectFallback(mode, false, c);
      });
    }
  });
}

test('an Anthropic stream that opens with keep-alive comments, then overloaded_error: the next channel answers, as without the comments', async () => {
  const mode = MODES[0]!;
  const answer = () => chunked(': keep-alive\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', 'text/event-stream');
  await expectFallback(mode, true, { answer, says: '' });
});

describe('a JSON answer that begins with a byte order mark (some .NET and Java servers write one)', () => {
  // JSON parsers and fetch's .json() skip it (the UTF-8 decoder drops it): it is an answer, not "not JSON"
  for (const mode of MODES) {
    test(`${mode.name}, not streamed: answered`, async () => {
      const path = mode.channel === 'bad-ant' ? 'anthropic/response-text.json' : 'openai-chat/response-text.json';
      bad.handler = () => whole(`\uFEFF${readFixture(path)}`, 'application/json');
      expect((await ask(only, mode, false)).length).toBeGreaterThan(0);
      // the channel's success: its count of failures in a row (the tests before fail it) starts again
      expect(only.deps.breaker.snapshot()[mode.channel]?.failures ?? 0).toBe(0);
    });
  }
});
