/**
 * @module formats/openai-chat/client-types
 * The Chat Completions shapes Switchboard *answers* with when an OpenAI client calls POST /v1/chat/completions
 * (the inbound role). Named as the official `openai` SDK names them
 * (https://github.com/openai/openai-node/blob/master/src/resources/chat/completions/completions.ts).
 * Request shapes are not here: they are `v.InferOutput` of the schema in request-to-hub.ts.
 * Loose on purpose: objects may carry fields this gateway does not set.
 */

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
  /**
   * The model's thinking, as DeepSeek-style APIs expose it. Not part of OpenAI's own schema: clients that do not
   * know it ignore it. Present only when the upstream returned thinking text (the client asked for `reasoning_effort`).
   */
  reasoning_content?: string;
  [k: string]: unknown;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; [k: string]: unknown };
  completion_tokens_details?: { reasoning_tokens?: number; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  finish_reason: ChatFinishReason;
  logprobs: null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: CompletionUsage;
  [k: string]: unknown;
}

export interface ChatCompletionChunkToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunkDelta {
  role?: 'assistant';
  content?: string | null;
  refusal?: string | null;
  tool_calls?: ChatCompletionChunkToolCallDelta[];
  /** See ChatCompletionMessage.reasoning_content. */
  reasoning_content?: string;
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChatCompletionChunkDelta;
  finish_reason: ChatFinishReason | null;
  logprobs?: null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatCompletionChunkChoice[];
  /** Only with `stream_options.include_usage`: `null` on every chunk but the last, which has `choices: []`. */
  usage?: CompletionUsage | null;
}

/** OpenAI's error envelope (openapi `ErrorResponse`): all four keys present, `param`/`code` nullable. */
export interface ChatErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
