/**
 * @module test/e2e/stream-error-end
 * A stream that ends with an error event (Anthropic's `event: error` with overloaded_error mid-stream; OpenRouter's
 * `data: {"error": …}` chunk) while the upstream keeps its connection open after it: the error event is the stream's
 * last, so the client's answer ends there, in each of the four modes, and an answer read whole for a request that
 * asked for no stream is that error; the log line says error, and the upstream request is let go. Which came first is
 * what is checked: the channel's stream_idle_timeout_ms is short, and its timeout's error must not be what the client
 * got (as test/e2e/stream-end.test.ts checks a last event). The error event is also cut between two writes (inside
 * `event: error`, between its lines, inside its JSON, before its blank line), as a proxy may cut it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-stream-error-end';
/** The channels' idle timeout: what ended such a stream before, and what the client must not see now. */
const IDLE_MS = 3_000;

const antEvent = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const ANT_ERROR = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
const ANT = [
  antEvent('message_start', { message: { id: 'msg_e', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }),
  antEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  antEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
  ANT_ERROR,
];
const chatEvent = (extra: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-up', ...extra })}\n\n`;
// OpenRouter's mid-stream error: the error on the chunk, the choice finished with "error", then no [DONE]
// (https://openrouter.ai/docs/api-reference/streaming, "Handling Errors During Streaming")
const CHAT_ERROR = chatEvent({ provider: 'Some', error: { code: 502, message: 'Provider returned error' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] });
const CHAT = [
  chatEvent({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
  chatEvent({ choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] }),
  CHAT_ERROR,
];

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
  { name: 'Messages -> anthropic (relayed)', path: '/v1/messages', model: 'a', relayed: true, type: 'overloaded_error', says: 'Overloaded', status: 529 },
  // status: a whole answer's, read from the error event's type (api_error's is 500), as for a stream that closes after it
  { name: 'Messages -> openai (translated)', path: '/v1/messages', model: 'o', relayed: false, type: 'api_error', says: 'Provider returned error', status: 500 },
  { name: 'Chat -> openai (relayed)', path: '/v1/chat/completions', model: 'o', relayed: true, type: 'api_error', says: 'Provider returned error', status: 500 },
  { name: 'Chat -> anthropic (translated)', path: '/v1/chat/completions', model: 'a', relayed: false, type: 'overloaded_error', says: 'Overloaded', status: 529 },
] as const;
type Mode = (typeof MODES)[number];

/** Where an error event is cut between two writes: offsets into it. */
function splitsOf(m: Mode): [string, number][] {
  const err = eventsOf(m).at(-1)!;
  const json = err.indexOf('{');
  const common: [string, number][] = [['inside its JSON', json + 20], ['just before its blank line', err.length - 1]];
  return m.model === 'a'
    ? [['inside `event: error`', 8], ['between its lines', err.indexOf('\n') + 1], ...common]
    : [['inside `data: `', 3], ['at `"error"`', err.indexOf('"error"') + 3], ...common];
}

const upstreamOf = (m: Mode) => (m.model === 'a' ? ant : oa);
const eventsOf = (m: Mode) => (m.model === 'a' ? ANT : CHAT);

function post(m: Mode, stream: boolean) {
  const body = m.path === '/v1/messages'
    ? { model: m.model, max_tokens: 64, stream, messages: [{ role: 'user', content: 'Hi' }] }
    : { model: m.model, stream, messages: [{ role: 'user', content: 'Hi' }] };
  return fetch(`${gw.url}${m.path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function logLine(requestId: string | null) {
  expect(requestId).toBeTruthy();
  await until(() => gw.requestLogs().some((l) => l.request_id === requestId), 2 * IDLE_MS);
  return gw.requestLogs().find((l) => l.request_id === requestId);
}

/** Resolves when the mock saw the gateway let go of `rec` (false: not within `ms`). */
const abortedWithin = (rec: RecordedRequest, ms: number) => Promise.race([rec.aborted.then(() => true), Bun.sleep(ms).then(() => false)]);

describe('a stream that ends with an error event, the upstream connection held open after it', () => {
  for (const m of MODES) {
    for (const [chunking, split] of [['in one write', (e: string[]) => [e.join('')]], ['event by event', (e: string[]) => e]] as const) {
      test(`${m.name}, ${chunking}: the client's stream ends at the error, not at the idle timeout; logged an error; the upstream let go`, async () => {
        const upstream = upstreamOf(m);
        upstream.handler = (r) => sse(split(eventsOf(m)), { signal: r.signal, hang: true, delayMs: chunking === 'event by event' ? 2 : 0 });
        const res = await post(m, true);
        expect(res.status).toBe(200);
        const body = await res.text();
        // the idle timeout's error event is what the client got when the stream was not ended at the upstream's error
        expect(body).not.toContain('upstream sent nothing');
        expect(body).toContain(m.says);
        if (m.relayed) expect(body).toBe(eventsOf(m).join(''));
        else if (m.path === '/v1/messages') expect(body).toEndWith(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: m.type, message: m.says } })}\n\n`);
        const line = await logLine(res.headers.get('request-id'));
        expect(line).toMatchObject({ status: 200, outcome: 'error', error_type: m.type });
        expect(line.error).toContain(m.says);
        // usage as far as the upstream reported it (Anthropic's message_start: 9 in), the output generated estimated
        if (m.model === 'a') expect(line).toMatchObject({ input_tokens: 9 });
        expect(line.output_tokens).toBeGreaterThanOrEqual(1);
        expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
      });
    }

    if (m.model === 'o') test(`${m.name}, vLLM's error chunk (its fields at the top level): the stream ends at it, the client told vLLM's message`, async () => {
      const upstream = upstreamOf(m);
      const VLLM_ERROR = `data: ${JSON.stringify({ object: 'error', message: 'vLLM broke', type: 'BadRequestError', param: null, code: 400 })}\n\n`;
      upstream.handler = (r) => sse([CHAT[0]!, CHAT[1]!, VLLM_ERROR], { signal: r.signal, hang: true });
      const res = await post(m, true);
      const body = await res.text();
      expect(body).not.toContain('upstream sent nothing');
      expect(body).toContain('vLLM broke');
      const line = await logLine(res.headers.get('request-id'));
      expect(line).toMatchObject({ status: 200, outcome: 'error' });
      expect(line.error).toContain('vLLM broke');
      expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
    });

    // a proxy or server that cuts its writes anywhere: the error event begun in one read and ended in the next
    for (const [where, at] of splitsOf(m)) {
      const halves = () => { const e = eventsOf(m); const err = e.at(-1)!; return [e.slice(0, -1).join('') + err.slice(0, at), err.slice(at)]; };
      test(`${m.name}, the error event split ${where}: the client's stream ends at it, not at the idle timeout`, async () => {
        const upstream = upstreamOf(m);
        upstream.handler = (r) => sse(halves(), { signal: r.signal, hang: true, delayMs: 20 });
        const res = await post(m, true);
        const body = await res.text();
        expect(body).not.toContain('upstream sent nothing');
        expect(body).toContain(m.says);
        if (m.relayed) expect(body).toBe(eventsOf(m).join(''));
        const line = await logLine(res.headers.get('request-id'));
        expect(line).toMatchObject({ status: 200, outcome: 'error', error_type: m.type });
        expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
      });

      test(`${m.name}, no stream asked for, the error event split ${where}: the error, not the idle timeout's`, async () => {
        const upstream = upstreamOf(m);
        upstream.handler = (r) => sse(halves(), { signal: r.signal, hang: true, delayMs: 20 });
        const res = await post(m, false);
        const text = await res.text();
        expect(text).not.toContain('stalled');
        expect(text).toContain(m.says);
        expect(res.status).toBe(m.status);
        expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
      });
    }

    test(`${m.name}: the SDK's stream throws the upstream's error`, async () => {
      upstreamOf(m).handler = (r) => sse(eventsOf(m), { signal: r.signal, hang: true });
      let err: any = null;
      try {
        if (m.path === '/v1/messages') await anthropic.messages.stream({ model: m.model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
        else for await (const _ of await openai.chat.completions.create({ model: m.model, stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
      } catch (e) { err = e; }
      expect(err).toBeInstanceOf(m.path === '/v1/messages' ? Anthropic.APIError : OpenAI.APIError);
      expect(String(err.message)).toContain(m.says);
    });

    test(`${m.name}, no stream asked for (the stream read whole): the error, with its status, not the idle timeout's`, async () => {
      const upstream = upstreamOf(m);
      upstream.handler = (r) => sse(eventsOf(m), { signal: r.signal, hang: true });
      const res = await post(m, false);
      const text = await res.text();
      expect(text).not.toContain('stalled');
      expect(text).toContain(m.says);
      expect(res.status).toBe(m.status);
      const line = await logLine(res.headers.get('request-id'));
      expect(line).toMatchObject({ status: m.status, outcome: 'error' });
      expect(await abortedWithin(upstream.requests.at(-1)!, 2000)).toBe(true);
    });
  }
});
