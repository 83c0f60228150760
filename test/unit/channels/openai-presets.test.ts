/**
 * @module test/unit/channels/openai-presets
 * Provider presets resolve to complete, valid quirks; channel overrides win; the choices that matter per
 * provider are pinned in one table.
 */
import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { PRESETS, resolveQuirks } from '../../../src/channels/openai/presets.ts';
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
    ['gemini', 'schema', 'strict'],
    ['gemini', 'parallel_tool_calls', false],
    ['zai', 'reasoning', 'thinking'],
    ['huggingface', 'think_tags', true],
    ['ollama', 'reasoning', 'none'],
    ['vllm', 'top_k', true],
    ['llama.cpp', 'top_k', true],
  ] as const)('%s: %s = %p', (provider, field, value) => {
    expect(resolveQuirks(provider, undefined)[field as keyof ChatQuirks]).toEqual(value as never);
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
