/**
 * @module formats/openai-chat/reasoning-details
 * OpenRouter's `reasoning_details` carried through the client, in the thinking block's signature
 * (quirks.reasoning_details).
 *
 * OpenRouter answers with the model's reasoning as `reasoning_details` (`reasoning.text` with its `signature`,
 * `reasoning.summary`, `reasoning.encrypted` with opaque `data`; each with `id`, `format`, `index`) and asks, in tool
 * loops, for the assistant message to come back with them exactly as received: Claude with thinking, OpenAI's
 * o-series (encrypted reasoning) and Gemini 3 (whose thought signatures OpenRouter carries there) lose their
 * reasoning, or refuse the request, without them (https://openrouter.ai/docs/use-cases/reasoning-tokens, "Preserving
 * reasoning blocks"). An Anthropic thinking block has one field every client sends back unchanged with the assistant
 * turn, also when its text is omitted (`thinking.display: "omitted"`, Claude Code): its `signature`. So the signature
 * the client sees is `switchboard-reasoning-details-v1:<the details as JSON, base64url>`, read back into
 * `reasoning_details` on that assistant message when the conversation goes upstream again. No state is kept in the
 * gateway. The provider's own signature (Claude's, relayed by OpenRouter) is inside the details, so it goes back too.
 *
 * Streamed, the details come in fragments: consecutive fragments of one item (same `type` and `index`) are joined
 * as OpenRouter's streaming deltas are accumulated: `text`, `summary` and `data` concatenated, any other field set by
 * the later fragment that carries a value (the `signature` comes in a fragment of its own after the text). A
 * non-streamed message's details are kept as they are. Where one item's fragments end up in two thinking blocks (a
 * fragment after its block closed), the two carriers are joined the same way when read back.
 */
import type { ReasoningDetail } from './types.ts';

const PREFIX = 'switchboard-reasoning-details-v1:';

/** The signature that carries a turn's details. */
export function detailsSignature(details: readonly unknown[]): string {
  return PREFIX + Buffer.from(JSON.stringify(details), 'utf8').toString('base64url');
}

/** The details a signature carries (detailsSignature), or null for any other signature. */
export function detailsInSignature(signature: unknown): ReasoningDetail[] | null {
  if (typeof signature !== 'string' || !signature.startsWith(PREFIX)) return null;
  try {
    const details: unknown = JSON.parse(Buffer.from(signature.slice(PREFIX.length), 'base64url').toString('utf8'));
    return Array.isArray(details) && details.every(isRecord) ? (details as ReasoningDetail[]) : null;
  } catch {
    return null;
  }
}

/** Streamed fragments appended to `into`, each joined to the item it continues (see the module). */
export function mergeDetailFragments(into: ReasoningDetail[], fragments: readonly unknown[]): ReasoningDetail[] {
  for (const f of fragments) {
    if (!isRecord(f)) continue;
    const last = into.at(-1);
    if (last !== undefined && continues(last, f)) joinFragment(last, f);
    else into.push({ ...(f as ReasoningDetail) });
  }
  return into;
}

/** Details of a later carrier of the same turn after those of an earlier one: a continued item joined. */
export function appendCarried(into: ReasoningDetail[], details: readonly ReasoningDetail[]): void {
  details.forEach((d, i) => {
    const last = into.at(-1);
    if (i === 0 && last !== undefined && continues(last, d)) joinFragment(last, d);
    else into.push(d);
  });
}

function continues(last: Record<string, unknown>, f: Record<string, unknown>): boolean {
  return typeof f.index === 'number' && f.index === last.index && f.type === last.type;
}

const JOINED = new Set(['text', 'summary', 'data']);

function joinFragment(last: Record<string, unknown>, f: Record<string, unknown>): void {
  for (const k in f) {
    const v = f[k];
    const was = last[k];
    if (JOINED.has(k) && typeof v === 'string' && typeof was === 'string') last[k] = was + v;
    else if (!(k in last) || (v !== null && v !== undefined && v !== '')) last[k] = v;
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
