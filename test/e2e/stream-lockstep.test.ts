/**
 * Streams are relayed as they come: each event the upstream sends reaches the client before the upstream sends the
 * next. The upstream here sends event k+1 only once the client has seen event k, so a relay that held events back
 * (until more arrive, until a buffer fills, until the end) stalls, and the test fails at its step deadline.
 * Passthrough and both translations, through Bun's direct stream (pipeline/streams.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startMockUpstream, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { chatChunk, chatUsageChunk } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-lockstep-1';
const STEP_MS = 3000;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** How many words the client has received so far, and the upstream's wait for a count. */
let wordsSeen = 0;
let onSeen: (() => void) | null = null;
async function clientHasSeen(n: number): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (wordsSeen < n) {
    if (Date.now() > deadline) throw new Error(`the upstream waited in vain: the client never saw word ${n}`);
    await new Promise<void>((resolve) => { onSeen = resolve; setTimeout(resolve, 50); });
  }
}

/** An SSE upstream that sends word k (k ≥ 1) only once the client has seen word k - 1; other events go at once. */
function lockstep(events: string[]): Response {
  return new Response(new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        let word = 0;
        for (const e of events) {
          if (WORDS.some((w) => e.includes(`${w} `))) {
            if (word > 0) await clientHasSeen(word);
            word++;
          }
          controller.enqueue(enc.encode(e));
        }
        controller.close();
      } catch (err) {
        controller.error(err);
      }
    },
  }), { headers: { 'content-type': 'text/event-stream' } });
}

const WORDS = ['alpha', 'bravo', 'charlie', 'foxtrot', 'golf']; // none of them inside an event's JSON keys
const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const anthropicEvents = [
  ev('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
  ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  ...WORDS.map((w) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `${w} ` } })),
  ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
  ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } }),
  ev('message_stop', { type: 'message_stop' }),
];
const chatEvents = [
  chatChunk({ role: 'assistant', content: '' }),
  ...WORDS.map((w) => chatChunk({ content: `${w} ` })),
  chatChunk({}, { finish: 'stop' }),
  chatUsageChunk({ prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 }),
  'data: [DONE]\n\n',
];

let anthropicUp: MockUpstream;
let chatUp: MockUpstream;
let g: TestGateway;
beforeAll(() => {
  anthropicUp = startMockUpstream(() => lockstep(anthropicEvents));
  chatUp = startMockUpstream(() => lockstep(chatEvents));
  g = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    channels: [
      { name: 'anthropic', type: 'anthropic', base_url: anthropicUp.url, api_key: 'k1', models: ['claude-x'] },
      { name: 'chat', type: 'openai', base_url: `${chatUp.url}/v1`, api_key: 'k2', models: ['gpt-x'] },
    ],
  });
});
afterAll(async () => { await g.stop(); await anthropicUp.stop(); await chatUp.stop(); });

/** Reads the stream, telling the upstream after each new word the client has received; returns the words in order. */
async function readInLockstep(res: Response): Promise<string[]> {
  expect(res.status).toBe(200);
  wordsSeen = 0;
  const reader = res.body!.getReader();
  let text = '';
  const got: string[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    text += dec.decode(r.value, { stream: true });
    for (const w of WORDS) {
      if (!got.includes(w) && text.includes(w)) {
        got.push(w);
        wordsSeen = got.length;
        onSeen?.();
      }
    }
  }
  return got;
}

const post = (path: string, body: unknown) => fetch(`${g.url}${path}`, {
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('each event reaches the client before the upstream sends the next', () => {
  test('Messages → anthropic (passthrough)', async () => {
    const res = await post('/v1/messages', { model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(await readInLockstep(res)).toEqual(WORDS);
  });

  test('Messages → openai (translated)', async () => {
    const res = await post('/v1/messages', { model: 'gpt-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(await readInLockstep(res)).toEqual(WORDS);
  });

  test('Chat Completions → openai (passthrough)', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-x', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(await readInLockstep(res)).toEqual(WORDS);
  });

  test('Chat Completions → anthropic (translated)', async () => {
    const res = await post('/v1/chat/completions', { model: 'claude-x', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(await readInLockstep(res)).toEqual(WORDS);
  });
});
