/**
 * @module test/helpers/openrouter-rules
 * OpenRouter's rule for reasoning in tool loops: an assistant message that came with `reasoning_details` must be sent
 * back with them exactly as received (https://openrouter.ai/docs/use-cases/reasoning-tokens, "Preserving reasoning
 * blocks"); otherwise Claude with thinking refuses the turn, and o-series / Gemini 3 lose their reasoning. A mock that
 * gives details records them here, by the id of the tool call the answer made.
 */

/** The reasoning_details a mock gave (joined, as a client accumulates a stream's), by the answer's first tool call id. */
export type GivenDetails = Map<string, unknown[]>;

/** What is wrong with a request's history by that rule; null when nothing is. */
export function reasoningDetailsProblem(body: any, given: GivenDetails): string | null {
  const messages: any[] = body?.messages ?? [];
  for (let n = 0; n < messages.length; n++) {
    const m = messages[n];
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    const want = given.get(m.tool_calls[0]?.id);
    if (want === undefined) continue;
    if (m.reasoning_details === undefined) return `messages[${n}]: the assistant message had reasoning_details and comes back without them`;
    if (JSON.stringify(m.reasoning_details) !== JSON.stringify(want)) return `messages[${n}]: reasoning_details changed: ${JSON.stringify(m.reasoning_details).slice(0, 200)}`;
  }
  return null;
}
