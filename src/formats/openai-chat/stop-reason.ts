/**
 * @module formats/openai-chat/stop-reason
 * The two lookup tables between Chat Completions `finish_reason` and Anthropic `stop_reason`.
 * finish_reason values: https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 * stop_reason values: https://docs.anthropic.com/en/api/handling-stop-reasons
 */
import type { StopReason } from '../../hub/types.ts';
import type { ChatFinishReason } from './types.ts';

/**
 * Upstream `finish_reason` → hub `stop_reason`. Values not listed (`eos`, `abort`, provider-native
 * strings) read as `end_turn`: the model stopped, and nothing says it was cut short.
 */
export const CHAT_FINISH_TO_STOP_REASON: Readonly<Record<string, StopReason>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use', // the deprecated single-function form
  content_filter: 'refusal',
  model_length: 'model_context_window_exceeded', // Mistral: the context window, not max_tokens, was hit
};

/**
 * Upstream `finish_reason` values that say generation failed part way, each with the HTTP status of the error the
 * client gets instead of a stop reason (read as `end_turn`, a cut-short answer would look whole):
 * OpenRouter's `error`, "if the model finishes the request with an error" (https://openrouter.ai/docs/api-reference/overview),
 * DeepSeek's `insufficient_system_resource`, "the request is interrupted due to insufficient resource of the
 * inference system" (https://api-docs.deepseek.com/api/create-chat-completion): overloaded, worth a retry.
 */
export const CHAT_FINISH_FAILURES: Readonly<Record<string, number>> = {
  error: 502,
  insufficient_system_resource: 529,
};

/** Hub `stop_reason` → `finish_reason`, for serving Chat Completions clients from the hub. */
export const STOP_REASON_TO_CHAT_FINISH = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
} as const satisfies Record<StopReason, ChatFinishReason>;

export function chatFinishToStopReason(finish: string | null | undefined): StopReason {
  return (finish && Object.hasOwn(CHAT_FINISH_TO_STOP_REASON, finish)) ? CHAT_FINISH_TO_STOP_REASON[finish]! : 'end_turn';
}
