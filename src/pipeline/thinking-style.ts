/**
 * @module pipeline/thinking-style
 * Which thinking shape an Anthropic model takes when a request is translated into it (reasoning_effort →
 * thinking). Claude 4.6 and later: `{type: "adaptive"}` + `output_config.effort` (Opus 4.7+ reject budgets);
 * older Claude models with extended thinking: `{type: "enabled", budget_tokens}`; Claude 3 before 3.7: none.
 * A channel's `thinking` map (upstream model or `*` → style) overrides these defaults.
 */
import type { ChannelConfig } from '../config/schema.ts';
import { claudeVersion } from '../hub/claude-models.ts';

export type ThinkingStyle = 'adaptive' | 'budget' | 'none';

export function defaultThinkingStyle(model: string): ThinkingStyle {
  const m = model.toLowerCase();
  if (/claude-3-(?!7)|claude-instant|claude-2/.test(m) || /claude-3-5/.test(m)) return 'none';
  if (/claude-3-7/.test(m)) return 'budget';
  const ver = claudeVersion(m);
  if (ver) return ver.major > 4 || (ver.major === 4 && ver.minor >= 6) ? 'adaptive' : 'budget';
  return 'adaptive';
}

export function thinkingStyleFor(channel: ChannelConfig, upstreamModel: string): ThinkingStyle {
  const map = channel.thinking;
  return map?.[upstreamModel] ?? map?.['*'] ?? defaultThinkingStyle(upstreamModel);
}
