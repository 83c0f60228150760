/**
 * An OpenAI-compatible stream whose first event is an error object (a 200 that says nothing but the error) fails the
 * attempt before anything reached the client: the next channel answers, or the client gets the error's status in its
 * own envelope. Shapes as servers send them: OpenAI/SGLang `{"error": …}`, OpenRouter's after its processing
 * comments, Groq's after `event: error`, vLLM's `{"object": "error", …}`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { chatTextStream } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-opening-1';
let first: MockUpstream;
let second: MockUpstream;
let both: TestGateway;
let only: TestGateway;

const OPENINGS: Record<string, { body: string; status: number }> = {
  'OpenAI-style, overloaded': { body: 'data: {"error":{"message":"The server is overloaded","type":"server_error","code":503}}\n\n', status: 503 },
  'OpenRouter, after its comments': { body: ': OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {"id":"gen-1","object":"chat.completion.chunk","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n', status: 502 },
  'Groq, as an error event': { body: 'event: error\ndata: {"error":{"message":"rate limited","type":"rate_limit_error","status_code":429}}\n\n', status: 429 },
};

const textAnswer = (r: { signal: AbortSignal }) => sse(chatTextStream('From the second channel.'), { signal: r.signal });

beforeAll(() => {
  first = startMockUpstream(() => json({}, 500));
  second = startMockUpstream(textAnswer);
  const channel = (name: string, up: MockUpstream, priority: number) => ({ name, type: 'openai', base_url: `${up.url}/v1`, api_key: `sk-${name}`, models: ['m'], priority });
  // every test here fails the first channel: its circuit, left to open, would have later tests skip it
  const routing = { circuit_failures: 1000 };
  both = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: [channel('first', first, 10), channel('second', second, 0)] });
  only = startGateway({ keys: [{ key: KEY, name: 'k' }], routing, channels: [channel('first', first, 10)] });
});
afterAll(async () => {
  await both?.stop();
  await only?.stop();
  await first?.stop();
  await second?.stop();
});
beforeEach(() => { second.requests.length = 0; });

const sdk = (g: TestGateway) => new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
const ask = (g: TestGateway) => sdk(g).messages.stream({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();

describe('an OpenAI-compatible stream that opens with an error', () => {
  for (const [name, { body, status }] of Object.entries(OPENINGS)) {
    test(`${name}: the next channel answers; with none left the Anthropic SDK gets ${status}`, async () => {
      first.handler = () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      const before = both.requestLogs().length;
      const msg = await ask(both);
      expect(msg.content).toMatchObject([{ type: 'text', text: 'From the second channel.' }]);
      await until(() => both.requestLogs().length === before + 1);
      expect(both.requestLogs().at(-1)).toMatchObject({ channel: 'second', attempts: 2, status: 200, outcome: 'ok' });

      const err: any = await ask(only).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err.status).toBe(status);
      expect(err.error.type).toBe('error');
    });
  }

  test('OpenRouter\'s processing comments in chunks of their own (as it writes them while the provider has not answered), then the error: the next channel answers, for a translation and a relayed stream alike; an answer after them keeps its bytes', async () => {
    const comment = ': OPENROUTER PROCESSING\n\n';
    const error = OPENINGS['OpenRouter, after its comments']!.body.split(comment).join('');
    first.handler = () => sse([comment, comment, error], { delayMs: 30 });
    const msg = await ask(both);
    expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: 'From the second channel.' })]);
    expect(second.requests).toHaveLength(1);
    const oa = new OpenAI({ apiKey: KEY, baseURL: `${both.url}/v1`, maxRetries: 0 });
    const done = await oa.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe('From the second channel.');
    expect(second.requests).toHaveLength(2);
    const answer = chatTextStream('From the first channel.');
    first.handler = () => sse([comment, comment, ...answer], { delayMs: 30 });
    const res = await fetch(`${both.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(await res.text()).toBe(comment + comment + answer.join(''));
    expect(second.requests).toHaveLength(2);
  });

  test('a client that leaves while comments are held back (no event yet) closes the upstream request too', async () => {
    let upstreamGone = false;
    first.handler = (r) => {
      r.signal.addEventListener('abort', () => { upstreamGone = true; });
      return sse([': OPENROUTER PROCESSING\n\n'], { hang: true, signal: r.signal });
    };
    const client = new AbortController();
    const before = first.requests.length;
    const asked = fetch(`${both.url}/v1/chat/completions`, { method: 'POST', signal: client.signal, headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) }).catch(() => null);
    await until(() => first.requests.length > before);
    await Bun.sleep(50); // the comment read, the next read waiting
    client.abort();
    await asked;
    await until(() => upstreamGone, 5000);
    expect(upstreamGone).toBe(true);
    expect(second.requests).toHaveLength(0); // a client gone is not served by the next channel
  });

  test('comments are held back up to 64 KB: past that the stream is relayed as it came, before any event (here none comes)', async () => {
    const comment = `: ${'x'.repeat(16 * 1024)}\n\n`;
    const comments = Array.from({ length: 6 }, () => comment);
    first.handler = () => sse(comments, { delayMs: 10, hang: true });
    const client = new AbortController();
    const res = await fetch(`${both.url}/v1/chat/completions`, { method: 'POST', signal: client.signal, headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let got = '';
    while (got.length < comments.join('').length) {
      const r = await reader.read();
      if (r.done) break;
      got += new TextDecoder().decode(r.value);
    }
    expect(got).toBe(comments.join(''));
    client.abort();
    expect(second.requests).toHaveLength(0);
  });

  test('vLLM\'s error object for a bad request is the client\'s 400 at once, no fallback', async () => {
    first.handler = () => new Response('data: {"object":"error","message":"tool_choice must be one of auto, none","type":"BadRequestError","param":null,"code":400}\n\n', { headers: { 'content-type': 'text/event-stream' } });
    const err: any = await ask(both).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toContain('tool_choice must be one of');
    expect(second.requests).toHaveLength(0);
  });

  test('a relayed Chat stream falls back too while a channel is left; the last one\'s goes out as it came', async () => {
    const body = OPENINGS['OpenAI-style, overloaded']!.body;
    first.handler = () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    const oa = (g: TestGateway) => new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
    const done = await oa(both).chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe('From the second channel.');
    const res = await fetch(`${only.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
  });

  test('a first event that merely mentions "error" in its text is an answer like any other', async () => {
    first.handler = (r) => sse(chatTextStream('The "error" was mine.'), { signal: r.signal });
    const msg = await ask(only);
    expect(msg.content).toMatchObject([{ type: 'text', text: 'The "error" was mine.' }]);
  });
});

describe('a stream that opens with the upstream refusing the channel\'s key', () => {
  // OpenAI's wording, which echoes the key it was given; `sk-first` is the channel's key (too short for redactSecrets)
  const refusal = 'data: {"error":{"message":"Incorrect API key provided: sk-first. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":401}}\n\n';

  test('on the last channel it is the 502 naming the channel, as an HTTP 401 is, never the key', async () => {
    first.handler = () => new Response(refusal, { headers: { 'content-type': 'text/event-stream' } });
    const err: any = await ask(only).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.headers.get('x-should-retry')).toBe('false');
    expect(err.error.error.message).toContain('channel first: the upstream refused this channel\'s credentials (HTTP 401: ');
    expect(err.error.error.message).not.toContain('sk-first');
    await until(() => only.requestLogs().length > 0);
    expect(JSON.stringify(only.requestLogs().at(-1))).not.toContain('sk-first');
  });

  test('with a channel left, the next one answers', async () => {
    first.handler = () => new Response(refusal, { headers: { 'content-type': 'text/event-stream' } });
    const msg = await ask(both);
    expect(msg.content).toMatchObject([{ type: 'text', text: 'From the second channel.' }]);
  });
});
