/**
 * @module test/helpers/mistral-rules
 * The message-list checks Mistral's API runs before serving a chat completion, for mock upstreams: what it refuses,
 * answered with the 400 it sends. Mistral validates requests with mistral-common's `MistralRequestValidator`
 * (serving mode; src/mistral_common/protocol/instruct/validator.py), and the API returns that validator's messages:
 * - order (`_validate_message_order`): after `system` come user/assistant/system, after `user` assistant/system/user,
 *   after `assistant` assistant/user/tool, after `tool` only assistant/tool → "Unexpected role 'user' after role 'tool'",
 *   type `invalid_request_message_order`, code 3230 (as api.mistral.ai answers: BerriAI/litellm#17761,
 *   zed-industries/zed#37021, datapizza-labs/datapizza-ai#98);
 * - the last message is a user or tool one, or an assistant one with `prefix: true` (`_validate_last_message`);
 * - a `prefix: true` assistant message is the last one (`_validate_assistant_message`);
 * - every assistant's tool calls are answered by exactly as many tool messages, with ids among the calls' ids
 *   (`_validate_tool_calls_followed_by_tool_messages`, V13 form);
 * - tool-call ids are 9 characters `[a-zA-Z0-9]` (`MistralRequestValidatorV3`).
 * Not checked: "content or tool_calls, but not both" applies only to validators before V5; current models take both.
 */
import { json } from './upstream.ts';

type Msg = { role: string; content?: unknown; tool_calls?: Array<{ id: string }>; tool_call_id?: string; prefix?: boolean };

const NEXT: Record<string, readonly string[]> = {
  system: ['user', 'assistant', 'system'],
  user: ['assistant', 'system', 'user'],
  assistant: ['assistant', 'user', 'tool'],
  tool: ['assistant', 'tool'],
};

export interface MistralRefusal { message: string; type: string }

const refuse = (message: string, type = 'invalid_request_message_order'): MistralRefusal => ({ message, type });

/** Mistral's 400 for a Chat Completions body it would refuse, or null when it would serve it. */
export function mistralRefusal(body: { messages?: Msg[] }): Response | null {
  const r = mistralCheck(body);
  return r && json({ object: 'error', message: r.message, type: r.type, param: null, code: '3230' }, 400);
}

/** Why Mistral would refuse a Chat Completions body, or null when it would serve it. */
export function mistralCheck(body: { messages?: Msg[] }): MistralRefusal | null {
  const messages = body.messages ?? [];
  if (messages.length === 0) return refuse('Conversation must have at least one message');
  const last = messages.at(-1)!;
  if (messages.length > 1 && !(last.role === 'user' || last.role === 'tool' || (last.role === 'assistant' && last.prefix === true))) {
    return refuse(`Expected last role User or Tool (or Assistant with prefix True) for serving but got ${last.role}`, 'invalid_request_error');
  }
  const ID = /^[a-zA-Z0-9]{9}$/;
  let expected = new Set<string>();
  let seen = new Set<string>();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const before = messages[i - 1];
    if (before && !(NEXT[before.role] ?? []).includes(m.role)) return refuse(`Unexpected role '${m.role}' after role '${before.role}'`);
    if (m.role === 'assistant') {
      if (m.prefix === true && i !== messages.length - 1) return refuse('Assistant message with prefix True must be last message', 'invalid_request_error');
      if (expected.size !== seen.size) return refuse('Not the same number of function calls and responses');
      expected = new Set();
      seen = new Set();
      for (const c of m.tool_calls ?? []) {
        if (!ID.test(c.id)) return refuse(`Tool call id was ${c.id} but must be a-z, A-Z, 0-9, with a length of 9.`, 'invalid_request_error');
        expected.add(c.id);
      }
    } else if (m.role === 'tool') {
      const id = String(m.tool_call_id);
      if (!ID.test(id)) return refuse(`Tool call id was ${id} but must be a-z, A-Z, 0-9, with a length of 9.`, 'invalid_request_error');
      if (seen.has(id)) return refuse(`Duplicate tool call id ${id} in tool results`);
      if (!expected.has(id)) return refuse(`Unexpected tool call id ${id} in tool results`);
      seen.add(id);
    }
  }
  if (expected.size !== seen.size) return refuse('Not the same number of function calls and responses');
  return null;
}
