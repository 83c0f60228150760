/**
 * A relayed (passthrough) stream whose upstream ends its body cleanly (the chunked body's last chunk sent) before the
 * answer did: no stop reason, no last event (`message_stop`, `data: [DONE]`), no error event. A proxy or server that
 * closes mid-answer without breaking the connection does this. It went out as a clean end, and the SDKs took half an
 * answer for the whole (the Anthropic SDK's finalMessage() resolved, the openai SDK's iteration ended); a translated
 * stream is told as cut off. Now the relay appends the error event in the client's format and logs `error`. A stream
 * that has its stop reason but no last event (a Chat server that sends no `[DONE]`), or its last event but no stop
 * reason, is complete and ends as it did.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { until } from '../helpers/until.ts';

const KEY = 'sk-gw-relayed-early-1';
const anthropicHead = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-up","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
  + 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
  + 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}\n\n';
const anthropicEnd = 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
  + 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}\n\n';
const chatHead = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}\n\n';
const chatStop = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';

/** `parts` as chunks of a chunked event stream (written 10 ms apart: relayed, not read whole), then its proper end. */
const endsAfter = (...parts: string[]) => ({ parts: parts.map((s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`).concat('0\r\n\r\n') });
const shapes = {
  anthEarly: endsAfter(anthropicHead),
  anthNoStop: endsAfter(anthropicHead, anthropicEnd),
  chatEarly: endsAfter(chatHead),
  chatNoDone: endsAfter(chatHead, chatStop),
  chatDoneOnly: endsAfter(chatHead, 'data: [DONE]\n\n'),
};
let g: TestGateway;
const servers: { stop(closeActive?: boolean): void }[] = [];
beforeAll(() => {
  const channels = Object.entries(shapes).map(([name, { parts }]) => {
    // each connection gets the parts one by one, then the end
    const server = Bun.listen({
      hostname: '127.0.0.1', port: 0,
      socket: {
        data(socket) {
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n');
          parts.forEach((p, i) => setTimeout(() => { socket.write(p); if (i === parts.length - 1) socket.end(); }, 10 * (i + 1)));
        },
        open() {}, close() {}, error() {},
      },
    });
    servers.push(server);
    const anthropic = name.startsWith('anth');
    return { name, type: anthropic ? 'anthropic' : 'openai', base_url: anthropic ? `http://127.0.0.1:${server.port}` : `http://127.0.0.1:${server.port}/v1`, api_key: 'sk-up', models: [name] };
  });
  g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels });
});
afterAll(async () => {
  await g?.stop();
  for (const s of servers) s.stop(true);
});

async function logOf(run: () => Promise<unknown>) {
  const before = g.requestLogs().length;
  const got = await run();
  await until(() => g.requestLogs().length > before);
  return { got, log: g.requestLogs()[before] };
}
const an = () => new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
const oa = () => new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'hi' }];
const chatText = async (model: string) => {
  let text = '';
  for await (const c of await oa().chat.completions.create({ model, stream: true, messages })) text += c.choices[0]?.delta?.content ?? '';
  return text;
};

test('an Anthropic stream that ends before its message did: the SDK fails, the log says error', async () => {
  const { got, log } = await logOf(() => an().messages.stream({ model: 'anthEarly', max_tokens: 10, messages }).finalMessage().then(() => 'resolved', (e) => String(e)));
  expect(got).toContain('channel anthEarly: upstream stream ended before the message was complete');
  expect(log).toMatchObject({ channel: 'anthEarly', outcome: 'error', status: 200 });
  // the bytes as they came, then the error event as an event of its own
  const res = await fetch(`${g.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'anthEarly', max_tokens: 10, stream: true, messages }),
  });
  const text = await res.text();
  expect(text.startsWith(anthropicHead)).toBe(true);
  expect(text.slice(anthropicHead.length)).toBe('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"channel anthEarly: upstream stream ended before the message was complete"}}\n\n');
});

/** The client's bytes of a raw streamed request, read to the end, and its log line. */
const raw = (path: string, model: string) => logOf(async () => {
  const res = await fetch(g.url + path, {
    method: 'POST',
    headers: { 'x-api-key': KEY, authorization: `Bearer ${KEY}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 10, stream: true, messages }),
  });
  return res.text();
});

test('an Anthropic stream with its stop reason but no message_stop goes as it came, as before', async () => {
  // (the SDK itself refuses a stream without message_stop: "stream ended without producing a Message")
  const { got, log } = await raw('/v1/messages', 'anthNoStop');
  expect(got).toBe(anthropicHead + anthropicEnd);
  expect(log).toMatchObject({ outcome: 'ok', stop_reason: 'end_turn' });
});

test('a Chat stream that ends with neither a finish_reason nor [DONE]: the SDK fails, the log says error', async () => {
  const { got, log } = await logOf(() => chatText('chatEarly').then(() => 'resolved', (e) => String(e)));
  expect(got).toContain('upstream stream ended before the message was complete');
  expect(log).toMatchObject({ channel: 'chatEarly', outcome: 'error' });
});

test('a Chat stream with a finish_reason but no [DONE], or [DONE] but no finish_reason, is whole, as before', async () => {
  const { got, log } = await logOf(() => chatText('chatNoDone'));
  expect(got).toBe('hello');
  expect(log).toMatchObject({ channel: 'chatNoDone', outcome: 'ok', stop_reason: 'stop' });
  const done = await raw('/v1/chat/completions', 'chatDoneOnly');
  expect(done.got).toBe(`${chatHead}data: [DONE]\n\n`);
  expect(done.log).toMatchObject({ channel: 'chatDoneOnly', outcome: 'ok' });
});
