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

/**
 * Fold an Anthropic usage object (message_start.message.usage, message_delta.usage, or a Message's) into totals.
 * `upstream`: the counts are an upstream's own, read in the order it sent them; then a 0 does not replace a count
 * already read. message_delta's counts are cumulative (https://docs.anthropic.com/en/docs/build-with-claude/streaming:
 * never below message_start's), and compatible servers write 0 there for what message_start reported (SGLang's
 * message_delta `input_tokens: 0`, sgl-project/sglang#20830; envoyproxy/ai-gateway#1631). Not for a translation's
 * events, whose message_start holds the gateway's own estimate, which the provider's real 0 must replace.
 */
export function addAnthropicUsage(into: UsageTotals, u: unknown, upstream = false): void {
  if (!u || typeof u !== 'object') return;
  const o = u as Record<string, unknown>;
  // message_delta usage is cumulative: later values replace earlier ones
  const i = count(o.input_tokens, into.input_tokens, upstream); if (i !== undefined) into.input_tokens = i;
  const out = count(o.output_tokens, into.output_tokens, upstream); if (out !== undefined) into.output_tokens = out;
  const cr = count(o.cache_read_input_tokens, into.cache_read_input_tokens, upstream); if (cr !== undefined) into.cache_read_input_tokens = cr;
  const cc = count(o.cache_creation_input_tokens, into.cache_creation_input_tokens, upstream); if (cc !== undefined) into.cache_creation_input_tokens = cc;
}

/** `x` as the count that replaces `had`, or undefined: not a number, or (`upstream`) a 0 after a count. */
const count = (x: unknown, had: number, upstream: boolean): number | undefined => {
  const n = num(x);
  return n === 0 && upstream && had > 0 ? undefined : n;
};

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
