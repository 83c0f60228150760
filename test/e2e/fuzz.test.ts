/**
 * Randomised robustness, with fixed seeds (a failure reproduces): mutated requests from both client APIs through
 * every kind of channel, and malformed upstream answers and streams in both translation directions. Whatever comes
 * in, the gateway answers in the client's envelope, never with an internal error, and logs no unhandled error.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

let anthropicUp: MockUpstream;
let openaiUp: MockUpstream;
let gw: TestGateway;
const anthropicAnswer = JSON.parse(readFixture('anthropic/response-text.json'));
const openaiAnswer = JSON.parse(readFixture('openai-chat/response-text.json'));

beforeAll(() => {
  anthropicUp = startMockUpstream(() => json(anthropicAnswer));
  openaiUp = startMockUpstream(() => json(openaiAnswer));
  gw = startGateway({ channels: [
    { name: 'a', type: 'anthropic', base_url: anthropicUp.url, models: ['to-a'] },
    { name: 'o', type: 'openai', base_url: `${openaiUp.url}/v1`, models: ['to-o'] },
    { name: 'g', type: 'openai', provider: 'gemini', base_url: `${openaiUp.url}/v1`, models: ['to-g'] },
    { name: 'd', type: 'openai', provider: 'deepseek', base_url: `${openaiUp.url}/v1`, models: ['to-d'] },
    { name: 'r', type: 'openai', provider: 'openrouter', base_url: `${openaiUp.url}/v1`, models: ['to-r'] },
  ] });
});
afterAll(async () => { await gw.stop(); await anthropicUp.stop(); await openaiUp.stop(); });

function rng(seed: number) {
  let s = seed;
  return (n: number) => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s % n; };
}

const MESSAGES_REQUEST = {
  model: 'to-a', max_tokens: 100, system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'text', text: 'x' }, { type: 'tool_use', id: 'tu1', name: 'Read', input: { file_path: '/a' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu1', content: [{ type: 'text', text: 'r' }], is_error: false }, { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } }] },
  ],
  tools: [{ name: 'Read', description: 'd', input_schema: { $schema: 'x', type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }, { type: 'web_search_20250305', name: 'web_search' }],
  tool_choice: { type: 'auto' }, thinking: { type: 'enabled', budget_tokens: 2000 }, output_config: { effort: 'high' }, temperature: 0.5, top_k: 5, stop_sequences: ['x'], metadata: { user_id: 'u' },
};
const CHAT_REQUEST = {
  model: 'to-a', max_tokens: 100, stream_options: { include_usage: true }, reasoning_effort: 'high', n: 1, temperature: 0.2,
  messages: [
    { role: 'system', content: 'sys' },
    { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/a"}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'r' },
  ],
  tools: [{ type: 'function', function: { name: 'Read', description: 'd', parameters: { type: 'object', properties: { file_path: { type: 'string' } } } } }],
  tool_choice: 'auto', response_format: { type: 'json_object' },
};
const VALUES: unknown[] = [null, undefined, 0, -1, 1e308, 1.5, '', 'x', true, false, [], {}, [null], [{}], { type: 'x' }, [[]], 'data:;base64,', { type: 'base64' }, ['x', 1]];

function paths(o: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  if (o && typeof o === 'object') {
    for (const k of Object.keys(o)) {
      const p = [...prefix, Array.isArray(o) ? Number(k) : k];
      out.push(p);
      paths((o as Record<string, unknown>)[k], p, out);
    }
  }
  return out;
}

function mutate(base: unknown, rnd: (n: number) => number): any {
  const o = structuredClone(base) as any;
  const ps = paths(o);
  for (let m = 1 + rnd(3); m > 0; m--) {
    const p = ps[rnd(ps.length)]!;
    let cur = o;
    for (let i = 0; i < p.length - 1 && cur && typeof cur === 'object'; i++) cur = cur[p[i]!];
    if (cur && typeof cur === 'object') {
      const v = VALUES[rnd(VALUES.length)];
      if (v === undefined) delete cur[p.at(-1)!];
      else cur[p.at(-1)!] = structuredClone(v);
    }
  }
  return o;
}

async function expectWellFormed(res: Response, chat: boolean, what: string) {
  const text = await res.text();
  if (res.status >= 500 && res.status !== 502) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 200)}`);
  if (res.status >= 400) {
    const body = JSON.parse(text);
    expect(typeof body.error.message).toBe('string'); // both envelopes carry error.message
    if (!chat) expect(body.type).toBe('error');
  }
}

describe('mutated requests', () => {
  test('3,000 requests, both APIs, five channel kinds, streamed and not: no internal error', async () => {
    const rnd = rng(20261126);
    const unhandled0 = gw.logs.filter((l) => l.msg === 'unhandled error').length;
    for (let i = 0; i < 3000; i++) {
      const chat = rnd(2) === 1;
      const req = mutate(chat ? CHAT_REQUEST : MESSAGES_REQUEST, rnd);
      if (req && typeof req === 'object' && !Array.isArray(req)) {
        if (typeof req.model === 'string') req.model = ['to-a', 'to-o', 'to-g', 'to-d', 'to-r'][rnd(5)];
        req.stream = rnd(3) === 0;
      }
      const route = chat ? '/v1/chat/completions' : rnd(5) === 0 ? '/v1/messages/count_tokens' : '/v1/messages';
      const res = await fetch(`${gw.url}${route}`, { method: 'POST', body: JSON.stringify(req) });
      await expectWellFormed(res, chat, `#${i} ${route} ${JSON.stringify(req).slice(0, 300)}`);
    }
    expect(gw.logs.filter((l) => l.msg === 'unhandled error').length).toBe(unhandled0);
  }, 120_000);
});

describe('malformed upstream answers', () => {
  const bad = (chat: boolean) => (chat
    ? [{}, null, [], 'x', { content: null }, { content: [null] }, { content: [{ type: 'text' }] }, { content: [{ type: 'tool_use', input: 'x' }] },
      { content: [{ type: 'text', text: 5 }], usage: null }, { content: [], usage: { input_tokens: 'x' } }, { content: [{ type: 'weird', x: 1 }] }]
    : [{}, null, [], 'x', { choices: null }, { choices: [null] }, { choices: [{}] }, { choices: [{ message: null }] }, { choices: [{ message: { content: 123 } }] },
      { choices: [{ message: { tool_calls: [null] } }] }, { choices: [{ message: { tool_calls: [{ function: null }] } }] },
      { choices: [{ message: { tool_calls: [{ id: 1, function: { name: 2, arguments: {} } }] } }] }, { choices: [{ message: { content: 'hi' }, finish_reason: 5 }], usage: 'x' }]);
  for (const chat of [false, true]) {
    test(`${chat ? 'Chat client, anthropic channel' : 'Messages client, openai channel'}: every one is a 200 or a 502 in the client's envelope`, async () => {
      const up = chat ? anthropicUp : openaiUp;
      const unhandled0 = gw.logs.filter((l) => l.msg === 'unhandled error').length;
      for (const b of bad(chat)) {
        up.handler = () => json(b);
        const body = chat
          ? { model: 'to-a', messages: [{ role: 'user', content: 'hi' }] }
          : { model: 'to-o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] };
        const res = await fetch(`${gw.url}${chat ? '/v1/chat/completions' : '/v1/messages'}`, { method: 'POST', body: JSON.stringify(body) });
        expect([200, 502]).toContain(res.status);
        await expectWellFormed(res, chat, JSON.stringify(b));
      }
      expect(gw.logs.filter((l) => l.msg === 'unhandled error').length).toBe(unhandled0);
      up.handler = () => json(chat ? anthropicAnswer : openaiAnswer);
    });
  }
});

describe('malformed upstream streams', () => {
  const d = (o: unknown) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
  const e = (t: string, o: unknown) => `event: ${t}\n${d(o)}`;
  const openaiStreams = [
    d(null), d([]), d('"x"'), d({ choices: null }), d({ choices: [null] }), d({ choices: [{ delta: null }] }), d({ choices: [{ delta: { tool_calls: [null] } }] }),
    d({ choices: [{ delta: { tool_calls: [{ index: 0, function: null }] } }] }), d({ choices: [{ delta: { tool_calls: [{ index: 'x', id: 5, function: { name: 7, arguments: {} } }] } }] }),
    d({ choices: [{ delta: { content: 5, reasoning_content: {} } }] }), d({ choices: [{ delta: { content: 'hi' }, finish_reason: 7 }], usage: 'x' }) + d('[DONE]'),
    d('{not json'), 'garbage without framing', '',
  ];
  const anthropicStreams = [
    e('message_start', null), e('message_start', { type: 'message_start', message: null }), e('message_start', { type: 'message_start' }),
    e('message_start', { type: 'message_start', message: { usage: null } }) + e('content_block_start', { type: 'content_block_start', index: 0, content_block: null }),
    e('content_block_delta', { type: 'content_block_delta', index: 0, delta: null }), e('content_block_delta', { type: 'content_block_delta', delta: { type: 'text_delta', text: 5 } }),
    e('message_delta', { type: 'message_delta', delta: null, usage: null }) + e('message_stop', { type: 'message_stop' }),
    e('error', null), e('error', { type: 'error', error: null }), '', 'garbage',
  ];
  for (const chat of [false, true]) {
    test(`${chat ? 'Chat client, anthropic channel' : 'Messages client, openai channel'}: each ends in a proper end or an error event`, async () => {
      const up = chat ? anthropicUp : openaiUp;
      const unhandled0 = gw.logs.filter((l) => l.msg === 'unhandled error').length;
      for (const s of chat ? anthropicStreams : openaiStreams) {
        up.handler = () => sse([s]);
        const body = chat
          ? { model: 'to-a', stream: true, messages: [{ role: 'user', content: 'hi' }] }
          : { model: 'to-o', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] };
        const res = await fetch(`${gw.url}${chat ? '/v1/chat/completions' : '/v1/messages'}`, { method: 'POST', body: JSON.stringify(body) });
        const text = await res.text();
        expect([200, 502]).toContain(res.status);
        if (res.status === 200) {
          const tail = text.slice(-300);
          if (chat) expect(/data: \[DONE\]|"error"/.test(tail)).toBe(true);
          else expect(/event: (message_stop|error)\n/.test(tail)).toBe(true);
        }
      }
      expect(gw.logs.filter((l) => l.msg === 'unhandled error').length).toBe(unhandled0);
      up.handler = () => json(chat ? anthropicAnswer : openaiAnswer);
    });
  }
});
