/**
 * Bad input never crashes or hangs the gateway: every hostile body gets a 4xx in the API's own envelope (or is
 * served), never a 500, for both inbound formats and both channel types.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';

let anthropicUp: MockUpstream;
let openaiUp: MockUpstream;
let gw: TestGateway;
beforeAll(() => {
  anthropicUp = startMockUpstream(() => json(JSON.parse(readFixture('anthropic/response-text.json'))));
  openaiUp = startMockUpstream(() => json(JSON.parse(readFixture('openai-chat/response-text.json'))));
  gw = startGateway({ channels: [
    { name: 'a', type: 'anthropic', base_url: anthropicUp.url, models: ['to-anthropic'] },
    { name: 'o', type: 'openai', provider: 'openai', base_url: `${openaiUp.url}/v1`, models: ['to-openai'] },
  ] });
});
afterAll(async () => { await gw.stop(); await anthropicUp.stop(); await openaiUp.stop(); });

let deep: unknown = 'x';
for (let i = 0; i < 5000; i++) deep = [deep];
const proto = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}}';
let deepObject: unknown = { leaf: true };
for (let i = 0; i < 5000; i++) deepObject = { a: deepObject };
let deepProps: unknown = { type: 'string' };
for (let i = 0; i < 5000; i++) deepProps = { type: 'object', properties: { a: deepProps } };
const deepSchema = JSON.stringify(deepProps);
const bomb = '{"type":"object","properties":{"a":'.repeat(30_000) + '{"type":"string"}' + '},"$schema":"x"}'.repeat(30_000);

function bodies(model: string, chat: boolean): Array<[string, string]> {
  const m = JSON.stringify(model);
  const base = chat ? `"messages":[{"role":"user","content":"hi"}]` : `"max_tokens":5,"messages":[{"role":"user","content":"hi"}]`;
  return [
    ['empty body', ''],
    ['whitespace', '   '],
    ['null', 'null'],
    ['number', '42'],
    ['string', '"hello"'],
    ['array', '[]'],
    ['truncated', `{"model":${m},`],
    ['invalid utf-8 inside a string', `{"model":${m},${base.replace('hi', '\udc00')}}`],
    ['model is an object', `{"model":{"x":1},${base}}`],
    ['model empty', `{"model":"",${base}}`],
    ['messages is a string', `{"model":${m},"max_tokens":5,"messages":"hi"}`],
    ['message is null', `{"model":${m},"max_tokens":5,"messages":[null]}`],
    ['content block null', `{"model":${m},"max_tokens":5,"messages":[{"role":"user","content":[null]}]}`],
    ['content block unknown type', `{"model":${m},"max_tokens":5,"messages":[{"role":"user","content":[{"type":"hologram"}]}]}`],
    ['tool_use with no input', `{"model":${m},"max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use"}]}]}`],
    ['tool_result with object content', `{"model":${m},"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":{"a":1}}]}]}`],
    ['image with no source', `{"model":${m},"max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`],
    ['tools not an array', `{"model":${m},${base},"tools":{"name":"x"}}`],
    ['tool with no schema', `{"model":${m},${base},"tools":[{"name":"x"}]}`],
    ['tool_calls garbage', `{"model":${m},"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{nope"}}]}]}`],
    ['max_tokens negative', `{"model":${m},"max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}`],
    ['max_tokens huge', `{"model":${m},"max_tokens":1e308,"messages":[{"role":"user","content":"hi"}]}`],
    ['thinking garbage', `{"model":${m},${base},"thinking":{"type":"enabled","budget_tokens":"lots"}}`],
    ['stop_sequences garbage', `{"model":${m},${base},"stop_sequences":[1,2]}`],
    ['deep nesting', `{"model":${m},${base},"metadata":${JSON.stringify(deep)}}`],
    ['deep tool schema', chat
      ? `{"model":${m},${base},"tools":[{"type":"function","function":{"name":"t","parameters":${deepSchema}}}]}`
      : `{"model":${m},${base},"tools":[{"name":"t","input_schema":${deepSchema}}]}`],
    // past the nesting limit (util/json-skeleton.ts MAX_NESTING) a translation refuses at once, before any recursion
    ['nesting bomb, 1.5 MB', chat
      ? `{"model":${m},${base},"tools":[{"type":"function","function":{"name":"t","parameters":${bomb}}}]}`
      : `{"model":${m},${base},"tools":[{"name":"t","input_schema":${bomb}}]}`],
    ['deep tool call arguments', chat
      ? `{"model":${m},"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"t","arguments":${JSON.stringify(JSON.stringify(deepObject))}}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]}`
      : `{"model":${m},"max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"t","input":${JSON.stringify(deepObject)}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`],
    ['prototype keys', proto.replace('{', `{"model":${m},${base},`)],
    ['system wrong type', `{"model":${m},${base},"system":5}`],
    ['role unknown', `{"model":${m},"max_tokens":5,"messages":[{"role":"wizard","content":"hi"}]}`],
    ['n = 3', `{"model":${m},${base},"n":3}`],
    ['image_url garbage', `{"model":${m},"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,@@@"}}]}]}`],
  ];
}

for (const [route, chat] of [['/v1/messages', false], ['/v1/chat/completions', true]] as const) {
  for (const model of ['to-anthropic', 'to-openai']) {
    describe(`${route} → ${model}`, () => {
      for (const [name, body] of bodies(model, chat)) {
        test(name, async () => {
          const res = await fetch(`${gw.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
          expect(res.status).toBeLessThan(500);
          const text = await res.text();
          const parsed = JSON.parse(text);
          if (res.status >= 400) {
            if (chat) {
              expect(typeof parsed.error.message).toBe('string');
              expect(parsed.error.type).toBeDefined();
            } else {
              expect(parsed.type).toBe('error');
              expect(typeof parsed.error.message).toBe('string');
            }
            expect(text).not.toMatch(/\.ts:\d+|at .*\(/);
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        });
      }
    });
  }
}

test('a 100 KB model name: 400 naming the field, and neither the answer nor the log repeats it', async () => {
  const long = 'm'.repeat(100_000);
  for (const [route, body] of [
    ['/v1/messages', JSON.stringify({ model: long, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })],
    ['/v1/chat/completions', JSON.stringify({ model: long, messages: [{ role: 'user', content: 'hi' }] })],
    ['/v1/messages', JSON.stringify({ model: long, max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(100_000) }] })], // the large-body path
  ] as const) {
    const res = await fetch(`${gw.url}${route}`, { method: 'POST', body });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(1000);
    expect(text).toContain('model');
    expect(text).toContain('at most 256 characters');
  }
  expect(gw.logs.every((l) => JSON.stringify(l).length < 10_000)).toBe(true);
});

test('unknown field names no header can hold (non-ASCII, a line break, NUL) are named escaped in x-switchboard-dropped, and the request is served', async () => {
  for (const [route, model] of [['/v1/messages', 'to-openai'], ['/v1/chat/completions', 'to-anthropic']] as const) {
    for (const stream of [false, true]) {
      const body: Record<string, unknown> = { model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], stream, '☃': 1, 'a\nb': 2, 'x\u0000': 3, 'café': 4 };
      const res = await fetch(`${gw.url}${route}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      await res.text();
      const dropped = res.headers.get('x-switchboard-dropped') ?? '';
      for (const named of ['\\u2603', 'a\\u000ab', 'x\\u0000', 'caf\\u00e9']) expect(dropped).toContain(named);
    }
  }
  expect(gw.logs.filter((l) => l.msg === 'unhandled error')).toEqual([]);
});

test('a client that goes away in the middle of its upload is logged as cancelled (499), not as a 500', async () => {
  const port = Number(new URL(gw.url).port);
  for (const path of ['/v1/messages', '/v1/chat/completions']) {
    const before = gw.logs.length;
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {}, error() {} } });
    socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":"to-openai","max_tokens":5,`);
    // gone once the handler waits on the rest of the body (a fixed sleep could end the socket before Bun had even
    // parsed the head on a loaded machine: no request at all, so no log line to wait for)
    await until(() => gw.deps.state.inflight > 0, 5000);
    socket.end();
    await until(() => gw.logs.slice(before).some((l) => l.msg === 'request'), 3000);
    const lines = gw.logs.slice(before);
    expect(lines.filter((l) => l.msg === 'request').map((l) => [l.path, l.status, l.outcome])).toEqual([[path, 499, 'cancelled']]);
    expect(lines.filter((l) => l.msg === 'unhandled error')).toEqual([]);
  }
});

test('the gateway still serves after all of that', async () => {
  const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'to-openai', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }) });
  expect(res.status).toBe(200);
});
