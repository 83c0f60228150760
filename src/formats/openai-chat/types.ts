/**
 * @module formats/openai-chat/types
 * OpenAI Chat Completions wire shapes, named as the `openai` SDK names them
 * (https://platform.openai.com/docs/api-reference/chat). Deliberately loose: OpenAI-compatible
 * providers add their own fields (`reasoning_content`, `reasoning_details`, `x_groq`, `provider`, …),
 * and every object keeps an index signature so nothing a provider sends is a type error.
 * Provider extensions that the converters read are spelled out, with the provider that sends them.
 */

// ---------- request ----------

export interface ChatCompletionContentPartText { type: 'text'; text: string; [k: string]: unknown }
export interface ChatCompletionContentPartImage {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high'; [k: string]: unknown };
  [k: string]: unknown;
}
/** A file given inline (`file_data` is a data URL) or by id; OpenAI takes PDFs this way. */
export interface ChatCompletionContentPartFile {
  type: 'file';
  file: { filename?: string; file_data?: string; file_id?: string; [k: string]: unknown };
  [k: string]: unknown;
}
export interface ChatCompletionContentPartRefusal { type: 'refusal'; refusal: string; [k: string]: unknown }
export type ChatCompletionContentPart =
  | ChatCompletionContentPartText | ChatCompletionContentPartImage | ChatCompletionContentPartFile;

export interface ChatCompletionSystemMessageParam {
  role: 'system';
  content: string | ChatCompletionContentPartText[];
  name?: string;
  [k: string]: unknown;
}
export interface ChatCompletionDeveloperMessageParam {
  role: 'developer';
  content: string | ChatCompletionContentPartText[];
  name?: string;
  [k: string]: unknown;
}
export interface ChatCompletionUserMessageParam {
  role: 'user';
  content: string | ChatCompletionContentPart[];
  name?: string;
  [k: string]: unknown;
}
export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Gemini: the call's thought signature, given with it and required back on it (formats/openai-chat/thought-signature.ts). */
  extra_content?: GoogleExtraContent;
  [k: string]: unknown;
}
export interface GoogleExtraContent { google?: { thought_signature?: string; [k: string]: unknown }; [k: string]: unknown }
export interface ChatCompletionAssistantMessageParam {
  role: 'assistant';
  content?: string | Array<ChatCompletionContentPartText | ChatCompletionContentPartRefusal> | null;
  tool_calls?: ChatCompletionMessageToolCall[];
  refusal?: string | null;
  name?: string;
  /** DeepSeek / Moonshot / vLLM: the reasoning of this turn, sent back in thinking-mode tool loops. */
  reasoning_content?: string;
  /** OpenRouter: the turn's reasoning as it was received (quirks.reasoning_details). */
  reasoning_details?: ReasoningDetail[];
  /** Mistral: the answer continues this (last) message (https://docs.mistral.ai/guides/prefix/). */
  prefix?: boolean;
  [k: string]: unknown;
}
export interface ChatCompletionToolMessageParam {
  role: 'tool';
  tool_call_id: string;
  /** OpenAI takes text parts only; a few providers also take images here (see quirks.tool_result_images). */
  content: string | ChatCompletionContentPart[];
  [k: string]: unknown;
}
export type ChatCompletionMessageParam =
  | ChatCompletionSystemMessageParam | ChatCompletionDeveloperMessageParam | ChatCompletionUserMessageParam
  | ChatCompletionAssistantMessageParam | ChatCompletionToolMessageParam;

export interface FunctionDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean | null;
  [k: string]: unknown;
}
export interface ChatCompletionFunctionTool { type: 'function'; function: FunctionDefinition; [k: string]: unknown }
export type ChatCompletionTool = ChatCompletionFunctionTool;

export interface ChatCompletionNamedToolChoice { type: 'function'; function: { name: string }; [k: string]: unknown }
export type ChatCompletionToolChoiceOption = 'none' | 'auto' | 'required' | ChatCompletionNamedToolChoice;

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max' | (string & {});

export interface ChatCompletionCreateParams {
  model: string;
  messages: ChatCompletionMessageParam[];
  max_tokens?: number;
  max_completion_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [k: string]: unknown };
  temperature?: number;
  top_p?: number;
  /** Not OpenAI: vLLM, llama.cpp, OpenRouter, Together… (see quirks.top_k). */
  top_k?: number;
  stop?: string | string[];
  tools?: ChatCompletionTool[];
  tool_choice?: ChatCompletionToolChoiceOption;
  parallel_tool_calls?: boolean;
  user?: string;
  reasoning_effort?: ReasoningEffort;
  /** OpenRouter's unified reasoning control (https://openrouter.ai/docs/use-cases/reasoning-tokens). */
  reasoning?: { effort?: ReasoningEffort; max_tokens?: number; exclude?: boolean; enabled?: boolean; [k: string]: unknown };
  /** DeepSeek / Z.ai thinking toggle (https://api-docs.deepseek.com/guides/thinking_mode). */
  thinking?: { type: 'enabled' | 'disabled'; [k: string]: unknown };
  /** Qwen on DashScope's compatible mode: the thinking switch, and the most thinking tokens (https://www.alibabacloud.com/help/en/model-studio/deep-thinking). */
  enable_thinking?: boolean;
  thinking_budget?: number;
  /**
   * Not OpenAI: variables for the model's chat template on vLLM, SGLang and llama.cpp's server (`--jinja`), where
   * hybrid models switch thinking (`enable_thinking`, `thinking`; https://docs.vllm.ai/en/stable/features/reasoning_outputs/).
   */
  chat_template_kwargs?: Record<string, unknown>;
  response_format?: unknown;
  n?: number;
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  [k: string]: unknown;
}

// ---------- response ----------

export interface CompletionUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: {
    cached_tokens?: number | null;
    /** OpenRouter: tokens written to the provider's prompt cache. */
    cache_write_tokens?: number | null;
    [k: string]: unknown;
  } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null; [k: string]: unknown } | null;
  /** DeepSeek's cache accounting (https://api-docs.deepseek.com/guides/kv_cache). */
  prompt_cache_hit_tokens?: number | null;
  prompt_cache_miss_tokens?: number | null;
  /** Hugging Face router: cached tokens at the top level. */
  cached_tokens?: number | null;
  [k: string]: unknown;
}

/** OpenRouter's structured reasoning (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details). */
export interface ReasoningDetail {
  type: 'reasoning.text' | 'reasoning.summary' | 'reasoning.encrypted' | (string & {});
  text?: string | null;
  summary?: string | null;
  signature?: string | null;
  data?: string;
  [k: string]: unknown;
}

/** Mistral (magistral) sends `content` as an array of typed parts. */
export interface MistralThinkingPart { type: 'thinking'; thinking: string | Array<{ type: string; text?: string; [k: string]: unknown }>; [k: string]: unknown }
export type ChatContentPartOut = ChatCompletionContentPartText | MistralThinkingPart | { type: string; [k: string]: unknown };

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | ChatContentPartOut[] | null;
  refusal?: string | null;
  /** OpenAI web search, OpenRouter's web plugin: `url_citation`s into the text (ANNOTATIONS_DROPPED). */
  annotations?: unknown[] | null;
  tool_calls?: Array<Partial<ChatCompletionMessageToolCall> & { function?: { name?: string; arguments?: string } }> | null;
  /** Deprecated single function call. */
  function_call?: { name?: string; arguments?: string } | null;
  /** DeepSeek, xAI, Z.ai, Moonshot, vLLM (older), Azure AI Foundry. */
  reasoning_content?: string | null;
  /** OpenRouter, Groq, Cerebras, Ollama, vLLM (newer). */
  reasoning?: string | null;
  reasoning_details?: ReasoningDetail[] | null;
  /** Gemini 2.5: the thought signature on the message (Gemini 3 puts it on the tool call). */
  extra_content?: unknown;
  thought_signature?: unknown;
  [k: string]: unknown;
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {});

export interface ChatCompletionChoice {
  index?: number;
  message: ChatCompletionMessage;
  finish_reason: ChatFinishReason | null;
  /** OpenRouter: the error the choice ended with (finish_reason "error"). */
  error?: ChatErrorObject | null;
  /** vLLM: the stop string (or token id) that ended generation. */
  stop_reason?: string | number | null;
  /** SGLang: same idea as vLLM's `stop_reason`. */
  matched_stop?: string | number | null;
  [k: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion' | string;
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: CompletionUsage | null;
  [k: string]: unknown;
}

// ---------- stream ----------

export interface ChatCompletionChunkToolCall {
  /** Missing on Mistral and Gemini; may start at 1 (Anthropic's compatibility endpoint). */
  index?: number;
  /** Missing on Gemini; repeated as `""` on continuation fragments by Alibaba. */
  id?: string | null;
  type?: 'function' | string;
  function?: { name?: string | null; arguments?: string | null; [k: string]: unknown };
  /** Gemini: `{google: {thought_signature}}`, on the call's fragment or in one of its own. */
  extra_content?: unknown;
  [k: string]: unknown;
}

export interface ChatCompletionChunkDelta {
  role?: string | null;
  content?: string | ChatContentPartOut[] | null;
  refusal?: string | null;
  annotations?: unknown[] | null;
  tool_calls?: ChatCompletionChunkToolCall[] | null;
  function_call?: { name?: string; arguments?: string } | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  reasoning_details?: ReasoningDetail[] | null;
  /** Gemini: a thought signature on the delta itself. */
  extra_content?: unknown;
  [k: string]: unknown;
}

export interface ChatCompletionChunkChoice {
  index?: number;
  delta?: ChatCompletionChunkDelta | null;
  finish_reason?: ChatFinishReason | null;
  /** OpenRouter: the error the choice ended with (finish_reason "error"). */
  error?: ChatErrorObject | null;
  stop_reason?: string | number | null;
  matched_stop?: string | number | null;
  [k: string]: unknown;
}

export interface ChatCompletionChunk {
  id?: string;
  object?: 'chat.completion.chunk' | string;
  created?: number;
  model?: string;
  choices?: ChatCompletionChunkChoice[] | null;
  usage?: CompletionUsage | null;
  /** Groq puts usage here on the last chunk. */
  x_groq?: { usage?: CompletionUsage | null; [k: string]: unknown } | null;
  /** OpenRouter: an error reported inside a 200 stream. */
  error?: ChatErrorObject | null;
  [k: string]: unknown;
}

// ---------- errors ----------

/** `{"error": {...}}`; `code` is a string on OpenAI and a number on OpenRouter. */
export interface ChatErrorObject {
  message?: string;
  type?: string | null;
  code?: string | number | null;
  param?: string | null;
  /** OpenRouter: `{ provider_name, raw }`. */
  metadata?: Record<string, unknown> | null;
  /** Groq in-stream errors. */
  status_code?: number;
  [k: string]: unknown;
}
export interface ChatErrorBody { error: ChatErrorObject | string; [k: string]: unknown }
