import { describe, expect, test } from 'bun:test';
import { hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';
import { globMatch } from '../../../../src/util/glob.ts';
import { resolveQuirks } from '../../../../src/channels/openai/presets.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { MessageCreateParams } from '../../../../src/hub/types.ts';

const ctx = (upstreamModel: string): TranslateContext => ({ requestedModel: 'claude-sonnet-5-5', upstreamModel, dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' });
const hub: MessageCreateParams = {
  model: 'claude-sonnet-5-5', max_tokens: 128000, messages: [{ role: 'user', content: 'hi' }],
  thinking: { type: 'adaptive', display: 'omitted' }, output_config: { effort: 'medium' },
};

describe('reasoning only for models that take it', () => {
  test.each([
    ['openai', 'gpt-4.1', undefined],
    ['openai', 'gpt-4o-mini', undefined],
    ['openai', 'o3-mini', 'medium'],
    ['openai', 'gpt-5.1', 'medium'],
    ['groq', 'llama-3.3-70b-versatile', undefined],
    ['groq', 'openai/gpt-oss-120b', 'medium'],
    ['xai', 'grok-4', undefined],
    ['xai', 'grok-4.20-0309-reasoning', undefined],
    ['xai', 'grok-4.3', 'medium'], // its own levels (reasoning_efforts_by_model), none|low|medium|high
    ['xai', 'grok-4.3-latest', 'medium'],
    ['xai', 'grok-3-mini', 'low'], // medium is not offered: capped to the highest level below it
  ])('%s %s → reasoning_effort %p', (provider, model, effort) => {
    const c = ctx(model);
    const body = hubRequestToChat(hub, c, resolveQuirks(provider, undefined)) as Record<string, unknown>;
    expect(body.reasoning_effort).toBe(effort);
    if (effort === undefined) expect(c.dropped.join()).toContain('thinking');
  });
  test('a channel can widen the list', () => {
    const body = hubRequestToChat(hub, ctx('my-reasoner'), resolveQuirks('openai', { reasoning_models: ['my-*'] })) as Record<string, unknown>;
    expect(body.reasoning_effort).toBe('medium');
  });
  test('globMatch', () => {
    expect(globMatch('o3*', 'o3')).toBe(true);
    expect(globMatch('a*c', 'abbc')).toBe(true);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(globMatch('exact', 'exact')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'axxcyyb')).toBe(false);
    expect(globMatch('ab*ba', 'aba')).toBe(false); // prefix and suffix may not overlap
  });
});

describe('effort levels per model (quirks.reasoning_efforts_by_model)', () => {
  const effort = (model: string, over: Parameters<typeof resolveQuirks>[1], h: MessageCreateParams = hub) => {
    const c = ctx(model);
    const body = hubRequestToChat(structuredClone(h), c, resolveQuirks('xai', over)) as Record<string, unknown>;
    return [body.reasoning_effort, c.dropped];
  };
  test('xAI: grok-4.3 gets its own levels, grok-3-mini the provider\'s low|high', () => {
    for (const [asked, g43, g3] of [['low', 'low', 'low'], ['medium', 'medium', 'low'], ['high', 'high', 'high'], ['max', 'high', 'high']] as const) {
      const h = { ...hub, output_config: { effort: asked } } as MessageCreateParams;
      expect(effort('grok-4.3', undefined, h)[0]).toBe(g43);
      expect(effort('grok-3-mini', undefined, h)[0]).toBe(g3);
    }
    // an explicit off: none where the model's list has it, nothing where it does not
    const off = { ...hub, thinking: { type: 'disabled' } } as MessageCreateParams;
    expect(effort('grok-4.3', undefined, off)[0]).toBe('none');
    expect(effort('grok-3-mini', undefined, off)[0]).toBeUndefined();
  });
  test('the first pattern written that matches wins; exact names match too; a model none matches gets reasoning_efforts', () => {
    const over = { reasoning_models: ['*'], reasoning_efforts: ['high'], reasoning_efforts_by_model: { 'm-1': ['low'], 'm-*': ['medium'], 'm-2*': ['low'] } };
    expect(effort('m-1', over)[0]).toBe('low');
    expect(effort('m-2', over)[0]).toBe('medium'); // `m-*` is written before `m-2*`
    expect(effort('other', over)).toEqual(['high', ['output_config.effort=medium (raised to high)']]);
  });
  test('a channel\'s mapping replaces the preset\'s, and never shares its arrays', () => {
    expect(effort('grok-4.3', { reasoning_efforts_by_model: {} })[0]).toBe('low');
    const a = resolveQuirks('xai', undefined);
    a.reasoning_efforts_by_model['grok-4.3*']!.push('xhigh');
    expect(resolveQuirks('xai', undefined).reasoning_efforts_by_model).toEqual({ 'grok-4.3*': ['none', 'low', 'medium', 'high'] });
  });
  test('the per-model list serves the other styles that take a level too', () => {
    const q = resolveQuirks('deepseek', { reasoning_efforts_by_model: { 'deepseek-v4-pro': ['high', 'max'] } });
    expect(hubRequestToChat(structuredClone(hub), ctx('deepseek-v4-pro'), q)).toMatchObject({ thinking: { type: 'enabled' }, reasoning_effort: 'high' });
    expect(hubRequestToChat(structuredClone(hub), ctx('deepseek-flash'), q)).toMatchObject({ thinking: { type: 'enabled' }, reasoning_effort: 'low' });
  });
});

describe('max_tokens clamp by model pattern', () => {
  test.each([
    ['gpt-4.1-mini', 32768], ['gpt-4o', 16384], ['gpt-5.1', 128000], ['o3-mini', 100000], ['some-new-model', 128000],
  ])('openai %s → %d', (model, expected) => {
    const body = hubRequestToChat(hub, ctx(model), resolveQuirks('openai', undefined)) as Record<string, unknown>;
    expect(body.max_completion_tokens).toBe(expected);
  });
  test('an exact name beats a pattern, a longer pattern beats a shorter one, * is the fallback', () => {
    const q = resolveQuirks(undefined, { max_output_tokens: { 'm*': 100, 'm-long*': 200, 'm-long-exact': 300, '*': 50 } });
    const mt = (m: string) => (hubRequestToChat(hub, ctx(m), q) as Record<string, unknown>).max_tokens;
    expect(mt('m-long-exact')).toBe(300);
    expect(mt('m-long-x')).toBe(200);
    expect(mt('m-x')).toBe(100);
    expect(mt('other')).toBe(50);
  });
});

describe('sampling on models that take only their default (OpenAI reasoning models)', () => {
  // OpenAI answers 400 "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1)
  // value is supported." (o1, o3, o4-mini, gpt-5…) and "Unsupported parameter: 'top_p' is not supported with this model."
  const sampled: MessageCreateParams = { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, top_p: 0.9 };
  test.each([
    ['openai', 'o3', false],
    ['openai', 'o4-mini', false],
    ['openai', 'o1-2024-12-17', false],
    ['openai', 'gpt-5-mini', false],
    ['openai', 'gpt-4.1', true],
    ['openai', 'gpt-4o-mini', true],
    ['groq', 'openai/gpt-oss-120b', true],
    [undefined, 'o3', true], // a generic server: its models are not OpenAI's
  ] as const)('%s %s: temperature and top_p sent: %p', (provider, model, sent) => {
    const c = ctx(model);
    const body = hubRequestToChat(sampled, c, resolveQuirks(provider, undefined)) as Record<string, unknown>;
    if (sent) {
      expect(body).toMatchObject({ temperature: 0.2, top_p: 0.9 });
      expect(c.dropped).toEqual([]);
    } else {
      expect(body.temperature).toBeUndefined();
      expect(body.top_p).toBeUndefined();
      expect(c.dropped).toEqual([`temperature (${model} takes only its default)`, `top_p (${model} takes only its default)`]);
    }
  });
  test('a channel can name its own (an Azure deployment of o3)', () => {
    const c = ctx('my-o3-deployment');
    const body = hubRequestToChat(sampled, c, resolveQuirks('azure', { fixed_sampling_models: ['my-o3-*'] })) as Record<string, unknown>;
    expect(body.temperature).toBeUndefined();
    expect(body.top_p).toBeUndefined();
  });
});

describe('a conversation that ends with an assistant turn (Anthropic prefill)', () => {
  const prefill: MessageCreateParams = { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'The colour is' }] };
  // Mistral: 400 "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant";
  // with `prefix: true` it continues that message, as Anthropic continues a prefill
  test.each([['mistral', true], ['openai', undefined], [undefined, undefined]] as const)('%s: prefix %p on the last message', (provider, prefix) => {
    const body = hubRequestToChat(prefill, ctx('m'), resolveQuirks(provider, undefined));
    expect(body.messages.at(-1)).toEqual({ role: 'assistant', content: 'The colour is', ...(prefix ? { prefix } : {}) });
  });
  test('an assistant turn earlier in the conversation is not marked', () => {
    const body = hubRequestToChat({ ...prefill, messages: [...prefill.messages, { role: 'user', content: 'Another?' }] }, ctx('m'), resolveQuirks('mistral', undefined));
    expect(body.messages.some((m) => 'prefix' in m)).toBe(false);
  });
});

/**
 * A Messages request without `thinking` (or `output_config.effort`) gets no thinking from Anthropic, and pays for none.
 * Models that think unless told not to (quirks.thinking_by_default_models) get the provider's off switch then.
 */
describe('thinking the client did not ask for', () => {
  const unasked: MessageCreateParams = { model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] };
  const reasoningFields = (body: Record<string, unknown>) => Object.fromEntries(['thinking', 'enable_thinking', 'reasoning_effort', 'reasoning', 'thinking_budget', 'chat_template_kwargs'].filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
  test.each([
    // https://platform.kimi.ai/docs/api/models-overview: kimi-k2.5 / kimi-k2.6 think unless `thinking: {type: disabled}`
    ['moonshot', 'kimi-k2.6', { thinking: { type: 'disabled' } }],
    ['moonshot', 'kimi-k2.5', { thinking: { type: 'disabled' } }],
    ['moonshot', 'kimi-k2-thinking', {}], // always thinks: no switch to send
    ['moonshot', 'kimi-k2-0905-preview', {}], // never thinks
    // https://docs.z.ai/guides/capabilities/thinking: `thinking.type` enabled (default) for GLM-4.5 and later
    ['zai', 'glm-4.5', { thinking: { type: 'disabled' } }],
    ['zai', 'glm-4.5-air', { thinking: { type: 'disabled' } }],
    ['zai', 'glm-4.6', { thinking: { type: 'disabled' } }],
    ['zai', 'glm-4.7', { thinking: { type: 'disabled' } }],
    ['zai', 'glm-5.1', { thinking: { type: 'disabled' } }],
    ['zai', 'glm-4-32b-0414-128k', {}],
    // https://api-docs.deepseek.com/guides/thinking_mode: "Thinking mode is enabled by default" (V4 and V4.1). The name to
    // use is deepseek-flash (V4.1 Flash); deepseek-v4-flash and deepseek-v4-flash-vision-exp are still accepted and served
    // by it, deepseek-v4-pro routed to it (https://api-docs.deepseek.com/quick_start/pricing)
    ['deepseek', 'deepseek-flash', { thinking: { type: 'disabled' } }],
    ['deepseek', 'deepseek-v4-flash', { thinking: { type: 'disabled' } }],
    ['deepseek', 'deepseek-v4-flash-vision-exp', { thinking: { type: 'disabled' } }],
    ['deepseek', 'deepseek-v4-pro', { thinking: { type: 'disabled' } }],
    ['deepseek', 'deepseek-chat', {}], // the retired alias of V4 Flash without thinking
    // https://docs.qwencloud.com/developer-guides/text-generation/thinking: Qwen3.5 on by default; open Qwen3 on (the
    // dashscope rules); commercial Qwen3 (qwen-plus, qwen3-max…) "默认不开启思考模式" (off by default)
    ['dashscope', 'qwen3-32b', { enable_thinking: false }],
    ['dashscope', 'qwen3-235b-a22b', { enable_thinking: false }],
    ['dashscope', 'qwen3.5-plus', { enable_thinking: false }],
    ['dashscope', 'qwen3-max', {}],
    ['dashscope', 'qwen-plus', {}],
    ['dashscope', 'qwen3-coder-plus', {}],
    // https://docs.vllm.ai/en/stable/features/reasoning_outputs/: "The reasoning feature for the Qwen3 series is enabled by
    // default. To disable it, you must pass enable_thinking=False in your chat_template_kwargs"; DeepSeek-V3.1's is off
    // by default. Names as vLLM serves them (Hugging Face ids) or as --served-model-name gives them
    ['vllm', 'Qwen/Qwen3-32B', { chat_template_kwargs: { enable_thinking: false } }],
    ['vllm', 'Qwen/Qwen3-30B-A3B-FP8', { chat_template_kwargs: { enable_thinking: false } }],
    ['vllm', 'Qwen/Qwen3.5-27B', { chat_template_kwargs: { enable_thinking: false } }],
    ['vllm', 'qwen3-8b', { chat_template_kwargs: { enable_thinking: false } }],
    ['vllm', 'zai-org/GLM-4.6-FP8', { chat_template_kwargs: { enable_thinking: false } }],
    ['vllm', 'Qwen/Qwen3-30B-A3B-Thinking-2507', {}], // always thinks: no switch to send
    ['vllm', 'deepseek-ai/DeepSeek-V3.1', {}],
    ['vllm', 'meta-llama/Llama-3.3-70B-Instruct', {}],
    // local servers whose presets send no reasoning control, as before
    ['ollama', 'qwen3:8b', {}],
    ['llama.cpp', 'qwen3-8b', {}],
    // the other presets: nothing unasked, as before
    ['openai', 'gpt-5.1', {}],
    ['groq', 'openai/gpt-oss-120b', {}],
    ['openrouter', 'moonshotai/kimi-k2.6', {}],
    ['gemini', 'gemini-2.5-flash', {}],
    ['xai', 'grok-3-mini', {}],
    // https://docs.x.ai/developers/model-capabilities/text/reasoning: grok-4.3 reasons at "low" when no reasoning_effort is sent
    ['xai', 'grok-4.3', { reasoning_effort: 'none' }],
    ['xai', 'grok-4.20-0309-reasoning', {}], // refuses the field
    ['cerebras', 'gpt-oss-120b', {}],
  ] as const)('%s %s, streamed: %p', (provider, model, expected) => {
    const c = ctx(model);
    const body = hubRequestToChat({ ...unasked, stream: true }, c, resolveQuirks(provider, undefined)) as Record<string, unknown>;
    expect(reasoningFields(body)).toEqual(expected as never);
    expect(c.dropped).toEqual([]);
  });

  test('thinking asked of such a model goes on as before; disabled goes off', () => {
    const q = resolveQuirks('zai', undefined);
    expect(hubRequestToChat({ ...unasked, thinking: { type: 'adaptive' } } as MessageCreateParams, ctx('glm-4.7'), q).thinking).toEqual({ type: 'enabled' });
    expect(hubRequestToChat({ ...unasked, output_config: { effort: 'high' } } as MessageCreateParams, ctx('glm-4.7'), q).thinking).toEqual({ type: 'enabled' });
    expect(hubRequestToChat({ ...unasked, thinking: { type: 'disabled' } }, ctx('glm-4.7'), q).thinking).toEqual({ type: 'disabled' });
  });

  test('a channel that wants the model to think unasked says so: thinking_by_default_models: []', () => {
    const body = hubRequestToChat(unasked, ctx('kimi-k2.6'), resolveQuirks('moonshot', { thinking_by_default_models: [] })) as Record<string, unknown>;
    expect(body.thinking).toBeUndefined();
  });

  test('never for a model without reasoning control, or one that always thinks, whatever the list says', () => {
    const q = resolveQuirks('moonshot', { thinking_by_default_models: ['kimi-*'] });
    expect(hubRequestToChat(unasked, ctx('kimi-k2-thinking'), q).thinking).toBeUndefined();
    expect(hubRequestToChat(unasked, ctx('kimi-k2-0905-preview'), q).thinking).toBeUndefined();
  });
});

/**
 * `reasoning: chat_template_kwargs` (the vllm preset): self-hosted servers switch thinking in the model's chat template,
 * `chat_template_kwargs: {enable_thinking}` (Qwen3, GLM) or `{thinking}` (DeepSeek V3.1+), beside any variables the
 * client set itself (https://docs.vllm.ai/en/stable/features/reasoning_outputs/).
 */
describe('thinking through chat template variables', () => {
  const base: MessageCreateParams = { model: 'claude-sonnet-5-5', max_tokens: 16000, messages: [{ role: 'user', content: 'hi' }] };
  const send = (extra: Record<string, unknown>, model = 'Qwen/Qwen3-32B', quirks?: Record<string, unknown>) => {
    const c = ctx(model);
    const body = hubRequestToChat({ ...base, ...extra } as MessageCreateParams, c, resolveQuirks('vllm', quirks as never));
    return { body: body as Record<string, unknown>, dropped: c.dropped };
  };

  test('on when asked, off when disabled; no effort level, no other reasoning field', () => {
    const on = send({ thinking: { type: 'adaptive' } });
    expect(on.body.chat_template_kwargs).toEqual({ enable_thinking: true });
    expect(on.dropped).toEqual([]);
    for (const k of ['enable_thinking', 'thinking', 'reasoning_effort', 'reasoning', 'thinking_budget']) expect(on.body[k]).toBeUndefined();
    expect(send({ thinking: { type: 'disabled' } }).body.chat_template_kwargs).toEqual({ enable_thinking: false });
    // an effort alone asks for thinking; the level itself has nowhere to go
    const effort = send({ output_config: { effort: 'low' } });
    expect(effort.body.chat_template_kwargs).toEqual({ enable_thinking: true });
    expect(effort.dropped).toEqual(['output_config.effort=low (the provider takes no effort level)']);
  });

  test('a budget has no template variable: thinking goes on, the budget is reported', () => {
    const r = send({ thinking: { type: 'enabled', budget_tokens: 8000 } });
    expect(r.body.chat_template_kwargs).toEqual({ enable_thinking: true });
    expect(r.dropped).toEqual(['thinking.budget_tokens (the provider takes no thinking budget)']);
  });

  test('the key is the channel\'s (`thinking` for DeepSeek V3.1+ templates)', () => {
    const r = send({ thinking: { type: 'adaptive' } }, 'deepseek-ai/DeepSeek-V3.1', { thinking_kwarg: 'thinking' });
    expect(r.body.chat_template_kwargs).toEqual({ thinking: true });
    // off by default there: nothing sent unasked
    expect(send({}, 'deepseek-ai/DeepSeek-V3.1', { thinking_kwarg: 'thinking' }).body.chat_template_kwargs).toBeUndefined();
  });

  test('the client\'s own variables go along, not reported; its switch stands unless it asked for thinking or none itself', () => {
    const theirs = send({ chat_template_kwargs: { preserve_thinking: true } });
    expect(theirs.body.chat_template_kwargs).toEqual({ preserve_thinking: true, enable_thinking: false });
    expect(theirs.dropped).toEqual([]);
    expect(send({ chat_template_kwargs: { enable_thinking: true } }).body.chat_template_kwargs).toEqual({ enable_thinking: true });
    expect(send({ chat_template_kwargs: { enable_thinking: true }, thinking: { type: 'disabled' } }).body.chat_template_kwargs).toEqual({ enable_thinking: false });
    // a model left alone keeps them as they are
    expect(send({ chat_template_kwargs: { x: 1 } }, 'meta-llama/Llama-3.3-70B-Instruct').body.chat_template_kwargs).toEqual({ x: 1 });
    // the hub request is not changed
    const hub = { ...base, chat_template_kwargs: { x: 1 } } as MessageCreateParams;
    hubRequestToChat(hub, ctx('qwen3-8b'), resolveQuirks('vllm', undefined));
    expect(hub.chat_template_kwargs).toEqual({ x: 1 });
  });

  test('chat_template_kwargs that is no object is a 400 naming it; another preset reports it dropped, as before', () => {
    expect(() => send({ chat_template_kwargs: 'enable_thinking=false' })).toThrow(/chat_template_kwargs/);
    const c = ctx('qwen3:8b');
    const body = hubRequestToChat({ ...base, chat_template_kwargs: { enable_thinking: false } } as MessageCreateParams, c, resolveQuirks('ollama', undefined)) as Record<string, unknown>;
    expect(body.chat_template_kwargs).toBeUndefined();
    expect(c.dropped).toEqual(['chat_template_kwargs']);
  });
});
