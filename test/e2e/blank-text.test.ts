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
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { anthropicBlankTextRefusal } from '../helpers/anthropic-rules.ts';

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
