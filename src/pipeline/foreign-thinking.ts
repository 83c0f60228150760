/**
 * @module pipeline/foreign-thinking
 * Thinking blocks Anthropic refuses in a relayed conversation's history. A thinking block's signature is Anthropic's,
 * written for one model: a block made elsewhere (an openai channel's reasoning, which the gateway hands clients as a
 * thinking block with an empty or `switchboard-…` signature; another Claude model) is refused when the conversation
 * moves to an anthropic channel (a `/model` switch, a fallback), with a 400 on every later turn: the client sends the
 * old blocks again each time. And with thinking on, a tool loop's last assistant turn must start with a thinking
 * block, which a turn made by a model without reasoning lacks. Anthropic words both refusals; the request is then sent
 * once more to the same channel with the history repaired (pipeline/handle.ts: historyOrError): every thinking block
 * left out (which of them Anthropic would take cannot be told, signatures being opaque) and, where a tool loop's last
 * turn is then without one, thinking turned off for the request, as the refusal itself advises
 * (https://docs.claude.com/en/docs/build-with-claude/extended-thinking, which the refusal links).
 * Nothing here runs for a request Anthropic takes: the body is parsed and re-encoded on this retry only.
 * Anthropic's refusal of a text block of whitespace alone is repaired the same way, by its sibling
 * pipeline/blank-text.ts, of an assistant turn with no content by pipeline/empty-turns.ts, and of tool-call ids
 * outside its pattern by pipeline/tool-ids.ts; a retry refused for
 * another of these reasons (a history with more than one) is repaired for each.
 */
import { withoutBlankText } from './blank-text.ts';
import { withoutEmptyTurns } from './empty-turns.ts';
import { withToolIdsWithinPattern } from './tool-ids.ts';

/** Which of the refusals an error message is. */
export type HistoryRefusal = 'signature' | 'thinking-first' | 'blank-text' | 'empty-turn' | 'tool-id';

/**
 * Anthropic's words (a proxy in between may quote them inside its own message, so they are looked for anywhere):
 * - "messages.1.content.0: Invalid `signature` in `thinking` block" (newer models may add why: "The block is bound
 *   to a different conversation. Remove the block, …");
 * - "messages.3.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is
 *   enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use`
 *   and `tool_result` blocks). … To avoid this requirement, disable `thinking`. …"
 */
const SIGNATURE = /Invalid `?signature`? in `?(?:redacted_)?thinking`? block/;
const THINKING_FIRST = /a final `?assistant`? message must start with a thinking block/;
/** "messages: text content blocks must contain non-whitespace text" (pipeline/blank-text.ts). */
const BLANK_TEXT = /text content blocks must contain non-whitespace text/;
/** "messages.3: all messages must have non-empty content except for the optional final assistant message" (pipeline/empty-turns.ts). */
const EMPTY_TURN = /all messages must have non-empty content except for the optional final assistant message/;
/** "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'" (pipeline/tool-ids.ts). */
const TOOL_ID = /\.(?:tool_use\.id|tool_result\.tool_use_id): String should match pattern/;

/** The refusal an Anthropic error message is, or null for any other. */
export function refusedHistory(message: string): HistoryRefusal | null {
  if (SIGNATURE.test(message)) return 'signature';
  if (THINKING_FIRST.test(message)) return 'thinking-first';
  if (BLANK_TEXT.test(message)) return 'blank-text';
  if (EMPTY_TURN.test(message)) return 'empty-turn';
  if (TOOL_ID.test(message)) return 'tool-id';
  return null;
}

/** A repaired request body, and what it left out (named as the `x-switchboard-dropped` header names things). */
export interface RepairedHistory {
  body: Record<string, unknown>;
  dropped: string[];
}

type Block = { type?: unknown };
type Message = { role?: unknown; content?: unknown };

const isThinking = (b: unknown) => {
  const t = (b as Block | null)?.type;
  return t === 'thinking' || t === 'redacted_thinking';
};

/**
 * `body` (a fresh parse of the client's request, changed in place) without thinking blocks in its assistant turns,
 * and with thinking off where needed; null when it would go out as it was (the refusal is then the client's answer).
 * - An assistant turn left with no content (it held thinking blocks only: an answer cut short while reasoning) is
 *   left out whole: Anthropic refuses an empty turn anywhere but last, and puts consecutive turns of one role
 *   together, so the turns around it read as they would have; a placeholder would put words in the model's mouth.
 * - Thinking is turned off when it is on and the conversation is in a tool loop (its last user turn holds
 *   `tool_result` blocks): the loop's last assistant turn no longer starts with a thinking block, which Anthropic
 *   requires while thinking is on; and whenever the refusal was that very requirement. With it goes a
 *   `clear_thinking_20251015` context edit (Claude Code sends one), which Anthropic refuses without thinking.
 */
export function repairHistory(body: Record<string, unknown>, refusal: HistoryRefusal): RepairedHistory | null {
  if (refusal === 'blank-text') return withoutBlankText(body);
  if (refusal === 'empty-turn') return withoutEmptyTurns(body);
  if (refusal === 'tool-id') return withToolIdsWithinPattern(body);
  const messages = body.messages;
  if (!Array.isArray(messages)) return null;
  let removed = 0;
  const emptied: number[] = [];
  const kept: unknown[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message | null;
    if (m?.role === 'assistant' && Array.isArray(m.content) && m.content.some(isThinking)) {
      const content = m.content.filter((b) => !isThinking(b));
      removed += m.content.length - content.length;
      if (content.length === 0) {
        emptied.push(i);
        continue;
      }
      kept.push({ ...m, content });
      continue;
    }
    kept.push(m);
  }
  const thinking = (body.thinking as Block | null | undefined)?.type;
  const off = (thinking === 'enabled' || thinking === 'adaptive') && (refusal === 'thinking-first' || inToolLoop(kept));
  if (removed === 0 && !off) return null;

  const dropped: string[] = [];
  if (removed > 0) {
    body.messages = kept;
    dropped.push(refusal === 'signature'
      ? 'thinking blocks of earlier turns (Anthropic refused a signature it did not write for this model)'
      : 'thinking blocks of earlier turns (thinking is off for this request)');
    for (const i of emptied) dropped.push(`messages.${i} (an assistant turn of thinking blocks only)`);
  }
  if (off) {
    body.thinking = { type: 'disabled' };
    dropped.push('thinking (off for this request: the last assistant turn of the tool loop has no thinking block Anthropic accepts)');
    if (withoutClearThinking(body)) dropped.push('context_management.edits clear_thinking_20251015 (it needs thinking, which is off for this request)');
  }
  return { body, dropped };
}

/** Whether the last user turn holds tool results: a tool loop under way, whose last assistant turn Anthropic checks. */
function inToolLoop(messages: unknown[]): boolean {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Message | null;
    if (m?.role !== 'user') continue; // Claude Code sends `role: "system"` turns after the user's
    return Array.isArray(m.content) && m.content.some((b) => (b as Block | null)?.type === 'tool_result');
  }
  return false;
}

/**
 * Takes `clear_thinking_*` edits out of `context_management` (the whole field when no edit is left); whether there
 * was one. Anthropic answers "`clear_thinking_20251015` strategy requires `thinking` to be enabled" otherwise.
 */
function withoutClearThinking(body: Record<string, unknown>): boolean {
  const cm = body.context_management as { edits?: unknown } | null | undefined;
  if (!cm || !Array.isArray(cm.edits)) return false;
  const edits = cm.edits.filter((e) => !String((e as Block | null)?.type).startsWith('clear_thinking_'));
  if (edits.length === cm.edits.length) return false;
  if (edits.length === 0 && Object.keys(cm).length === 1) delete body.context_management;
  else body.context_management = { ...cm, edits };
  return true;
}
