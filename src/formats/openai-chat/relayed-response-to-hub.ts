/**
 * @module formats/openai-chat/relayed-response-to-hub
 * A Chat Completions answer read into the hub for a Chat Completions client: a relayed stream request that an
 * OpenAI-compatible server answered with a whole JSON answer (older Ollama with tools, a proxy that buffers), which
 * the client gets as the stream that carries it (stream-from-hub.ts). Read as response-to-hub reads it, with no quirk
 * that changes what it says (no `<think>` split, ids as they came), and what the hub cannot carry back into a Chat
 * stream named in `ctx.dropped`, by its path in the answer: the same client, relayed, would have had it. And the
 * mirror: a relayed request not streamed that the server answered with a stream (one that always streams), read as
 * stream-to-hub reads it, with the same quirks, for the whole completion (response-from-hub.ts) the client gets.
 */
import type { Message, RawMessageStreamEvent, ToolUseBlock } from '../../hub/types.ts';
import type { SseEvent } from '../../sse/types.ts';
import type { StreamStage, TranslateContext } from '../types.ts';
import { chatChunksToHubStage } from './stream-to-hub.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from './quirks.ts';
import { chatResponseToHub, isRecord, noteDropped } from './response-to-hub.ts';
import { finishReasonFromHub } from './response-from-hub.ts';

/** The defaults, none of the quirks that rewrite an answer (think tags, carried signatures and reasoning details). */
const RELAYED_QUIRKS: ChatQuirks = { ...DEFAULT_CHAT_QUIRKS, think_tags: false, thought_signatures: 'off', reasoning_details: 'off', reasoning_content_in_history: false };

/** What the stream carries of each level of the answer; any other field with something in it is named. */
const CARRIED_TOP = new Set(['id', 'object', 'created', 'model', 'choices', 'usage']);
const CARRIED_CHOICE = new Set(['index', 'message', 'finish_reason']);
const CARRIED_MESSAGE = new Set(['role', 'content', 'tool_calls', 'reasoning_content', 'annotations' /* response-to-hub names them */]);
const CARRIED_CALL = new Set(['index', 'id', 'type', 'function']);
/** Carried, but as another field than the one it came in. */
const SENT_AS: Record<string, string> = {
  refusal: 'refusal (sent as content)',
  reasoning: 'reasoning (sent as reasoning_content)',
  reasoning_details: 'reasoning_details (sent as reasoning_content)',
  function_call: 'function_call (sent as tool_calls)',
};

export function relayedChatResponseToHub(body: unknown, ctx: TranslateContext): Message {
  const message = chatResponseToHub(body, ctx, RELAYED_QUIRKS, false);
  const completion = body as Record<string, unknown>;
  // the answer's id goes back as it came (completionId: `chatcmpl-` and the message id without its `msg_`)
  if (typeof completion.id === 'string' && completion.id !== '') message.id = `msg_${completion.id.replace(/^chatcmpl-/, '')}`;
  uncarried(completion, CARRIED_TOP, '', ctx);
  const choices = completion.choices as unknown[];
  const choice = (choices.find((c) => isRecord(c) && (c.index ?? 0) === 0) ?? choices[0]) as Record<string, unknown>;
  uncarried(choice, CARRIED_CHOICE, 'choices.0.', ctx);
  const msg = choice.message as Record<string, unknown>;
  for (const [key, value] of Object.entries(msg)) {
    if (CARRIED_MESSAGE.has(key) || !holds(value)) continue;
    noteDropped(ctx, `choices.0.message.${SENT_AS[key] ?? key}`);
  }
  if (Array.isArray(msg.tool_calls)) {
    const blocks = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    msg.tool_calls.forEach((call, i) => {
      if (!isRecord(call)) return;
      uncarried(call, CARRIED_CALL, `choices.0.message.tool_calls.${i}.`, ctx);
      const input = blocks[i]?.input as Record<string, unknown> | undefined;
      if (input && typeof input._raw === 'string' && Object.keys(input).length === 1) noteDropped(ctx, `choices.0.message.tool_calls.${i}.function.arguments (not a JSON object: sent as {"_raw": …})`);
    });
  }
  const finish = choice.finish_reason;
  const sent = finishReasonFromHub(message.stop_reason);
  if (typeof finish === 'string' && finish !== '' && finish !== sent) noteDropped(ctx, `choices.0.finish_reason ${finish} (sent as ${sent})`);
  // the reasoning tokens go back as they came (stream-from-hub writes them from the hub's output_tokens_details)
  const details = (completion.usage as { completion_tokens_details?: { reasoning_tokens?: unknown } } | null | undefined)?.completion_tokens_details;
  if (typeof details?.reasoning_tokens === 'number') message.usage.output_tokens_details = { thinking_tokens: details.reasoning_tokens };
  return message;
}

function uncarried(o: Record<string, unknown>, carried: Set<string>, path: string, ctx: TranslateContext) {
  for (const [key, value] of Object.entries(o)) if (!carried.has(key) && holds(value)) noteDropped(ctx, `${path}${key}`);
}

/** Whether a field says anything: not null, not an empty string, list or object. */
function holds(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  return typeof value !== 'object' || Object.keys(value).length > 0;
}

/** What the whole completion carries of each level of a chunk; any other field with something in it is named. */
const CARRIED_CHUNK_CHOICE = new Set(['index', 'delta', 'finish_reason']);
const CARRIED_DELTA = new Set(['role', 'content', 'tool_calls', 'reasoning_content', 'annotations' /* stream-to-hub names them */]);

/**
 * A Chat stream into the hub for a Chat client that asked for no stream: stream-to-hub's reading without the quirks
 * that rewrite an answer, the message's id and model the first chunk's (`chatcmpl-` taken off the id, which
 * completionId puts back), and what the completion cannot carry named by its path in a chunk, once each.
 */
export function relayedChatStreamToHub(ctx: TranslateContext): StreamStage<SseEvent, RawMessageStreamEvent> {
  const stage = chatChunksToHubStage(ctx, RELAYED_QUIRKS, false);
  let id: string | undefined;
  let model: string | undefined;
  let finish: string | undefined;
  // each tool block's input as it streamed, by block index, and its place among the calls: one never a JSON object is
  // sent as {"_raw": …} (stream-to-hub's settleArguments, as response-to-hub reads it), named as relayedChatResponseToHub names it
  const inputs = new Map<number, { call: number; json: string }>();
  let calls = 0;
  return {
    push(ev, out) {
      const from = out.length;
      stage.push(ev, out);
      let chunk: unknown;
      try { chunk = JSON.parse(ev.data); } catch { chunk = null; }
      if (isRecord(chunk) && chunk.error == null) {
        if (id === undefined && typeof chunk.id === 'string' && chunk.id !== '') id = chunk.id;
        if (model === undefined && typeof chunk.model === 'string' && chunk.model !== '') model = chunk.model;
        uncarried(chunk, CARRIED_TOP, '', ctx);
        const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
        for (const choice of choices) {
          if (!isRecord(choice) || (choice.index ?? 0) !== 0) continue; // stream-to-hub names `choices 1+`
          uncarried(choice, CARRIED_CHUNK_CHOICE, 'choices.0.', ctx);
          if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') finish = choice.finish_reason;
          if (!isRecord(choice.delta)) continue;
          for (const [key, value] of Object.entries(choice.delta)) {
            if (CARRIED_DELTA.has(key) || !holds(value)) continue;
            noteDropped(ctx, `choices.0.message.${SENT_AS[key] ?? key}`);
          }
          if (!Array.isArray(choice.delta.tool_calls)) continue;
          for (const call of choice.delta.tool_calls) if (isRecord(call)) uncarried(call, CARRIED_CALL, `choices.0.message.tool_calls.${call.index ?? 0}.`, ctx);
        }
      }
      relabel(out, from);
    },
    end(out) {
      const from = out.length;
      stage.end(out);
      relabel(out, from);
    },
  };

  function relabel(out: RawMessageStreamEvent[], from: number) {
    for (let i = from; i < out.length; i++) {
      const hub = out[i]!;
      if (hub.type === 'message_start') {
        out[i] = { ...hub, message: { ...hub.message, id: id ? `msg_${id.replace(/^chatcmpl-/, '')}` : hub.message.id, model: model ?? hub.message.model } };
      } else if (hub.type === 'content_block_start' && hub.content_block.type === 'tool_use') {
        inputs.set(hub.index, { call: calls++, json: '' });
      } else if (hub.type === 'content_block_delta' && hub.delta.type === 'input_json_delta') {
        const input = inputs.get(hub.index);
        if (input) input.json += hub.delta.partial_json;
      } else if (hub.type === 'content_block_stop') {
        const input = inputs.get(hub.index);
        if (input === undefined) continue;
        inputs.delete(hub.index);
        if (isRawInput(input.json)) noteDropped(ctx, `choices.0.message.tool_calls.${input.call}.function.arguments (not a JSON object: sent as {"_raw": …})`);
      } else if (hub.type === 'message_delta') {
        const sent = finishReasonFromHub(hub.delta.stop_reason);
        if (finish !== undefined && finish !== sent) noteDropped(ctx, `choices.0.finish_reason ${finish} (sent as ${sent})`);
      }
    }
  }
}

/** Whether a tool block's streamed input is the `{"_raw": …}` that arguments never a JSON object are sent as. */
function isRawInput(json: string): boolean {
  if (!json.includes('"_raw"')) return false;
  try {
    const input = JSON.parse(json) as unknown;
    return isRecord(input) && typeof input._raw === 'string' && Object.keys(input).length === 1;
  } catch {
    return false;
  }
}
