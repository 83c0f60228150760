/**
 * @module formats/openai-chat/quirks
 * What differs between OpenAI-compatible providers when we translate the hub into Chat Completions.
 * Provider presets (channels/openai/presets.ts) fill these in; a channel's `quirks` config overrides any of them.
 */
import * as v from 'valibot';
import { mapping, numeric } from '../../util/validate.ts';

export const ChatQuirksSchema = v.strictObject({
  /** Field that carries the output limit: most providers take `max_tokens`, OpenAI's reasoning models and Azure `max_completion_tokens`. */
  max_tokens_field: v.optional(v.picklist(['max_tokens', 'max_completion_tokens'])),
  /** Output-token ceiling per upstream model (`"*"` for any other); `max_tokens` is clamped to it (Claude Code asks for up to 128000). */
  max_output_tokens: v.optional(mapping(v.string(), v.pipe(numeric(), v.integer(), v.minValue(1)))),
  /** Most stop sequences the provider takes (OpenAI: 4); a request with more is a 400 naming `stop_sequences`. `0`: no limit. */
  max_stop_sequences: v.optional(v.pipe(numeric(), v.integer(), v.minValue(0))),
  /** Whether `top_k` is accepted; otherwise it is dropped and reported. */
  top_k: v.optional(v.boolean()),
  /**
   * How thinking / effort is expressed upstream:
   * `reasoning_effort` (OpenAI, Groq, xAI, Gemini…), `reasoning` (OpenRouter's `reasoning: {effort|max_tokens}`),
   * `thinking` (DeepSeek / Z.ai / Kimi style `thinking: {type: "enabled"|"disabled"}`, plus `reasoning_effort` when
   * `reasoning_efforts` is non-empty), `enable_thinking` (Qwen on DashScope: a top-level `enable_thinking` boolean,
   * and `thinking_budget` for an Anthropic budget), `chat_template_kwargs` (self-hosted servers that switch thinking
   * in the model's chat template: vLLM, SGLang, llama.cpp's server with `--jinja`; `chat_template_kwargs:
   * {<thinking_kwarg>: true|false}`, merged with the client's own, no budget, no effort levels), `none` (not sent).
   */
  reasoning: v.optional(v.picklist(['reasoning_effort', 'reasoning', 'thinking', 'enable_thinking', 'chat_template_kwargs', 'none'])),
  /**
   * The chat template variable that switches thinking, for `reasoning: chat_template_kwargs`: `enable_thinking` (Qwen3,
   * Qwen3.5, GLM-4.5 and later) or `thinking` (DeepSeek V3.1 and later), as vLLM's "Reasoning Outputs" and SGLang's
   * "Reasoning Parser" pages name them.
   */
  thinking_kwarg: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * The provider thinks on streamed requests only: a non-streamed request to a model with reasoning control goes with
   * the off switch, whether or not the client asked for thinking (asked, it is reported). DashScope's open Qwen3
   * models think by default and refuse a non-streamed request unless `enable_thinking` is false.
   */
  thinking_streamed_only: v.optional(v.boolean()),
  /**
   * A `tool_choice` that forces a call (`required`, a named function) with thinking on: `keep` sends both;
   * `without_thinking` (Kimi, which refuses the pair: "tool_choice 'required' is incompatible with thinking enabled")
   * sends the off switch beside it on a model with reasoning control (thinking the client asked for is reported), and
   * `auto` instead of it, reported, on a model of `always_thinking_models`.
   */
  forced_tool_choice: v.optional(v.picklist(['keep', 'without_thinking'])),
  /**
   * Upstream model names (`*` wildcards) that think unless told not to (Kimi K2.5/K2.6, GLM-4.5 and later, DeepSeek
   * V4, the open Qwen3 and Qwen3.5 models). Anthropic gives no thinking to a request that does not ask for it, and bills
   * none: a request without `thinking` (or `output_config.effort`) to one of them that has reasoning control
   * (`reasoning_models`) and does not always think (`always_thinking_models`) goes with the off switch. Default none;
   * `[]` on a channel lets such a model think unasked.
   */
  thinking_by_default_models: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  /** Upstream model names (`*` wildcards) that think whatever is sent (Kimi's kimi-k2-thinking). Default none. */
  always_thinking_models: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  /**
   * Upstream model names (`*` wildcards) that take the reasoning control; others get none, so a thinking request
   * (Claude Code always sends one) does not break a model without reasoning. Default `["*"]`: every model.
   */
  reasoning_models: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  /**
   * Upstream model names (`*` wildcards) that take only their default sampling (OpenAI's reasoning models answer 400
   * to any other `temperature`, and to `top_p` at all): `temperature` and `top_p` are dropped and reported. Default none.
   */
  fixed_sampling_models: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  /** Effort levels the provider accepts, lowest first; higher requested levels are capped to the last one. */
  reasoning_efforts: v.optional(v.array(v.string())),
  /**
   * Effort levels per upstream model (`*` wildcards), for a provider whose models take different ones (xAI: grok-4.3
   * none|low|medium|high, grok-3-mini low|high): the first pattern, in the order written, that matches the model gives
   * its list; a model none matches gets `reasoning_efforts`. A list with `none` sends `reasoning_effort: "none"` (or
   * `reasoning: {effort: "none"}`) as the off switch. A channel's mapping replaces the preset's. Default none.
   */
  reasoning_efforts_by_model: v.optional(mapping(v.pipe(v.string(), v.minLength(1)), v.array(v.string()))),
  /** Send assistant thinking from history back as `reasoning_content` (DeepSeek thinking mode with tools requires it). */
  reasoning_content_in_history: v.optional(v.boolean()),
  /** The provider writes reasoning inline as `<think>…</think>` in `content`; split it into a thinking block. */
  think_tags: v.optional(v.boolean()),
  /**
   * The provider takes `response_format: {type: "json_schema"}`. Otherwise (DeepSeek: `text` and `json_object` only)
   * an Anthropic structured-output request goes as `json_object`, the schema in the system prompt.
   */
  json_schema: v.optional(v.boolean()),
  /** The provider takes PDF `file` parts; otherwise a PDF becomes a placeholder and is reported as dropped. */
  pdf: v.optional(v.boolean()),
  /** The provider takes image parts inside `role: "tool"` messages; otherwise images are moved to a following user message. */
  tool_result_images: v.optional(v.boolean()),
  /** Longest `user` value accepted (OpenAI: 64); longer `metadata.user_id` values are hashed to fit. `0` drops `user`. */
  user_max_length: v.optional(v.pipe(numeric(), v.integer(), v.minValue(0))),
  /** Tool schema clean-up: `keep` as sent, `basic` drops `$schema`, `strict` also drops keys Gemini-style validators reject. */
  schema: v.optional(v.picklist(['keep', 'basic', 'strict'])),
  /** The provider honours `stream_options.include_usage`. */
  stream_usage: v.optional(v.boolean()),
  /** The provider accepts `parallel_tool_calls`. */
  parallel_tool_calls: v.optional(v.boolean()),
  /** The provider accepts the `developer` role (unused for now: system content is sent as `system`). */
  developer_role: v.optional(v.boolean()),
  /**
   * The provider accepts `system` messages after the first non-system message. Many chat templates
   * (Mistral, Qwen, Llama via vLLM/llama.cpp) reject them; then later system content goes as a user message.
   */
  system_anywhere: v.optional(v.boolean()),
  /**
   * Tool-call ids the provider accepts in history: `keep` any string, `alnum9` exactly 9 characters
   * `[a-zA-Z0-9]` (Mistral); other ids are mapped deterministically, the same way in `tool_calls` and `tool_call_id`.
   */
  tool_call_id: v.optional(v.picklist(['keep', 'alnum9'])),
  /**
   * A conversation that ends with an assistant turn (an Anthropic prefill, which the answer continues) is sent with
   * `prefix: true` on that message: Mistral refuses a last assistant message without it, and continues one with it.
   */
  assistant_prefix: v.optional(v.boolean()),
  /**
   * What is sent when a user message would directly follow tool messages (a user turn holding tool results and text,
   * which Claude Code sends with `<system-reminder>` blocks). `keep`: as is. Mistral refuses it ("Unexpected role
   * 'user' after role 'tool'"): `fold` sends text in the last tool message (the model answers after the tool results,
   * as it would have), and an image or file after a bridging assistant message (a tool message carries neither);
   * `bridge` always puts a bridging assistant message between.
   */
  user_after_tool: v.optional(v.picklist(['keep', 'fold', 'bridge'])),
  /**
   * Gemini's thought signatures (formats/openai-chat/thought-signature.ts). `keep`: a signature the provider gives a
   * tool call (`extra_content.google.thought_signature`) travels in the tool_use id the client sees, and goes back on
   * that call in later requests, with the provider's own id; the first call of an assistant turn that has none (a
   * history from another model) gets Google's documented dummy. Gemini 3 refuses a function call in the history
   * without its signature. `off`: ids as the provider gave them, nothing sent.
   */
  thought_signatures: v.optional(v.picklist(['keep', 'off'])),
  /**
   * OpenRouter's `reasoning_details` (formats/openai-chat/reasoning-details.ts). `keep`: the details of an answer
   * travel in the signature of its thinking block (a thinking block with no text is added where there is no reasoning
   * text, as for encrypted reasoning), and go back as `reasoning_details` on that assistant message in later requests;
   * `reasoning.exclude` is not sent (the details would not come), the text stays hidden from a client that asked for it
   * omitted. Claude, OpenAI's o-series and Gemini 3 through OpenRouter need them back in tool loops. `off`: not carried.
   */
  reasoning_details: v.optional(v.picklist(['keep', 'off'])),
});

export type ChatQuirksConfig = v.InferOutput<typeof ChatQuirksSchema>;
/** Fully resolved quirks: every field set. */
export type ChatQuirks = Required<Omit<ChatQuirksConfig, 'max_output_tokens'>> & { max_output_tokens: Record<string, number> };

export const DEFAULT_CHAT_QUIRKS: ChatQuirks = {
  max_tokens_field: 'max_tokens',
  max_output_tokens: {},
  max_stop_sequences: 0,
  top_k: false,
  reasoning: 'reasoning_effort',
  thinking_kwarg: 'enable_thinking',
  reasoning_models: ['*'],
  thinking_streamed_only: false,
  forced_tool_choice: 'keep',
  always_thinking_models: [],
  thinking_by_default_models: [],
  reasoning_efforts: ['low', 'medium', 'high'],
  reasoning_efforts_by_model: {},
  fixed_sampling_models: [],
  reasoning_content_in_history: false,
  think_tags: false,
  json_schema: true,
  pdf: false,
  tool_result_images: false,
  user_max_length: 64,
  schema: 'basic',
  stream_usage: true,
  parallel_tool_calls: true,
  developer_role: false,
  system_anywhere: false,
  tool_call_id: 'keep',
  assistant_prefix: false,
  user_after_tool: 'keep',
  thought_signatures: 'off',
  reasoning_details: 'off',
};
