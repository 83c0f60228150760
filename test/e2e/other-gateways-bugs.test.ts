/**
 * Translation bugs other gateways' users reported (claude-code-router, LiteLLM, claude-code-proxy, new-api and the
 * like), each replayed through Switchboard with the official SDKs against a mock OpenAI-compatible upstream: the
 * upstream report is named in each test, and the test asserts what the user would have seen.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-other-gateways-1';
let upstream: MockUpstream;
let gateway: TestGateway;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(() => {
  upstream = startMockUpstream(() => json({}));
  gateway = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    channels: [
      { name: 'chat', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { m: 'up-model' } },
      { name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: 'sk-up', models: ['claude-sonnet-4-5'] },
    ],
  });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: KEY, maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gateway.stop(); await upstream.stop(); });

const TOOLS: Anthropic.Tool[] = [
  { name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
  { name: 'list_dir', description: 'List a directory', input_schema: { type: 'object', properties: {} } },
];
const USAGE = { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 };
const chunk = (delta: unknown, finish: string | null = null) =>
  ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta, finish_reason: finish }] });
const usageChunk = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [], usage: USAGE };
const chatStream = (chunks: unknown[]) => sse([...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n']);
const completion = (message: Record<string, unknown>, finish: string) =>
  json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }], usage: USAGE });
const params = { model: 'm', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user' as const, content: 'look around' }] };

describe('finish_reason "tool_calls" with no tool call in the answer (jasonxu114514/opencode2api#27)', () => {
  // A model that says it will call a tool and then does not: some servers still end with "tool_calls". Read as
  // tool_use, Claude Code waits for tool_use blocks that are not there and the turn stops with nothing run.
  test('streamed: the text comes with stop_reason end_turn', async () => {
    upstream.handler = () => chatStream([chunk({ role: 'assistant', content: 'Let me look.' }), chunk({ tool_calls: [] }, 'tool_calls'), usageChunk]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content.map((b) => b.type)).toEqual(['text']);
    expect(message.stop_reason).toBe('end_turn');
  });

  test('not streamed: the same', async () => {
    upstream.handler = () => completion({ content: 'Let me look.', tool_calls: [] }, 'tool_calls');
    const message = await anthropic.messages.create(params);
    expect(message.content.map((b) => b.type)).toEqual(['text']);
    expect(message.stop_reason).toBe('end_turn');
  });

  test('a real call still ends as tool_use', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'list_dir', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(message.stop_reason).toBe('tool_use');
  });
});

describe('parallel tool calls streamed at one index, without ids (ai-dynamo/dynamo#4723, huggingface/smolagents#1958)', () => {
  // Some servers give every call of an answer index 0 (Dynamo with Qwen3; Ollama behind LiteLLM): read by index
  // alone, the second call's arguments were appended to the first's, and the second call vanished.
  test('two different tools: two tool_use blocks, each with its own input', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"a.ts"}' } }] }),
      chunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'list_dir', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    const calls = message.content.filter((b) => b.type === 'tool_use');
    expect(calls.map((b) => [b.name, b.input])).toEqual([['read_file', { path: 'a.ts' }], ['list_dir', {}]]);
    expect(new Set(calls.map((b) => b.id)).size).toBe(2);
    expect(message.stop_reason).toBe('tool_use');
  });

  test('the same tool twice, its name on every fragment: two calls, not one', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } }] }),
      chunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: 'read_file', arguments: '"b.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    const calls = message.content.filter((b) => b.type === 'tool_use');
    expect(calls.map((b) => [b.name, b.input])).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
  });
});

describe('parallel tool calls at one index, without ids, each opened as OpenAI opens a call (its name, arguments "")', () => {
  // The first fragment of a call names it with empty arguments, as OpenAI's own streams do; the arguments follow without
  // the name. The second call of the same tool was read as the first call's name repeated: its arguments came after
  // the first call's object had ended, and were left out ('arguments after its end').
  test('the same tool twice: two calls, each with its own input', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":"a.ts"}' } }] }),
      chunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"b.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    const calls = message.content.filter((b) => b.type === 'tool_use');
    expect(calls.map((b) => [b.name, b.input])).toEqual([['read_file', { path: 'a.ts' }], ['read_file', { path: 'b.ts' }]]);
    expect(new Set(calls.map((b) => b.id)).size).toBe(2);
  });

  test('a name repeated on a call\'s every fragment, an empty one after its object: still one call', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: 'read_file', arguments: '"a.ts"}' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: 'read_file', arguments: '' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    const calls = message.content.filter((b) => b.type === 'tool_use');
    expect(calls.map((b) => [b.name, b.input])).toEqual([['read_file', { path: 'a.ts' }]]);
  });
});

describe('whitespace-only text in a Chat history sent to Anthropic (anomalyco/opencode#31259, home-assistant/core#175637)', () => {
  // Models often write "\n\n" before their tool calls, and Chat clients keep it as the assistant message's content.
  // Anthropic refuses any text block that is empty or only whitespace, naming no message: the openai SDK client got
  // a 400 for its whole conversation, every turn after.
  const WHITESPACE_REFUSAL = 'messages: text content blocks must contain non-whitespace text';
  const anthropicMessage = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Done.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 20, output_tokens: 2 } };
  const blankText = (body: any) => (body?.messages ?? []).some((m: any) => (typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content)
    .some((b: any) => b.type === 'text' && b.text.trim() === ''));
  const tools = [{ type: 'function' as const, function: { name: 'list_dir', parameters: { type: 'object', properties: {} } } }];

  test('an assistant turn of "\\n\\n" and tool calls, a text part of spaces: Anthropic gets neither, the client its answer', async () => {
    upstream.handler = (req) => blankText(req.json)
      ? Response.json({ type: 'error', error: { type: 'invalid_request_error', message: WHITESPACE_REFUSAL } }, { status: 400 })
      : json(anthropicMessage);
    const answer = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5', tools, messages: [
        { role: 'user', content: 'what is here?' },
        { role: 'assistant', content: '\n\n', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'list_dir', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a.ts b.ts' },
        { role: 'assistant', content: ' ' },
        { role: 'user', content: [{ type: 'text', text: '  ' }, { type: 'text', text: 'and now?' }] },
      ],
    });
    expect(answer.choices[0]!.message.content).toBe('Done.');
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.messages).toEqual([
      { role: 'user', content: 'what is here?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'list_dir', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'a.ts b.ts' }, { type: 'text', text: 'and now?' }] },
    ]);
  });

  test('a user message of whitespace alone still goes: Anthropic says what is wrong with it', async () => {
    upstream.handler = (req) => blankText(req.json)
      ? Response.json({ type: 'error', error: { type: 'invalid_request_error', message: WHITESPACE_REFUSAL } }, { status: 400 })
      : json(anthropicMessage);
    const err = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: ' ' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('non-whitespace text');
  });
});

describe('stream shapes other gateways mistranslated, which hold here', () => {
  test('text beside an empty tool_calls array stays text (BerriAI/litellm#29286: vLLM, empty input_json_delta instead of text)', async () => {
    upstream.handler = () => chatStream([chunk({ role: 'assistant', content: 'Hel', tool_calls: [] }), chunk({ content: 'lo', tool_calls: [] }), chunk({}, 'stop'), usageChunk]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content).toMatchObject([{ type: 'text', text: 'Hello' }]);
    expect(message.stop_reason).toBe('end_turn');
  });

  test('the usage chunk before the finish chunk (Gitlawb/openclaude#119: Azure and Groq, stop_reason null)', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } }] }),
      usageChunk, chunk({}, 'tool_calls'),
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 12, output_tokens: 4 });
  });

  test('finish_reason "" on every chunk and a function_call stub on the last (CangShui/workbuddy-gateway#3: end_turn latched, tools never ran)', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', content: '' }, ''),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":' } }] }, ''),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"a.ts"}' } }] }, ''),
      chunk({ function_call: { name: '', arguments: '' } }, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content).toMatchObject([{ type: 'tool_use', name: 'read_file', input: { path: 'a.ts' } }]);
    expect(message.stop_reason).toBe('tool_use');
  });

  test('arguments before the call\'s id and name (Zoo-Code-Org/Zoo-Code#695: leading argument bytes dropped)', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '"a.ts"}' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content).toMatchObject([{ type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'a.ts' } }]);
  });

  test('a call without arguments, "" and nothing after (QwenLM/qwen-code#6249: the call dropped)', async () => {
    upstream.handler = () => chatStream([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'list_dir', arguments: '' } }] }),
      chunk({}, 'tool_calls'), usageChunk,
    ]);
    const message = await anthropic.messages.stream(params).finalMessage();
    expect(message.content).toMatchObject([{ type: 'tool_use', name: 'list_dir', input: {} }]);
    expect(message.stop_reason).toBe('tool_use');
  });
});

describe('requests other gateways sent upstream wrong, which hold here', () => {
  const answer = () => completion({ content: 'ok' }, 'stop');

  test('Claude Code\'s web search alone: neither tools nor a tool_choice naming it go upstream (BerriAI/litellm#25477: "tools are required when tool choice is specified")', async () => {
    upstream.handler = answer;
    const { response } = await anthropic.messages.create({
      model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'search the web' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }], tool_choice: { type: 'tool', name: 'web_search' },
    }).withResponse();
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.tools).toBeUndefined();
    expect(sent.tool_choice).toBeUndefined();
    expect(response.headers.get('x-switchboard-dropped')).toContain('tool_choice');
  });

  test('text-only content and cache_control go as a plain string (QuantumNous/new-api#5982: strict upstreams answered 400)', async () => {
    upstream.handler = answer;
    await anthropic.messages.create({
      model: 'm', max_tokens: 64, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Reply ' }, { type: 'text', text: 'OK', cache_control: { type: 'ephemeral' } }] }],
    });
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.messages.map((m: any) => [m.role, typeof m.content])).toEqual([['system', 'string'], ['user', 'string']]);
    expect(sent.messages[1].content).toMatch(/^Reply\s+OK$/);
    expect(JSON.stringify(sent)).not.toContain('cache_control');
  });
});
