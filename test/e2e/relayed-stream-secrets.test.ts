/**
 * @module test/e2e/relayed-stream-secrets
 * An upstream (a proxy in front of the provider, most often) that echoes the channel's own credentials in an error
 * event in the middle of a relayed stream: Anthropic's `event: error` to a Messages client on an anthropic channel,
 * OpenRouter's `{"error": …}` chunk and vLLM's `{"object": "error"}` chunk to a Chat client on an openai channel. The
 * stream goes out as it came but for the credentials (the channel's `api_key` and a token from its `headers`), which
 * neither the client's bytes nor the request log may hold, whether the error event came in one write with the rest,
 * in a write of its own, or cut between two writes inside a credential; and the stream still ends at the error (the
 * upstream holds its connection: the idle timeout's error is what the client got otherwise).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-relayed-secrets';
/** The channels' credentials: of no shape redactSecrets knows, so only the channel's own values can mask them. */
const API_KEY = 'proxy-cred-7Hq2XvLp9Wd';
const TOKEN = 'corp-tok-Zx81Qm4LwRt';
const IDLE_MS = 3_000;

const said = `invalid credentials ${API_KEY} (x-corp-token ${TOKEN})`;
const antEvent = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const ANT_START = [
  antEvent('message_start', { message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }),
  antEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  antEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
];
const antError = (message: string) => antEvent('error', { error: { type: 'api_error', message } });
const chatEvent = (extra: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-up', ...extra })}\n\n`;
const CHAT_START = [
  chatEvent({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
  chatEvent({ choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] }),
];
// OpenRouter's mid-stream error (https://openrouter.ai/docs/api-reference/streaming, "Handling Errors During Streaming")
const openRouterError = (message: string) => chatEvent({ provider: 'Some', error: { code: 502, message }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] });
const vllmError = (message: string) => `data: ${JSON.stringify({ object: 'error', message, type: 'BadRequestError', param: null, code: 400 })}\n\n`;
// the error as a string (TGI's `{"error": "…", "error_type": "…"}`, Ollama's): an error chunk to the translation, the
// opening-error check and the stream's end (formats/openai-chat/errors.ts reads it so), and so to the relay
const stringError = (message: string) => `data: ${JSON.stringify({ error: message, error_type: 'generation' })}\n\n`;

let ant: MockUpstream;
let oa: MockUpstream;
let gw: TestGateway;

beforeAll(() => {
  ant = startMockUpstream(() => new Response('no handler', { status: 500 }));
  oa = startMockUpstream(() => new Response('no handler', { status: 500 }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'ant', type: 'anthropic', base_url: ant.url, api_key: API_KEY, headers: { 'x-corp-token': TOKEN }, models: { a: 'claude-up' }, stream_idle_timeout_ms: IDLE_MS },
      { name: 'oa', type: 'openai', provider: 'openai', base_url: `${oa.url}/v1`, api_key: API_KEY, headers: { 'x-corp-token': TOKEN }, models: { o: 'gpt-up' }, stream_idle_timeout_ms: IDLE_MS },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await ant?.stop();
  await oa?.stop();
});

/** An SDK's fetch that keeps the bytes of every answer it reads, as they came. */
function recordingFetch() {
  let bytes = '';
  const dec = new TextDecoder();
  const f = async (url: string | URL | Request, init?: RequestInit) => {
    const res = await fetch(url, init);
    if (!res.body) return res;
    const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(c, ctl) { bytes += dec.decode(c, { stream: true }); ctl.enqueue(c); },
    }));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: f as typeof fetch, bytes: () => bytes };
}

/** Streams through the client's SDK; what it threw (null: nothing) and the bytes it was sent. */
async function stream(client: 'anthropic' | 'openai'): Promise<{ err: any; bytes: string }> {
  const rec = recordingFetch();
  let err: any = null;
  try {
    if (client === 'anthropic') {
      const sdk = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0, fetch: rec.fetch });
      await sdk.messages.stream({ model: 'a', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    } else {
      const sdk = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, fetch: rec.fetch });
      for await (const _ of await sdk.chat.completions.create({ model: 'o', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
    }
  } catch (e) { err = e; }
  return { err, bytes: rec.bytes() };
}

async function lastLogLine(before: number) {
  await until(() => gw.requestLogs().length > before, 2 * IDLE_MS);
  return gw.requestLogs().at(-1);
}

const CASES = [
  { name: "Messages -> anthropic, Anthropic's error event", client: 'anthropic', upstream: () => ant, start: ANT_START, error: antError, throws: true },
  { name: "Chat -> openai, OpenRouter's error chunk", client: 'openai', upstream: () => oa, start: CHAT_START, error: openRouterError, throws: true },
  // the openai SDK throws on an `error` field only: vLLM's chunk reaches the loop as a chunk without choices
  { name: "Chat -> openai, vLLM's error chunk", client: 'openai', upstream: () => oa, start: CHAT_START, error: vllmError, throws: false },
  { name: 'Chat -> openai, an error chunk whose error is a string (TGI, Ollama)', client: 'openai', upstream: () => oa, start: CHAT_START, error: stringError, throws: true },
] as const;

/** How the upstream writes the stream: its events → the writes. */
const WRITES: [string, (events: string[]) => string[]][] = [
  ['in one write', (e) => [e.join('')]],
  ['event by event', (e) => e],
  // the cut inside a credential: its first half was in a read the relay had by then
  ['cut inside the api key', (e) => cutAt(e, API_KEY)],
  ['cut inside the header token', (e) => cutAt(e, TOKEN)],
  ['cut inside the error key', (e) => cutAt(e, '"error"')],
];

/** The events in two writes: the stream up to the middle of `word` in its last event, then the rest. */
function cutAt(events: string[], word: string): string[] {
  const all = events.join('');
  const at = all.lastIndexOf(word) + Math.floor(word.length / 2);
  return [all.slice(0, at), all.slice(at)];
}

describe('a relayed stream whose error event echoes the channel\'s credentials', () => {
  for (const c of CASES) {
    for (const [how, writes] of WRITES) {
      test(`${c.name}, ${how}: masked in the client's bytes and the log line; the stream ends at the error`, async () => {
        c.upstream().handler = (r) => sse(writes([...c.start, c.error(said)]), { signal: r.signal, hang: true, delayMs: 20 });
        const before = gw.requestLogs().length;
        const { err, bytes } = await stream(c.client);
        // the stream as it came, but for the credentials, up to its error event (not the idle timeout's)
        expect(bytes).toBe([...c.start, c.error(said.replace(API_KEY, '[redacted]').replace(TOKEN, '[redacted]'))].join(''));
        if (c.throws) {
          expect(err).toBeInstanceOf(c.client === 'anthropic' ? Anthropic.APIError : OpenAI.APIError);
          expect(String(err.message)).toContain('invalid credentials [redacted] (x-corp-token [redacted])');
        } else expect(err).toBeNull();
        const line = await lastLogLine(before);
        expect(line).toMatchObject({ status: 200, outcome: 'error' });
        expect(line.error).toContain('invalid credentials [redacted]');
        expect(JSON.stringify(line)).not.toContain(API_KEY);
        expect(JSON.stringify(line)).not.toContain(TOKEN);
      });
    }

    test(`${c.name}, the credential past the 500 characters the log line keeps: no part of it in the log line`, async () => {
      const long = `${'x'.repeat(490)} ${API_KEY} ${'y'.repeat(40)}`;
      c.upstream().handler = (r) => sse([...c.start, c.error(long)], { signal: r.signal, hang: true, delayMs: 5 });
      const before = gw.requestLogs().length;
      const { bytes } = await stream(c.client);
      expect(bytes).not.toContain(API_KEY.slice(0, 8));
      const line = await lastLogLine(before);
      expect(line).toMatchObject({ outcome: 'error' });
      expect(JSON.stringify(line)).not.toContain(API_KEY.slice(0, 8));
    });
  }

  test("Messages -> anthropic, a stream that opens with the error on the last channel (relayed as it came): masked", async () => {
    for (const hang of [false, true]) {
      ant.handler = (r) => sse([antEvent('error', { error: { type: 'overloaded_error', message: said } })], { signal: r.signal, hang });
      const before = gw.requestLogs().length;
      const { err, bytes } = await stream('anthropic');
      expect(bytes).toBe(antEvent('error', { error: { type: 'overloaded_error', message: 'invalid credentials [redacted] (x-corp-token [redacted])' } }));
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const line = await lastLogLine(before);
      expect(JSON.stringify(line)).not.toContain(API_KEY);
      expect(JSON.stringify(line)).not.toContain(TOKEN);
    }
  });

  test('a stream that succeeds, its chunks saying `"error": null` and cut mid-line, is relayed byte for byte', async () => {
    const ok = (extra: Record<string, unknown>) => chatEvent({ error: null, ...extra });
    const events = [ok({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }), ok({ choices: [{ index: 0, delta: { content: 'Hello there' }, finish_reason: null }] }), ok({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), 'data: [DONE]\n\n'];
    const all = events.join('');
    const cuts = [all.indexOf('Hello') + 2, all.lastIndexOf('"error"') + 3];
    oa.handler = (r) => sse([all.slice(0, cuts[0]), all.slice(cuts[0], cuts[1]), all.slice(cuts[1])], { signal: r.signal, delayMs: 5 });
    const { err, bytes } = await stream('openai');
    expect(err).toBeNull();
    expect(bytes).toBe(all);
  });
});
