/**
 * A channel's `drop_fields` against an Anthropic-compatible upstream that refuses top-level fields it does not know
 * with 400, as Bedrock behind LiteLLM answers Claude Code ("context_management: Extra inputs are not permitted":
 * anthropics/claude-code#49548, BerriAI/litellm#27532): the fields go, the request succeeds, the rest of a relayed body
 * reaches the upstream byte for byte, and `x-switchboard-dropped` and the log line name what was left out.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { claudeCodeBody, claudeForFile, describeRun, runClaude, tempDirs } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-drop-fields-key-1';
const DROP = ['context_management', 'output_config'];
const NOTE = 'context_management (channel drop_fields), output_config (channel drop_fields)';
/** The top-level fields the mock takes (Bedrock's InvokeModel body, as LiteLLM passes it on): any other is a 400. */
const KNOWN = new Set(['model', 'messages', 'max_tokens', 'system', 'tools', 'tool_choice', 'stop_sequences', 'stream', 'temperature', 'top_p', 'top_k', 'thinking', 'metadata']);

let strict: MockUpstream;
let chat: MockUpstream;
let gw: TestGateway;
let an: Anthropic;

const sseEvent = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const message = { id: 'msg_drop_1', type: 'message', role: 'assistant', model: 'up', content: [{ type: 'text', text: 'Hello from the proxy' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: 4 } };
const stream = () => [
  sseEvent('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } }),
  sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello from the proxy' } }),
  sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
  sseEvent('message_stop', { type: 'message_stop' }),
];

/** As Bedrock via LiteLLM answers: 400 naming the first field it does not know; else an answer. */
function strictHandler(r: RecordedRequest): Response {
  const unknown = Object.keys(r.json ?? {}).find((k) => !KNOWN.has(k));
  if (unknown) return json({ type: 'error', error: { type: 'invalid_request_error', message: `${unknown}: Extra inputs are not permitted` } }, 400);
  if (r.path.endsWith('/count_tokens')) return json({ input_tokens: 42 });
  return r.json.stream ? sse(stream(), { signal: r.signal }) : json(message);
}

beforeAll(() => {
  strict = startMockUpstream(strictHandler);
  chat = startMockUpstream(() => json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-up', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      // Claude Code's current model names, mapped to the proxy's; `thinking` for the Chat client's reasoning_effort
      { name: 'bedrock-proxy', type: 'anthropic', base_url: strict.url, api_key: 'sk-proxy-upstream-1', models: { 'claude-sonnet-5-5': 'up', m: 'up' }, drop_fields: DROP, thinking: { '*': 'adaptive' } },
      { name: 'as-is', type: 'anthropic', base_url: strict.url, api_key: 'sk-proxy-upstream-1', models: ['plain'] },
      { name: 'openai', type: 'openai', base_url: `${chat.url}/v1`, api_key: 'sk-openai-upstream-1', models: { gpt: 'gpt-up' }, drop_fields: ['user', 'parallel_tool_calls'] },
    ],
  });
  an = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await strict?.stop();
  await chat?.stop();
});
beforeEach(() => { strict.requests.length = 0; chat.requests.length = 0; });

const lastLog = async (n: number) => {
  await until(() => gw.requestLogs().length >= n);
  return gw.requestLogs()[n - 1];
};
const without = (body: Record<string, unknown>, fields: string[]) => Object.fromEntries(Object.entries(body).filter(([k]) => !fields.includes(k)));

describe('a Messages client relayed to an anthropic channel', () => {
  test('the SDK sends a Claude Code request: refused 400 without the setting; with it the fields are gone, the rest as sent, the header names them', async () => {
    const body = claudeCodeBody({ model: 'plain' });
    const refused = await an.beta.messages.create(body as any).catch((e) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect(refused.error.error.message).toBe('context_management: Extra inputs are not permitted');

    const n = gw.requestLogs().length;
    body.model = 'claude-sonnet-5-5';
    const { data, response } = await an.beta.messages.stream(body as any).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBe(NOTE);
    expect((await data.finalMessage()).content.map((b) => (b.type === 'text' ? b.text : b.type))).toEqual(['Hello from the proxy']);
    const sent = strict.requests.at(-1)!;
    // the SDK writes JSON.stringify of the body: the upstream's bytes are those, without the two members, model mapped
    expect(sent.text).toBe(JSON.stringify(without({ ...body, model: 'up' }, DROP)));
    expect(sent.json.thinking).toEqual({ type: 'adaptive', display: 'omitted' }); // not listed: kept
    expect(await lastLog(n + 1)).toMatchObject({ channel: 'bedrock-proxy', status: 200, outcome: 'ok', dropped: DROP.map((f) => `${f} (channel drop_fields)`) });
  });

  test('byte for byte: the client\'s spacing and key order kept, nested members of the same names kept, small and large bodies', async () => {
    for (const pad of [0, 100_000]) { // parsed in full (small) or scanned (large: pipeline/inbound.ts)
      const text = `{\n  "model": "m",\n  "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},\n  "max_tokens" : 64,\n`
        + `  "messages": [{"role": "user", "content": [{"type": "text", "text": "what is \\"output_config\\"? ${'x'.repeat(pad)}", "context_management": 1}]}],\n`
        + `  "metadata": {"output_config": {"effort": "low"}},\n  "output_config": {"effort": "medium"}\n}`;
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: text });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-dropped')).toBe(NOTE);
      await res.arrayBuffer();
      const expected = text
        .replace('"model": "m"', '"model": "up"')
        .replace('  "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},\n', '')
        .replace(',\n  "output_config": {"effort": "medium"}\n}', '\n}');
      expect(strict.requests.at(-1)!.text).toBe(expected);
    }
  });

  test('a request without the fields goes as it came: nothing named, no header', async () => {
    const text = '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}';
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: text });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchboard-dropped')).toBeNull();
    expect(strict.requests.at(-1)!.text).toBe(text.replace('"m"', '"up"'));
  });

  test('count_tokens loses them too', async () => {
    const { context_management, output_config, model, messages, system, tools, thinking } = claudeCodeBody();
    const res = await fetch(`${gw.url}/v1/messages/count_tokens`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, system, tools, thinking, context_management, output_config }),
    });
    expect(await res.json()).toEqual({ input_tokens: 42 });
    expect(res.headers.get('x-switchboard-dropped')).toBe(NOTE);
    expect(strict.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
    expect(Object.keys(strict.requests.at(-1)!.json)).toEqual(['model', 'messages', 'system', 'tools', 'thinking']);
  });
});

describe('translated requests lose the fields from the body the translation builds', () => {
  test('a Chat Completions client to the anthropic channel: reasoning_effort becomes adaptive thinking, its output_config is left out and named', async () => {
    const oa = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const { data, response } = await oa.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'low', max_tokens: 2000 }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from the proxy');
    const sent = strict.requests.at(-1)!.json;
    expect(sent.thinking).toEqual({ type: 'adaptive' });
    expect(sent.output_config).toBeUndefined();
    expect(response.headers.get('x-switchboard-dropped')).toBe('output_config (channel drop_fields)');
  });

  test('a Messages client to an openai channel: the Chat Completions fields named there', async () => {
    const n = gw.requestLogs().length;
    const { response } = await an.messages.create({
      model: 'gpt', max_tokens: 50, metadata: { user_id: 'u-1' }, messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 't', input_schema: { type: 'object' } }], tool_choice: { type: 'auto', disable_parallel_tool_use: true },
    }).withResponse();
    const sent = chat.requests.at(-1)!.json;
    expect(sent.user).toBeUndefined();
    expect(sent.parallel_tool_calls).toBeUndefined();
    expect(sent.tools).toHaveLength(1);
    expect(response.headers.get('x-switchboard-dropped')).toBe('user (channel drop_fields), parallel_tool_calls (channel drop_fields)');
    expect((await lastLog(n + 1)).dropped).toEqual(['user (channel drop_fields)', 'parallel_tool_calls (channel drop_fields)']);
  });
});

test('a fallback from a channel that drops fields to one that does not: the later answer names nothing', async () => {
  const down = startMockUpstream(() => json({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } }, 529));
  const g = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'first', type: 'anthropic', base_url: down.url, models: ['m'], priority: 1, drop_fields: ['metadata'] },
      { name: 'second', type: 'anthropic', base_url: strict.url, models: ['m'] },
    ],
  });
  try {
    const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: '{"model":"m","max_tokens":8,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchboard-dropped')).toBeNull();
    expect(down.requests[0]!.json.metadata).toBeUndefined();
    expect(strict.requests.at(-1)!.json.metadata).toEqual({ user_id: 'u' });
  } finally {
    await g.stop();
    await down.stop();
  }
});

const CLI = claudeForFile('test/e2e/drop-fields.test.ts');
const freshDir = tempDirs();

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version} through an anthropic channel to a proxy that refuses its fields`, () => {
  test('claude -p prints the answer; the proxy never saw context_management or output_config', async () => {
    const run = await runClaude(['-p', 'Say hello.', '--model', 'claude-sonnet-5-5'], {
      baseUrl: gw.url, token: KEY, home: freshDir('sb-drop-home-'), cwd: freshDir('sb-drop-cwd-'), timeoutMs: 75_000,
    });
    if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
    expect(run.stdout.trim()).toBe('Hello from the proxy');
    const turns = strict.requests.filter((r) => r.path === '/v1/messages');
    expect(turns.length).toBeGreaterThan(0);
    for (const r of turns) for (const f of DROP) expect(Object.keys(r.json)).not.toContain(f);
    expect(gw.requestLogs().at(-1)).toMatchObject({ channel: 'bedrock-proxy', status: 200, outcome: 'ok' });
  }, 90_000);
});
