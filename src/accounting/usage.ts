/**
 * @module accounting/usage
 * One usage shape for every format: what the request log and (later) cost accounting record.
 */
import { usageToHub } from '../formats/openai-chat/response-to-hub.ts';
import type { CompletionUsage } from '../formats/openai-chat/types.ts';

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export const emptyUsage = (): UsageTotals => ({ input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** Fold an Anthropic usage object (message_start.message.usage, message_delta.usage, or a Message's) into totals. */
export function addAnthropicUsage(into: UsageTotals, u: unknown): void {
  if (!u || typeof u !== 'object') return;
  const o = u as Record<string, unknown>;
  // message_delta usage is cumulative: later values replace earlier ones
  const i = num(o.input_tokens); if (i !== undefined) into.input_tokens = i;
  const out = num(o.output_tokens); if (out !== undefined) into.output_tokens = out;
  const cr = num(o.cache_read_input_tokens); if (cr !== undefined) into.cache_read_input_tokens = cr;
  const cc = num(o.cache_creation_input_tokens); if (cc !== undefined) into.cache_creation_input_tokens = cc;
}

/**
 * Fold an OpenAI usage object into totals, read exactly as a translation reads it (formats/openai-chat `usageToHub`:
 * cached and cache-write prompt tokens apart from `input_tokens`, and reasoning that xAI and Gemini leave out of
 * `completion_tokens` counted as output), so a passthrough and a translation log the same counts for one answer.
 * Counts it does not carry are left as they were.
 */
export function addChatUsage(into: UsageTotals, u: unknown): void {
  if (!u || typeof u !== 'object') return;
  const o = u as CompletionUsage;
  const h = usageToHub(o);
  if (num(o.prompt_tokens) !== undefined) {
    into.input_tokens = h.input_tokens;
    into.cache_read_input_tokens = h.cache_read_input_tokens ?? 0;
    into.cache_creation_input_tokens = h.cache_creation_input_tokens ?? 0;
  }
  if (num(o.completion_tokens) !== undefined) into.output_tokens = h.output_tokens;
}
