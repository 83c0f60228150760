/**
 * Text blocks of whitespace alone, which Anthropic refuses in a request (400 "messages: text content blocks must
 * contain non-whitespace text"). Many OpenAI-compatible models (DeepSeek, Qwen, GLM, Kimi, gpt-oss on vLLM or Ollama)
 * write "\n\n" as content before their tool calls; translated as a text block, the client keeps it in its history and
 * sends it back every turn, and once the conversation reaches an anthropic channel (a fallback, a `/model` switch) every
 * later turn is refused. Driven through the official Anthropic SDK against a mock openai upstream and a mock anthropic
 * upstream that enforces the rule in Anthropic's words (test/helpers/anthropic-rules.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { anthropicBlankTextRefusal, anthropicHistoryRefusal, BLANK_TEXT_REFUSAL } from '../helpers/anthropic-rules.ts';

const KEY = 'sk-gw-blank-text-1';
let chat: MockUpstream;
let claude: MockUpstream;
let gw: TestGateway;
let sdk: Anthropic;

const MESSAGE = { id: 'msg_01Blank', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'The file says hello.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 60, output_tokens: 6 } };

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
  claude.handler = (r) => anthropicBlankTextRefusal(r.json) ?? json(MESSAGE);
});

const TOOLS: Anthropic.Tool[] = [{ name: 'Read', description: 'Reads a file.', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }];
const USAGE = { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 };
const chunk = (delta: unknown, finish: string | null = null) =>
  ({ id: 'chatcmpl-q1', object: 'chat.completion.chunk', created: 1, model: 'Qwen/Qwen3-Coder', choices: [{ index: 0, delta, finish_reason: finish }] });
const chatStream = (chunks: unknown[]) => sse([...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), `data: ${JSON.stringify({ ...chunk(null), choices: [], usage: USAGE })}\n\n`, 'data: [DONE]\n\n']);
/** vLLM serving Qwen3 with a tool parser: "\n\n" as content, then the call. */
const BLANK_THEN_CALL = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: '\n\n' }),
  chunk({ tool_calls: [{ index: 0, id: 'chatcmpl-tool-7f3a', type: 'function', function: { name: 'Read', arguments: '' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"file_path": ' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"notes.txt"}' } }] }),
  chunk({}, 'tool_calls'),
];
const first = { model: 'qwen3-coder', max_tokens: 1024, tools: TOOLS, messages: [{ role: 'user' as const, content: 'What does notes.txt say?' }] };

describe('an openai channel\'s "\\n\\n" before its tool call makes no text block', () => {
  test('streamed through the SDK: the tool_use alone, at index 0; the next turn, on an anthropic channel, is answered', async () => {
    chat.handler = () => chatStream(BLANK_THEN_CALL);
    const stream = sdk.messages.stream(first);
    const indexes: number[] = [];
    stream.on('streamEvent', (e) => { if (e.type === 'content_block_start') indexes.push(e.index); });
    const msg = await stream.finalMessage();
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'chatcmpl-tool-7f3a', name: 'Read', input: { file_path: 'notes.txt' } }] as never);
    expect(indexes).toEqual([0]);
    expect(msg.stop_reason).toBe('tool_use');

    // the session moves to Claude (a /model switch) with that turn in its history: taken at the first try
    const next = await sdk.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 1024, tools: TOOLS,
      messages: [...first.messages, { role: 'assistant', content: msg.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'chatcmpl-tool-7f3a', content: 'hello' }] }],
    });
    expect(next.content).toEqual(MESSAGE.content as never);
    expect(claude.requests).toHaveLength(1);
  });

  test('not streamed: the same', async () => {
    chat.handler = () => json({
      id: 'chatcmpl-q2', object: 'chat.completion', created: 1, model: 'Qwen/Qwen3-Coder', usage: USAGE,
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: '\n\n', tool_calls: [{ id: 'chatcmpl-tool-7f3b', type: 'function', function: { name: 'Read', arguments: '{"file_path": "notes.txt"}' } }] } }],
    });
    const { data: msg, response } = await sdk.messages.create(first).withResponse();
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'chatcmpl-tool-7f3b', name: 'Read', input: { file_path: 'notes.txt' } }] as never);
    expect(response.headers.get('x-switchboard-dropped')).toBeNull(); // noise, not content: nothing to report
  });

  test('whitespace that text follows stays, exactly, in the one text block', async () => {
    chat.handler = () => chatStream([chunk({ role: 'assistant', content: '' }), chunk({ content: '\n' }), chunk({ content: '\n' }), chunk({ content: 'Reading it.' }), ...BLANK_THEN_CALL.slice(2)]);
    const msg = await sdk.messages.stream(first).finalMessage();
    expect(msg.content).toHaveLength(2);
    expect(msg.content).toMatchObject([
      { type: 'text', text: '\n\nReading it.' },
      { type: 'tool_use', id: 'chatcmpl-tool-7f3a', name: 'Read', input: { file_path: 'notes.txt' } },
    ]);
  });
});

const BLANK_DROPPED = 'text blocks of whitespace alone (Anthropic refuses them)';
const SIGNATURE_DROPPED = 'thinking blocks of earlier turns (Anthropic refused a signature it did not write for this model)';
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

/** A Claude Code session whose tool call was made on an openai channel before the fix: "\n\n" beside the call. */
function sessionBody(extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 4096,
    system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'What does notes.txt say?' },
      { role: 'assistant', content: [{ type: 'text', text: '\n\n' }, { type: 'tool_use', id: 'chatcmpl-tool-7f3a', name: 'Read', input: { file_path: 'notes.txt' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'chatcmpl-tool-7f3a', content: 'hello' }, { type: 'text', text: 'Summarise it.', cache_control: { type: 'ephemeral' } }] },
    ],
    tools: TOOLS,
    ...extra,
  };
}
const withoutBlank = (body: Record<string, any>) => {
  const out = structuredClone(body);
  out.messages[1].content = out.messages[1].content.filter((b: any) => b.type !== 'text');
  return out;
};

describe('a history with a text block of whitespace alone, refused by Anthropic, is sent once more without it', () => {
  beforeEach(() => { claude.handler = (r) => anthropicBlankTextRefusal(r.json) ?? answer(r); });

  test('streamed through the SDK: the answer arrives, the mock saw two requests, the header names what was left out', async () => {
    const before = gw.requestLogs().length;
    const body = sessionBody({ stream: true });
    const { data: stream, response } = await sdk.messages.stream(body as any).withResponse();
    const msg = await stream.finalMessage();
    expect(msg.content).toMatchObject([{ type: 'text', text: 'The file says hello.' }]);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-switchboard-dropped')).toBe(BLANK_DROPPED);

    expect(claude.requests).toHaveLength(2);
    expect(claude.requests[0]!.json).toEqual(body); // the client's bytes first, as they came
    expect(claude.requests[1]!.json).toEqual(withoutBlank(body)); // then only the blank block left out
    expect(claude.requests[1]!.headers.get('x-api-key')).toBe('sk-ant-up');

    await until(() => gw.requestLogs().length > before);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 2, outcome: 'ok', channel: 'claude', dropped: [BLANK_DROPPED] });
    expect(gw.logs.some((l) => l.level === 'warn' && l.msg === 'upstream refused the history\'s blank text blocks: sent again without them' && l.error === BLANK_TEXT_REFUSAL)).toBe(true);
  });

  test('not streamed, with an assistant turn of whitespace alone: the turn is left out whole and named', async () => {
    const body = sessionBody();
    body.messages.push({ role: 'assistant', content: [{ type: 'text', text: ' \n' }] }, { role: 'user', content: 'Well?' });
    const { data, response } = await sdk.messages.create(body as any).withResponse();
    expect(data.content).toMatchObject(MESSAGE.content);
    expect(response.headers.get('x-switchboard-dropped')).toBe(`${BLANK_DROPPED}, messages.3 (an assistant turn of whitespace alone)`);
    expect(claude.requests).toHaveLength(2);
    const expected = withoutBlank(body);
    expected.messages.splice(3, 1);
    expect(claude.requests[1]!.json).toEqual(expected);
  });

  test('a history with both a thinking block made on an openai channel and blank text: each refusal repaired in turn', async () => {
    // the mock refuses the blank text first, then the signature; a real API may look in either order
    for (const blankFirst of [true, false]) {
      claude.requests.length = 0;
      claude.handler = (r) => {
        const blank = anthropicBlankTextRefusal(r.json);
        const thinking = anthropicHistoryRefusal(r.json, {});
        return (blankFirst ? blank ?? thinking : thinking ?? blank) ?? answer(r);
      };
      const body = sessionBody();
      body.messages[1].content.unshift({ type: 'thinking', thinking: 'I should read the file.', signature: '' });
      const { data, response } = await sdk.messages.create(body as any).withResponse();
      expect(data.content).toMatchObject(MESSAGE.content);
      expect(claude.requests).toHaveLength(3);
      expect(claude.requests[2]!.json.messages[1].content).toEqual([body.messages[1].content[2]]);
      const dropped = response.headers.get('x-switchboard-dropped')!.split(', ');
      expect(dropped.sort()).toEqual([BLANK_DROPPED, SIGNATURE_DROPPED].sort());
    }
  });

  test('a user turn of whitespace alone is the client\'s own: Anthropic\'s 400 reaches the client as it came, no retry', async () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: [{ type: 'text', text: '\n' }] }] };
    const err = await sdk.messages.create(body as any).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: BLANK_TEXT_REFUSAL }, request_id: 'req_011CXqXVfVqMJd8rzkVKPZDM' });
    expect(claude.requests).toHaveLength(1);
  });

  test('a request Anthropic takes goes once, as the client\'s bytes, nothing reported', async () => {
    const body = withoutBlank(sessionBody());
    const { response } = await sdk.messages.create(body as any).withResponse();
    expect(claude.requests).toHaveLength(1);
    expect(claude.requests[0]!.json).toEqual(body);
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('to an openai channel the blank block is harmless: sent as it is, answered at the first try', async () => {
    chat.handler = () => json({ id: 'chatcmpl-q3', object: 'chat.completion', created: 1, model: 'Qwen/Qwen3-Coder', usage: USAGE, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'It says hello.' } }] });
    const data = await sdk.messages.create(sessionBody({ model: 'qwen3-coder' }) as any);
    expect(data.content).toMatchObject([{ type: 'text', text: 'It says hello.' }]);
    expect(chat.requests).toHaveLength(1);
    expect(chat.requests[0]!.json.messages[2]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'chatcmpl-tool-7f3a' }] });
  });
});
