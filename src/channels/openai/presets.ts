/**
 * @module channels/openai/presets
 * What each OpenAI-compatible provider needs when the hub is translated for it (formats/openai-chat/quirks.ts).
 * A preset lists only where the provider differs from DEFAULT_CHAT_QUIRKS, each with the reason; a
 * channel's `quirks` config overrides any field. Where to reach a provider (base URL, auth header) is
 * transport.ts. A channel with no `provider` gets the plain defaults: a generic OpenAI-compatible server.
 *
 * Two settings are per model rather than per provider, so a preset picks the common case:
 * - `reasoning`: providers that take `reasoning_effort` reject it on models without reasoning
 *   (OpenAI gpt-4.1, Groq llama, xAI grok-4.20): set `quirks.reasoning: none` on channels serving those;
 * - `max_output_tokens`: only set where the provider publishes per-model ceilings.
 */
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks, type ChatQuirksConfig } from '../../formats/openai-chat/quirks.ts';

export type ChatPreset = Partial<ChatQuirks>;

export const PRESETS = {
  openai: {
    // `max_tokens` is rejected by o-series and gpt-5 models ("Use 'max_completion_tokens' instead")
    max_tokens_field: 'max_completion_tokens',
    // `stop` takes "up to 4 sequences" (the API reference's StopConfiguration)
    max_stop_sequences: 4,
    // the levels every OpenAI reasoning model takes (o3 has no minimal/none/xhigh); xhigh and max cap to high
    reasoning_efforts: ['low', 'medium', 'high'],
    // gpt-4o / gpt-4.1 answer 400 to reasoning_effort: only the reasoning families get it
    reasoning_models: ['o1*', 'o3*', 'o4*', 'gpt-5*', 'gpt-oss*', 'codex-*'],
    // "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."
    // and "Unsupported parameter: 'top_p'…" (https://platform.openai.com/docs/guides/reasoning#limitations)
    fixed_sampling_models: ['o1*', 'o3*', 'o4*', 'gpt-5*', 'codex-*'],
    // published output ceilings: Claude Code asks for 128000, which older models reject outright
    max_output_tokens: {
      'gpt-4o*': 16384, 'chatgpt-4o*': 16384, 'gpt-4.1*': 32768, 'gpt-4-turbo*': 4096, 'gpt-3.5*': 4096,
      'o1*': 100000, 'o3*': 100000, 'o4*': 100000, 'gpt-5*': 128000,
    },
    // PDF input as `file` parts with `file_data` (https://platform.openai.com/docs/guides/pdf-files)
    pdf: true,
    // system messages are accepted at any position; developer role on current models
    system_anywhere: true,
    developer_role: true,
  },
  azure: {
    // Azure OpenAI serves the same models: reasoning deployments require max_completion_tokens
    max_tokens_field: 'max_completion_tokens',
    max_stop_sequences: 4,
    reasoning_efforts: ['low', 'medium', 'high'],
    system_anywhere: true,
    developer_role: true,
  },
  deepseek: {
    // thinking toggle `thinking: {type}` plus `reasoning_effort` low|high|max (https://api-docs.deepseek.com/guides/thinking_mode)
    reasoning: 'thinking',
    reasoning_efforts: ['low', 'high', 'max'],
    // "Thinking mode is enabled by default": off unless asked. The models are deepseek-flash (V4.1 Flash, the name to
    // use) and deepseek-v4-pro; deepseek-v4-flash and deepseek-v4-flash-vision-exp are still accepted, served by V4.1
    // Flash (https://api-docs.deepseek.com/quick_start/pricing). deepseek-chat was V4 Flash without thinking
    thinking_by_default_models: ['deepseek-flash*', 'deepseek-v4*'],
    // thinking-mode tool loops must send each turn's reasoning_content back, or the API answers 400
    reasoning_content_in_history: true,
    // "MAX OUTPUT 384K" (the pricing page): the API's 400 names 393216 ("the valid range of max_tokens is [1, 393216]");
    // deepseek-chat and deepseek-reasoner, retired on 2026-07-24, keep the ceilings they had
    max_output_tokens: { 'deepseek-flash*': 393216, 'deepseek-v4*': 393216, 'deepseek-chat': 8192, 'deepseek-reasoner': 65536 },
    // neither `user` nor `parallel_tool_calls` is a DeepSeek parameter
    user_max_length: 0,
    parallel_tool_calls: false,
    // response_format is `text` or `json_object` only; json_schema is a 400, "This response_format type is
    // unavailable now" (https://api-docs.deepseek.com/api/create-chat-completion)
    json_schema: false,
  },
  openrouter: {
    // OpenRouter's own `reasoning: {effort|max_tokens, exclude}` object, normalised for every model it routes to;
    // it takes every effort level (https://openrouter.ai/docs/use-cases/reasoning-tokens)
    reasoning: 'reasoning',
    reasoning_efforts: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'],
    top_k: true,
    // PDFs are parsed by OpenRouter for any model (https://openrouter.ai/docs/features/multimodal/pdfs)
    pdf: true,
    // tool loops must send each assistant turn's reasoning_details back exactly as received, or Claude (thinking),
    // o-series (encrypted reasoning) and Gemini 3 (thought signatures) lose their reasoning or refuse the request
    // (https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks): they ride in the signature
    reasoning_details: 'keep',
  },
  groq: {
    // Groq deprecated `max_tokens` in favour of max_completion_tokens (https://console.groq.com/docs/api-reference)
    max_tokens_field: 'max_completion_tokens',
    // gpt-oss takes low|medium|high; models without reasoning (llama…) reject the field
    reasoning_efforts: ['low', 'medium', 'high'],
    reasoning_models: ['openai/gpt-oss*', 'gpt-oss*'],
  },
  mistral: {
    // Magistral reasons on its own and has no effort control
    reasoning: 'none',
    // history tool-call ids must be exactly 9 characters [a-zA-Z0-9] ("Tool call id was … but must be …")
    tool_call_id: 'alnum9',
    // Mistral rejects unknown request fields (422): no `user`, no `stream_options` (usage comes on the last chunk anyway)
    user_max_length: 0,
    stream_usage: false,
    // "Expected last role User or Tool (or Assistant with prefix True)": a prefill is sent as what Mistral continues
    // (https://docs.mistral.ai/guides/prefix/)
    assistant_prefix: true,
    // only an assistant or tool message may follow a tool message ("Unexpected role 'user' after role 'tool'",
    // mistral-common's MistralRequestValidator._validate_message_order): a user turn's text beside its tool results
    // goes in the last tool message, and the tool results stay what the answer follows
    user_after_tool: 'fold',
  },
  xai: {
    // grok-4.3, the model xAI serves today (the grok-4-0709, grok-4-fast, grok-4-1-fast, grok-code-fast-1 and grok-3 slugs
    // retired on 2026-05-15 redirect to it at low effort, https://docs.x.ai/developers/migration/may-15-retirement), takes
    // reasoning_effort none|low|medium|high, "low" when none is sent
    // (https://docs.x.ai/developers/model-capabilities/text/reasoning); grok-3-mini takes only low|high
    // (https://docs.x.ai/docs/guides/reasoning). grok-4.20 (reasoning and non-reasoning) reasons without a knob and
    // refuses the field, "Model grok-4.20-0309-reasoning does not support parameter reasoningEffort"
    // (vercel/ai @ai-sdk/xai@4.0.8), as grok-4 did
    reasoning_efforts: ['low', 'high'],
    reasoning_efforts_by_model: { 'grok-4.3*': ['none', 'low', 'medium', 'high'] },
    reasoning_models: ['grok-3-mini*', 'grok-4.3*'],
    // grok-4.3 reasons (at low) unless sent `none`: off unless asked, as Anthropic gives (and bills) no thinking then
    thinking_by_default_models: ['grok-4.3*'],
  },
  gemini: {
    // function declarations take an OpenAPI subset: $schema, additionalProperties, const, $ref… are 400s
    schema: 'strict',
    // mapped by Google to thinking budgets; `none` only works on Flash models, so "disabled" sends nothing
    reasoning_efforts: ['low', 'medium', 'high'],
    // neither field is in the compatibility layer's supported list (https://ai.google.dev/gemini-api/docs/openai)
    user_max_length: 0,
    parallel_tool_calls: false,
    // Gemini 3 answers 400 to a function call in the history without the thought signature it was given ("Function
    // call `X` in the `N.` content block is missing a `thought_signature`"): signatures ride in the tool_use id and go
    // back as `extra_content.google.thought_signature` (https://ai.google.dev/gemini-api/docs/thought-signatures)
    thought_signatures: 'keep',
  },
  zai: {
    // GLM takes the thinking toggle only (https://docs.z.ai/guides/capabilities/thinking)
    reasoning: 'thinking',
    reasoning_efforts: [],
    // `thinking.type` "enabled (default)" on GLM-4.5 and later (https://docs.z.ai/guides/capabilities/thinking-mode): off unless asked
    thinking_by_default_models: ['glm-4.5*', 'glm-4.6*', 'glm-4.7*', 'glm-5*'],
    // Z.ai calls its end-user field `user_id`, with its own length rules: `user` is not sent
    user_max_length: 0,
    // `stop` "currently supports a single stop word only" (the chat completions reference, https://docs.bigmodel.cn/api-reference)
    max_stop_sequences: 1,
  },
  cerebras: {
    // documented output field is max_completion_tokens; gpt-oss reasoning_effort low|medium|high
    max_tokens_field: 'max_completion_tokens',
    reasoning_efforts: ['low', 'medium', 'high'],
  },
  huggingface: {
    // the router serves some reasoning models (DeepSeek-R1) with `<think>…</think>` inline in content
    think_tags: true,
    reasoning: 'none',
  },
  ollama: {
    // thinking is per model (`think` / reasoning_effort); models without it answer 400, so nothing is sent by default
    reasoning: 'none',
    // neither is read by Ollama's /v1 endpoint
    user_max_length: 0,
    parallel_tool_calls: false,
  },
  vllm: {
    // vLLM takes extra sampling parameters such as top_k (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html)
    top_k: true,
    // thinking is switched in the model's chat template: `chat_template_kwargs: {enable_thinking}` for Qwen3, Qwen3.5 and
    // GLM-4.5+ (`quirks.thinking_kwarg: thinking` on a channel serving DeepSeek V3.1+, whose template reads `thinking`);
    // a template that reads neither is not affected, vLLM leaving out the variables it does not use
    // (https://docs.vllm.ai/en/stable/features/reasoning_outputs/)
    // (no reasoning_efforts here: the switch takes none, and a channel that sets `reasoning: reasoning_effort`, gpt-oss's
    // level, keeps the default low|medium|high)
    reasoning: 'chat_template_kwargs',
    // "The reasoning feature for the Qwen3 series is enabled by default" (the same page), Qwen3.5 and later too, and
    // GLM-4.5 and later: off unless asked. vLLM serves a model under its Hugging Face name ("Qwen/Qwen3-32B",
    // "zai-org/GLM-4.6-FP8") unless --served-model-name gives another (lower case is common). The thinking-only ones
    // (Qwen3-…-Thinking-2507) think whatever is sent: nothing is sent to them unasked
    thinking_by_default_models: ['*Qwen3-*B*', '*qwen3-*b*', '*Qwen3.*', '*qwen3.*', '*GLM-4.5*', '*GLM-4.6*', '*GLM-4.7*', '*GLM-5*', '*glm-4.5*', '*glm-4.6*', '*glm-4.7*', '*glm-5*'],
    always_thinking_models: ['*-Thinking*', '*-thinking*'],
  },
  moonshot: {
    // `max_tokens` is "Deprecated, please refer to max_completion_tokens" (https://platform.kimi.ai/docs/api/chat)
    max_tokens_field: 'max_completion_tokens',
    // kimi-k2.5 / kimi-k2.6 switch thinking with `thinking: {type}`, on by default, and take no effort level; kimi-k2-thinking
    // always thinks, the K2 instruct models never do (https://platform.kimi.ai/docs/guide/use-kimi-k2-thinking-model)
    reasoning: 'thinking',
    reasoning_efforts: [],
    reasoning_models: ['kimi-k2.*'],
    always_thinking_models: ['kimi-k2-thinking*'],
    // kimi-k2.5 / kimi-k2.6 think unless `thinking: {type: "disabled"}` ("Configurable (enabled by default)"): off unless asked
    thinking_by_default_models: ['kimi-k2.5*', 'kimi-k2.6*'],
    // with thinking on, a tool-calling assistant turn without its reasoning_content is a 400 ("thinking is enabled but
    // reasoning_content is missing in assistant tool call message at index N")
    reasoning_content_in_history: true,
    // "tool_choice 'required' is incompatible with thinking enabled" (and 'specified', for a named function)
    forced_tool_choice: 'without_thinking',
    // kimi-k2.5 / kimi-k2.6 take only their own temperature (1.0 thinking, 0.6 not) and top_p (0.95): "invalid temperature:
    // only 1 is allowed for this model" (https://platform.kimi.ai/docs/api/models-overview)
    fixed_sampling_models: ['kimi-k2.*'],
  },
  dashscope: {
    // Qwen's thinking switch is a top-level `enable_thinking` boolean (`thinking_budget` caps it), no effort levels
    // (https://www.alibabacloud.com/help/en/model-studio/deep-thinking)
    reasoning: 'enable_thinking',
    reasoning_efforts: [],
    // the hybrid models that take it: the open Qwen3 models (qwen3-8b, qwen3-235b-a22b…), Qwen3.5 and later, qwen3-max,
    // qwen-plus/flash/turbo, Qwen3-VL and Qwen3-Omni; the coder, instruct-only and thinking-only models are left alone
    reasoning_models: ['qwen3-*b', 'qwen3.*', 'qwen3-max*', 'qwen-plus*', 'qwen-flash*', 'qwen-turbo*', 'qwen3-vl-*', 'qwen3-omni-*'],
    // the open Qwen3 models think by default and refuse a non-streamed request unless enable_thinking is false:
    // "parameter.enable_thinking must be set to false for non-streaming calls"
    thinking_streamed_only: true,
    // on by default for the open Qwen3 models and Qwen3.5 ("Qwen3.5 (enabled by default)",
    // https://docs.qwencloud.com/developer-guides/text-generation/thinking); off for the commercial Qwen3 ones
    // (qwen3-max, qwen-plus…: "默认不开启思考模式", https://help.aliyun.com/zh/model-studio/deep-thinking): off unless asked
    thinking_by_default_models: ['qwen3-*b', 'qwen3.*'],
  },
  'llama.cpp': {
    // llama-server takes top_k and extracts reasoning into reasoning_content itself (--reasoning-format)
    top_k: true,
    reasoning: 'none',
  },
} satisfies Record<string, ChatPreset>;

export type ProviderId = keyof typeof PRESETS;

export function isProviderId(x: string): x is ProviderId {
  return Object.hasOwn(PRESETS, x);
}

/** Defaults ← the provider's preset ← the channel's overrides (`max_output_tokens` merged per model). */
export function resolveQuirks(provider: string | undefined, overrides: ChatQuirksConfig | undefined): ChatQuirks {
  let preset: ChatPreset = {};
  if (provider !== undefined) {
    if (!isProviderId(provider)) throw new Error(`unknown provider "${provider}"; known: ${Object.keys(PRESETS).join(', ')}`);
    preset = PRESETS[provider];
  }
  const set = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)) as ChatQuirksConfig;
  const quirks: ChatQuirks = {
    ...DEFAULT_CHAT_QUIRKS,
    ...preset,
    ...set,
    max_output_tokens: { ...DEFAULT_CHAT_QUIRKS.max_output_tokens, ...preset.max_output_tokens, ...set.max_output_tokens },
  };
  quirks.reasoning_models = [...quirks.reasoning_models];
  quirks.fixed_sampling_models = [...quirks.fixed_sampling_models];
  quirks.always_thinking_models = [...quirks.always_thinking_models];
  quirks.thinking_by_default_models = [...quirks.thinking_by_default_models];
  quirks.reasoning_efforts = [...quirks.reasoning_efforts]; // never share a preset's array with a channel
  quirks.reasoning_efforts_by_model = Object.fromEntries(Object.entries(quirks.reasoning_efforts_by_model).map(([p, l]) => [p, [...l]]));
  return quirks;
}
