/**
 * @module pipeline/blank-text
 * Text blocks of whitespace alone in a relayed conversation, which Anthropic refuses: 400 "messages: text content
 * blocks must contain non-whitespace text" (anthropics/claude-code#23440). A conversation holds them when turns were
 * made elsewhere: the "\n\n" many OpenAI-compatible models write before their tool calls, as a translation made it a
 * text block before the gateway left it out (formats/openai-chat/response-to-hub.ts), or as another gateway or the
 * client wrote it. The client sends the history again each turn, so every later turn is refused. On that refusal the
 * request is sent once more to the same channel without them (pipeline/foreign-thinking.ts: refusedHistory and
 * repairHistory, pipeline/handle.ts: historyOrError); a request Anthropic takes is never scanned for them.
 * The prefill's "final assistant content cannot end with trailing whitespace" is another rule, and not repaired.
 */
import type { RepairedHistory } from './foreign-thinking.ts';

type Block = { type?: unknown; text?: unknown; content?: unknown };
type Message = { role?: unknown; content?: unknown };

const isBlank = (b: unknown) => {
  const block = b as Block | null;
  return block?.type === 'text' && typeof block.text === 'string' && block.text.trim() === '';
};

/** What the `x-switchboard-dropped` header names. */
export const BLANK_TEXT_DROPPED = 'text blocks of whitespace alone (Anthropic refuses them)';

/**
 * `body` (a fresh parse of the client's request, changed in place) without text blocks of whitespace alone: in every
 * turn, in tool results' content and in `system`. An assistant turn of nothing else (a string of whitespace, or such
 * blocks alone) is left out whole, as pipeline/foreign-thinking.ts leaves out a turn of thinking blocks only: the
 * turns around it read as one. Null when it would go out as it was, or when a user turn holds whitespace alone: that
 * is the client's own message (formats/openai-chat/request-to-hub.ts sends one as it is too), and Anthropic's 400 is
 * the answer.
 */
export function withoutBlankText(body: Record<string, unknown>): RepairedHistory | null {
  const messages = body.messages;
  if (!Array.isArray(messages)) return null;
  let removed = 0;
  const emptied: number[] = [];
  const kept: unknown[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message | null;
    const assistant = m?.role === 'assistant';
    if (typeof m?.content === 'string') {
      if (m.content.trim() !== '') kept.push(m);
      else if (!assistant) return null;
      else { removed++; emptied.push(i); }
      continue;
    }
    if (!Array.isArray(m?.content)) { kept.push(m); continue; }
    let changed = false;
    const content: unknown[] = [];
    for (const b of m.content) {
      if (isBlank(b)) { removed++; changed = true; continue; }
      const inner = (b as Block | null)?.type === 'tool_result' ? (b as Block).content : undefined;
      if (Array.isArray(inner) && inner.some(isBlank)) {
        const left = inner.filter((x) => !isBlank(x));
        removed += inner.length - left.length;
        changed = true;
        content.push({ ...(b as Block), content: left });
        continue;
      }
      content.push(b);
    }
    if (!changed) { kept.push(m); continue; }
    if (content.length === 0) {
      if (!assistant) return null;
      emptied.push(i);
      continue;
    }
    kept.push({ ...m, content });
  }
  if (Array.isArray(body.system) && body.system.some(isBlank)) {
    const left = body.system.filter((b) => !isBlank(b));
    removed += body.system.length - left.length;
    if (left.length) body.system = left;
    else delete body.system;
  }
  if (removed === 0) return null;
  body.messages = kept;
  const dropped = [BLANK_TEXT_DROPPED];
  for (const i of emptied) dropped.push(`messages.${i} (an assistant turn of whitespace alone)`);
  return { body, dropped };
}
