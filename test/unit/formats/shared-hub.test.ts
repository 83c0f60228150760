/**
 * A plain Messages body is used as the hub as it is (hub/schema.ts: isPlainMessageCreateParams), plain Chat messages are
 * kept as they are (openai-chat/request-to-hub.ts: arePlainMessages), and the same parsed body serves every attempt
 * of a request (fallback to another channel): no converter may change it. Checked by translating deep-frozen bodies,
 * Messages for every provider preset and for the stream-start estimate, Chat Completions for an Anthropic channel.
 */
import { describe, expect, test } from 'bun:test';
import { FORMATS } from '../../../src/formats/index.ts';
import type { TranslateContext } from '../../../src/formats/types.ts';
import { PRESETS, resolveQuirks } from '../../../src/channels/openai/presets.ts';
import { isPlainMessageCreateParams } from '../../../src/hub/schema.ts';
import { estimateInputTokens } from '../../../src/accounting/estimate-tokens.ts';
import { requestBody } from '../../../bench/payloads.ts';

const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d4948445200000010000000100802000000', 'hex'), Buffer.alloc(64, 1)]).toString('base64');
const rich = () => ({
  model: 'claude-sonnet-5-5', max_tokens: 128000, stream: true, top_k: 5, temperature: 0.2, stop_sequences: ['END'],
  system: [{ type: 'text', text: 'billing line' }, { type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [
      { type: 'text', text: '<system-reminder>env</system-reminder>' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a text document' }, title: 'notes' },
      { type: 'text', text: 'Fix the bug', cache_control: { type: 'ephemeral' } },
    ] },
    { role: 'assistant', content: [
      { type: 'thinking', thinking: 'Let me look.', signature: 'sig' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Reading the file.' },
      { type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/a.ts', nested: { list: [1, { deep: true }] } } },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'text', text: '1\tconst a = 1;' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] },
      { type: 'tool_result', tool_use_id: 'toolu_02', is_error: true, content: 'boom' },
      { type: 'text', text: 'go on' },
    ] },
    { role: 'system', content: 'a mid-conversation system turn' },
  ],
  tools: [
    { name: 'Read', description: 'Reads a file', input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', additionalProperties: false, properties: { file_path: { type: 'string' }, mode: { const: 'x' }, n: { type: ['integer', 'null'] } }, required: ['file_path'] } },
    { name: 'Later', description: 'deferred', input_schema: { type: 'object' }, defer_loading: true },
    { type: 'web_search_20250305', name: 'web_search', max_uses: 2 },
  ],
  tool_choice: { type: 'auto', disable_parallel_tool_use: true },
  thinking: { type: 'adaptive', display: 'omitted' }, output_config: { effort: 'high' },
  metadata: { user_id: '{"device_id":"d","session_id":"s"}' }, context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
});

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object') { Object.freeze(x); for (const v of Object.values(x)) deepFreeze(v); }
  return x;
}

const ctx = (): TranslateContext => ({ requestedModel: 'm', upstreamModel: 'up-model', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });
const bodies: Record<string, () => Record<string, unknown>> = {
  'Claude Code shapes': rich,
  'the bench conversation': () => JSON.parse(requestBody('anthropic', 'conversation', 'm', true)),
};

describe('converters leave a plain hub as they found it', () => {
  for (const [name, make] of Object.entries(bodies)) {
    test(`${name}: every provider preset, and the estimate`, () => {
      const frozen = deepFreeze(make());
      expect(isPlainMessageCreateParams(frozen)).toBe(true);
      for (const provider of Object.keys(PRESETS)) {
        const quirks = resolveQuirks(provider, undefined);
        const want = (() => { const c = ctx(); return JSON.stringify(FORMATS['openai-chat'].requestFromHub(FORMATS.anthropic.requestToHub(make(), c), c, quirks)); })();
        const c = ctx();
        const got = JSON.stringify(FORMATS['openai-chat'].requestFromHub(FORMATS.anthropic.requestToHub(frozen, c), c, quirks));
        expect(got).toBe(want);
      }
      expect(estimateInputTokens(frozen as never, { fast: true, fromJson: true })).toBe(estimateInputTokens(make() as never, { fast: true, fromJson: true }));
    });
  }
});

describe('converters leave plain Chat messages as they found them', () => {
  const chat = () => JSON.parse(requestBody('openai', 'conversation', 'm', true));
  const codex = () => ({
    model: 'gpt-5', stream: true, reasoning_effort: 'high', parallel_tool_calls: false, tool_choice: 'auto',
    tools: [{ type: 'function', function: { name: 'shell', parameters: { type: 'object', properties: { command: { type: 'array' } } } } }],
    messages: [
      { role: 'developer', content: [{ type: 'text', text: 'sandbox', cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'functions.shell:0', type: 'function', function: { name: 'shell', arguments: '{"command":["ls"]}' } }] },
      { role: 'tool', tool_call_id: 'functions.shell:0', content: [{ type: 'text', text: 'a.ts', cache_control: { type: 'ephemeral' } }] },
      { role: 'tool', tool_call_id: 'functions.shell:0', content: 'again' },
      { role: 'user', content: 'go on' },
    ],
  });
  for (const [name, make] of Object.entries({ 'the bench conversation': chat, 'Codex shapes': codex })) {
    test(name, () => {
      const frozen = deepFreeze(make());
      const c1 = ctx(), c2 = ctx();
      const want = JSON.stringify(FORMATS.anthropic.requestFromHub(FORMATS['openai-chat'].requestToHub(make(), c1), c1, undefined as never));
      const got = JSON.stringify(FORMATS.anthropic.requestFromHub(FORMATS['openai-chat'].requestToHub(frozen, c2), c2, undefined as never));
      expect(got).toBe(want);
      expect(c2.dropped).toEqual(c1.dropped);
    });
  }
});
