/**
 * @module accounting/usage
 * One usage shape for every format: what the request log and (later) cost accounting record.
 */
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

/** Fold an OpenAI usage object into totals (prompt tokens include cached ones; we report them apart). */
export function addChatUsage(into: UsageTotals, u: unknown): void {
  if (!u || typeof u !== 'object') return;
  const o = u as Record<string, unknown>;
  const prompt = num(o.prompt_tokens);
  const details = o.prompt_tokens_details as Record<string, unknown> | undefined;
  const cached = num(details?.cached_tokens) ?? num(o.prompt_cache_hit_tokens) ?? 0;
  if (prompt !== undefined) { into.input_tokens = Math.max(0, prompt - cached); into.cache_read_input_tokens = cached; }
  const out = num(o.completion_tokens); if (out !== undefined) into.output_tokens = out;
}
