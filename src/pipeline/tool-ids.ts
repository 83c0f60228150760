/**
 * @module pipeline/tool-ids
 * Tool-call ids Anthropic refuses in a relayed conversation's history: it takes a `tool_use` block's `id` and a
 * `tool_result` block's `tool_use_id` of `^[a-zA-Z0-9_-]+$` only, and answers 400 "messages.1.content.0.tool_use.id:
 * String should match pattern '^[a-zA-Z0-9_-]+$'" (BlockRunAI/ClawRouter#17, RooCodeInc/Roo-Code#10649). A
 * conversation holds such ids when turns were made elsewhere: an openai channel's provider names its calls so (Kimi K2
 * `functions.Read:0`, as SGLang's and vLLM's kimi_k2 parsers write them, sgl-project/sglang#9606). Since the
 * translated answer gives the client such an id within the pattern (formats/openai-chat/foreign-tool-id.ts: `tid_…`,
 * read back into the provider's own when the conversation goes to an openai channel again), a session begun since
 * holds none (but for an id that is not well-formed UTF-16, which has no UTF-8 to carry). Before that, the gateway handed them to the client as they were, Claude Code keeps them and sends them with
 * every later turn, so a session made then and resumed or fallen back onto an anthropic channel is refused on every
 * turn; and a client may have got them elsewhere. On that refusal the request is sent once more to the same channel
 * with each such id written within the pattern, the call and its result alike (pipeline/foreign-thinking.ts:
 * refusedHistory and repairHistory, pipeline/handle.ts: historyOrError): one extra round trip on each such turn; a
 * request Anthropic takes is never scanned for them. The ids are written the same way in every turn of a conversation
 * (a history only grows), so Anthropic's prompt cache still finds its prefix. Only the request is rewritten: the
 * client keeps its ids, so an openai channel later still gets them as they were.
 */
import type { RepairedHistory } from './foreign-thinking.ts';

type Block = { type?: unknown; id?: unknown; tool_use_id?: unknown };
type Message = { content?: unknown };

const ID = /^[a-zA-Z0-9_-]+$/;

/** What the `x-switchboard-dropped` header names. */
export const TOOL_IDS_REWRITTEN = 'tool_use ids outside ^[a-zA-Z0-9_-]+$ (Anthropic refuses them: sent as ids within it)';

/**
 * `body` (a fresh parse of the client's request, changed in place) with every `tool_use` id and `tool_result`
 * `tool_use_id` outside the pattern replaced: its other characters as `_`, and `_2`, `_3`… after it where that id is
 * taken (by an id of the conversation, or an earlier replacement), in order of first appearance, so a call and its
 * result keep one id. Null when there is none.
 */
export function withToolIdsWithinPattern(body: Record<string, unknown>): RepairedHistory | null {
  const messages = body.messages;
  if (!Array.isArray(messages)) return null;
  const blocks: Block[] = [];
  const taken = new Set<string>();
  for (const m of messages) {
    const content = (m as Message | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const b of content as (Block | null)[]) {
      const key = b?.type === 'tool_use' ? 'id' : b?.type === 'tool_result' ? 'tool_use_id' : null;
      if (key === null) continue;
      const id = b![key];
      if (typeof id !== 'string') continue;
      if (ID.test(id)) taken.add(id);
      else blocks.push(b!);
    }
  }
  if (blocks.length === 0) return null;
  const rewritten = new Map<string, string>();
  for (const b of blocks) {
    const key = b.type === 'tool_use' ? 'id' : 'tool_use_id';
    const id = b[key] as string;
    let to = rewritten.get(id);
    if (to === undefined) {
      const base = id.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
      to = base;
      for (let n = 2; taken.has(to); n++) to = `${base}_${n}`;
      taken.add(to);
      rewritten.set(id, to);
    }
    b[key] = to;
  }
  return { body, dropped: [TOOL_IDS_REWRITTEN] };
}
