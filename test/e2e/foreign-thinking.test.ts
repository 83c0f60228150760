/**
 * A conversation whose history holds thinking blocks Anthropic did not sign for the model it now goes to (made on an
 * openai channel, whose reasoning the gateway turns into thinking blocks with an empty or `switchboard-…` signature;
 * or by another Claude model) reaches an anthropic channel: Anthropic refuses it with a 400, and the gateway sends it
 * once more to the same channel with every thinking block left out, thinking turned off where a tool loop's last
 * assistant turn is then without one (pipeline/foreign-thinking.ts). The mock enforces Anthropic's rules in its words
 * (test/helpers/anthropic-rules.ts), driven through the official SDK.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { anthropicHistoryRefusal, SIGNATURE_REFUSAL } from '../helpers/anthropic-rules.ts';
import { CircuitBreaker } from '../../src/routing/circuit.ts';

const KEY = 'sk-gw-foreign-thinking-1';
const OPUS_SIG = 'EqOpusSignedThis==';
let upstream: MockUpstream;
let gw: TestGateway;
let sdk: Anthropic;

const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const MESSAGE = { id: 'msg_01Repaired', type: 'message', role: 'assistant', model: 'claude-opus-5-5', content: [{ type: 'text', text: 'Answered after all.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 40, output_tokens: 5 } };
const STREAM = [
  ev('message_start', { message: { ...MESSAGE, content: [], stop_reason: null, usage: { input_tokens: 40, output_tokens: 1 } } }),
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Answered after all.' } }),
  ev('content_block_stop', { index: 0 }),
  ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } }),
  ev('message_stop', {}),
];

beforeAll(() => {
  upstream = startMockUpstream(() => json({}, 500));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [{ name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: 'sk-ant-up', models: { 'claude-opus-5-5': 'claude-opus-5-5', 'team-claude': 'claude-opus-5-5', 'stubborn': 'stubborn' } }],
  });
  sdk = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});
beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (r) => {
    // `stubborn` refuses every request with the signature message, repaired or not
    if (r.json.model === 'stubborn') return json({ type: 'error', error: { type: 'invalid_request_error', message: SIGNATURE_REFUSAL(1, 0) } }, 400);
    const refusal = anthropicHistoryRefusal(r.json, { 'claude-opus-5-5': new Set([OPUS_SIG]) });
    if (refusal) return refusal;
    if (r.path.endsWith('/count_tokens')) return json({ input_tokens: 321 });
    return r.json.stream ? sse(STREAM, { signal: r.signal }) : json(MESSAGE);
  };
});

const TOOLS = [{ name: 'Read', description: 'Reads a file.', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }];
/** An answer made on an openai channel from DeepSeek's reasoning_content: the gateway's thinking block, signature empty. */
const deepseekThinking = { type: 'thinking', thinking: 'The user greets me; I greet back.', signature: '' };
/** One made with thinking.display "omitted" on a provider that needs its reasoning back: the gateway's signature. */
const gatewayThinking = { type: 'thinking', thinking: '', signature: 'switchboard-reasoning-v1:VGhlIGZpbGUgbmFtZSBpcyBub3Rlcy50eHQu' };

/** A session switched to Claude after a turn on DeepSeek: a new user turn, not a tool loop. */
function switchedBody(extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    model: 'claude-opus-5-5',
    max_tokens: 4096,
    thinking: { type: 'adaptive' },
    system: [{ type: 'text', text: 'You are helpful.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: [deepseekThinking, { type: 'text', text: 'Hi! How can I help?' }] },
      { role: 'user', content: [{ type: 'text', text: 'What is 2 + 2?', cache_control: { type: 'ephemeral' } }] },
    ],
    tools: TOOLS,
    metadata: { user_id: 'u-1' },
    ...extra,
  };
}

/** A tool loop under way whose call was made on an openai channel: its thinking block carries the gateway's signature. */
function toolLoopBody(): Record<string, any> {
  return {
    model: 'claude-opus-5-5',
    max_tokens: 4096,
    thinking: { type: 'adaptive', display: 'omitted' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: 'medium' },
    messages: [
      { role: 'user', content: 'Read notes.txt' },
      { role: 'assistant', content: [gatewayThinking, { type: 'tool_use', id: 'call_00_abc', name: 'Read', input: { file_path: 'notes.txt' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_00_abc', content: 'The code is MANGO.' }] },
    ],
    tools: TOOLS,
  };
}

const SIGNATURE_DROPPED = 'thinking blocks of earlier turns (Anthropic refused a signature it did not write for this model)';
const THINKING_OFF = 'thinking (off for this request: the last assistant turn of the tool loop has no thinking block Anthropic accepts)';
const CLEAR_THINKING_DROPPED = 'context_management.edits clear_thinking_20251015 (it needs thinking, which is off for this request)';

const lastLog = async (n: number) => {
  await until(() => gw.requestLogs().length >= n);
  return gw.requestLogs().at(-1);
};

describe('a history Anthropic refuses for its thinking blocks is sent once more without them', () => {
  test('a session switched from DeepSeek to Claude (streamed): the thinking block goes, nothing else changes', async () => {
    const before = gw.requestLogs().length;
    const body = switchedBody({ stream: true });
    const { data: stream, response } = await sdk.messages.stream(body as any).withResponse();
    const msg = await stream.finalMessage();
    expect(msg.content).toMatchObject([{ type: 'text', text: 'Answered after all.' }]);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-switchboard-dropped')).toBe(SIGNATURE_DROPPED);

    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[0]!.json).toEqual(body);
    const expected = structuredClone(body);
    expected.messages[1].content = [{ type: 'text', text: 'Hi! How can I help?' }];
    expect(upstream.requests[1]!.json).toEqual(expected); // thinking stays on: no tool loop needs a thinking block
    expect(upstream.requests[1]!.search).toBe(upstream.requests[0]!.search);
    expect(upstream.requests[1]!.headers.get('x-api-key')).toBe('sk-ant-up');

    const log = await lastLog(before + 1);
    expect(log).toMatchObject({ status: 200, attempts: 2, outcome: 'ok', channel: 'claude', dropped: [SIGNATURE_DROPPED], output_tokens: 5 });
    expect(log.error).toBeUndefined();
    expect(gw.requestLogs().length).toBe(before + 1);
    expect(gw.logs.some((l) => l.level === 'warn' && l.msg === 'upstream refused the history\'s thinking blocks: sent again without them' && l.channel === 'claude' && /Invalid `signature`/.test(l.error))).toBe(true);
  });

  test('the same, not streamed, under a model name mapped to another upstream model: the retry carries the mapped name', async () => {
    const body = switchedBody({ model: 'team-claude' });
    const { data, response } = await sdk.messages.create(body as any).withResponse();
    expect(data.content).toMatchObject([{ type: 'text', text: 'Answered after all.' }]);
    expect(response.headers.get('x-switchboard-dropped')).toBe(SIGNATURE_DROPPED);
    expect(upstream.requests.map((r) => r.json.model)).toEqual(['claude-opus-5-5', 'claude-opus-5-5']);
    const expected = structuredClone(body);
    expected.model = 'claude-opus-5-5';
    expected.messages[1].content = [{ type: 'text', text: 'Hi! How can I help?' }];
    expect(upstream.requests[1]!.json).toEqual(expected);
  });

  test('a tool loop whose call came from an openai channel: its thinking block goes, and thinking is turned off (with Claude Code\'s clear_thinking edit)', async () => {
    const before = gw.requestLogs().length;
    const body = toolLoopBody();
    const { data, response } = await sdk.messages.create(body as any).withResponse();
    expect(data.content).toMatchObject([{ type: 'text', text: 'Answered after all.' }]);
    expect(upstream.requests).toHaveLength(2);
    const expected = structuredClone(body);
    expected.messages[1].content = [{ type: 'tool_use', id: 'call_00_abc', name: 'Read', input: { file_path: 'notes.txt' } }];
    expected.thinking = { type: 'disabled' };
    delete expected.context_management;
    expect(upstream.requests[1]!.json).toEqual(expected);
    const dropped = [SIGNATURE_DROPPED, THINKING_OFF, CLEAR_THINKING_DROPPED];
    expect(response.headers.get('x-switchboard-dropped')).toBe(dropped.join(', '));
    expect(await lastLog(before + 1)).toMatchObject({ status: 200, attempts: 2, dropped });
  });

  test('a tool loop whose last turn came from a model without reasoning: Anthropic\'s "must start with a thinking block", thinking turned off', async () => {
    const body = toolLoopBody();
    // an earlier turn Claude Opus did sign; the call was made elsewhere, with no reasoning
    body.messages = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'A greeting.', signature: OPUS_SIG }, { type: 'text', text: 'Hello.' }] },
      { role: 'user', content: 'Read notes.txt' },
      { role: 'assistant', content: [{ type: 'text', text: 'Reading it.' }, { type: 'tool_use', id: 'call_1', name: 'Read', input: { file_path: 'notes.txt' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'The code is MANGO.' }] },
    ];
    body.context_management.edits.push({ type: 'clear_tool_uses_20250919' });
    const { data, response } = await sdk.messages.create(body as any).withResponse();
    expect(data.content).toMatchObject([{ type: 'text', text: 'Answered after all.' }]);
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[0]!.json).toEqual(body);
    const expected = structuredClone(body);
    expected.messages[1].content = [{ type: 'text', text: 'Hello.' }];
    expected.thinking = { type: 'disabled' };
    expected.context_management = { edits: [{ type: 'clear_tool_uses_20250919' }] }; // other edits stay
    expect(upstream.requests[1]!.json).toEqual(expected);
    expect(response.headers.get('x-switchboard-dropped')).toBe(['thinking blocks of earlier turns (thinking is off for this request)', THINKING_OFF, CLEAR_THINKING_DROPPED].join(', '));
  });

  test('an assistant turn that held only thinking blocks is left out whole (Anthropic refuses an empty turn)', async () => {
    const body = switchedBody();
    body.messages = [
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: [deepseekThinking] },
      { role: 'user', content: 'Are you there?' },
      { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' }, { type: 'text', text: 'Yes.' }] },
      { role: 'user', content: 'Good.' },
    ];
    const { data, response } = await sdk.messages.create(body as any).withResponse();
    expect(data.content).toMatchObject([{ type: 'text', text: 'Answered after all.' }]);
    const expected = structuredClone(body);
    expected.messages = [
      { role: 'user', content: 'Hello' },
      { role: 'user', content: 'Are you there?' },
      { role: 'assistant', content: [{ type: 'text', text: 'Yes.' }] },
      { role: 'user', content: 'Good.' },
    ];
    expect(upstream.requests[1]!.json).toEqual(expected);
    expect(response.headers.get('x-switchboard-dropped')).toBe(`${SIGNATURE_DROPPED}, messages.1 (an assistant turn of thinking blocks only)`);
  });

  test('many turns of thinking blocks only: the header stays within the 4000 characters a translation\'s does, the log line names them all', async () => {
    const before = gw.requestLogs().length;
    const body = switchedBody();
    body.messages = [];
    for (let i = 0; i < 300; i++) body.messages.push({ role: 'user', content: `Question ${i}` }, { role: 'assistant', content: [deepseekThinking] });
    body.messages.push({ role: 'user', content: 'Last question.' });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const header = res.headers.get('x-switchboard-dropped')!;
    expect(header.length).toBeLessThanOrEqual(4000);
    expect(header).toStartWith(`${SIGNATURE_DROPPED}, messages.1 (an assistant turn of thinking blocks only), messages.3 `);
    expect((await lastLog(before + 1)).dropped).toHaveLength(301);
  });

  test('count_tokens is repaired the same way', async () => {
    const { model, messages, system, tools, thinking } = switchedBody();
    const res = await fetch(`${gw.url}/v1/messages/count_tokens`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model, messages, system, tools, thinking }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ input_tokens: 321 });
    expect(res.headers.get('x-switchboard-dropped')).toBe(SIGNATURE_DROPPED);
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens', '/v1/messages/count_tokens']);
    expect(upstream.requests[1]!.json.messages[1].content).toEqual([{ type: 'text', text: 'Hi! How can I help?' }]);
  });

  test('once per request and channel: a retry refused again gets its refusal to the client as it came', async () => {
    const before = gw.requestLogs().length;
    const body = switchedBody({ model: 'stubborn' });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: SIGNATURE_REFUSAL(1, 0) } }));
    expect(res.headers.get('x-switchboard-dropped')).toBe(SIGNATURE_DROPPED); // the request the answer is to lost them
    expect(upstream.requests).toHaveLength(2);
    expect(await lastLog(before + 1)).toMatchObject({ status: 400, attempts: 2, error: 'upstream HTTP 400', error_type: 'invalid_request_error', dropped: [SIGNATURE_DROPPED] });
  });

  test('a 400 that is anything else is relayed byte for byte, not retried', async () => {
    const before = gw.requestLogs().length;
    const raw = '{"type":"error",  "error":{"type":"invalid_request_error","message":"messages.0.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."},"request_id":"req_1"}\n';
    upstream.handler = () => new Response(raw, { status: 400, headers: { 'content-type': 'application/json', 'request-id': 'req_1' } });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(switchedBody()) });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(raw);
    expect(res.headers.get('x-switchboard-dropped')).toBeNull();
    expect(res.headers.get('upstream-request-id')).toBe('req_1');
    expect(upstream.requests).toHaveLength(1);
    expect(await lastLog(before + 1)).toMatchObject({ status: 400, attempts: 1, error_type: 'invalid_request_error' });
    expect(gw.requestLogs().at(-1).dropped).toBeUndefined();
  });

  test('a refusal with nothing to leave out (no thinking block, thinking off) is relayed as it came, not retried', async () => {
    const body = switchedBody({ thinking: { type: 'disabled' } });
    body.messages[1].content = [{ type: 'text', text: 'Hi! How can I help?' }];
    upstream.handler = () => json({ type: 'error', error: { type: 'invalid_request_error', message: SIGNATURE_REFUSAL(1, 0) } }, 400);
    const err: any = await sdk.messages.create(body as any).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toBe(SIGNATURE_REFUSAL(1, 0));
    expect(err.headers.get('x-switchboard-dropped')).toBeNull();
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('the retry and the circuit breaker', () => {
  test('a channel opened by other requests between the refusal and its retry still gets the retry: the client gets its answer, not "no channel available"', async () => {
    /** Lets each channel's first attempt through, then reports it opened (other requests' failures, meanwhile). */
    class OpensAfterOne extends CircuitBreaker {
      readonly admitted = new Map<string, number>();
      override admit(channel: string): boolean {
        const n = (this.admitted.get(channel) ?? 0) + 1;
        this.admitted.set(channel, n);
        return n === 1;
      }
    }
    const breaker = new OpensAfterOne(3, 30_000);
    const two = startGateway({
      keys: [{ key: KEY, name: 'k' }],
      channels: [
        { name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: 'sk-ant-up', models: ['claude-opus-5-5'], priority: 10 },
        { name: 'backup', type: 'anthropic', base_url: `${upstream.url}/backup`, api_key: 'sk-ant-up', models: ['claude-opus-5-5'] },
      ],
    }, { breaker });
    try {
      const client = new Anthropic({ apiKey: KEY, baseURL: two.url, maxRetries: 0 });
      const msg = await client.messages.create(switchedBody() as any);
      expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: 'Answered after all.' })]);
      expect(upstream.requests.filter((r) => !r.path.startsWith('/backup')).length).toBe(2);
      await until(() => two.requestLogs().length === 1);
      expect(two.requestLogs()[0]).toMatchObject({ channel: 'claude', attempts: 2, outcome: 'ok' });
    } finally {
      await two.stop();
    }
  });
});
