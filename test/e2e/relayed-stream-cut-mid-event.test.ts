/**
 * A relayed (passthrough) stream whose upstream connection breaks in the middle of an event (inside an SSE line, or
 * inside a UTF-8 character): the gateway's error event must reach the client as an event of its own. It was
 * written straight after the partial line, so the client read one line `event: content_blockevent: error` (or
 * `data: {"id":"chatcmpdata: {"error":…}`): the error was lost and the Anthropic SDK's finalMessage() resolved
 * with half an answer as the whole one. Found by test/process/chaos.test.ts.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { rawUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-relayed-cut-1';
const anthropicHead = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-up","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
  + 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
  + 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}\n\n';
const chatHead = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}\n\n';
/** Sends `body` as one chunk of a chunked event stream, then closes the connection without the last chunk. */
const cutAfter = (body: string) => rawUpstream(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`, { closeAfterMs: 20 });
const ups = {
  anthLine: cutAfter(`${anthropicHead}event: content_block`),
  anthUtf8: cutAfter(`${anthropicHead}event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${'🌍'.slice(0, 1)}`),
  chatLine: cutAfter(`${chatHead}data: {"id":"chatcmp`),
  chatWhole: cutAfter(chatHead),
};
let g: TestGateway;
beforeAll(() => {
  g = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: Object.entries(ups).map(([name, up]) => ({ name, type: name.startsWith('anth') ? 'anthropic' : 'openai', base_url: name.startsWith('anth') ? up.url : `${up.url}/v1`, api_key: 'sk-up', models: [name] })),
  });
});
afterAll(async () => {
  await g?.stop();
  for (const up of Object.values(ups)) up.stop();
});

/** The client's body's events, split on blank lines, the last one parsed. */
async function lastEvent(path: string, model: string) {
  const res = await fetch(g.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, authorization: `Bearer ${KEY}`, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  const events = (await res.text()).split('\n\n').filter((e) => e.trim());
  const last = events.at(-1)!;
  return { name: /^event: (.*)$/m.exec(last)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(last)![1]!) };
}

test('an Anthropic stream cut inside a line or a character ends with an error event of its own', async () => {
  for (const model of ['anthLine', 'anthUtf8']) {
    expect(await lastEvent('/v1/messages', model)).toEqual({ name: 'error', data: { type: 'error', error: { type: 'api_error', message: 'upstream stream failed' } } });
  }
  // the SDK sees the failure: no half answer taken for the whole
  const an = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
  const got = await an.messages.stream({ model: 'anthLine', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().then(() => 'resolved', (e) => String(e));
  expect(got).toContain('upstream stream failed');
});

test('a Chat stream cut inside a line ends with an error chunk of its own; one cut between events as before', async () => {
  for (const model of ['chatLine', 'chatWhole']) {
    expect((await lastEvent('/v1/chat/completions', model)).data).toMatchObject({ error: { message: 'upstream stream failed', type: 'server_error' } });
  }
  const oa = new OpenAI({ apiKey: KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
  const run = async () => {
    for await (const _ of await oa.chat.completions.create({ model: 'chatWhole', stream: true, messages: [{ role: 'user', content: 'hi' }] })) { /* read on */ }
  };
  expect(await run().then(() => 'resolved', (e) => String(e))).toContain('upstream stream failed');
});
