/**
 * @module pipeline/thinking-style
 * Which thinking shape an Anthropic model takes when a request is translated into it (reasoning_effort →
 * thinking). Claude 4.6 and later: `{type: "adaptive"}` + `output_config.effort` (Opus 4.7+ reject budgets);
 * older Claude models with extended thinking: `{type: "enabled", budget_tokens}`; Claude 3 before 3.7: none.
 * A channel's `thinking` map (upstream model or `*` → style) overrides these defaults.
 */
import type { ChannelConfig } from '../config/schema.ts';

export type ThinkingStyle = 'adaptive' | 'budget' | 'none';

export function defaultThinkingStyle(model: string): ThinkingStyle {
  const m = model.toLowerCase();
  if (/claude-3-(?!7)|claude-instant|claude-2/.test(m) || /claude-3-5/.test(m)) return 'none';
  if (/claude-3-7/.test(m)) return 'budget';
  // claude-{family}-{major}-{minor} or claude-{major}-{minor}-{family}
  const ver = /claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d+))?/.exec(m) ?? /claude-(\d+)(?:-(\d+))?-(?:opus|sonnet|haiku)/.exec(m);
  if (ver) {
    const major = Number(ver[1]);
    const minor = ver[2] && ver[2].length <= 2 ? Number(ver[2]) : 0;
    if (major > 4 || (major === 4 && minor >= 6)) return 'adaptive';
    return 'budget';
  }
  return 'adaptive';
}

export function thinkingStyleFor(channel: ChannelConfig, upstreamModel: string): ThinkingStyle {
  const map = channel.thinking;
  return map?.[upstreamModel] ?? map?.['*'] ?? defaultThinkingStyle(upstreamModel);
}
