/**
 * @module pipeline/empty-turns
 * Turns with no content in a relayed conversation, which Anthropic refuses anywhere but as the final assistant turn
 * (a prefill): 400 "messages.N: all messages must have non-empty content except for the optional final assistant
 * message" (anthropics/claude-code#3196, #6774). A conversation holds one when a model answered nothing: an openai
 * channel's "" with finish_reason stop (Qwen and others, now and then after tool results), or whitespace alone, which
 * makes no text block (formats/openai-chat/response-to-hub.ts), reach a Messages client as `content: []`, and a client
 * that keeps the answer as it came (the Anthropic SDK's finalMessage, pushed into the history) sends the empty turn
 * with every later request. On that refusal the request is sent once more to the same channel without them
 * (pipeline/foreign-thinking.ts: refusedHistory and repairHistory, pipeline/handle.ts: historyOrError); a request
 * Anthropic takes is never scanned for them.
 */
import type { RepairedHistory } from './foreign-thinking.ts';

type Message = { role?: unknown; content?: unknown };

const isEmpty = (m: Message | null) => m?.content === '' || (Array.isArray(m?.content) && m.content.length === 0);

/**
 * `body` (a fresh parse of the client's request, changed in place) without its assistant turns of no content (`[]` or
 * `""`) but a final one, which Anthropic takes: the user turns around one then read as one, as Anthropic puts
 * consecutive turns of one role together (pipeline/foreign-thinking.ts leaves out a turn of thinking blocks only the
 * same way); a placeholder would put words in the model's mouth. Null when it would go out as it was, or when a user
 * turn is empty: that is the client's own message, and Anthropic's 400 is the answer.
 */
export function withoutEmptyTurns(body: Record<string, unknown>): RepairedHistory | null {
  const messages = body.messages;
  if (!Array.isArray(messages)) return null;
  const dropped: string[] = [];
  const kept: unknown[] = [];
  const last = messages.length - 1;
  for (let i = 0; i <= last; i++) {
    const m = messages[i] as Message | null;
    if (!isEmpty(m) || (i === last && m?.role === 'assistant')) { kept.push(m); continue; }
    if (m?.role !== 'assistant') return null;
    dropped.push(`messages.${i} (an empty assistant turn: Anthropic refuses one anywhere but last)`);
  }
  if (dropped.length === 0) return null;
  body.messages = kept;
  return { body, dropped };
}
