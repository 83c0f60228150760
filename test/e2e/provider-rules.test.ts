/**
 * @module test/e2e/provider-rules
 * Anthropic SDK client → gateway (real HTTP) → `openai` channel with a provider preset → a mock of that provider that
 * ENFORCES one documented rule of it (answering 400/422 the way the provider does when the rule is broken) and
 * otherwise answers with recorded traffic (../shared/fixtures/upstream). Each test is one rule a translated request
 * used to break.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';
import { mistralRefusal } from '../helpers/mistral-rules.ts';
import { xaiRefusal } from '../helpers/xai-rules.ts';
import { VLLM_REASONING, vllmAnswer } from '../helpers/vllm-rules.ts';
import { claudeCodeBody } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-provider-rules-1';

/** What each provider answers when a rule is broken, else the recorded answer. */
type Rule = (body: any, r: RecordedRequest) => Response | null;

const RULES: Record<string, Rule> = {
  // OpenAI reasoning models (o1, o3, o4-mini, gpt-5…): only the default temperature; top_p is no parameter of theirs
  openai(body) {
    if (!/^(o1|o3|o4|gpt-5)/.test(body.model)) return null;
    if (body.temperature !== undefined && body.temperature !== 1) {
      return json({ error: { message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, type: 'invalid_request_error', param: 'temperature', code: 'unsupported_value' } }, 400);
    }
    if (body.top_p !== undefined) {
      return json({ error: { message: "Unsupported parameter: 'top_p' is not supported with this model.", type: 'invalid_request_error', param: 'top_p', code: 'unsupported_parameter' } }, 400);
    }
    return null;
  },
  // Mistral: the checks of mistral-common's request validator (message order, last role, tool-call ids and answers)
  mistral: mistralRefusal,
  // xAI: reasoning_effort only where a model takes it, and only its levels (test/helpers/xai-rules.ts)
  xai: xaiRefusal,
  // Azure OpenAI: a reasoning deployment is served on recent api-versions only (o3-mini, o1: 2024-12-01-preview or later;
  // o3, o4-mini, codex-mini: 2025-04-01-preview, MicrosoftDocs/azure-ai-docs articles/ai-foundry/openai/how-to/reasoning.md,
  // "API & feature support"); an older one is refused, in Azure's words (Azure-Samples/azure-search-openai-demo#2496)
  azure(_body, r) {
    const version = new URLSearchParams(r.search).get('api-version') ?? '';
    if (version >= '2024-12-01-preview') return null;
    return json({ error: { code: 'BadRequest', message: 'Model o3-mini is enabled only for api versions 2024-12-01-preview and later' } }, 400);
  },
};

const RECORDED: Record<string, string> = {
  openai: 'openai-chat/response-o3-mini-reasoning-tokens.json',
  mistral: 'openai-chat/response-text.json',
  azure: 'openai-chat/response-o3-mini-reasoning-tokens.json',
  xai: 'openai-chat/response-text.json',
};

/**
 * Streamed answers (Claude Code always streams), recorded from Mistral: a tool call (id `gSIMJiOkT`, tool `weather`)
 * until the conversation holds a tool result, then a text answer.
 */
const RECORDED_STREAM: Record<string, (body: any) => string> = {
  mistral: (body) => fixtureSseBody(body.messages.some((m: any) => m.role === 'tool')
    ? 'openai-compatible/mistral/stream-magistral-thinking.sse'
    : 'openai-compatible/mistral/stream-tool-call-one-chunk.chunks.jsonl'),
};

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r: RecordedRequest) => {
    const provider = r.path.split('/')[1]!;
    // vLLM: thinking as the chat template decides it (test/helpers/vllm-rules.ts)
    if (provider === 'vllm') return vllmAnswer(r.json);
    const refused = RULES[provider]?.(r.json, r);
    if (refused) return refused;
    const stream = r.json.stream === true ? RECORDED_STREAM[provider] : undefined;
    if (stream) return new Response(stream(r.json), { headers: { 'content-type': 'text/event-stream' } });
    return json(JSON.parse(readFixture(RECORDED[provider]!)));
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'rules' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'mistral', type: 'openai', provider: 'mistral', base_url: `${upstream.url}/mistral`, api_key: 'sk-up', models: { 'claude-opus-5-5': 'mistral-large-latest' } },
      { name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/openai`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': 'o3', 'claude-haiku-5-5': 'gpt-4.1-mini' } },
      { name: 'xai', type: 'openai', provider: 'xai', base_url: `${upstream.url}/xai`, api_key: 'sk-up', models: { 'claude-sonnet-4-6': 'grok-4.3', 'claude-haiku-4-6': 'grok-4.20-0309-reasoning', 'claude-opus-4-7': 'grok-3-mini' } },
      { name: 'vllm-qwen', type: 'openai', provider: 'vllm', base_url: `${upstream.url}/vllm`, models: { 'claude-sonnet-4-5': 'Qwen/Qwen3-32B', 'claude-haiku-4-5': 'qwen3-8b' } },
      { name: 'vllm-deepseek', type: 'openai', provider: 'vllm', base_url: `${upstream.url}/vllm`, models: { 'claude-opus-4-5': 'deepseek-ai/DeepSeek-V3.1' }, quirks: { thinking_kwarg: 'thinking' } },
      // gpt-oss on vLLM reads reasoning_effort (its template's reasoning level), not a template switch
      { name: 'vllm-gptoss', type: 'openai', provider: 'vllm', base_url: `${upstream.url}/vllm`, models: { 'claude-opus-4-6': 'openai/gpt-oss-120b' }, quirks: { reasoning: 'reasoning_effort' } },
      { name: 'azure', type: 'openai', provider: 'azure', base_url: `${upstream.url}/azure/openai/deployments/{model}`, api_key: 'sk-up', models: { 'claude-opus-4-1': 'my-o3-mini' } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

describe('OpenAI reasoning models', () => {
  test('temperature and top_p (the Anthropic SDK still sends them) are left out for o3 and reported; gpt-4.1 still gets them', async () => {
    const params = { max_tokens: 200, temperature: 0.3, top_p: 0.9, messages: [{ role: 'user' as const, content: 'hi' }] };
    const res = await client.messages.create({ ...params, model: 'claude-sonnet-5-5' } as Anthropic.MessageCreateParamsNonStreaming).withResponse();
    expect(res.data.content[0]).toMatchObject({ type: 'text' });
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('temperature (o3 takes only its default), top_p (o3 takes only its default)');
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.temperature).toBeUndefined();
    expect(sent.top_p).toBeUndefined();

    await client.messages.create({ ...params, model: 'claude-haiku-5-5' } as Anthropic.MessageCreateParamsNonStreaming);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'gpt-4.1-mini', temperature: 0.3, top_p: 0.9 });
  });
});

describe('Azure OpenAI', () => {
  test('a reasoning deployment (what the preset is for: max_completion_tokens, reasoning_effort) answers on the preset\'s api-version', async () => {
    const res = await client.messages.create({
      model: 'claude-opus-4-1', max_tokens: 16000, thinking: { type: 'enabled', budget_tokens: 12000 }, messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.content.some((b) => b.type === 'text')).toBe(true);
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe('/azure/openai/deployments/my-o3-mini/chat/completions');
    expect(sent.json).toMatchObject({ model: 'my-o3-mini', max_completion_tokens: 16000, reasoning_effort: 'medium' });
  });
});

describe('xAI', () => {
  // Claude Code asks for thinking on nearly every request (adaptive, with its effort)
  const ask = (model: string) => client.messages.create({
    model, max_tokens: 16000, thinking: { type: 'adaptive' }, output_config: { effort: 'high' }, messages: [{ role: 'user', content: 'hi' }],
  } as Anthropic.MessageCreateParamsNonStreaming);

  test('grok-4.3, the model xAI serves today (retired slugs redirect to it), gets the effort the client asked for', async () => {
    const res = await ask('claude-sonnet-4-6');
    expect(res.content.some((b) => b.type === 'text')).toBe(true);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'grok-4.3', reasoning_effort: 'high' });
  });

  test('grok-4.3 takes its own levels: medium goes as medium, not capped to grok-3-mini\'s low', async () => {
    const res = await client.messages.create({
      model: 'claude-sonnet-4-6', max_tokens: 16000, thinking: { type: 'adaptive' }, output_config: { effort: 'medium' }, messages: [{ role: 'user', content: 'hi' }],
    } as Anthropic.MessageCreateParamsNonStreaming).withResponse();
    expect(res.data.content.some((b) => b.type === 'text')).toBe(true);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'grok-4.3', reasoning_effort: 'medium' });
    expect(res.response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('grok-4.3, which reasons at low unless told, gets none on a request without thinking or with it disabled (Anthropic gives none)', async () => {
    for (const extra of [{}, { thinking: { type: 'disabled' as const } }]) {
      const res = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 512, messages: [{ role: 'user', content: 'hi' }], ...extra });
      expect(res.content.some((b) => b.type === 'text')).toBe(true);
      expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'grok-4.3', reasoning_effort: 'none' });
    }
  });

  test('grok-3-mini still gets only low or high, and nothing on a request without thinking', async () => {
    for (const [effort, sent] of [['medium', 'low'], ['high', 'high'], ['low', 'low']] as const) {
      const res = await client.messages.create({
        model: 'claude-opus-4-7', max_tokens: 16000, thinking: { type: 'adaptive' }, output_config: { effort }, messages: [{ role: 'user', content: 'hi' }],
      } as Anthropic.MessageCreateParamsNonStreaming);
      expect(res.content.some((b) => b.type === 'text')).toBe(true);
      expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'grok-3-mini', reasoning_effort: sent });
    }
    for (const extra of [{}, { thinking: { type: 'disabled' as const } }]) {
      const res = await client.messages.create({ model: 'claude-opus-4-7', max_tokens: 512, messages: [{ role: 'user', content: 'hi' }], ...extra });
      expect(res.content.some((b) => b.type === 'text')).toBe(true);
      expect(upstream.requests.at(-1)!.json.reasoning_effort).toBeUndefined();
    }
  });

  test('grok-4.20, which refuses reasoning_effort, gets none and answers', async () => {
    const res = await ask('claude-haiku-4-6').withResponse();
    expect(res.data.content.some((b) => b.type === 'text')).toBe(true);
    expect(upstream.requests.at(-1)!.json.reasoning_effort).toBeUndefined();
    expect(res.response.headers.get('x-switchboard-dropped')).toContain('thinking (grok-4.20-0309-reasoning has no reasoning control)');
  });
});

describe('vLLM', () => {
  const hi = [{ role: 'user' as const, content: 'hi' }];
  const thinkingOf = (m: Anthropic.Message) => m.content.filter((b) => b.type === 'thinking').map((b) => (b as Anthropic.ThinkingBlock).thinking);

  test('Qwen3, which thinks unless its template is told not to, gets enable_thinking: false on a request without thinking (Claude Code\'s titles and summaries)', async () => {
    for (const model of ['claude-sonnet-4-5', 'claude-haiku-4-5']) {
      const res = await client.messages.stream({ model, max_tokens: 512, messages: hi }).finalMessage();
      expect(thinkingOf(res)).toEqual([]);
      expect(res.content).toEqual([expect.objectContaining({ type: 'text', text: 'Hello! How can I help?' })]);
      expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toEqual({ enable_thinking: false });
    }
  });

  test('Qwen3 thinks when asked (a Claude Code request), and not when thinking is disabled', async () => {
    const { stream: _stream, ...params } = claudeCodeBody({ model: 'claude-sonnet-4-5', prompt: 'hi' });
    const res = await client.messages.stream(params as Anthropic.MessageStreamParams).finalMessage();
    // Claude Code asks for its thinking omitted: the block is there, without its text
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toEqual({ enable_thinking: true });

    const shown = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 4096, thinking: { type: 'adaptive' }, messages: hi });
    expect(thinkingOf(shown)).toEqual([VLLM_REASONING]);

    const off = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 4096, thinking: { type: 'disabled' }, messages: hi });
    expect(thinkingOf(off)).toEqual([]);
    expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toEqual({ enable_thinking: false });
  });

  test('DeepSeek V3.1, whose template thinks only when told (`thinking`), thinks when asked, and is left alone otherwise', async () => {
    const res = await client.messages.stream({ model: 'claude-opus-4-5', max_tokens: 4096, thinking: { type: 'adaptive' }, messages: hi }).finalMessage();
    expect(thinkingOf(res)).toEqual([VLLM_REASONING]);
    expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toEqual({ thinking: true });

    const plain = await client.messages.create({ model: 'claude-opus-4-5', max_tokens: 512, messages: hi });
    expect(thinkingOf(plain)).toEqual([]);
    expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toBeUndefined();
  });

  test('a channel that sets `reasoning: reasoning_effort` (gpt-oss, whose level vLLM takes as reasoning_effort) gets the effort Claude Code asks for, as before the template switch', async () => {
    const res = await client.messages.create({ model: 'claude-opus-4-6', max_tokens: 4096, thinking: { type: 'adaptive' }, output_config: { effort: 'medium' }, messages: hi } as Anthropic.MessageCreateParamsNonStreaming).withResponse();
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.reasoning_effort).toBe('medium');
    expect(sent.chat_template_kwargs).toBeUndefined();
    expect(res.response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('a thinking budget, which no template takes, is reported; the client\'s own chat_template_kwargs go with the switch', async () => {
    const res = await client.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 16000, thinking: { type: 'enabled', budget_tokens: 8000 }, messages: hi,
      chat_template_kwargs: { preserve_thinking: true },
    } as Anthropic.MessageCreateParamsNonStreaming).withResponse();
    expect(thinkingOf(res.data)).toEqual([VLLM_REASONING]);
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('thinking.budget_tokens (the provider takes no thinking budget)');
    expect(upstream.requests.at(-1)!.json.chat_template_kwargs).toEqual({ preserve_thinking: true, enable_thinking: true });
  });
});

describe('Mistral', () => {
  test('a prefilled answer (the conversation ends with an assistant turn) is continued, not refused', async () => {
    const res = await client.messages.create({
      model: 'claude-opus-5-5', max_tokens: 50,
      messages: [{ role: 'user', content: 'Give me JSON.' }, { role: 'assistant', content: '{"answer":' }],
    });
    expect(res.content[0]).toMatchObject({ type: 'text' });
    expect(upstream.requests.at(-1)!.json.messages.at(-1)).toEqual({ role: 'assistant', content: '{"answer":', prefix: true });
  });

  const reminder = (text: string) => ({ type: 'text' as const, text: `<system-reminder>\n${text}\n</system-reminder>` });
  const weather = {
    name: 'weather', description: 'The current weather in a city.',
    input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
  };
  /** A Claude Code request (claude-code-traffic.md) to the mistral channel, minus `stream` (the SDK's `stream()` sets it). */
  const claudeCodeParams = (prompt: string): Record<string, any> => {
    const { stream: _stream, ...params } = claudeCodeBody({ model: 'claude-opus-5-5', prompt });
    params.tools.push(weather);
    return params;
  };

  test('a Claude Code agent loop, tool_use → tool_result + <system-reminder> text → answer: the text is sent in the last tool message, and Mistral answers', async () => {
    const params = claudeCodeParams('What is the weather in San Francisco?');
    const first = await client.messages.stream(params as Anthropic.MessageStreamParams).finalMessage();
    const call = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(call).toMatchObject({ id: 'gSIMJiOkT', name: 'weather', input: { location: 'San Francisco' } });

    // the next request as Claude Code makes it: the answer replayed, then the result with a reminder beside it
    const messages = [...params.messages, { role: 'assistant', content: first.content }, {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: call.id, content: '14°C, fog' }, reminder('The date is now 2026-11-27.')],
    }];
    const second = await client.messages.stream({ ...params, messages } as Anthropic.MessageStreamParams).finalMessage();
    const text = second.content.filter((b) => b.type === 'text').map((b) => (b as Anthropic.TextBlock).text).join('');
    expect(text).toContain('safe crossing');

    const sent = upstream.requests.at(-1)!.json.messages;
    expect(sent.slice(-2)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'gSIMJiOkT', type: 'function', function: { name: 'weather', arguments: '{"location":"San Francisco"}' } }] },
      { role: 'tool', tool_call_id: 'gSIMJiOkT', content: '14°C, fog\n\n<system-reminder>\nThe date is now 2026-11-27.\n</system-reminder>' },
    ]);
  });

  test('an image from a tool result (Read of a picture) follows a bridging assistant message: a tool message carries no image, and no user message may follow one', async () => {
    const params = claudeCodeParams('What does shot.png show?');
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    params.messages.push(
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ReadShot', name: 'Read', input: { file_path: '/tmp/shot.png' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01ReadShot', content: [image] }, reminder('Keep answers short.')] },
    );
    const res = await client.messages.stream(params as Anthropic.MessageStreamParams).finalMessage();
    expect(res.content.some((b) => b.type === 'text')).toBe(true);

    const sent = upstream.requests.at(-1)!.json.messages;
    expect(sent.slice(-4).map((m: any) => m.role)).toEqual(['assistant', 'tool', 'assistant', 'user']);
    expect(sent.at(-2)).toEqual({ role: 'assistant', content: 'Tool results received.' });
    expect(sent.at(-1).content.map((p: any) => p.type)).toEqual(['text', 'image_url', 'text']);
  });
});

test('Gemini\'s OpenAI-compatible endpoint answers an error as a list of one (`[{"error": …}]`): the client reads Gemini\'s message and a rate_limit_error, not "HTTP 429"', async () => {
  // n4ze3m/page-assist#406: a quota error from https://generativelanguage.googleapis.com/v1beta/openai/chat/completions
  const mock = startMockUpstream(() => new Response(JSON.stringify([{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }], null, 2), { status: 429, headers: { 'content-type': 'application/json' } }));
  const g = startGateway({
    keys: [{ key: KEY, name: 'k' }],
    channels: [{ name: 'gemini', type: 'openai', provider: 'gemini', base_url: `${mock.url}/v1beta/openai`, api_key: 'AIza-test-key-1234567890', models: { 'claude-sonnet-4-5': 'gemini-2.5-pro' } }],
  });
  try {
    const client = new Anthropic({ apiKey: KEY, baseURL: g.url, maxRetries: 0 });
    const err = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err.error.error).toMatchObject({ type: 'rate_limit_error', message: 'Resource has been exhausted (e.g. check quota).' });
  } finally {
    await g.stop();
    await mock.stop();
  }
});
