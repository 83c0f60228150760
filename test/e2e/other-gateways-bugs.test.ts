/**
 * Translation bugs other gateways' users reported (claude-code-router, LiteLLM, claude-code-proxy, new-api and the
 * like), each replayed through Switchboard with the official SDKs against a mock OpenAI-compatible upstream: the
 * upstream report is named in each test, and the test asserts what the user would have seen.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-other-gateways-1';
let upstream: MockUpstream;
let gateway: TestGateway;
let anthropic: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream(() => json({}));
  gateway = startGateway({
    keys: [{ key: KEY, name: 'team' }],
    channels: [{ name: 'chat', type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { m: 'up-model' } }],
  });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: KEY, maxRetries: 0 });
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
