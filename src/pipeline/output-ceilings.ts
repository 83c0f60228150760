/**
 * @module pipeline/output-ceilings
 * Output-token ceilings learnt from the provider's own refusals. Claude Code asks for `max_tokens: 128000`; a model
 * that takes less answers 400 ("`max_completion_tokens` must be less than or equal to `40960`"), and without a
 * ceiling in `quirks.max_output_tokens` every request of the session would fail. The refusal names the ceiling:
 * the request is sent again to the same channel with `max_tokens` capped to it, once, and a fixed ceiling (the
 * model's) is remembered for the channel and model, so later requests are capped before they go. A ceiling that
 * depends on the request (what is left of the context window after its prompt, as vLLM words it) serves that retry
 * only. Only translated requests: a client speaking the provider's own format gets the provider's answer as it is.
 */
import type { Channel } from '../channels/types.ts';

/** What a refusal says: the ceiling, and whether it is the model's own (remembered) or this request's. */
export interface RefusedCeiling {
  ceiling: number;
  remember: boolean;
}

/**
 * The ceilings providers name in their 400 for a `max_tokens` too large, as they word them (each must name the
 * output-token field, so that no other limit is read as one):
 * - OpenAI: "max_tokens is too large: 128000. This model supports at most 16384 completion tokens, whereas you provided 128000."
 * - Groq (and NVIDIA NIM): "`max_completion_tokens` must be less than or equal to `40960`, the maximum value for …"
 * - DeepSeek: "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]"
 * - DashScope (Qwen on Alibaba Cloud Model Studio): "<400> InternalError.Algo.InvalidParameter: Range of max_tokens should
 *   be [1, 8192]" (musistudio/claude-code-router#184, Kilo-Org/kilocode#5871)
 * - Volcengine: "The parameter `max_completion_tokens` specified in the request are not valid: integer above maximum
 *   value, expected a value <= 12288, but got 32000 instead."
 * - Anthropic: "max_tokens: 128000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929"
 * - Gemini (its OpenAI-compatible endpoint too, and Vertex AI), in EXCLUSIVE: "Unable to submit request because it has a
 *   maxOutputTokens value of 128000 but the supported range is from 1 (inclusive) to 65537 (exclusive)."
 */
const FIXED: RegExp[] = [
  /max_(?:completion_)?tokens is too large: \d+\. This model supports at most (\d+) completion tokens/i,
  /max_(?:completion_)?tokens`? must be less than or equal to `?(\d+)`?/i,
  /valid range of max_(?:completion_)?tokens is \[\d+, ?(\d+)\]/i,
  /range of max_(?:completion_)?tokens should be \[\d+, ?(\d+)\]/i,
  /max_(?:completion_)?tokens`? specified in the request are not valid: integer above maximum value, expected a value <= ?(\d+)/i,
  /max_tokens: \d+ > (\d+), which is the maximum allowed number of output tokens/i,
];

/** Refusals that name the first value above the ceiling (an exclusive upper end): the ceiling is one less. */
const EXCLUSIVE: RegExp[] = [
  /maxOutputTokens value of \d+ but the supported range is from \d+ \(inclusive\) ?to (\d+) \(exclusive\)/i,
];

/**
 * What is left of the context window (vLLM, and OpenAI's older wording): the window less this request's prompt.
 * - "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context length is 64001 tokens
 *   and your request has 24235 input tokens (64000 > 64001 - 24235)."
 * - "This model's maximum context length is 8192 tokens. However, you requested 8256 tokens (64 in the messages, 8192
 *   in the completion)."
 */
const LEFT_OF_CONTEXT: RegExp[] = [
  /max_(?:completion_)?tokens'? is too large: \d+\. This model's maximum context length is (\d+) tokens and your request has (\d+) input tokens/i,
  /maximum context length is (\d+) tokens\. However, you requested \d+ tokens \((\d+) in the messages, \d+ in the completion\)/i,
];

/** The ceiling a provider's refusal names, or null when it names none (or one that leaves no room for an answer). */
export function refusedCeiling(message: string): RefusedCeiling | null {
  for (const re of FIXED) {
    const m = re.exec(message);
    if (m) return usable(Number(m[1]), true);
  }
  for (const re of EXCLUSIVE) {
    const m = re.exec(message);
    if (m) return usable(Number(m[1]) - 1, true);
  }
  for (const re of LEFT_OF_CONTEXT) {
    const m = re.exec(message);
    if (m) return usable(Number(m[1]) - Number(m[2]), false);
  }
  return null;
}

function usable(ceiling: number, remember: boolean): RefusedCeiling | null {
  return Number.isSafeInteger(ceiling) && ceiling >= 1 ? { ceiling, remember } : null;
}

/** Models remembered per channel, at most: with a `*` route the upstream model is whatever clients name. */
const MAX_MODELS = 256;

const learnt = new WeakMap<Channel, Map<string, number>>();

/** The ceiling learnt for this channel and upstream model, if any (looked up per translated request: no allocation). */
export function learntCeiling(channel: Channel, upstreamModel: string): number | undefined {
  return learnt.get(channel)?.get(upstreamModel);
}

/** Remembers a model's ceiling on a channel (the oldest model forgotten past MAX_MODELS). */
export function rememberCeiling(channel: Channel, upstreamModel: string, ceiling: number): void {
  let models = learnt.get(channel);
  if (!models) learnt.set(channel, (models = new Map()));
  models.delete(upstreamModel);
  models.set(upstreamModel, ceiling);
  if (models.size > MAX_MODELS) models.delete(models.keys().next().value!);
}
