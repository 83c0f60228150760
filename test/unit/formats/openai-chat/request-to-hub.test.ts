/**
 * @module test/unit/formats/openai-chat/request-to-hub
 * Chat Completions request → hub (Anthropic Messages request): one table row per rule.
 */
import { describe, expect, test } from 'bun:test';
import { GatewayError } from '../../../../src/errors.ts';
import {
  chatRequestToHub, JSON_OBJECT_INSTRUCTION, parseChatRequest, THINKING_BUDGETS, type ChatRequestToHubOptions,
} from '../../../../src/formats/openai-chat/request-to-hub.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { MessageCreateParams } from '../../../../src/hub/types.ts';

const ctx = (): TranslateContext => ({ requestedModel: 'gpt-4o', upstreamModel: 'claude-upstream', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });
const OPTS: ChatRequestToHubOptions = { defaultMaxTokens: 4096, thinkingStyle: () => 'adaptive' };
const USER = [{ role: 'user', content: 'Hi' }];

function convert(body: Record<string, unknown>, opts: Partial<ChatRequestToHubOptions> = {}): { hub: MessageCreateParams; dropped: string[] } {
  const c = ctx();
  const hub = chatRequestToHub({ model: 'gpt-4o', messages: USER, ...body }, c, { ...OPTS, ...opts });
  return { hub, dropped: c.dropped };
}

function convertError(body: unknown, opts: Partial<ChatRequestToHubOptions> = {}): GatewayError {
  try {
    chatRequestToHub(body, ctx(), { ...OPTS, ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return e as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

const PNG = 'iVBORw0KGgo=';
const PDF = 'JVBERi0xLjQK';
const b64 = (s: string) => btoa(s);

describe('chatRequestToHub: messages', () => {
  const cases: Array<{ name: string; messages: unknown[]; expected: Partial<MessageCreateParams>; dropped?: string[] }> = [
    {
      name: 'user string content stays a string',
      messages: [{ role: 'user', content: 'Hello' }],
      expected: { messages: [{ role: 'user', content: 'Hello' }] },
    },
    {
      name: 'a leading system message becomes `system`',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      expected: { system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] },
    },
    {
      name: 'system and developer messages anywhere are hoisted in order, joined by blank lines',
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }] },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'system', content: 'C' },
        { role: 'user', content: 'Again' },
      ],
      expected: {
        system: 'A\n\nB\n\nC',
        messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: [{ type: 'text', text: 'Hello' }] }, { role: 'user', content: 'Again' }],
      },
    },
    {
      name: 'system parts with cache_control keep their blocks',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }] },
        { role: 'developer', content: 'Rules' },
        { role: 'user', content: 'Hi' },
      ],
      expected: { system: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Rules' }] },
    },
    {
      name: 'user text parts → text blocks; empty parts dropped',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: '' }, { type: 'text', text: 'two' }] }],
      expected: { messages: [{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] }] },
    },
    {
      name: 'image data URL → base64 image source (image/jpg normalised)',
      messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'image_url', image_url: { url: `data:image/jpg;base64,${PNG}`, detail: 'auto' } },
      ] }],
      expected: { messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG } },
      ] }] },
    },
    {
      name: 'image http(s) URL → url source; a detail other than auto is noted',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } }] }],
      expected: { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }] },
      dropped: ['image_url.detail'],
    },
    {
      name: 'file part: PDF data URL → base64 document titled with the filename',
      messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'paper.pdf', file_data: `data:application/pdf;base64,${PDF}` } }] }],
      expected: { messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'paper.pdf' },
      ] }] },
    },
    {
      name: 'file part: raw base64 typed by the filename extension',
      messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.PDF', file_data: PDF } }] }],
      expected: { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'a.PDF' }] }] },
    },
    {
      name: 'file part: text → plain-text document (decoded, UTF-8)',
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: `data:text/markdown;base64,${Buffer.from('# Grüße').toString('base64')}` } }] }],
      expected: { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: '# Grüße' } }] }] },
    },
    {
      name: 'file part: image → image block',
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: `data:image/webp;base64,${PNG}` } }] }],
      expected: { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/webp', data: PNG } }] }] },
    },
    {
      name: 'assistant content + tool_calls → text + tool_use (arguments parsed; "" means no arguments)',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: 'Checking.', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'now', arguments: '' } },
        ] },
      ],
      expected: { messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'now', input: {} },
        ] },
      ] },
    },
    {
      name: 'assistant with null/empty content and tool calls has no empty text block',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c', content: 'ok' },
      ],
      expected: { messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c', content: 'ok' }] },
      ] },
    },
    {
      name: 'consecutive tool messages merge into one user turn, and the next user message joins it',
      messages: [
        { role: 'user', content: 'Go' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } },
        ] },
        { role: 'tool', tool_call_id: 'a', content: 'A' },
        { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'B' }] },
        { role: 'user', content: 'Thanks, now summarise' },
      ],
      expected: { messages: [
        { role: 'user', content: 'Go' },
        { role: 'assistant', content: [
          { type: 'tool_use', id: 'a', name: 'f', input: {} },
          { type: 'tool_use', id: 'b', name: 'g', input: {} },
        ] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'a', content: 'A' },
          { type: 'tool_result', tool_use_id: 'b', content: [{ type: 'text', text: 'B' }] },
          { type: 'text', text: 'Thanks, now summarise' },
        ] },
      ] },
    },
    {
      name: 'consecutive user messages merge; tool results move ahead of text in a merged turn',
      messages: [
        { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'user', content: 'note first' },
        { role: 'tool', tool_call_id: 'a', content: '' },
      ],
      expected: { messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a' }, { type: 'text', text: 'note first' }] },
      ] },
    },
    {
      name: 'consecutive assistant messages merge',
      messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: [{ type: 'text', text: 'b' }] }],
      expected: { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] },
    },
    {
      name: 'tool call ids outside [a-zA-Z0-9_-] are rewritten the same way on both ends',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'functions.f:0', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'functions.f:0', content: 'r' },
      ],
      expected: { messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'functions_f_0', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'functions_f_0', content: 'r' }] },
      ] },
    },
    {
      name: 'ids that would become the same once rewritten stay apart (each pair its own), and a valid id they collide with too',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: ['call.1', 'call:1', 'call_1'].map((id) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } })) },
        { role: 'tool', tool_call_id: 'call:1', content: 'b' },
        { role: 'tool', tool_call_id: 'call.1', content: 'a' },
        { role: 'tool', tool_call_id: 'call_1', content: 'c' },
      ],
      expected: { messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: ['call_1', 'call_1_2', 'call_1_3'].map((id) => ({ type: 'tool_use', id, name: 'f', input: {} })) },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1_2', content: 'b' }, { type: 'tool_result', tool_use_id: 'call_1', content: 'a' }, { type: 'tool_result', tool_use_id: 'call_1_3', content: 'c' }] },
      ] },
    },
    {
      name: 'a user message with empty content is not sent (Anthropic refuses an empty turn)',
      messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'a' }, { role: 'user', content: '' }, { role: 'user', content: 'y' }],
      expected: { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'text', text: 'a' }] }, { role: 'user', content: 'y' }] },
    },
    {
      name: 'legacy assistant function_call + role function → tool_use / tool_result with a shared id',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"q":1}' } },
        { role: 'function', name: 'lookup', content: 'found' },
      ],
      expected: { messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_legacy_1', name: 'lookup', input: { q: 1 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_legacy_1', content: 'found' }] },
      ] },
    },
    {
      name: 'assistant refusal parts and the refusal field become text',
      messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] }, { role: 'assistant', content: null, refusal: 'Still no.' }],
      expected: { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'text', text: 'No.' }, { type: 'text', text: 'Still no.' }] }] },
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const { hub, dropped } = convert({ messages: c.messages });
      expect(hub).toMatchObject(c.expected as Record<string, unknown>);
      if (c.expected.messages) expect(hub.messages).toEqual(c.expected.messages);
      if (c.expected.system !== undefined) expect(hub.system).toEqual(c.expected.system);
      expect(dropped).toEqual(c.dropped ?? []);
    });
  }
});

describe('chatRequestToHub: parameters', () => {
  const tool = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  const hubTool = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

  const cases: Array<{ name: string; body: Record<string, unknown>; expected: Record<string, unknown>; absent?: string[]; dropped?: string[]; opts?: Partial<ChatRequestToHubOptions> }> = [
    { name: 'model is the upstream model; max_tokens defaults', body: {}, expected: { model: 'claude-upstream', max_tokens: 4096 }, absent: ['stream', 'temperature', 'top_p', 'tools', 'thinking', 'system'] },
    { name: 'max_tokens', body: { max_tokens: 100 }, expected: { max_tokens: 100 } },
    { name: 'max_completion_tokens alone', body: { max_completion_tokens: 200 }, expected: { max_tokens: 200 } },
    { name: 'stop string → stop_sequences', body: { stop: 'END' }, expected: { stop_sequences: ['END'] } },
    { name: 'stop array → stop_sequences', body: { stop: ['a', 'b'] }, expected: { stop_sequences: ['a', 'b'] } },
    { name: 'whitespace-only stop sequences are dropped and noted', body: { stop: ['\n', 'END'] }, expected: { stop_sequences: ['END'] }, dropped: ['stop (whitespace-only sequences)'] },
    { name: 'stream: true', body: { stream: true }, expected: { stream: true } },
    { name: 'temperature within 0–1 as is', body: { temperature: 0.3 }, expected: { temperature: 0.3 } },
    { name: 'temperature above 1 is clamped to 1 and noted', body: { temperature: 1.7 }, expected: { temperature: 1 }, dropped: ['temperature (clamped to 1)'] },
    { name: 'top_p below 1 kept', body: { top_p: 0.9 }, expected: { top_p: 0.9 } },
    { name: 'top_k (vLLM\'s and OpenRouter\'s, not OpenAI\'s) is Anthropic\'s own', body: { top_k: 40, temperature: 0.5 }, expected: { top_k: 40, temperature: 0.5 } },
    { name: 'top_p = 1 (the default) is not sent', body: { top_p: 1, temperature: 0.5 }, expected: { temperature: 0.5 }, absent: ['top_p'] },
    { name: 'temperature and top_p < 1: temperature wins, top_p noted', body: { top_p: 0.8, temperature: 0.5 }, expected: { temperature: 0.5 }, absent: ['top_p'], dropped: ['top_p (Claude takes temperature or top_p, not both)'] },
    { name: 'user → metadata.user_id', body: { user: 'u-42' }, expected: { metadata: { user_id: 'u-42' } } },
    { name: 'a user longer than Anthropic takes (256) is hashed to fit, the same way every time', body: { user: 'u'.repeat(300) }, expected: { metadata: { user_id: new Bun.CryptoHasher('sha256').update('u'.repeat(300)).digest('hex') } } },
    { name: 'a user of 256 characters is kept', body: { user: 'u'.repeat(256) }, expected: { metadata: { user_id: 'u'.repeat(256) } } },
    { name: 'safety_identifier → metadata.user_id when no user', body: { safety_identifier: 'hash' }, expected: { metadata: { user_id: 'hash' } } },
    { name: 'function tools → Anthropic tools', body: { tools: [tool] }, expected: { tools: [hubTool] }, absent: ['tool_choice'] },
    {
      name: 'a tool without parameters gets an empty object schema; strict is kept',
      body: { tools: [{ type: 'function', function: { name: 'now', strict: true } }, { type: 'function', function: { name: 'x', parameters: { properties: {} } } }] },
      expected: { tools: [{ name: 'now', input_schema: { type: 'object', properties: {} }, strict: true }, { name: 'x', input_schema: { type: 'object', properties: {} } }] },
    },
    { name: 'tool_choice auto', body: { tools: [tool], tool_choice: 'auto' }, expected: { tool_choice: { type: 'auto' } } },
    { name: 'tool_choice required → any', body: { tools: [tool], tool_choice: 'required' }, expected: { tool_choice: { type: 'any' } } },
    { name: 'tool_choice none', body: { tools: [tool], tool_choice: 'none' }, expected: { tool_choice: { type: 'none' } } },
    { name: 'tool_choice function → tool', body: { tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, expected: { tool_choice: { type: 'tool', name: 'get_weather' } } },
    {
      name: 'tool_choice allowed_tools → only those tools offered, mode required → any',
      body: {
        tools: [tool, { type: 'function', function: { name: 'other' } }],
        tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'get_weather' } }] } },
      },
      expected: { tools: [hubTool], tool_choice: { type: 'any' } },
    },
    {
      name: 'tool_choice allowed_tools, mode auto → only those tools offered, auto',
      body: {
        tools: [tool, { type: 'function', function: { name: 'other' } }],
        tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'get_weather' } }] } },
      },
      expected: { tools: [hubTool], tool_choice: { type: 'auto' } },
    },
    { name: 'parallel_tool_calls false → disable_parallel_tool_use on auto', body: { tools: [tool], parallel_tool_calls: false }, expected: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } } },
    { name: 'parallel_tool_calls false with required', body: { tools: [tool], tool_choice: 'required', parallel_tool_calls: false }, expected: { tool_choice: { type: 'any', disable_parallel_tool_use: true } } },
    {
      name: 'response_format json_schema → output_config.format',
      body: { response_format: { type: 'json_schema', json_schema: { name: 'r', strict: true, schema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'], additionalProperties: false } } } },
      expected: { output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'], additionalProperties: false } } } },
    },
    {
      name: 'response_format json_object → a system instruction, noted',
      body: { messages: [{ role: 'system', content: 'Be brief.' }, ...USER], response_format: { type: 'json_object' } },
      expected: { system: `Be brief.\n\n${JSON_OBJECT_INSTRUCTION}` },
      dropped: ['response_format.json_object (emulated with a system instruction)'],
    },
    {
      name: 'response_format json_schema without a schema → the JSON instruction, noted as what was sent',
      body: { response_format: { type: 'json_schema', json_schema: { name: 'anything' } } },
      expected: { system: JSON_OBJECT_INSTRUCTION }, absent: ['output_config'],
      dropped: ['response_format.json_schema (no schema: emulated with a system instruction)'],
    },
    { name: 'response_format text changes nothing', body: { response_format: { type: 'text' } }, expected: {}, absent: ['output_config', 'system'] },
    {
      name: 'tuning knobs without an Anthropic equivalent are dropped and noted',
      body: { logprobs: true, top_logprobs: 2, logit_bias: { '50256': -100 }, presence_penalty: 0.5, frequency_penalty: 0.1, seed: 7, verbosity: 'low', prediction: { type: 'content', content: 'x' }, audio: { voice: 'alloy', format: 'mp3' }, service_tier: 'flex' },
      expected: {},
      absent: ['audio', 'service_tier'],
      dropped: ['logprobs', 'top_logprobs', 'logit_bias', 'presence_penalty', 'frequency_penalty', 'seed', 'verbosity', 'prediction', 'audio', 'service_tier'],
    },
    {
      name: 'defaults and OpenAI-storage fields are dropped quietly',
      body: { logprobs: false, presence_penalty: 0, frequency_penalty: 0, n: 1, store: true, metadata: { a: 'b' }, prompt_cache_key: 'k', prompt_cache_retention: '24h', stream: true, stream_options: { include_usage: true }, service_tier: 'default', modalities: ['text'] },
      expected: {},
      absent: ['metadata', 'store', 'prompt_cache_key', 'prompt_cache_retention', 'stream_options', 'service_tier'],
    },
    {
      name: "an earlier answer's annotations (its sources' URLs) are dropped quietly: its text is sent",
      body: { messages: [{ role: 'user', content: 'News?' }, { role: 'assistant', content: 'Rain.', annotations: [{ type: 'url_citation', url_citation: { url: 'https://news.example/', title: 'N', start_index: 0, end_index: 5 } }] }, { role: 'user', content: 'More?' }] },
      expected: { messages: [{ role: 'user', content: 'News?' }, { role: 'assistant', content: [{ type: 'text', text: 'Rain.' }] }, { role: 'user', content: 'More?' }] },
    },
    {
      name: 'participant names (messages.*.name) are dropped and noted once',
      body: { messages: [{ role: 'system', name: 'ops', content: 'Be brief.' }, { role: 'user', name: 'alice', content: 'Hi' }, { role: 'assistant', name: 'bot', content: 'Yo' }, { role: 'user', name: 'bob', content: 'Hi' }] },
      expected: { system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: [{ type: 'text', text: 'Yo' }] }, { role: 'user', content: 'Hi' }] },
      dropped: ['messages.name (Anthropic has no participant names)'],
    },
    { name: 'unknown top-level keys are noted', body: { foo: 1, bar: 'x' }, expected: {}, dropped: ['foo', 'bar'], absent: ['foo', 'bar'] },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const { hub, dropped } = convert(c.body, c.opts);
      expect(hub).toMatchObject(c.expected);
      for (const key of c.absent ?? []) expect(hub).not.toHaveProperty(key);
      expect(dropped).toEqual(c.dropped ?? []);
    });
  }
});

describe('chatRequestToHub: reasoning_effort', () => {
  test('xhigh on a model without it (Claude 4.6) is capped to high and reported; 4.7 and 5.x take it', () => {
    for (const [model, effort] of [['claude-sonnet-4-6', 'high'], ['claude-opus-4-6-20260101', 'high'], ['claude-opus-4-7', 'xhigh'], ['claude-sonnet-5-5', 'xhigh']] as const) {
      const c = { ...ctx(), upstreamModel: model };
      const hub = chatRequestToHub({ model: 'gpt-4o', messages: USER, reasoning_effort: 'xhigh' }, c, { ...OPTS, thinkingStyle: () => 'adaptive' });
      expect({ model, effort: hub.output_config?.effort }).toEqual({ model, effort });
      expect(c.dropped).toEqual(effort === 'high' ? [`reasoning_effort=xhigh (capped to high: ${model} takes low, medium, high, max)`] : []);
    }
  });

  const adaptive = { thinkingStyle: () => 'adaptive' as const };
  const budget = { thinkingStyle: () => 'budget' as const };
  const none = { thinkingStyle: () => 'none' as const };
  const toolLoop = [
    { role: 'user', content: 'x' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'a', content: 'r' },
  ];
  const tools = [{ type: 'function', function: { name: 'f' } }];

  const cases: Array<{ name: string; body: Record<string, unknown>; opts: Partial<ChatRequestToHubOptions>; expected: Record<string, unknown>; absent?: string[]; dropped?: string[] }> = [
    { name: 'adaptive: medium → adaptive thinking + effort', body: { reasoning_effort: 'medium' }, opts: adaptive, expected: { thinking: { type: 'adaptive' }, output_config: { effort: 'medium' }, max_tokens: 4096 } },
    { name: 'adaptive: minimal → low', body: { reasoning_effort: 'minimal' }, opts: adaptive, expected: { output_config: { effort: 'low' } } },
    { name: 'adaptive: xhigh passes through', body: { reasoning_effort: 'xhigh' }, opts: adaptive, expected: { output_config: { effort: 'xhigh' } } },
    {
      name: 'adaptive: effort and structured output share output_config',
      body: { reasoning_effort: 'high', response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' } } } },
      opts: adaptive,
      expected: { output_config: { effort: 'high', format: { type: 'json_schema', schema: { type: 'object' } } } },
    },
    { name: 'none effort sends no thinking', body: { reasoning_effort: 'none' }, opts: adaptive, expected: {}, absent: ['thinking', 'output_config'] },
    { name: 'budget: low → 2048 budget, max_tokens above it kept', body: { reasoning_effort: 'low', max_tokens: 5000 }, opts: budget, expected: { thinking: { type: 'enabled', budget_tokens: THINKING_BUDGETS.low }, max_tokens: 5000 }, absent: ['output_config'] },
    { name: 'budget: minimal → 1024', body: { reasoning_effort: 'minimal', max_tokens: 2000 }, opts: budget, expected: { thinking: { type: 'enabled', budget_tokens: 1024 } } },
    {
      name: 'budget: max_tokens ≤ budget is raised to budget + min(max_tokens, 4096)',
      body: { reasoning_effort: 'medium', max_tokens: 1000 }, opts: budget,
      expected: { thinking: { type: 'enabled', budget_tokens: 8192 }, max_tokens: 9192 },
      dropped: ['max_tokens (raised to 9192 to fit the thinking budget)'],
    },
    {
      name: 'budget: high with the default max_tokens',
      body: { reasoning_effort: 'high' }, opts: budget,
      expected: { thinking: { type: 'enabled', budget_tokens: 24576 }, max_tokens: 28672 },
      dropped: ['max_tokens (raised to 28672 to fit the thinking budget)'],
    },
    {
      name: 'budget: xhigh is capped to high',
      body: { reasoning_effort: 'xhigh', max_tokens: 64000 }, opts: budget,
      expected: { thinking: { type: 'enabled', budget_tokens: 24576 }, max_tokens: 64000 },
      dropped: ['reasoning_effort=xhigh (capped to high)'],
    },
    // Anthropic refuses thinking of either kind with a tool_choice that forces tool use
    ...[budget, adaptive].flatMap((opts) => [
      { tool_choice: 'required', hub: { type: 'any' } },
      { tool_choice: { type: 'function', function: { name: 'f' } }, hub: { type: 'tool', name: 'f' } },
      { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'f' } }] } }, hub: { type: 'any' } },
    ].map((c) => ({
      name: `${opts.thinkingStyle()}: a forced tool choice (${JSON.stringify(c.tool_choice).slice(0, 40)}) leaves thinking off`,
      body: { reasoning_effort: 'low', tools, tool_choice: c.tool_choice }, opts,
      expected: { tool_choice: c.hub }, absent: ['thinking', 'output_config'],
      dropped: ['reasoning_effort (thinking cannot be combined with a forced tool_choice)'],
    }))),
    { name: 'adaptive: tool_choice auto keeps thinking', body: { reasoning_effort: 'low', tools, tool_choice: 'auto' }, opts: adaptive, expected: { thinking: { type: 'adaptive' }, tool_choice: { type: 'auto' } } },
    { name: 'budget: tool_choice none keeps thinking', body: { reasoning_effort: 'low', tools, tool_choice: 'none', max_tokens: 5000 }, opts: budget, expected: { thinking: { type: 'enabled', budget_tokens: 2048 }, tool_choice: { type: 'none' } } },
    {
      name: 'model without thinking control: dropped and noted',
      body: { reasoning_effort: 'high' }, opts: none, expected: {}, absent: ['thinking', 'output_config'],
      dropped: ['reasoning_effort (model has no thinking control)'],
    },
    {
      name: 'resuming a tool-use turn leaves thinking off (its signed thinking blocks cannot come back)',
      body: { reasoning_effort: 'high', messages: toolLoop, tools }, opts: adaptive, expected: {}, absent: ['thinking', 'output_config'],
      dropped: ['reasoning_effort (thinking cannot resume a tool-use turn without its thinking blocks)'],
    },
    {
      name: 'a finished tool loop followed by a user message allows thinking again',
      body: { reasoning_effort: 'high', messages: [...toolLoop, { role: 'assistant', content: 'done' }, { role: 'user', content: 'next' }], tools }, opts: adaptive,
      expected: { thinking: { type: 'adaptive' } },
    },
    {
      name: 'thinking drops temperature ≠ 1',
      body: { reasoning_effort: 'low', temperature: 0.2 }, opts: adaptive,
      expected: { thinking: { type: 'adaptive' } }, absent: ['temperature'],
      dropped: ['temperature (not supported with thinking)'],
    },
    {
      name: 'thinking drops top_p < 0.95',
      body: { reasoning_effort: 'low', top_p: 0.5 }, opts: budget,
      expected: { thinking: { type: 'enabled', budget_tokens: 2048 } }, absent: ['top_p'],
      dropped: ['top_p (below 0.95 is not supported with thinking)'],
    },
    {
      name: 'thinking drops top_k',
      body: { reasoning_effort: 'low', top_k: 5 }, opts: adaptive,
      expected: { thinking: { type: 'adaptive' } }, absent: ['top_k'],
      dropped: ['top_k (not supported with thinking)'],
    },
    { name: 'thinking keeps temperature 1', body: { reasoning_effort: 'low', temperature: 1 }, opts: adaptive, expected: { temperature: 1 } },
    { name: 'thinking keeps top_p ≥ 0.95', body: { reasoning_effort: 'low', top_p: 0.97 }, opts: adaptive, expected: { top_p: 0.97 } },
    { name: 'thinkingStyle is asked about the upstream model', body: { reasoning_effort: 'low' }, opts: { thinkingStyle: (m) => (m === 'claude-upstream' ? 'adaptive' : 'none') }, expected: { thinking: { type: 'adaptive' } } },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const { hub, dropped } = convert(c.body, c.opts);
      expect(hub).toMatchObject(c.expected);
      for (const key of c.absent ?? []) expect(hub).not.toHaveProperty(key);
      expect(dropped).toEqual(c.dropped ?? []);
    });
  }
});

describe('chatRequestToHub: 400s name the field', () => {
  const msgs = (...m: unknown[]) => ({ model: 'gpt-4o', messages: m });
  const cases: Array<{ name: string; body: unknown; param: string | null; message: string | RegExp }> = [
    { name: 'body not an object', body: 'hi', param: null, message: /^Invalid type: Expected Object/ },
    { name: 'model missing', body: { messages: USER }, param: 'model', message: 'model: Field required' },
    { name: 'model empty', body: { model: '', messages: USER }, param: 'model', message: 'model: must not be empty' },
    { name: 'messages empty', body: { model: 'm', messages: [] }, param: 'messages', message: 'messages: must contain at least one message' },
    { name: 'only system messages', body: msgs({ role: 'system', content: 'x' }), param: 'messages', message: 'messages: must contain at least one user, assistant or tool message' },
    { name: 'content of the wrong type', body: msgs({ role: 'user', content: 5 }), param: 'messages.0.content', message: 'messages.0.content: Invalid type: Expected string or array' },
    { name: 'unknown role', body: msgs({ role: 'bot', content: 'x' }), param: 'messages.0.role', message: /^messages\.0\.role: Invalid type: Expected \("system" \| "developer"/ },
    { name: 'bad part inside content names the part', body: msgs({ role: 'user', content: [{ type: 'text', text: 'ok' }, { type: 'video' }] }), param: 'messages.0.content.1.type', message: /^messages\.0\.content\.1\.type: Invalid type/ },
    { name: 'missing image url', body: msgs({ role: 'user', content: [{ type: 'image_url', image_url: {} }] }), param: 'messages.0.content.0.image_url.url', message: 'messages.0.content.0.image_url.url: Field required' },
    { name: 'input_audio is unsupported', body: msgs({ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAA', format: 'wav' } }] }), param: 'messages.0.content.0', message: /^messages\.0\.content\.0: Audio input \(input_audio\) is not supported/ },
    { name: 'unsupported image type', body: msgs({ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/bmp;base64,${PNG}` } }] }), param: 'messages.0.content.0.image_url.url', message: /Unsupported image type image\/bmp/ },
    { name: 'non-base64 image data URL', body: msgs({ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/svg+xml,<svg/>' } }] }), param: 'messages.0.content.0.image_url.url', message: /must be base64-encoded/ },
    { name: 'image URL scheme', body: msgs({ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }), param: 'messages.0.content.0.image_url.url', message: /http\(s\) URL or a base64 data URL/ },
    { name: 'file_id cannot be read', body: msgs({ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }), param: 'messages.0.content.0.file.file_id', message: /OpenAI file storage/ },
    { name: 'file of unknown type', body: msgs({ role: 'user', content: [{ type: 'file', file: { file_data: 'AAAA', filename: 'x.bin' } }] }), param: 'messages.0.content.0.file.file_data', message: /Cannot tell the file type/ },
    { name: 'unsupported file type', body: msgs({ role: 'user', content: [{ type: 'file', file: { file_data: `data:application/zip;base64,${b64('PK')}` } }] }), param: 'messages.0.content.0.file.file_data', message: /Unsupported file type application\/zip/ },
    {
      name: 'invalid tool-call JSON',
      body: msgs({ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'b', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }),
      param: 'messages.1.tool_calls.1.function.arguments', message: /^messages\.1\.tool_calls\.1\.function\.arguments: Invalid JSON/,
    },
    {
      name: 'tool-call arguments that are not an object',
      body: msgs({ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '[1]' } }] }),
      param: 'messages.1.tool_calls.0.function.arguments', message: 'messages.1.tool_calls.0.function.arguments: Expected a JSON-encoded object',
    },
    { name: 'tool message without tool_call_id', body: msgs({ role: 'tool', content: 'x' }), param: 'messages.0.tool_call_id', message: 'messages.0.tool_call_id: Field required' },
    { name: 'function message without a function_call before it', body: msgs({ role: 'user', content: 'x' }, { role: 'function', name: 'f', content: 'r' }), param: 'messages.1', message: /must follow an assistant message with "function_call"/ },
    { name: 'n > 1', body: { ...msgs(...USER), n: 3 }, param: 'n', message: /^n: Only n=1 is supported/ },
    { name: 'temperature above 2', body: { ...msgs(...USER), temperature: 3 }, param: 'temperature', message: /^temperature: Invalid value/ },
    { name: 'max_tokens not an integer', body: { ...msgs(...USER), max_tokens: 1.5 }, param: 'max_tokens', message: /^max_tokens: Invalid integer/ },
    { name: 'stop of the wrong type', body: { ...msgs(...USER), stop: 5 }, param: 'stop', message: 'stop: Invalid type: Expected string or array of strings' },
    { name: 'unknown reasoning_effort', body: { ...msgs(...USER), reasoning_effort: 'extreme' }, param: 'reasoning_effort', message: /^reasoning_effort: Invalid type/ },
    { name: 'tool without a name', body: { ...msgs(...USER), tools: [{ type: 'function', function: { parameters: {} } }] }, param: 'tools.0.function.name', message: 'tools.0.function.name: Field required' },
    { name: 'custom tools', body: { ...msgs(...USER), tools: [{ type: 'custom', custom: { name: 'grammar' } }] }, param: 'tools.0', message: /Custom \(free-form\) tools are not supported/ },
    { name: 'legacy functions', body: { ...msgs(...USER), functions: [{ name: 'f' }] }, param: 'functions', message: /deprecated `functions`/ },
    { name: 'legacy function_call', body: { ...msgs(...USER), function_call: 'auto' }, param: 'function_call', message: /deprecated `function_call`/ },
    { name: 'audio output', body: { ...msgs(...USER), modalities: ['text', 'audio'] }, param: 'modalities', message: /Audio output is not supported/ },
    { name: 'web search options', body: { ...msgs(...USER), web_search_options: {} }, param: 'web_search_options', message: /Web search options are not supported/ },
    { name: 'bad tool_choice', body: { ...msgs(...USER), tool_choice: 'sometimes' }, param: 'tool_choice', message: 'tool_choice: Invalid type: Expected "none", "auto", "required" or a tool choice object' },
    {
      name: 'tool_choice naming a function not in tools',
      body: { ...msgs(...USER), tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } },
      param: 'tool_choice.function.name', message: 'tool_choice.function.name: no function in tools is named "g"',
    },
    {
      name: 'allowed_tools naming a function not in tools',
      body: { ...msgs(...USER), tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'g' } }] } } },
      param: 'tool_choice.allowed_tools.tools.1', message: 'tool_choice.allowed_tools.tools.1: no function in tools is named "g"',
    },
    { name: 'both max_tokens and max_completion_tokens', body: { ...msgs(...USER), max_tokens: 100, max_completion_tokens: 200 }, param: 'max_tokens', message: "max_tokens: Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported" },
    { name: 'stream_options without stream', body: { ...msgs(...USER), stream: false, stream_options: { include_usage: true } }, param: 'stream_options', message: "stream_options: The 'stream_options' parameter is only allowed when 'stream' is enabled" },
    { name: 'tool_choice without tools', body: { ...msgs(...USER), tool_choice: 'none' }, param: 'tool_choice', message: "tool_choice: 'tool_choice' is only allowed when 'tools' are specified" },
    { name: 'tool_choice with tools: null', body: { ...msgs(...USER), tools: null, tool_choice: 'auto' }, param: 'tool_choice', message: "tool_choice: 'tool_choice' is only allowed when 'tools' are specified" },
    { name: 'parallel_tool_calls with an empty tools list', body: { ...msgs(...USER), tools: [], parallel_tool_calls: true }, param: 'parallel_tool_calls', message: "parallel_tool_calls: 'parallel_tool_calls' is only allowed when 'tools' are specified" },
    {
      name: 'allowed_tools naming a tool that is not a function',
      body: { ...msgs(...USER), tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'custom', custom: { name: 'f' } }] } } },
      param: 'tool_choice.allowed_tools.tools.0', message: 'tool_choice.allowed_tools.tools.0: not a function tool of this request',
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const err = convertError(c.body);
      expect(err.status).toBe(400);
      expect(err.type).toBe('invalid_request_error');
      expect(err.param).toBe(c.param);
      if (typeof c.message === 'string') expect(err.message).toBe(c.message);
      else expect(err.message).toMatch(c.message);
    });
  }
});

describe('parseChatRequest', () => {
  test.each([
    [{ model: 'm', messages: USER }, { model: 'm', stream: false, includeUsage: false }],
    [{ model: 'm', messages: USER, stream: true }, { model: 'm', stream: true, includeUsage: false }],
    [{ model: 'm', messages: USER, stream: true, stream_options: { include_usage: true } }, { model: 'm', stream: true, includeUsage: true }],
    [{ model: 'm', messages: USER, stream: null, stream_options: null }, { model: 'm', stream: false, includeUsage: false }],
  ])('%j', (body, expected) => {
    expect(parseChatRequest(body)).toEqual(expected);
  });

  test.each([
    [{ model: 'm' }, 'messages: Field required'],
    [{ model: '', messages: USER }, 'model: must not be empty'],
    [{ model: 'm', messages: [] }, 'messages: must contain at least one message'],
    [{ model: 'm', messages: [{ content: 'x' }] }, 'messages.0.role: Field required'],
    [{ model: 'm', messages: USER, stream: 'yes' }, /^stream: Invalid type/],
    [{ model: 'm', messages: USER, stream_options: { include_usage: 1 } }, /^stream_options\.include_usage: Invalid type/],
  ])('rejects %j', (body, message) => {
    expect(() => parseChatRequest(body)).toThrow(message);
  });

  test('is light: content this module does not translate still passes (passthrough upstreams may take it)', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x/v.mp4' } }] }], n: 2 };
    expect(parseChatRequest(body)).toEqual({ model: 'm', stream: false, includeUsage: false });
    expect(() => chatRequestToHub(body, ctx(), OPTS)).toThrow(/^messages\.0\.content\.0\.type: Invalid type/);
  });

  test('does not mutate the body', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], extra: { a: 1 } };
    const copy = structuredClone(body);
    parseChatRequest(body);
    chatRequestToHub(body, ctx(), OPTS);
    expect(body).toEqual(copy);
  });
});
