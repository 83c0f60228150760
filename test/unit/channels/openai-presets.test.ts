/**
 * @module test/unit/channels/openai-presets
 * Provider presets resolve to complete, valid quirks; channel overrides win; the choices that matter per
 * provider are pinned in one table.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as v from 'valibot';
import { PRESETS, resolveQuirks } from '../../../src/channels/openai/presets.ts';
import { TRANSPORT } from '../../../src/channels/openai/transport.ts';
import { ChatQuirksSchema, DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../src/formats/openai-chat/quirks.ts';

const PROVIDERS = Object.keys(PRESETS);

describe('presets', () => {
  test.each(PROVIDERS)('%s resolves to complete quirks that pass the config schema', (provider) => {
    const q = resolveQuirks(provider, undefined);
    expect(Object.keys(q).sort()).toEqual(Object.keys(DEFAULT_CHAT_QUIRKS).sort());
    expect(v.safeParse(ChatQuirksSchema, q).success).toBe(true);
  });

  test.each(PROVIDERS)('%s sets only known quirk fields', (provider) => {
    for (const k of Object.keys(PRESETS[provider as keyof typeof PRESETS])) expect(Object.keys(DEFAULT_CHAT_QUIRKS)).toContain(k);
  });

  test('the providers the channel knows how to reach are all here', () => {
    for (const p of ['openai', 'azure', 'deepseek', 'openrouter', 'groq', 'mistral', 'xai', 'gemini', 'ollama', 'vllm', 'llama.cpp']) expect(PROVIDERS).toContain(p);
  });

  test.each([
    ['openai', 'max_tokens_field', 'max_completion_tokens'],
    ['openai', 'pdf', true],
    ['openai', 'reasoning_efforts', ['low', 'medium', 'high']],
    ['openai', 'fixed_sampling_models', ['o1*', 'o3*', 'o4*', 'gpt-5*', 'codex-*']],
    ['azure', 'fixed_sampling_models', []], // deployment names say nothing of the model: set per channel
    ['azure', 'max_tokens_field', 'max_completion_tokens'],
    ['deepseek', 'reasoning', 'thinking'],
    ['deepseek', 'reasoning_content_in_history', true],
    ['deepseek', 'user_max_length', 0],
    ['openrouter', 'reasoning', 'reasoning'],
    ['openrouter', 'top_k', true],
    ['groq', 'max_tokens_field', 'max_completion_tokens'],
    ['mistral', 'tool_call_id', 'alnum9'],
    ['mistral', 'stream_usage', false],
    ['mistral', 'user_max_length', 0],
    ['mistral', 'assistant_prefix', true],
    ['mistral', 'user_after_tool', 'fold'],
    ['openrouter', 'user_after_tool', 'keep'], // set `fold` on a channel that serves Mistral models (README)
    ['xai', 'reasoning_efforts', ['low', 'high']],
    ['xai', 'reasoning_efforts_by_model', { 'grok-4.3*': ['none', 'low', 'medium', 'high'] }],
    ['xai', 'thinking_by_default_models', ['grok-4.3*']],
    ['gemini', 'schema', 'strict'],
    ['gemini', 'parallel_tool_calls', false],
    ['zai', 'reasoning', 'thinking'],
    ['huggingface', 'think_tags', true],
    ['ollama', 'reasoning', 'none'],
    ['vllm', 'top_k', true],
    ['llama.cpp', 'top_k', true],
    // the rest of README's Providers table, "what the preset sets", one row per claim
    ['openai', 'reasoning_models', ['o1*', 'o3*', 'o4*', 'gpt-5*', 'gpt-oss*', 'codex-*']],
    ['openai', 'system_anywhere', true],
    ['openai', 'max_stop_sequences', 4],
    ['azure', 'max_stop_sequences', 4],
    ['azure', 'reasoning_models', ['*']], // a non-reasoning deployment needs quirks.reasoning: none
    ['deepseek', 'reasoning_efforts', ['low', 'high', 'max']],
    // "MAX OUTPUT 384K" for deepseek-flash and deepseek-v4-pro (https://api-docs.deepseek.com/quick_start/pricing); the
    // API's 400 says "the valid range of max_tokens is [1, 393216]"; the retired names keep their old ceilings
    ['deepseek', 'max_output_tokens', { 'deepseek-flash*': 393216, 'deepseek-v4*': 393216, 'deepseek-chat': 8192, 'deepseek-reasoner': 65536 }],
    ['deepseek', 'parallel_tool_calls', false],
    ['openrouter', 'pdf', true],
    ['openrouter', 'reasoning_details', 'keep'],
    ['groq', 'reasoning_models', ['openai/gpt-oss*', 'gpt-oss*']],
    ['mistral', 'reasoning', 'none'],
    ['xai', 'reasoning_models', ['grok-3-mini*', 'grok-4.3*']],
    ['gemini', 'user_max_length', 0],
    ['gemini', 'thought_signatures', 'keep'],
    ['zai', 'reasoning_efforts', []],
    ['zai', 'user_max_length', 0],
    // "目前仅支持单个停止词" (only a single stop word for now): https://docs.bigmodel.cn/api-reference (Z.ai's API)
    ['zai', 'max_stop_sequences', 1],
    ['cerebras', 'max_tokens_field', 'max_completion_tokens'],
    ['huggingface', 'reasoning', 'none'],
    ['ollama', 'user_max_length', 0],
    ['ollama', 'parallel_tool_calls', false],
    ['vllm', 'reasoning', 'chat_template_kwargs'],
    ['llama.cpp', 'reasoning', 'none'],
    // https://platform.kimi.ai/docs/api/chat, /docs/guide/use-kimi-k2-thinking-model, /docs/api/models-overview
    ['moonshot', 'max_tokens_field', 'max_completion_tokens'],
    ['moonshot', 'reasoning', 'thinking'],
    ['moonshot', 'reasoning_efforts', []],
    ['moonshot', 'reasoning_models', ['kimi-k2.*']],
    ['moonshot', 'always_thinking_models', ['kimi-k2-thinking*']],
    ['moonshot', 'thinking_by_default_models', ['kimi-k2.5*', 'kimi-k2.6*']],
    // https://docs.z.ai/guides/capabilities/thinking: `thinking.type` "enabled (default)"
    ['zai', 'thinking_by_default_models', ['glm-4.5*', 'glm-4.6*', 'glm-4.7*', 'glm-5*']],
    // https://api-docs.deepseek.com/guides/thinking_mode: "Thinking mode is enabled by default"
    ['deepseek', 'thinking_by_default_models', ['deepseek-flash*', 'deepseek-v4*']],
    ['openai', 'thinking_by_default_models', []],
    ['moonshot', 'reasoning_content_in_history', true],
    ['moonshot', 'forced_tool_choice', 'without_thinking'],
    ['moonshot', 'fixed_sampling_models', ['kimi-k2.*']],
    // https://www.alibabacloud.com/help/en/model-studio/deep-thinking: `enable_thinking`, `thinking_budget`, no effort levels
    ['dashscope', 'reasoning', 'enable_thinking'],
    ['dashscope', 'reasoning_efforts', []],
    ['dashscope', 'thinking_streamed_only', true],
    ['dashscope', 'thinking_by_default_models', ['qwen3-*b', 'qwen3.*']],
    ['dashscope', 'reasoning_models', ['qwen3-*b', 'qwen3.*', 'qwen3-max*', 'qwen-plus*', 'qwen-flash*', 'qwen-turbo*', 'qwen3-vl-*', 'qwen3-omni-*']],
  ] as const)('%s: %s = %p', (provider, field, value) => {
    expect(resolveQuirks(provider, undefined)[field as keyof ChatQuirks]).toEqual(value as never);
  });
});

describe('README\'s Providers table', () => {
  const readme = readFileSync(resolve(import.meta.dir, '../../../README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Providers'), readme.indexOf('### `quirks`'));
  const rows = [...table.matchAll(/^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({ provider: m[1]!, base: m[2]!.trim(), sets: m[3]! }));

  test('a row for every preset, and a preset for every row', () => {
    expect(rows.map((r) => r.provider).sort()).toEqual(Object.keys(PRESETS).sort());
  });

  test.each(Object.keys(TRANSPORT))('%s: the default base URL is the one the channel uses', (provider) => {
    const row = rows.find((r) => r.provider === provider);
    const url = TRANSPORT[provider]!.base_url;
    if (url === undefined) expect(row?.base).toStartWith('—');
    else expect(row?.base).toBe(`\`${url}\``);
  });

  test.each([
    // a preset that sends no `user` / `parallel_tool_calls` says so in its row, and the tool_choice row names it
    ...Object.keys(PRESETS).map((p) => [p, 'user', resolveQuirks(p, undefined).user_max_length === 0] as const),
    ...Object.keys(PRESETS).map((p) => [p, 'parallel_tool_calls', !resolveQuirks(p, undefined).parallel_tool_calls] as const),
  ])('%s: "no `%s`" in its row exactly when the preset sends none', (provider, field, none) => {
    const row = rows.find((r) => r.provider === provider)!;
    expect(new RegExp(`no \`${field}\``).test(row.sets)).toBe(none);
    if (field === 'parallel_tool_calls') expect(readme.includes(`\`${provider}\``) && new RegExp(`takes no \`parallel_tool_calls\`: [^)]*\`${provider}\``).test(readme)).toBe(none);
  });

  test.each(Object.keys(PRESETS))('%s: "no reasoning control" in its row exactly when the preset sends none', (provider) => {
    const row = rows.find((r) => r.provider === provider)!;
    expect(row.sets.includes('no reasoning control')).toBe(resolveQuirks(provider, undefined).reasoning === 'none');
  });
});

describe('resolveQuirks', () => {
  test('no provider: the generic defaults', () => {
    expect(resolveQuirks(undefined, undefined)).toEqual(DEFAULT_CHAT_QUIRKS);
  });

  test('an unknown provider is an error listing the known ones', () => {
    expect(() => resolveQuirks('openia', undefined)).toThrow(/unknown provider "openia"; known: openai, azure/);
  });

  test.each([
    ['override beats preset', 'openai', { max_tokens_field: 'max_tokens' }, { max_tokens_field: 'max_tokens' }],
    ['override beats default', undefined, { top_k: true }, { top_k: true }],
    ['undefined override keeps the preset', 'mistral', { tool_call_id: undefined }, { tool_call_id: 'alnum9' }],
    ['max_output_tokens merged per model', 'deepseek', { max_output_tokens: { 'deepseek-chat': 4096, '*': 2048 } }, { max_output_tokens: { 'deepseek-chat': 4096, 'deepseek-reasoner': 65536, '*': 2048 } }],
    ['reasoning off for a non-reasoning model', 'openai', { reasoning: 'none' }, { reasoning: 'none', max_tokens_field: 'max_completion_tokens' }],
  ] as const)('%s', (_name, provider, overrides, want) => {
    expect(resolveQuirks(provider, overrides as never)).toMatchObject(want as never);
  });

  test('resolved quirks never share arrays or maps with the preset', () => {
    const a = resolveQuirks('openai', undefined);
    a.reasoning_efforts.push('xhigh');
    a.max_output_tokens['x'] = 1;
    expect(PRESETS.openai.reasoning_efforts).toEqual(['low', 'medium', 'high']);
    expect(resolveQuirks('openai', undefined).max_output_tokens).toEqual({ ...PRESETS.openai.max_output_tokens });
    expect(resolveQuirks('openai', undefined).max_output_tokens.x).toBeUndefined();
    expect(DEFAULT_CHAT_QUIRKS.max_output_tokens).toEqual({});
  });
});
