/**
 * Which thinking a translated `reasoning_effort` becomes per Anthropic model (README, "reasoning_effort → thinking"):
 * Claude 4.6 and later adaptive, Claude 3.7–4.5 a budget, earlier models none; a channel's `thinking` map overrides.
 */
import { describe, expect, test } from 'bun:test';
import { defaultThinkingStyle, thinkingStyleFor } from '../../../src/pipeline/thinking-style.ts';
import type { ChannelConfig } from '../../../src/config/schema.ts';

describe('defaultThinkingStyle', () => {
  const cases: Array<[string, 'adaptive' | 'budget' | 'none']> = [
    // 4.6 and later: adaptive (Opus 4.7+ refuse budgets)
    ['claude-opus-4-6', 'adaptive'], ['claude-sonnet-4-6', 'adaptive'], ['claude-opus-4-7', 'adaptive'],
    ['claude-sonnet-5-5', 'adaptive'], ['anthropic.claude-opus-4-6-v1', 'adaptive'],
    // 3.7 to 4.5: budget (a date is not a minor version)
    ['claude-3-7-sonnet-20250219', 'budget'], ['claude-3-7-sonnet-latest', 'budget'], ['claude-opus-4-20250514', 'budget'],
    ['claude-sonnet-4-20250514', 'budget'], ['claude-opus-4-1-20250805', 'budget'], ['claude-sonnet-4-5', 'budget'],
    ['claude-haiku-4-5-20251001', 'budget'], ['claude-sonnet-4-5@20250929', 'budget'],
    // before 3.7: no thinking
    ['claude-3-5-sonnet-20241022', 'none'], ['claude-3-5-haiku-latest', 'none'], ['claude-3-opus-20240229', 'none'],
    ['claude-3-haiku-20240307', 'none'], ['claude-2.1', 'none'], ['claude-instant-1.2', 'none'],
  ];
  for (const [model, style] of cases) test(`${model} → ${style}`, () => expect(defaultThinkingStyle(model)).toBe(style));
});

describe('thinkingStyleFor: the channel\'s `thinking` map', () => {
  const channel = (thinking?: Record<string, 'adaptive' | 'budget' | 'none'>) => ({ thinking }) as unknown as ChannelConfig;
  test('the upstream model\'s own entry, then `*`, then the default', () => {
    const ch = channel({ 'claude-opus-4-6': 'budget', '*': 'none' });
    expect(thinkingStyleFor(ch, 'claude-opus-4-6')).toBe('budget');
    expect(thinkingStyleFor(ch, 'claude-sonnet-4-6')).toBe('none');
    expect(thinkingStyleFor(channel({ 'claude-3-5-sonnet-20241022': 'budget' }), 'claude-sonnet-4-6')).toBe('adaptive');
    expect(thinkingStyleFor(channel(), 'claude-3-5-sonnet-20241022')).toBe('none');
  });
});
