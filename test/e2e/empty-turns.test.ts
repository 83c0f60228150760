/**
 * Assistant turns with no content, which Anthropic refuses anywhere but last (400 "messages.N: all messages must have
 * non-empty content except for the optional final assistant message"). An openai channel's model that answers nothing
 * ("" with finish_reason stop, as Qwen and others do now and then after tool results; or whitespace alone, which makes
 * no text block) reaches a Messages client as `content: []`; the Anthropic SDK's accumulation keeps it so, and a client
 * that pushes the answer into its history sends the empty turn with every later request. (Claude Code 2.1.332 does
 * not: it asks again with a "[Your previous response had no visible output …]" reminder and stores "No response
 * requested." as the turn.) Once the conversation reaches an anthropic channel, every later turn is refused. Driven
 * through the official Anthropic SDK against a mock openai upstream and a mock anthropic upstream that enforces the
 * rule in Anthropic's words (test/helpers/anthropic-rules.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { anthropicBlankTextRefusal, anthropicEmptyTurnRefusal, BLANK_TEXT_REFUSAL, EMPTY_TURN_REFUSAL } from '../helpers/anthropic-rules.ts';

const KEY = 'sk-gw-empty-turns-1';
let chat: MockUpstream;
let claude: MockUpstream;
let gw: TestGateway;
let sdk: Anthropic;

const MESSAGE = { id: 'msg_01Empty', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'The file says hello.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 60, output_tokens: 6 } };
const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const STREAM = [
  ev('message_start', { message: { ...MESSAGE, content: [], stop_reason: null, usage: { input_tokens: 60, output_tokens: 1 } } }),
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'The file says hello.' } }),
  ev('content_block_stop', { index: 0 }),
  ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } }),
  ev('message_stop', {}),
];
const answer = (r: { json: any; signal: AbortSignal }) => (r.json.stream ? sse(STREAM, { signal: r.signal }) : json(MESSAGE));

beforeAll(() => {
  chat = startMockUpstream(() => json({}, 500));
  claude = startMockUpstream(() => json({}, 500));
  gw = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [
      { name: 'qwen', type: 'openai', base_url: `${chat.url}/v1`, api_key: 'sk-up', models: { 'qwen3-coder': 'Qwen/Qwen3-Coder' } },
      { name: 'claude', type: 'anthropic', base_url: claude.url, api_key: 'sk-ant-up', models: ['claude-sonnet-4-5'] },
    ],
  });
  sdk = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await chat?.stop();
  await claude?.stop();
});
beforeEach(() => {
  chat.requests.length = 0;
  claude.requests.length = 0;
  claude.handler = (r) => anthropicEmptyTurnRefusal(r.json) ?? anthropicBlankTextRefusal(r.json) ?? answer(r);
});

const TOOLS: Anthropic.Tool[] = [{ name: 'Read', description: 'Reads a file.', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }];
const USAGE = { prompt_tokens: 80, completion_tokens: 0, total_tokens: 80 };
const chunk = (delta: unknown, finish: string | null = null) =>
  ({ id: 'chatcmpl-q1', object: 'chat.completion.chunk', created: 1, model: 'Qwen/Qwen3-Coder', choices: [{ index: 0, delta, finish_reason: finish }] });
const data = (c: unknown) => `data: ${JSON.stringify(c)}\n\n`;
const chatStream = (content: string) => sse([
  ...[chunk({ role: 'assistant', content: '' }), ...(content ? [chunk({ content })] : []), chunk({}, 'stop'), { ...chunk(null), choices: [], usage: USAGE }].map(data),
  'data: [DONE]\n\n',
]);
const CALL = { type: 'tool_use' as const, id: 'chatcmpl-tool-7f3a', name: 'Read', input: { file_path: 'notes.txt' } };
/** A tool loop on the openai channel, the tool's result just sent back. */
const loop: Anthropic.MessageParam[] = [
  { role: 'user', content: 'What does notes.txt say?' },
  { role: 'assistant', content: [CALL] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: CALL.id, content: 'hello' }] },
];
const EMPTY_DROPPED = (i: number) => `messages.${i} (an empty assistant turn: Anthropic refuses one anywhere but last)`;

describe('an openai channel that answers nothing: the Messages client gets content [], and keeps it in its history', () => {
  for (const [name, content] of [['""', ''], ['whitespace alone', '\n\n']] as const) {
    test(`streamed, ${name}: finalMessage has no content; the next turn, on an anthropic channel, is answered without the empty turn`, async () => {
      chat.handler = () => chatStream(content);
      const msg = await sdk.messages.stream({ model: 'qwen3-coder', max_tokens: 1024, tools: TOOLS, messages: loop }).finalMessage();
      expect(msg.content).toEqual([]);
      expect(msg.stop_reason).toBe('end_turn');

      // the client pushes the answer as it came, asks again, and the session has moved to Claude (a /model switch)
      const before = gw.requestLogs().length;
      const history: Anthropic.MessageParam[] = [...loop, { role: 'assistant', content: msg.content }, { role: 'user', content: 'Well?' }];
      const body = { model: 'claude-sonnet-4-5', max_tokens: 1024, tools: TOOLS, messages: history, stream: true as const };
      const { data: stream, response } = await sdk.messages.stream(body).withResponse();
      const next = await stream.finalMessage();
      expect(next.content).toEqual(MESSAGE.content as never);
      expect(response.headers.get('x-switchboard-dropped')).toBe(EMPTY_DROPPED(3));

      expect(claude.requests).toHaveLength(2);
      expect(claude.requests[0]!.json).toEqual(body); // the client's bytes first, as they came
      const expected = structuredClone(body);
      expected.messages.splice(3, 1); // the tool result and "Well?" now read as one user turn
      expect(claude.requests[1]!.json).toEqual(expected);
      expect(claude.requests[1]!.headers.get('x-api-key')).toBe('sk-ant-up');

      await until(() => gw.requestLogs().length > before);
      expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 2, outcome: 'ok', channel: 'claude', dropped: [EMPTY_DROPPED(3)] });
      expect(gw.logs.some((l) => l.level === 'warn' && l.msg === 'upstream refused the history\'s empty assistant turns: sent again without them' && l.error === EMPTY_TURN_REFUSAL(3))).toBe(true);
    });
  }

  test('not streamed: the same; an empty turn given as "" is left out too', async () => {
    chat.handler = () => json({ id: 'chatcmpl-q2', object: 'chat.completion', created: 1, model: 'Qwen/Qwen3-Coder', usage: USAGE, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: '' } }] });
    const msg = await sdk.messages.create({ model: 'qwen3-coder', max_tokens: 1024, tools: TOOLS, messages: loop });
    expect(msg.content).toEqual([]);

    const messages: Anthropic.MessageParam[] = [...loop, { role: 'assistant', content: msg.content }, { role: 'user', content: 'Well?' }, { role: 'assistant', content: '' }, { role: 'user', content: 'Hello?' }];
    const { data, response } = await sdk.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages }).withResponse();
    expect(data.content).toEqual(MESSAGE.content as never);
    expect(response.headers.get('x-switchboard-dropped')).toBe(`${EMPTY_DROPPED(3)}, ${EMPTY_DROPPED(5)}`);
    expect(claude.requests).toHaveLength(2);
    expect(claude.requests[1]!.json.messages).toEqual([loop[0], loop[1], loop[2], messages[4], messages[6]]);
  });
});

describe('what is not repaired, and what costs nothing more', () => {
  test('an empty user turn is the client\'s own: Anthropic\'s 400 reaches the client as it came, no retry', async () => {
    const messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [] }, { role: 'user', content: [] }];
    const err = await sdk.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, messages } as any).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: EMPTY_TURN_REFUSAL(1) }, request_id: 'req_011CSarLLj2ZRbTy4cWexMjs' });
    expect(claude.requests).toHaveLength(1);
  });

  test('an empty final assistant turn (a prefill) is Anthropic\'s to take: sent once, as it came', async () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [] }] };
    const { response } = await sdk.messages.create(body as any).withResponse();
    expect(claude.requests).toHaveLength(1);
    expect(claude.requests[0]!.json).toEqual(body);
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('a history with an empty turn and a blank text block: each refusal repaired in turn', async () => {
    const messages = [
      { role: 'user', content: 'Read it.' },
      { role: 'assistant', content: [{ type: 'text', text: '\n\n' }, CALL] },
      loop[2],
      { role: 'assistant', content: [] },
      { role: 'user', content: 'Well?' },
    ];
    const { data, response } = await sdk.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, messages } as any).withResponse();
    expect(data.content).toEqual(MESSAGE.content as never);
    expect(claude.requests).toHaveLength(3);
    expect(claude.requests[2]!.json.messages).toEqual([messages[0], { role: 'assistant', content: [CALL] }, messages[2], messages[4]]);
    expect(response.headers.get('x-switchboard-dropped')!.split(', ').sort()).toEqual([EMPTY_DROPPED(3), 'text blocks of whitespace alone (Anthropic refuses them)'].sort());
    expect(gw.logs.some((l) => l.error === BLANK_TEXT_REFUSAL)).toBe(true);
  });

  test('a request Anthropic takes goes once, as the client\'s bytes, nothing reported', async () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [...loop, { role: 'assistant', content: [{ type: 'text', text: 'It says hello.' }] }, { role: 'user', content: 'Thanks.' }] };
    const { response } = await sdk.messages.create(body as any).withResponse();
    expect(claude.requests).toHaveLength(1);
    expect(claude.requests[0]!.json).toEqual(body);
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
  });
});
