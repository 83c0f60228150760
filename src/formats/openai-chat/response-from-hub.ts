/**
 * @module formats/openai-chat/response-from-hub
 * Inbound role: the hub's answer (an Anthropic Message) → a Chat Completions `chat.completion`. Pure.
 *
 * - Text blocks are concatenated, without separators, into `message.content` (`null` when there is none): Anthropic
 *   splits one answer into several text blocks around citations and tool calls, and they read as one text.
 * - `tool_use` blocks → `tool_calls` (arguments re-serialized from the parsed input).
 * - Thinking never enters `content`. Its text is exposed as `message.reasoning_content`, the field DeepSeek-style
 *   APIs use and many OpenAI-compatible clients read; unknown to OpenAI's own schema, so others ignore it. It only
 *   exists when the client asked for `reasoning_effort`. Redacted thinking has no text and is omitted.
 * - Server-tool blocks (web search, MCP…) and citations have no Chat Completions form: omitted, noted in ctx.dropped.
 */
import type { Message, StopReason, Usage } from '../../hub/types.ts';
import type { TranslateContext } from '../types.ts';
import { STOP_REASON_TO_CHAT_FINISH } from './stop-reason.ts';
import type { ChatCompletion, ChatCompletionMessage, ChatCompletionMessageToolCall, ChatFinishReason, CompletionUsage } from './types.ts';

/** Anthropic stop_reason → finish_reason (stop-reason.ts); an unknown or missing reason reads as a normal stop. */
export function finishReasonFromHub(reason: StopReason | string | null | undefined): ChatFinishReason {
  return reason != null && Object.hasOwn(STOP_REASON_TO_CHAT_FINISH, reason) ? STOP_REASON_TO_CHAT_FINISH[reason as StopReason] : 'stop';
}

/** `chatcmpl-…` from the upstream message id, so logs on both sides can be matched. */
export function completionId(messageId: string | undefined): string {
  return `chatcmpl-${(messageId ?? '').replace(/^msg_/, '') || 'switchboard'}`;
}

/**
 * Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's `prompt_tokens` includes cached tokens
 * and reports the cache-read share as `prompt_tokens_details.cached_tokens`.
 */
export function usageFromHub(usage: Partial<Usage> | undefined): CompletionUsage {
  const cacheRead = usage?.cache_read_input_tokens ?? 0;
  const prompt = (usage?.input_tokens ?? 0) + cacheRead + (usage?.cache_creation_input_tokens ?? 0);
  const completion = usage?.output_tokens ?? 0;
  const out: CompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
  const thinking = (usage?.output_tokens_details as { thinking_tokens?: unknown } | null | undefined)?.thinking_tokens;
  if (typeof thinking === 'number') out.completion_tokens_details = { reasoning_tokens: thinking };
  return out;
}

function note(ctx: TranslateContext, item: string): void {
  if (!ctx.dropped.includes(item)) ctx.dropped.push(item);
}

export function hubResponseToChat(msg: Message, ctx: TranslateContext, now: number = Date.now()): ChatCompletion {
  let text = '';
  let hasText = false;
  let reasoning = '';
  const toolCalls: ChatCompletionMessageToolCall[] = [];

  for (const block of msg.content) {
    switch (block.type) {
      case 'text': {
        const b = block as { text: string; citations?: unknown[] | null };
        text += b.text;
        hasText = true;
        if (b.citations?.length) note(ctx, 'citations');
        break;
      }
      case 'tool_use': {
        const b = block as { id: string; name: string; input: unknown };
        toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
        break;
      }
      case 'thinking':
        reasoning += (block as { thinking: string }).thinking;
        break;
      case 'redacted_thinking':
        break;
      default:
        note(ctx, `content.${block.type} (no Chat Completions equivalent)`);
    }
  }

  const message: ChatCompletionMessage = { role: 'assistant', content: hasText ? text : null, refusal: null };
  if (reasoning) message.reasoning_content = reasoning;
  if (toolCalls.length) message.tool_calls = toolCalls;

  return {
    id: completionId(msg.id),
    object: 'chat.completion',
    created: Math.floor(now / 1000),
    model: ctx.requestedModel,
    choices: [{ index: 0, message, finish_reason: finishReasonFromHub(msg.stop_reason), logprobs: null }],
    usage: usageFromHub(msg.usage),
  };
}
