/**
 * @module test/unit/formats/openai-chat/response-from-hub
 * Hub Message → chat.completion (table rules + every recorded Anthropic response), and gateway errors in OpenAI's
 * envelope, checked through the official `openai` SDK (its own client over a fake fetch: no network).
 */
import { describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import { GatewayError, type AnthropicErrorType } from '../../../../src/errors.ts';
import { chatErrorBody, chatErrorBodyFromHub, chatStreamErrorEvent } from '../../../../src/formats/openai-chat/error-body.ts';
import { hubResponseToChat } from '../../../../src/formats/openai-chat/response-from-hub.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { Message } from '../../../../src/hub/types.ts';
import { listFixtures, readFixture } from '../../../helpers/fixtures.ts';

const ctx = (): TranslateContext => ({ requestedModel: 'my-gpt', upstreamModel: 'claude-sonnet-4-5', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });
const NOW = 1_700_000_000_123;

function message(content: Message['content'], extra: Partial<Message> = {}): Message {
  return {
    id: 'msg_01ABC', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content,
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 5 }, ...extra,
  };
}

/** The official SDK, answering every request with `respond()`. */
function sdk(respond: () => Response): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: 'http://switchboard.test/v1', maxRetries: 0, fetch: async () => respond() });
}

describe('hubResponseToChat', () => {
  test('envelope: id from the message id, object, created, requested model, one choice', () => {
    const out = hubResponseToChat(message([{ type: 'text', text: 'Hi' }]), ctx(), NOW);
    expect(out).toEqual({
      id: 'chatcmpl-01ABC',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'my-gpt',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });

  const contentCases: Array<{ name: string; content: Message['content']; message: Record<string, unknown>; dropped?: string[] }> = [
    { name: 'text blocks are joined without separators', content: [{ type: 'text', text: 'Hello, ' }, { type: 'text', text: 'world' }], message: { content: 'Hello, world' } },
    {
      name: 'no text → content null',
      content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }],
      message: { content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    },
    { name: 'empty content → content null', content: [], message: { content: null } },
    {
      name: 'tool_use → tool_calls with JSON arguments',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', days: [1, 2] } },
        { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
      ],
      message: {
        content: 'Let me check.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":[1,2]}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      },
    },
    {
      name: 'thinking never enters content; its text is reasoning_content',
      content: [{ type: 'thinking', thinking: 'Hmm. ', signature: 'sig' }, { type: 'thinking', thinking: 'Yes.', signature: 'sig' }, { type: 'text', text: 'Answer' }],
      message: { content: 'Answer', reasoning_content: 'Hmm. Yes.' },
    },
    { name: 'redacted thinking is omitted', content: [{ type: 'redacted_thinking', data: 'xxx' }, { type: 'text', text: 'A' }], message: { content: 'A' } },
    {
      name: 'server-tool blocks are omitted and noted; citations noted',
      content: [
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'q' } },
        { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
        { type: 'text', text: 'Found it.', citations: [{ type: 'web_search_result_location', url: 'https://x' }] },
      ],
      message: { content: 'Found it.' },
      dropped: ['content.server_tool_use (no Chat Completions equivalent)', 'content.web_search_tool_result (no Chat Completions equivalent)', 'citations'],
    },
  ];
  for (const c of contentCases) {
    test(c.name, () => {
      const context = ctx();
      const out = hubResponseToChat(message(c.content), context, NOW);
      expect(out.choices[0].message).toEqual({ role: 'assistant', refusal: null, ...c.message } as never);
      expect(context.dropped).toEqual(c.dropped ?? []);
    });
  }

  test.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['pause_turn', 'stop'], [null, 'stop'], ['something_new', 'stop'],
  ] as const)('stop_reason %p → finish_reason %p', (stop, finish) => {
    expect(hubResponseToChat(message([], { stop_reason: stop as Message['stop_reason'] }), ctx(), NOW).choices[0].finish_reason).toBe(finish);
  });

  test.each([
    ['plain', { input_tokens: 100, output_tokens: 20 }, { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 0 } }],
    [
      'cache reads and writes count as prompt tokens; reads are cached_tokens',
      { input_tokens: 10, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200, output_tokens: 7 },
      { prompt_tokens: 1210, completion_tokens: 7, total_tokens: 1217, prompt_tokens_details: { cached_tokens: 1000 } },
    ],
    ['null cache fields', { input_tokens: 3, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 1 }, { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } }],
    [
      'thinking tokens → reasoning_tokens',
      { input_tokens: 1, output_tokens: 50, output_tokens_details: { thinking_tokens: 30 } },
      { prompt_tokens: 1, completion_tokens: 50, total_tokens: 51, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 30 } },
    ],
  ])('usage: %s', (_name, usage, expected) => {
    expect(hubResponseToChat(message([], { usage }), ctx(), NOW).usage).toEqual(expected);
  });

  test('id without the msg_ prefix is kept whole', () => {
    expect(hubResponseToChat(message([], { id: '0a1b2c' }), ctx(), NOW).id).toBe('chatcmpl-0a1b2c');
  });
});

describe('hubResponseToChat: recorded Anthropic responses, read back by the openai SDK', () => {
  const files = listFixtures('anthropic').filter((f) => /\/response-.*\.json$/.test(f));
  test('there are recordings', () => expect(files.length).toBeGreaterThan(3));

  for (const file of files) {
    test(file, async () => {
      const msg = JSON.parse(readFixture(file)) as Message;
      const context = ctx();
      const body = hubResponseToChat(msg, context, NOW);
      const completion = await sdk(() => Response.json(body)).chat.completions.create({ model: 'my-gpt', messages: [{ role: 'user', content: 'x' }] });

      const blocks = msg.content as Array<Record<string, any>>;
      const texts = blocks.filter((b) => b.type === 'text').map((b) => b.text as string);
      const tools = blocks.filter((b) => b.type === 'tool_use');
      const thinking = blocks.filter((b) => b.type === 'thinking').map((b) => b.thinking as string).join('');
      const choice = completion.choices[0];

      expect(completion.id).toMatch(/^chatcmpl-/);
      expect(completion.object).toBe('chat.completion');
      expect(completion.model).toBe('my-gpt');
      expect(completion.choices).toHaveLength(1);
      expect(choice.message.role).toBe('assistant');
      expect(choice.message.content).toBe(texts.length ? texts.join('') : null);
      expect((choice.message.tool_calls ?? []).map((t) => t.type === 'function' && [t.id, t.function.name, JSON.parse(t.function.arguments)]))
        .toEqual(tools.map((t) => [t.id, t.name, t.input]));
      expect((choice.message as { reasoning_content?: string }).reasoning_content).toBe(thinking || undefined);
      expect(choice.finish_reason).toBe(msg.stop_reason === 'tool_use' ? 'tool_calls' : 'stop');
      const u = msg.usage;
      const prompt = u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
      expect(completion.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: u.output_tokens, total_tokens: prompt + u.output_tokens });
      // server tools and citations are the only things that do not carry across
      for (const item of context.dropped) expect(item).toMatch(/^(citations|content\.(server_tool_use|web_search_tool_result) \(no Chat Completions equivalent\))$/);
    });
  }
});

describe('chatErrorBody', () => {
  const cases: Array<[number, AnthropicErrorType, string, string | null]> = [
    [400, 'invalid_request_error', 'invalid_request_error', null],
    [401, 'authentication_error', 'authentication_error', 'invalid_api_key'],
    [403, 'permission_error', 'permission_error', null],
    [404, 'not_found_error', 'not_found_error', null],
    [413, 'request_too_large', 'invalid_request_error', 'request_too_large'],
    [429, 'rate_limit_error', 'rate_limit_error', 'rate_limit_exceeded'],
    [500, 'api_error', 'server_error', null],
    [504, 'timeout_error', 'server_error', 'timeout'],
    [529, 'overloaded_error', 'server_error', 'overloaded'],
  ];
  for (const [status, anthropicType, type, code] of cases) {
    test(`${anthropicType} → type ${type}, code ${code}; the SDK parses it`, async () => {
      const err = new GatewayError(status, anthropicType, 'Something went wrong');
      const body = chatErrorBody(err);
      expect(body).toEqual({ error: { message: 'Something went wrong', type, param: null, code } });

      const thrown = await sdk(() => Response.json(body, { status })).chat.completions
        .create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(OpenAI.APIError);
      const apiError = thrown as InstanceType<typeof OpenAI.APIError>;
      expect(apiError.status).toBe(status);
      expect(apiError.message).toBe(`${status} Something went wrong`);
      expect(apiError.type).toBe(type);
      expect(apiError.code).toBe(code);
    });
  }

  test('param and code set on the GatewayError win', () => {
    const err = new GatewayError(400, 'invalid_request_error', 'messages.0.content: bad', { param: 'messages.0.content', code: 'unsupported_value' });
    expect(chatErrorBody(err)).toEqual({ error: { message: 'messages.0.content: bad', type: 'invalid_request_error', param: 'messages.0.content', code: 'unsupported_value' } });
  });

  test('the SDK maps statuses to its error classes', async () => {
    const make = (status: number) => sdk(() => Response.json(chatErrorBody(new GatewayError(status, undefined, 'x')), { status }))
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(await make(400)).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await make(401)).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(await make(429)).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await make(500)).toBeInstanceOf(OpenAI.InternalServerError);
  });

  test('hub stream error payloads; unknown types read as server_error', () => {
    expect(chatErrorBodyFromHub({ type: 'overloaded_error', message: 'Overloaded' })).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' } });
    expect(chatErrorBodyFromHub({ type: 'brand_new_error', message: 'x' })).toEqual({ error: { message: 'x', type: 'server_error', param: null, code: null } });
    expect(chatErrorBodyFromHub({ type: 'toString', message: 'x' }).error.type).toBe('server_error');
  });

  test('stream error event is one data line with the envelope', () => {
    const ev = chatStreamErrorEvent(new GatewayError(529, 'overloaded_error', 'Overloaded'));
    expect(ev.event).toBeUndefined();
    expect(JSON.parse(ev.data)).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' } });
  });
});
