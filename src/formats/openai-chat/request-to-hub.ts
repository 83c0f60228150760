/**
 * @module formats/openai-chat/request-to-hub
 * Inbound role: a Chat Completions request (https://platform.openai.com/docs/api-reference/chat/create)
 * → the hub (an Anthropic Messages request). Pure.
 *
 * What does not carry across is either a 400 naming the field (when answering anyway would mislead the client:
 * `n > 1`, audio in or out, `file_id`, custom tools, the legacy `functions` API, moderation that blocks) or an item in `ctx.dropped`
 * (when the answer is still what the client asked for, minus a tuning knob: penalties, `seed`, `logprobs`…).
 * Quietly ignored: fields about OpenAI's own storage, caching and dashboards (`store`, `metadata`,
 * `prompt_cache_key`, `prompt_cache_retention`, `prompt_cache_options`, `safety_identifier` when `user` is set,
 * `stream_options`), which change nothing in the answer. A part's `prompt_cache_breakpoint` becomes `cache_control`. A message's `name` (which tells participants apart) is dropped and noted.
 *
 * Decisions worth knowing (each is also noted where it happens):
 * - system/developer messages, wherever they are, are hoisted in order into `system` (Anthropic has one system
 *   prompt). A plain string joined with blank lines, or text blocks when a part carries `cache_control`.
 * - Consecutive same-role turns are merged (Anthropic requires alternation), and in a merged user turn every
 *   `tool_result` comes first (Anthropic requires tool results to lead the turn that answers the tool calls).
 * - `temperature` above 1 is clamped to 1 (OpenAI's range is 0–2, Anthropic's 0–1), as Anthropic's own
 *   OpenAI-compatibility layer does; the clamp is noted. With both `temperature` and `top_p` (< 1), `top_p` is
 *   dropped and noted: current Claude models reject the pair.
 * - `reasoning_effort` follows `opts.thinkingStyle(upstreamModel)`: adaptive thinking + `output_config.effort`,
 *   a `budget_tokens` budget (THINKING_BUDGETS), or dropped. See `applyReasoning`.
 * - `response_format: json_schema` becomes Anthropic structured outputs (`output_config.format`), schema as sent;
 *   `json_object` has no Anthropic equivalent and becomes a system instruction (JSON_OBJECT_INSTRUCTION).
 */
import * as v from 'valibot';
import { GatewayError, invalidRequest } from '../../errors.ts';
import type {
  ContentBlockParam, DocumentBlockParam, ImageBlockParam, MessageCreateParams, MessageParam, OtherBlockParam,
  TextBlockParam, Tool, ToolChoice, ToolResultBlockParam, ToolUseBlockParam,
} from '../../hub/types.ts';
import type { TranslateContext } from '../types.ts';
import { realString } from '../../util/json-skeleton.ts';
import { ModelNameSchema, isModelName } from '../../hub/schema.ts';
import { takesXhighEffort } from '../../hub/claude-models.ts';
import { isUnchangedObject, stringOrArray, variantByKey } from '../../util/validate.ts';
import { fitUser } from './request-from-hub.ts';
import { isRecord } from './response-to-hub.ts';

// ---------------------------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------------------------

const CacheControlSchema = v.looseObject({ type: v.string() });
/**
 * OpenAI's explicit prompt caching (openai 7.59's `ChatCompletionContentPartText.PromptCacheBreakpoint`, on text, image
 * and file parts; https://developers.openai.com/api/docs/guides/prompt-caching): the end of a reusable prefix, as
 * Anthropic's `cache_control` marks one. `mode` is always `explicit`; `ttl` `30m` or `12h`. See `partCache`.
 */
const BreakpointSchema = v.looseObject({ ttl: v.nullish(v.string()) });

const TextPartSchema = v.looseObject({
  type: v.literal('text'),
  text: v.string(),
  cache_control: v.nullish(CacheControlSchema),
  prompt_cache_breakpoint: v.nullish(BreakpointSchema),
});
const ImagePartSchema = v.looseObject({
  type: v.literal('image_url'),
  image_url: v.looseObject({ url: v.string(), detail: v.nullish(v.string()) }),
  cache_control: v.nullish(CacheControlSchema),
  prompt_cache_breakpoint: v.nullish(BreakpointSchema),
});
const InputAudioPartSchema = v.looseObject({
  type: v.literal('input_audio'),
  input_audio: v.looseObject({ data: v.string(), format: v.string() }),
});
const FilePartSchema = v.looseObject({
  type: v.literal('file'),
  file: v.looseObject({ file_data: v.nullish(v.string()), file_id: v.nullish(v.string()), filename: v.nullish(v.string()) }),
  cache_control: v.nullish(CacheControlSchema),
  prompt_cache_breakpoint: v.nullish(BreakpointSchema),
});
const RefusalPartSchema = v.looseObject({ type: v.literal('refusal'), refusal: v.string() });

const UserPartSchema = variantByKey('type', [TextPartSchema, ImagePartSchema, InputAudioPartSchema, FilePartSchema]);
const AssistantPartSchema = variantByKey('type', [TextPartSchema, RefusalPartSchema]);

const TextContentSchema = stringOrArray(v.string(), v.array(TextPartSchema), 'Invalid type: Expected string or array');

const FunctionCallSchema = v.looseObject({ name: v.string(), arguments: v.string() });

const ToolCallSchema = v.looseObject({
  id: v.string(),
  type: v.nullish(v.picklist(['function', 'custom'])),
  function: v.nullish(FunctionCallSchema),
  custom: v.nullish(v.looseObject({ name: v.string(), input: v.string() })),
});

const name = v.nullish(v.string());

const MessageSchema = variantByKey('role', [
  v.looseObject({ role: v.literal('system'), content: TextContentSchema, name }),
  v.looseObject({ role: v.literal('developer'), content: TextContentSchema, name }),
  v.looseObject({
    role: v.literal('user'),
    content: stringOrArray(v.string(), v.array(UserPartSchema), 'Invalid type: Expected string or array'),
    name,
  }),
  v.looseObject({
    role: v.literal('assistant'),
    content: v.nullish(stringOrArray(v.string(), v.array(AssistantPartSchema), 'Invalid type: Expected string, array or null')),
    refusal: v.nullish(v.string()),
    tool_calls: v.nullish(v.array(ToolCallSchema)),
    function_call: v.nullish(FunctionCallSchema),
    audio: v.nullish(v.looseObject({})),
    name,
  }),
  v.looseObject({ role: v.literal('tool'), content: TextContentSchema, tool_call_id: v.string() }),
  v.looseObject({ role: v.literal('function'), content: v.nullable(v.string()), name: v.string() }),
]);

const FunctionDefinitionSchema = v.looseObject({
  name: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
  description: v.nullish(v.string()),
  parameters: v.nullish(v.looseObject({})),
  strict: v.nullish(v.boolean()),
});

const ToolSchema = v.variant('type', [
  v.looseObject({ type: v.literal('function'), function: FunctionDefinitionSchema }),
  v.looseObject({ type: v.literal('custom'), custom: v.looseObject({ name: v.string() }) }),
]);

const ToolsSchema = v.array(ToolSchema);

const ToolChoiceSchema = v.union([
  v.picklist(['none', 'auto', 'required']),
  v.variant('type', [
    v.looseObject({ type: v.literal('function'), function: v.looseObject({ name: v.string() }) }),
    v.looseObject({ type: v.literal('custom'), custom: v.looseObject({ name: v.string() }) }),
    v.looseObject({
      type: v.literal('allowed_tools'),
      allowed_tools: v.looseObject({
        mode: v.picklist(['auto', 'required']),
        tools: v.array(v.looseObject({ type: v.string(), function: v.nullish(v.looseObject({ name: v.string() })) })),
      }),
    }),
  ]),
], 'Invalid type: Expected "none", "auto", "required" or a tool choice object');

const ResponseFormatSchema = v.variant('type', [
  v.looseObject({ type: v.literal('text') }),
  v.looseObject({ type: v.literal('json_object') }),
  v.looseObject({
    type: v.literal('json_schema'),
    json_schema: v.looseObject({
      name: v.string(),
      description: v.nullish(v.string()),
      schema: v.nullish(v.looseObject({})),
      strict: v.nullish(v.boolean()),
    }),
  }),
]);

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const penalty = v.nullish(v.pipe(v.number(), v.minValue(-2), v.maxValue(2)));

/** `reasoning_effort` values the openai SDK knows (`Shared.ReasoningEffort`). */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export const ChatCompletionCreateParamsSchema = v.looseObject({
  model: ModelNameSchema,
  messages: v.pipe(v.array(MessageSchema), v.minLength(1, 'must contain at least one message')),
  max_tokens: v.nullish(positiveInt),
  max_completion_tokens: v.nullish(positiveInt),
  stop: v.nullish(v.union([v.string(), v.array(v.string())], 'Invalid type: Expected string or array of strings')),
  temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  /** Not OpenAI's (vLLM, OpenRouter, Together… take it): Anthropic's own `top_k`. */
  top_k: v.nullish(positiveInt),
  n: v.nullish(positiveInt),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.looseObject({ include_usage: v.nullish(v.boolean()), include_obfuscation: v.nullish(v.boolean()) })),
  tools: v.nullish(ToolsSchema),
  tool_choice: v.nullish(ToolChoiceSchema),
  parallel_tool_calls: v.nullish(v.boolean()),
  functions: v.nullish(v.array(FunctionDefinitionSchema)),
  function_call: v.nullish(v.union([v.picklist(['none', 'auto']), v.looseObject({ name: v.string() })], 'Invalid type: Expected "none", "auto" or {name}')),
  response_format: v.nullish(ResponseFormatSchema),
  reasoning_effort: v.nullish(v.picklist(REASONING_EFFORTS)),
  user: v.nullish(v.string()),
  safety_identifier: v.nullish(v.string()),
  logprobs: v.nullish(v.boolean()),
  top_logprobs: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
  logit_bias: v.nullish(v.record(v.string(), v.number())),
  presence_penalty: penalty,
  frequency_penalty: penalty,
  seed: v.nullish(v.pipe(v.number(), v.integer())),
  modalities: v.nullish(v.array(v.string())),
  audio: v.nullish(v.looseObject({})),
  prediction: v.nullish(v.looseObject({})),
  verbosity: v.nullish(v.string()),
  service_tier: v.nullish(v.string()),
  web_search_options: v.nullish(v.looseObject({})),
  store: v.nullish(v.boolean()),
  metadata: v.nullish(v.looseObject({})),
  prompt_cache_key: v.nullish(v.string()),
  prompt_cache_retention: v.nullish(v.string()),
  /** The request's breakpoint defaults (`mode`, `ttl`): Anthropic caches at explicit breakpoints only, and `ttl` is `30m` alone. */
  prompt_cache_options: v.nullish(v.looseObject({})),
  /** openai 7.59: `{model, policy: {input: {mode}, output: {mode}}}`, `mode` `score` or `block`. See `rejectUnsupported`. */
  moderation: v.nullish(v.looseObject({})),
});

export type ChatCompletionCreateParams = v.InferOutput<typeof ChatCompletionCreateParamsSchema>;
type ChatMessage = ChatCompletionCreateParams['messages'][number];
type UserPart = v.InferOutput<typeof UserPartSchema>;

/**
 * The first issue as `path: message`. A union's own message only says "none of the branches matched"; when a branch
 * got further into the input (an array whose third part is bad), that deeper issue is the one worth reporting.
 */
function issueToError(issue: v.BaseIssue<unknown>): GatewayError {
  const keys: string[] = (issue.path ?? []).map((item) => String(item.key));
  let current = issue;
  while (current.type === 'union' && current.issues?.length) {
    const deepest = current.issues.reduce((a, b) => ((b.path?.length ?? 0) > (a.path?.length ?? 0) ? b : a));
    if (!deepest.path?.length) break;
    keys.push(...deepest.path.map((item) => String(item.key)));
    current = deepest;
  }
  const missing = current.input === undefined && current.kind === 'schema' && current.type !== 'union';
  return invalidRequest(missing ? 'Field required' : current.message, keys.length ? keys.join('.') : undefined);
}

function validate(body: unknown): ChatCompletionCreateParams {
  // a body the schema would give back unchanged is checked in one plain pass and kept as it is; one with plain
  // messages but a field the plain pass does not know how to check has its other fields go through valibot. Anything
  // else, and any failure, goes through the whole schema, which names the field.
  if (isPlainChatRequest(body)) return body as ChatCompletionCreateParams;
  if (isUnchangedObject(body) && arePlainMessages(body.messages)) {
    const res = v.safeParse(ChatTopLevelSchema, body);
    if (res.success) return res.output as ChatCompletionCreateParams;
  }
  const res = v.safeParse(ChatCompletionCreateParamsSchema, body);
  if (!res.success) throw issueToError(res.issues[0]);
  return res.output;
}

/**
 * True only for a request that ChatCompletionCreateParamsSchema accepts and gives back unchanged but for key order
 * (valibot puts the schema's keys first; nothing here reads the order of the known ones, and unknown keys keep theirs),
 * checked in one plain pass: valibot's walk over the schema's ~40 top-level fields was ~1-2 µs of translating a small
 * request (in-process), copies included. Fields it does not check plainly (`functions`, `response_format`,
 * `logit_bias`, a custom tool, an `allowed_tools` choice...) make it false, and the body goes to valibot.
 * test/unit/formats/openai-chat/plain-messages.test.ts holds it to valibot's verdict on fixed and random inputs.
 */
export function isPlainChatRequest(x: unknown): x is Record<string, unknown> {
  if (!isUnchangedObject(x)) return false;
  if (!isModelName(x.model) || !Array.isArray(x.messages) || x.messages.length === 0 || !arePlainMessages(x.messages)) return false;
  for (const k of POSITIVE_INTS) if (x[k] != null && !isIntAtLeast(x[k], 1)) return false;
  for (const k of BOOLEANS) if (x[k] != null && typeof x[k] !== 'boolean') return false;
  for (const k of STRINGS) if (x[k] != null && typeof x[k] !== 'string') return false;
  for (const k of UNCHECKED_OBJECTS) if (x[k] != null && !isUnchangedObject(x[k])) return false;
  for (const k of NOT_PLAIN) if (x[k] != null) return false;
  const stop = x.stop;
  if (stop != null && typeof stop !== 'string' && !isStringArray(stop)) return false;
  if (x.modalities != null && !isStringArray(x.modalities)) return false;
  if (!nullishIn(x.temperature, 0, 2) || !nullishIn(x.top_p, 0, 1) || !nullishIn(x.presence_penalty, -2, 2) || !nullishIn(x.frequency_penalty, -2, 2)) return false;
  if (x.top_logprobs != null && !isIntAtLeast(x.top_logprobs, 0)) return false;
  if (x.seed != null && !isIntAtLeast(x.seed, -Infinity)) return false;
  if (x.reasoning_effort != null && !(REASONING_EFFORTS as readonly unknown[]).includes(x.reasoning_effort)) return false;
  const so = x.stream_options;
  if (so != null && !(isUnchangedObject(so) && nullishBoolean(so.include_usage) && nullishBoolean(so.include_obfuscation))) return false;
  if (x.tools != null && !(Array.isArray(x.tools) && x.tools.every(isPlainFunctionTool))) return false;
  const tc = x.tool_choice;
  return tc == null || tc === 'none' || tc === 'auto' || tc === 'required'
    || (isUnchangedObject(tc) && tc.type === 'function' && isUnchangedObject(tc.function) && typeof tc.function.name === 'string');
}

const POSITIVE_INTS = ['max_tokens', 'max_completion_tokens', 'n', 'top_k'] as const;
const BOOLEANS = ['stream', 'parallel_tool_calls', 'logprobs', 'store'] as const;
const STRINGS = ['user', 'safety_identifier', 'verbosity', 'service_tier', 'prompt_cache_key', 'prompt_cache_retention'] as const;
/** Objects the schema takes whatever their keys (`looseObject({})`). */
const UNCHECKED_OBJECTS = ['metadata', 'audio', 'prediction', 'web_search_options', 'prompt_cache_options', 'moderation'] as const;
/** Fields left to valibot whenever they are set (rare, or refused anyway). */
const NOT_PLAIN = ['functions', 'function_call', 'response_format', 'logit_bias'] as const;

const isIntAtLeast = (n: unknown, min: number) => typeof n === 'number' && Number.isInteger(n) && n >= min;
const isStringArray = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === 'string');
const nullishBoolean = (b: unknown) => b == null || typeof b === 'boolean';
const nullishIn = (n: unknown, min: number, max: number) => n == null || (typeof n === 'number' && n >= min && n <= max);

function isPlainFunctionTool(t: unknown): boolean {
  if (!isUnchangedObject(t) || t.type !== 'function' || !isUnchangedObject(t.function)) return false;
  const f = t.function;
  return typeof f.name === 'string' && f.name.length >= 1 && nullishString(f.description)
    && (f.parameters == null || isUnchangedObject(f.parameters)) && nullishBoolean(f.strict);
}

/** The request schema with its messages left unchecked: for messages that arePlainMessages accepted. */
const ChatTopLevelSchema = v.looseObject({
  ...ChatCompletionCreateParamsSchema.entries,
  messages: v.pipe(v.array(v.unknown()), v.minLength(1, 'must contain at least one message')),
});

/**
 * True only for messages that MessageSchema accepts and gives back unchanged, checked in one plain pass: valibot's
 * copy of every message and part was ~40 of ~180 µs of translating the bench's 200 KB Chat conversation in-process.
 * test/unit/formats/openai-chat/plain-messages.test.ts holds it to valibot's verdict on fixed and random inputs.
 */
export function arePlainMessages(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  for (const m of messages) if (!isPlainMessage(m)) return false;
  return true;
}

function isPlainMessage(m: unknown): boolean {
  if (!isUnchangedObject(m)) return false;
  switch (m.role) {
    case 'system': case 'developer':
      return isTextContent(m.content) && nullishString(m.name);
    case 'user':
      return (typeof m.content === 'string' || (Array.isArray(m.content) && m.content.every(isUserPart))) && nullishString(m.name);
    case 'assistant':
      return (m.content == null || typeof m.content === 'string' || (Array.isArray(m.content) && m.content.every(isAssistantPart)))
        && nullishString(m.refusal) && nullishString(m.name)
        && (m.tool_calls == null || (Array.isArray(m.tool_calls) && m.tool_calls.every(isToolCall)))
        && (m.function_call == null || isFunctionCall(m.function_call))
        && (m.audio == null || isUnchangedObject(m.audio));
    case 'tool':
      return isTextContent(m.content) && typeof m.tool_call_id === 'string';
    case 'function':
      return (m.content === null || typeof m.content === 'string') && typeof m.name === 'string';
    default:
      return false;
  }
}

const nullishString = (x: unknown) => x == null || typeof x === 'string';
const nullishCacheControl = (x: unknown) => x == null || (isUnchangedObject(x) && typeof x.type === 'string');
const nullishBreakpoint = (x: unknown) => x == null || (isUnchangedObject(x) && nullishString(x.ttl));
/** A part's cache marks, either form: `cache_control` (Anthropic's, which some clients send here) or OpenAI's own. */
const nullishCaches = (p: Record<string, unknown>) => nullishCacheControl(p.cache_control) && nullishBreakpoint(p.prompt_cache_breakpoint);
const isTextPart = (p: unknown) => isUnchangedObject(p) && p.type === 'text' && typeof p.text === 'string' && nullishCaches(p);
const isTextContent = (c: unknown) => typeof c === 'string' || (Array.isArray(c) && c.every(isTextPart));

function isUserPart(p: unknown): boolean {
  if (!isUnchangedObject(p)) return false;
  switch (p.type) {
    case 'text': return isTextPart(p);
    case 'image_url': {
      const i = p.image_url;
      return isUnchangedObject(i) && typeof i.url === 'string' && nullishString(i.detail) && nullishCaches(p);
    }
    case 'input_audio': {
      const a = p.input_audio;
      return isUnchangedObject(a) && typeof a.data === 'string' && typeof a.format === 'string';
    }
    case 'file': {
      const f = p.file;
      return isUnchangedObject(f) && nullishString(f.file_data) && nullishString(f.file_id) && nullishString(f.filename) && nullishCaches(p);
    }
    default: return false;
  }
}

function isAssistantPart(p: unknown): boolean {
  if (!isUnchangedObject(p)) return false;
  if (p.type === 'text') return isTextPart(p);
  return p.type === 'refusal' && typeof p.refusal === 'string';
}

const isFunctionCall = (f: unknown) => isUnchangedObject(f) && typeof f.name === 'string' && typeof f.arguments === 'string';

function isToolCall(c: unknown): boolean {
  if (!isUnchangedObject(c) || typeof c.id !== 'string') return false;
  if (!(c.type == null || c.type === 'function' || c.type === 'custom')) return false;
  if (!(c.function == null || isFunctionCall(c.function))) return false;
  const custom = c.custom;
  return custom == null || (isUnchangedObject(custom) && typeof custom.name === 'string' && typeof custom.input === 'string');
}

/**
 * The light check for routing and passthrough: only what the gateway itself reads. An OpenAI-compatible upstream
 * may take more than this module translates (`video_url` parts, new roles, custom tools), and on passthrough the
 * original bytes go to it unchanged, so its own validation is the one that counts.
 */
export const ChatRoutingFieldsSchema = v.looseObject({
  model: ModelNameSchema,
  messages: v.pipe(v.array(v.looseObject({ role: v.string() })), v.minLength(1, 'must contain at least one message')),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.looseObject({ include_usage: v.nullish(v.boolean()) })),
});

/**
 * True only for a body whose routing fields ChatRoutingFieldsSchema accepts, checked in one plain pass (valibot's was
 * ~0.5-1 µs of a small request). Anything else goes to valibot, which names the field. Held to valibot's verdict in
 * test/unit/formats/openai-chat/plain-messages.test.ts.
 */
export function hasPlainRoutingFields(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || !isModelName((x as Record<string, unknown>).model)) return false;
  const { messages, stream, stream_options: so } = x as Record<string, unknown>;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (const m of messages) if (m === null || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string') return false;
  return nullishBoolean(stream) && (so == null || (typeof so === 'object' && nullishBoolean((so as { include_usage?: unknown }).include_usage)));
}

/** What routing needs, from one light validation of the body (see ChatRoutingFieldsSchema). */
export function parseChatRequest(body: unknown): { model: string; stream: boolean; includeUsage: boolean } {
  if (hasPlainRoutingFields(body)) {
    const so = body.stream_options as { include_usage?: unknown } | null | undefined;
    return { model: body.model as string, stream: body.stream === true, includeUsage: so?.include_usage === true };
  }
  const res = v.safeParse(ChatRoutingFieldsSchema, body);
  if (!res.success) throw issueToError(res.issues[0]);
  const req = res.output;
  return { model: req.model, stream: req.stream === true, includeUsage: req.stream_options?.include_usage === true };
}

// ---------------------------------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------------------------------

export interface ChatRequestToHubOptions {
  /** `max_tokens` when the client sends neither `max_tokens` nor `max_completion_tokens` (Anthropic requires one). */
  defaultMaxTokens: number;
  /** How the upstream model takes a reasoning effort: adaptive + effort (4.6 and later), a budget (older), or not at all. */
  thinkingStyle: (model: string) => 'adaptive' | 'budget' | 'none';
}

/**
 * `budget_tokens` per effort for budget-style models. Anthropic's minimum budget is 1024. `xhigh`/`max` do not exist
 * on budget-style models (Claude 4.5 and earlier) and are capped to `high`: 24576 + the answer reserve stays under
 * the smallest output ceiling among them (32000, Opus 4/4.1).
 */
export const THINKING_BUDGETS = { minimal: 1024, low: 2048, medium: 8192, high: 24576 } as const;
/** When `max_tokens` ≤ the budget it is raised to budget + min(max_tokens, this), leaving room for the answer. */
export const THINKING_ANSWER_RESERVE = 4096;

/**
 * Longest `metadata.user_id` Anthropic takes (its API reference has said 256, later 512; the lower one fits both): a
 * longer `user` is refused with a 400 the client cannot read as its own doing, so it is hashed to fit (fitUser).
 */
export const USER_ID_MAX_LENGTH = 256;

/** `response_format: {type: "json_object"}` has no Anthropic switch; this is appended to the system prompt. */
export const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no text, explanation or Markdown code fences before or after it.';

const HUB_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export function chatRequestToHub(body: unknown, ctx: TranslateContext, opts: ChatRequestToHubOptions): MessageCreateParams {
  const req = validate(body);
  rejectUnsupported(req);

  const system: TextBlockParam[] = [];
  const messages = convertMessages(req.messages, system, ctx);

  const hub: MessageCreateParams = {
    model: ctx.upstreamModel,
    messages,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? opts.defaultMaxTokens,
  };

  applyResponseFormat(req, hub, system, ctx);
  if (system.length) {
    hub.system = system.some((b) => b.cache_control) ? system : system.map((b) => b.text).join('\n\n');
  }

  applyTools(req, hub, ctx);
  applySampling(req, hub, ctx);
  if (req.stream === true) hub.stream = true;
  const userId = req.user ?? req.safety_identifier;
  if (userId) hub.metadata = { user_id: fitUser(userId, USER_ID_MAX_LENGTH) };
  applyReasoning(req.reasoning_effort, hub, opts.thinkingStyle(ctx.upstreamModel), ctx);
  if (ctx.cacheBreakpoints) fitBreakpoints(hub, ctx);
  noteDropped(req, ctx);
  return hub;
}

/** Requests whose answer would not be what the client asked for: refuse rather than pretend. */
function rejectUnsupported(req: ChatCompletionCreateParams): void {
  if (req.n != null && req.n > 1) throw invalidRequest('Only n=1 is supported: Anthropic models return one choice per request', 'n');
  if (req.max_tokens != null && req.max_completion_tokens != null) {
    // OpenAI's own 400 (which of the two caps was meant is the client's to say)
    throw new GatewayError(400, 'invalid_request_error', "max_tokens: Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported", { param: 'max_tokens', code: 'invalid_parameter_combination' });
  }
  // OpenAI's own 400: usage chunks are a stream's, and a client that asked for one without streaming has a bug to see
  if (req.stream_options != null && req.stream !== true) throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled", 'stream_options');
  if (req.modalities?.includes('audio')) throw invalidRequest('Audio output is not supported by this model', 'modalities');
  if (req.functions != null) throw invalidRequest('The deprecated `functions` parameter is not supported; use `tools`', 'functions');
  if (req.function_call != null) throw invalidRequest('The deprecated `function_call` parameter is not supported; use `tool_choice`', 'function_call');
  if (req.web_search_options != null) throw invalidRequest('Web search options are not supported with this model', 'web_search_options');
  // moderation that blocks flagged input or output: Anthropic runs none, so the client's users would get what it asked
  // to have blocked (scores alone are only missing from the answer: noteDropped)
  const policy = req.moderation?.policy;
  for (const side of ['input', 'output'] as const) {
    if (isRecord(policy) && isRecord(policy[side]) && policy[side].mode === 'block') {
      throw invalidRequest('Moderation is not run for this model (Anthropic has none): nothing would be blocked; send the request without `moderation`', `moderation.policy.${side}.mode`);
    }
  }
  req.tools?.forEach((tool, i) => {
    if (tool.type === 'custom') throw invalidRequest('Custom (free-form) tools are not supported; use function tools', `tools.${i}`);
  });
}

// ---- messages -----------------------------------------------------------------------------------------------

/**
 * Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; OpenAI-compatible clients sometimes send `functions.x:0`. One map
 * per request, applied to both ends of a pair: an id is kept when it is valid, else its invalid characters become
 * `_`, with a suffix when that would make it another id of the same request (`call.1` and `call:1`).
 */
class ToolIds {
  private readonly byId = new Map<string, string>();
  private readonly used = new Set<string>();

  map(id: string): string {
    let out = this.byId.get(id);
    if (out !== undefined) return out;
    const base = id.replace(/[^a-zA-Z0-9_-]/g, '_');
    out = base;
    for (let n = 2; this.used.has(out); n++) out = `${base}_${n}`;
    this.byId.set(id, out);
    this.used.add(out);
    return out;
  }
}

type Block = ContentBlockParam | OtherBlockParam;

/** Builds alternating turns: a block for the same role as the last turn joins it. */
class Turns {
  readonly list: MessageParam[] = [];

  push(role: MessageParam['role'], content: string | Block[]): void {
    if (content.length === 0) return; // nothing, or `""` (OpenAI takes an empty message; Anthropic refuses one)
    const last = this.list.at(-1);
    if (!last || last.role !== role) {
      this.list.push({ role, content });
      return;
    }
    const merged = [...asBlocks(last.content), ...asBlocks(content)];
    // tool results answer the previous assistant turn and must lead the user turn
    last.content = role === 'user'
      ? [...merged.filter((b) => b.type === 'tool_result'), ...merged.filter((b) => b.type !== 'tool_result')]
      : merged;
  }
}

/**
 * Text Anthropic refuses as a text block: empty or whitespace alone (400 "text content blocks must contain
 * non-whitespace text"). A long text is a placeholder here (util/json-skeleton.ts), never blank: it goes as it came.
 */
const isBlank = (text: string) => text.trim() === '';
const isBlankText = (b: Block) => b.type === 'text' && isBlank((b as TextBlockParam).text);

function asBlocks(content: string | Block[]): Block[] {
  if (typeof content !== 'string') return content;
  return content === '' ? [] : [{ type: 'text', text: content }];
}

/**
 * A part's cache mark as Anthropic's `cache_control`: the part's own `cache_control` as it is, else its
 * `prompt_cache_breakpoint` as an ephemeral one, counted (`fitBreakpoints` then holds them to Anthropic's rules).
 * OpenAI's lifetimes are minimums, `30m` (the default) or `12h`; Anthropic keeps an entry 5 minutes, or 1 hour at twice
 * the write price, each read renewing it (https://platform.claude.com/docs/en/build-with-claude/prompt-caching). `12h`
 * becomes 1 hour, the longest there is; `30m` and none the 5 minutes, which an agent's next turn renews: a prefix
 * unused for longer is written again.
 */
function partCache(part: { cache_control?: { type: string } | null; prompt_cache_breakpoint?: { ttl?: string | null } | null }, ctx: TranslateContext): { type: string; ttl?: string } | null | undefined {
  const breakpoint = part.prompt_cache_breakpoint;
  if (part.cache_control || breakpoint == null) return part.cache_control;
  ctx.cacheBreakpoints = (ctx.cacheBreakpoints ?? 0) + 1;
  return breakpoint.ttl === '12h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
}

function textBlock(text: string, cacheControl?: { type: string } | null): TextBlockParam {
  const block: TextBlockParam = { type: 'text', text };
  if (cacheControl) block.cache_control = cacheControl as TextBlockParam['cache_control'];
  return block;
}

function convertMessages(input: ChatMessage[], system: TextBlockParam[], ctx: TranslateContext): MessageParam[] {
  const turns = new Turns();
  const toolIds = new ToolIds();
  /** The legacy `function_call` awaiting its `role: "function"` result (legacy calls carry no id). */
  let pendingFunctionCall: { id: string } | null = null;
  /**
   * The tool calls of the last assistant message that made some, which the tool messages after it answer (OpenAI's
   * rule, and Anthropic's: its 400 would name the translated turns, which the client never sent); `unanswered` the
   * ids still waiting. Null until then, and once the next assistant message has come. A user message among the tool
   * messages is let be (OpenAI refuses it): its text goes after the results, in the same turn (Turns).
   */
  let calls = null as PendingCalls | null;

  input.forEach((msg, i) => {
    const at = `messages.${i}`;
    if (calls !== null && msg.role === 'assistant') {
      if (calls.unanswered.length) throw unansweredCalls(calls);
      calls = null;
    }
    // a participant's name tells speakers of one role apart (a group chat, agents): Anthropic has no place for it
    if ((msg.role === 'user' || msg.role === 'assistant' || msg.role === 'system' || msg.role === 'developer') && msg.name) {
      note(ctx, 'messages.name (Anthropic has no participant names)');
    }
    switch (msg.role) {
      case 'system':
      case 'developer':
        if (typeof msg.content === 'string') { if (!isBlank(msg.content)) system.push(textBlock(msg.content)); }
        else for (const part of msg.content) if (!isBlank(part.text)) system.push(textBlock(part.text, partCache(part, ctx)));
        break;
      case 'user': {
        if (typeof msg.content === 'string') { turns.push('user', msg.content); break; }
        const blocks = msg.content.flatMap((part, j) => userPart(part, `${at}.content.${j}`, ctx));
        // text of whitespace alone beside other content is left out (Anthropic refuses it); a message of nothing
        // else goes as it is, and Anthropic's 400 says what is wrong with it
        turns.push('user', blocks.some((b) => !isBlankText(b)) ? blocks.filter((b) => !isBlankText(b)) : blocks);
        break;
      }
      case 'assistant': {
        if (msg.audio != null) throw invalidRequest('Assistant audio references are not supported', `${at}.audio`);
        // text of whitespace alone (the "\n\n" many models write before their tool calls) is left out: Anthropic
        // refuses it ("text content blocks must contain non-whitespace text"), and it says nothing
        const blocks: Block[] = [];
        if (typeof msg.content === 'string') { if (!isBlank(msg.content)) blocks.push(textBlock(msg.content)); }
        else for (const part of msg.content ?? []) {
          const text = part.type === 'text' ? part.text : part.refusal;
          if (!isBlank(text)) blocks.push(part.type === 'text' ? textBlock(text, partCache(part, ctx)) : textBlock(text));
        }
        if (msg.refusal && !isBlank(msg.refusal)) blocks.push(textBlock(msg.refusal));
        if (msg.content == null && !msg.refusal && !msg.tool_calls?.length && !msg.function_call) {
          // OpenAI's 400 ("expected a string, got null"); left out, it would join the turns around it unseen
          throw invalidRequest('Invalid value: expected a string or an array of parts where the message has no tool_calls, got null', `${at}.content`);
        }
        msg.tool_calls?.forEach((call, j) => blocks.push(toolUse(call, `${at}.tool_calls.${j}`, toolIds)));
        if (msg.tool_calls?.length) {
          const ids = msg.tool_calls.map((c) => c.id);
          calls = { at, index: i, ids, unanswered: [...ids] };
        }
        if (msg.function_call) {
          pendingFunctionCall = { id: `call_legacy_${i}` };
          blocks.push({
            type: 'tool_use',
            id: pendingFunctionCall.id,
            name: msg.function_call.name,
            input: parseArguments(msg.function_call.arguments, `${at}.function_call.arguments`),
          });
        }
        turns.push('assistant', blocks);
        break;
      }
      case 'tool': {
        if (calls === null) throw invalidRequest("messages with role 'tool' must be a response to a preceding message with 'tool_calls'", `${at}.role`);
        if (!calls.ids.includes(msg.tool_call_id)) {
          throw invalidRequest(`'${msg.tool_call_id.slice(0, 64)}' not found in 'tool_calls' of the preceding assistant message (${calls.at})`, `${at}.tool_call_id`);
        }
        calls.unanswered = calls.unanswered.filter((id) => id !== msg.tool_call_id);
        const result: ToolResultBlockParam = { type: 'tool_result', tool_use_id: toolIds.map(msg.tool_call_id) };
        const content = typeof msg.content === 'string' ? msg.content : msg.content.filter((p) => p.text).map((p) => textBlock(p.text, partCache(p, ctx)));
        if (content.length) result.content = content;
        turns.push('user', [result]);
        break;
      }
      case 'function': {
        if (!pendingFunctionCall) throw invalidRequest('A "function" message must follow an assistant message with "function_call"', at);
        const result: ToolResultBlockParam = { type: 'tool_result', tool_use_id: pendingFunctionCall.id };
        if (msg.content) result.content = msg.content;
        pendingFunctionCall = null;
        turns.push('user', [result]);
        break;
      }
    }
  });

  // calls that end the conversation (a prefill) are Anthropic's to judge
  if (calls !== null && calls.unanswered.length && calls.index < input.length - 1) throw unansweredCalls(calls);
  if (turns.list.length === 0) throw invalidRequest('must contain at least one user, assistant or tool message', 'messages');
  return turns.list;
}

interface PendingCalls { at: string; index: number; ids: string[]; unanswered: string[] }

/** OpenAI's 400 for tool calls no tool message answers (Anthropic refuses them too, naming the translated turn). */
function unansweredCalls(calls: PendingCalls): GatewayError {
  const ids = calls.unanswered.slice(0, 8).map((id) => id.slice(0, 64)).join(', ');
  return invalidRequest(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${ids}`, `${calls.at}.tool_calls`);
}

function toolUse(call: v.InferOutput<typeof ToolCallSchema>, at: string, toolIds: ToolIds): ToolUseBlockParam {
  if (call.type === 'custom' || call.custom) throw invalidRequest('Custom tool calls are not supported; use function tools', at);
  if (!call.function) throw invalidRequest('Field required', `${at}.function`);
  return {
    type: 'tool_use',
    id: toolIds.map(call.id),
    name: call.function.name,
    input: parseArguments(call.function.arguments, `${at}.function.arguments`),
  };
}

/** Tool arguments arrive as a JSON string; Anthropic takes the object. `""` is a call without arguments. */
function parseArguments(args: string, at: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch (e) {
    throw invalidRequest(`Invalid JSON: ${(e as Error).message}`, at);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidRequest('Expected a JSON-encoded object', at);
  return parsed as Record<string, unknown>;
}

/** `data:<media type>[;…];base64,<data>` → its parts; null for anything else. */
function parseDataUrl(url: string): { mediaType: string; base64: boolean; data: string } | null {
  if (!url.startsWith('data:')) return null;
  const comma = url.indexOf(',');
  if (comma === -1) return null;
  const [type = '', ...params] = url.slice(5, comma).split(';');
  return { mediaType: type.trim().toLowerCase() || 'text/plain', base64: params.includes('base64'), data: url.slice(comma + 1) };
}

function imageMediaType(mediaType: string, at: string): string {
  const normalized = mediaType === 'image/jpg' ? 'image/jpeg' : mediaType;
  if (!HUB_IMAGE_TYPES.has(normalized)) {
    throw invalidRequest(`Unsupported image type ${mediaType}: expected image/jpeg, image/png, image/gif or image/webp`, at);
  }
  return normalized;
}

function userPart(part: UserPart, at: string, ctx: TranslateContext): Block[] {
  switch (part.type) {
    case 'text':
      return part.text ? [textBlock(part.text, partCache(part, ctx))] : [];
    case 'image_url': {
      const { url, detail } = part.image_url;
      if (detail && detail !== 'auto') note(ctx, 'image_url.detail');
      const image: ImageBlockParam = { type: 'image', source: imageSource(url, `${at}.image_url.url`) };
      const cache = partCache(part, ctx);
      if (cache) image.cache_control = cache as ImageBlockParam['cache_control'];
      return [image];
    }
    case 'input_audio':
      throw invalidRequest('Audio input (input_audio) is not supported by this model', at);
    case 'file':
      return [fileBlock(part, at, ctx)];
  }
}

function imageSource(url: string, at: string): ImageBlockParam['source'] {
  const data = parseDataUrl(url);
  if (data) {
    if (!data.base64) throw invalidRequest('Image data URLs must be base64-encoded (data:<type>;base64,…)', at);
    return { type: 'base64', media_type: imageMediaType(data.mediaType, at), data: data.data };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw invalidRequest('Expected an http(s) URL or a base64 data URL', at);
}

const EXTENSION_TYPES: Record<string, string> = {
  pdf: 'application/pdf', txt: 'text/plain', md: 'text/plain', csv: 'text/plain',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
};

/** `file` parts: PDFs → base64 document, text → plain-text document, images → image block. */
function fileBlock(part: v.InferOutput<typeof FilePartSchema>, at: string, ctx: TranslateContext): Block {
  const { file_data: fileData, file_id: fileId, filename } = part.file;
  if (!fileData) {
    if (fileId) throw invalidRequest('file_id refers to OpenAI file storage, which this gateway cannot read; send file_data', `${at}.file.file_id`);
    throw invalidRequest('Field required', `${at}.file.file_data`);
  }
  const dataAt = `${at}.file.file_data`;
  const parsed = parseDataUrl(fileData);
  if (parsed && !parsed.base64) throw invalidRequest('File data URLs must be base64-encoded (data:<type>;base64,…)', dataAt);
  const mediaType = parsed?.mediaType ?? EXTENSION_TYPES[filename?.split('.').pop()?.toLowerCase() ?? ''];
  if (!mediaType) throw invalidRequest('Cannot tell the file type: send a data URL (data:application/pdf;base64,…) or a filename with an extension', dataAt);
  const data = parsed?.data ?? fileData;
  const cacheControl = partCache(part, ctx);
  const cache = cacheControl ? { cache_control: cacheControl as DocumentBlockParam['cache_control'] } : {};

  if (mediaType === 'application/pdf') {
    return { type: 'document', source: { type: 'base64', media_type: mediaType, data }, ...(filename ? { title: filename } : {}), ...cache };
  }
  if (mediaType.startsWith('text/')) {
    realString(data); // decoded below: a placeholder (util/json-skeleton.ts) needs the real bytes
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    } catch {
      throw invalidRequest('Invalid base64 or non-UTF-8 text', dataAt);
    }
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text }, ...(filename ? { title: filename } : {}), ...cache };
  }
  if (mediaType.startsWith('image/')) {
    return { type: 'image', source: { type: 'base64', media_type: imageMediaType(mediaType, dataAt), data }, ...cache };
  }
  throw invalidRequest(`Unsupported file type ${mediaType}: expected a PDF, plain text or an image`, dataAt);
}

/** Anthropic's limit on cache_control marks in one request ("A maximum of 4 blocks with cache_control may be provided"). */
const MAX_CACHE_MARKS = 4;

/**
 * Cache marks held to Anthropic's rules, in the order it reads them (tools, system, messages; a tool result before its
 * content): at most 4, where OpenAI takes as many as a conversation keeps and writes the latest four, so the latest
 * four are kept (the rest reported); and no 1-hour mark after a 5-minute one, which Anthropic refuses, so the marks
 * before a 1-hour one are made 1 hour too (a prefix of the prefix kept as long). Only for requests with breakpoints.
 */
function fitBreakpoints(hub: MessageCreateParams, ctx: TranslateContext): void {
  const marked: Array<{ cache_control?: { type: string; ttl?: string } | null }> = [];
  const visit = (b: Record<string, unknown>) => {
    if (b.cache_control) marked.push(b);
    if (b.type === 'tool_result' && Array.isArray(b.content)) for (const c of b.content) visit(c);
  };
  for (const t of hub.tools ?? []) visit(t as Record<string, unknown>);
  if (Array.isArray(hub.system)) for (const b of hub.system) visit(b);
  for (const m of hub.messages) if (typeof m.content !== 'string') for (const b of m.content) visit(b as Record<string, unknown>);
  const over = marked.length - MAX_CACHE_MARKS;
  if (over > 0) {
    for (const b of marked.splice(0, over)) delete b.cache_control;
    note(ctx, `prompt_cache_breakpoint (the ${over} earliest: Anthropic takes ${MAX_CACHE_MARKS})`);
  }
  let lastLong = -1;
  marked.forEach((b, i) => { if (b.cache_control?.ttl === '1h') lastLong = i; });
  for (let i = 0; i < lastLong; i++) marked[i]!.cache_control = { ...marked[i]!.cache_control!, ttl: '1h' };
}

// ---- parameters ---------------------------------------------------------------------------------------------

function note(ctx: TranslateContext, item: string): void {
  if (!ctx.dropped.includes(item)) ctx.dropped.push(item);
}

function applyResponseFormat(req: ChatCompletionCreateParams, hub: MessageCreateParams, system: TextBlockParam[], ctx: TranslateContext): void {
  const format = req.response_format;
  if (!format || format.type === 'text') return;
  if (format.type === 'json_schema' && format.json_schema.schema) {
    // https://platform.claude.com/docs/en/build-with-claude/structured-outputs: constrained decoding, always strict,
    // of a subset of JSON Schema (anthropicSchema)
    const moved: string[] = [];
    hub.output_config = { ...hub.output_config, format: { type: 'json_schema', schema: anthropicSchema(format.json_schema.schema, moved) as Record<string, unknown> } };
    if (moved.length) note(ctx, `response_format.json_schema ${[...new Set(moved)].join(', ')} (not enforced by Anthropic: written into the schema's descriptions)`);
    return;
  }
  // json_object, or json_schema without a schema: JSON, but no schema to constrain it with
  system.push(textBlock(JSON_OBJECT_INSTRUCTION));
  note(ctx, format.type === 'json_object' ? 'response_format.json_object (emulated with a system instruction)' : 'response_format.json_schema (no schema: emulated with a system instruction)');
}

/**
 * A JSON Schema as Anthropic's constrained decoding takes it (structured outputs, and a strict tool's input_schema),
 * where OpenAI's takes more: Anthropic refuses the rest with a 400 ("For 'integer' type, property 'minimum' is not
 * supported", "For 'object' type, 'additionalProperties' must be explicitly set to false"), and a zod schema's
 * `.min(1)` writes `minLength`. As the Anthropic SDK sends a schema: what the decoder compiles is kept (types, enum
 * and const of strings, numbers, booleans and null, anyOf, allOf, `$ref` and `$defs`, properties and required, items,
 * minItems 0 or 1, string formats it knows), `oneOf` becomes `anyOf`, OpenAPI's `nullable: true` a type with `null`,
 * every object is closed (`additionalProperties: false`: an answer without extra properties still matches the
 * client's schema), and every other keyword is written into the schema's description for the model to follow (`moved`
 * gets their names). The answer is then held to a looser schema than the client's, which its own validation (the
 * SDKs' parse()) still applies. A fresh object: the client's schema is not modified.
 */
function anthropicSchema(node: unknown, moved: string[]): unknown {
  if (!isRecord(node)) return node; // `true` / `false` schemas, and what is not a schema at all, as they are
  const out: Record<string, unknown> = {};
  const rest: Array<[string, unknown]> = [];
  const sub = (v: unknown) => anthropicSchema(v, moved);
  const each = (v: unknown) => (Array.isArray(v) ? v.map(sub) : v);
  const eachValue = (v: unknown) => (isRecord(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sub(x)])) : v);
  const types = Array.isArray(node.type) ? node.type : [node.type];
  for (const key in node) {
    const value = node[key];
    switch (key) {
      case 'type': case 'required': case 'title': case 'description': case '$ref':
        out[key] = value;
        break;
      case 'enum': case 'const': // strings, numbers, booleans and null: Anthropic refuses an object or an array here
        if ((key === 'enum' && Array.isArray(value) ? value : [value]).every((x) => x === null || typeof x !== 'object')) out[key] = value;
        else rest.push([key, value]);
        break;
      case '$defs': case 'definitions': case 'properties':
        out[key] = eachValue(value);
        break;
      case 'anyOf': case 'allOf':
        out[key] = each(value);
        break;
      case 'oneOf':
        out.anyOf = each(value); // "exactly one" is not compiled; the variants are
        break;
      case 'items':
        if (isRecord(value)) out.items = sub(value);
        else rest.push([key, value]); // a tuple's list of schemas (draft 4)
        break;
      case 'minItems':
        if (value === 0 || value === 1) out.minItems = value;
        else rest.push([key, value]);
        break;
      case 'format':
        if (types.includes('string') && typeof value === 'string' && STRING_FORMATS.has(value)) out.format = value;
        else rest.push([key, value]);
        break;
      case 'nullable': // OpenAPI's, which the openai SDK's zodResponseFormat writes for a zod 3 `.nullable()`: null joins the type below
        if (value !== true || node.type === undefined) rest.push([key, value]);
        break;
      case 'additionalProperties': // closed below; what an open object allowed (a zod .record()'s values) is lost, so said
        if (value !== false) rest.push([key, value]);
        break;
      case '$schema':
        break; // names the dialect and constrains nothing
      default:
        rest.push([key, value]);
    }
  }
  if (types.includes('object') || out.properties !== undefined) out.additionalProperties = false;
  if (node.nullable === true && node.type !== undefined) {
    if (!types.includes('null')) out.type = [...types, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  if (rest.length > 0) {
    for (const [k] of rest) moved.push(k);
    const also = rest.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
    out.description = `${typeof out.description === 'string' && out.description ? `${out.description}\n\n` : ''}Also: ${also}`;
  }
  return out;
}

/** The string formats Anthropic's constrained decoding knows (the structured outputs documentation's list). */
const STRING_FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);

/**
 * A `tools` array on its own → hub tools (Format.toolsToHub): function tools only, a custom tool refused (as
 * rejectUnsupported does for the whole request).
 */
export function chatToolsToHub(input: unknown[]): Tool[] {
  const res = v.safeParse(ToolsSchema, input);
  if (!res.success) throw issueToError(res.issues[0]);
  if (res.output.some((t) => t.type === 'custom')) throw invalidRequest('Custom (free-form) tools are not supported; use function tools', 'tools');
  return functionTools(res.output);
}

function functionTools(tools: v.InferOutput<typeof ToolsSchema>): Tool[] {
  return tools.flatMap((t) => (t.type === 'function' ? [t.function] : [])).map((fn): Tool => {
    const tool: Tool = { name: fn.name, input_schema: inputSchema(fn.parameters) };
    if (fn.description) tool.description = fn.description;
    // Anthropic strict tool use: the same guarantee, of the same subset of JSON Schema as structured outputs
    if (fn.strict === true) { tool.strict = true; tool.input_schema = anthropicSchema(tool.input_schema, []) as Tool['input_schema']; }
    return tool;
  });
}

function applyTools(req: ChatCompletionCreateParams, hub: MessageCreateParams, ctx: TranslateContext): void {
  // prepared (pipeline/tools-memo.ts): the body's own tools are empty
  const prepared = ctx.tools;
  if (!(prepared ? prepared.clientCount : req.tools?.length)) {
    // OpenAI refuses them without tools (its 400 names the field); Anthropic would answer as if they were not there,
    // and a client forcing a call (`required`, a named function) would get text where its code waits for a call
    for (const k of ['tool_choice', 'parallel_tool_calls'] as const) {
      if (req[k] != null) throw invalidRequest(`'${k}' is only allowed when 'tools' are specified`, k);
    }
    return;
  }
  let tools = prepared ? prepared.hub : functionTools(req.tools!);

  let choice: ToolChoice | undefined;
  const tc = req.tool_choice;
  if (tc === 'auto') choice = { type: 'auto' };
  else if (tc === 'required') choice = { type: 'any' };
  else if (tc === 'none') choice = { type: 'none' };
  else if (tc?.type === 'function') {
    if (!offers(tools, tc.function.name)) throw invalidRequest(notOffered(tc.function.name), 'tool_choice.function.name');
    choice = { type: 'tool', name: tc.function.name };
  } else if (tc?.type === 'custom') throw invalidRequest('Custom tools are not supported; use function tools', 'tool_choice');
  else if (tc?.type === 'allowed_tools') {
    // Anthropic has no allow-list: offer only the allowed tools instead
    tools = allowedTools(tools, tc.allowed_tools.tools);
    choice = { type: tc.allowed_tools.mode === 'required' ? 'any' : 'auto' };
  }
  if (req.parallel_tool_calls === false && choice?.type !== 'none') {
    choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true } as ToolChoice;
  }

  hub.tools = tools;
  if (choice) hub.tool_choice = choice;
}

/**
 * Whether `tools` offers one named `name`: a choice naming a tool the request does not offer is refused by Anthropic
 * too, but without naming the field. A function of its own, not a closure over applyTools' `tools`: that would cost
 * every request with tools a function object and an environment (bench/FINDINGS.md, "Allocation and the collector").
 */
function offers(tools: Tool[], name: string): boolean {
  for (const t of tools) if (t.name === name) return true;
  return false;
}

/** The tools an `allowed_tools` choice lets through, each of its entries a function tool the request offers. */
function allowedTools(tools: Tool[], allowed: ReadonlyArray<{ type: string; function?: { name: string } | null }>): Tool[] {
  const names = new Set<string>();
  allowed.forEach((t, i) => {
    if (!(t.type === 'function' && t.function && offers(tools, t.function.name))) {
      throw invalidRequest(notOffered(t.function?.name), `tool_choice.allowed_tools.tools.${i}`);
    }
    names.add(t.function.name);
  });
  return tools.filter((t) => names.has(t.name));
}

const notOffered = (name: string | undefined) =>
  (name === undefined ? 'not a function tool of this request' : `no function in tools is named ${JSON.stringify(name.slice(0, 64))}`);

/** Anthropic requires `input_schema.type: "object"`; OpenAI lets a tool without parameters omit the schema. */
function inputSchema(parameters: Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (!parameters || Object.keys(parameters).length === 0) return { type: 'object', properties: {} };
  return parameters.type === undefined ? { type: 'object', ...parameters } : parameters;
}

function applySampling(req: ChatCompletionCreateParams, hub: MessageCreateParams, ctx: TranslateContext): void {
  if (req.temperature != null) {
    hub.temperature = Math.min(req.temperature, 1);
    if (req.temperature > 1) note(ctx, 'temperature (clamped to 1)');
  }
  // Claude models since Opus 4.1 take temperature or top_p, not both (400 otherwise). top_p = 1 is the no-op
  // default many clients always send: not sent. A real top_p beside a temperature loses to the temperature.
  if (req.top_p != null && req.top_p < 1) {
    if (hub.temperature === undefined) hub.top_p = req.top_p;
    else note(ctx, 'top_p (Claude takes temperature or top_p, not both)');
  }
  if (req.top_k != null) hub.top_k = req.top_k;

  if (req.stop != null) {
    const stops = (typeof req.stop === 'string' ? [req.stop] : req.stop).filter((s) => s !== '');
    // Anthropic rejects stop sequences made only of whitespace
    const kept = stops.filter((s) => s.trim() !== '');
    if (kept.length < stops.length) note(ctx, 'stop (whitespace-only sequences)');
    if (kept.length) hub.stop_sequences = kept;
  }
}

/**
 * `reasoning_effort` → thinking, per the upstream model's style:
 * - adaptive: `thinking: {type: "adaptive"}` + `output_config.effort` (`minimal` → `low`; the rest as is).
 * - budget: `thinking: {type: "enabled", budget_tokens}` from THINKING_BUDGETS, raising `max_tokens` above the budget.
 * - none: dropped.
 * Either way, thinking is left off when the request resumes a tool-use turn: the client cannot send back the signed
 * thinking blocks of that turn (Chat Completions has no place for them), and Anthropic requires them
 * (https://platform.claude.com/docs/en/build-with-claude/thinking#preserving-thinking-blocks). And it is left off
 * with a tool_choice that forces tool use (`required`, a named function): Anthropic refuses thinking, adaptive or
 * budget, with one ("Thinking may not be enabled when tool_choice forces tool use";
 * https://platform.claude.com/docs/en/build-with-claude/extended-thinking#extended-thinking-with-tool-use), and the
 * forced call is what the client's code waits for, the effort only a tuning knob.
 * With thinking on, sampling knobs Anthropic does not allow with it are dropped.
 */
function applyReasoning(effort: ReasoningEffort | null | undefined, hub: MessageCreateParams, style: 'adaptive' | 'budget' | 'none', ctx: TranslateContext): void {
  if (effort == null || effort === 'none') return;
  if (style === 'none') {
    note(ctx, 'reasoning_effort (model has no thinking control)');
    return;
  }
  if (resumesToolUse(hub.messages)) {
    note(ctx, 'reasoning_effort (thinking cannot resume a tool-use turn without its thinking blocks)');
    return;
  }
  if (hub.tool_choice?.type === 'any' || hub.tool_choice?.type === 'tool') {
    note(ctx, 'reasoning_effort (thinking cannot be combined with a forced tool_choice)');
    return;
  }
  if (style === 'adaptive') {
    hub.thinking = { type: 'adaptive' };
    let level: string = effort === 'minimal' ? 'low' : effort;
    if (level === 'xhigh' && !takesXhighEffort(ctx.upstreamModel)) {
      level = 'high';
      note(ctx, `reasoning_effort=xhigh (capped to high: ${ctx.upstreamModel.slice(0, 64)} takes low, medium, high, max)`);
    }
    hub.output_config = { ...hub.output_config, effort: level };
  } else {
    const level = effort === 'xhigh' || effort === 'max' ? 'high' : effort;
    if (level !== effort) note(ctx, `reasoning_effort=${effort} (capped to high)`);
    const budget = THINKING_BUDGETS[level];
    hub.thinking = { type: 'enabled', budget_tokens: budget };
    if (hub.max_tokens <= budget) {
      hub.max_tokens = budget + Math.min(hub.max_tokens, THINKING_ANSWER_RESERVE);
      note(ctx, `max_tokens (raised to ${hub.max_tokens} to fit the thinking budget)`);
    }
  }
  // https://platform.claude.com/docs/en/build-with-claude/extended-thinking: thinking allows no temperature/top_k
  // changes, and top_p only between 0.95 and 1
  if (hub.temperature !== undefined && hub.temperature !== 1) {
    delete hub.temperature;
    note(ctx, 'temperature (not supported with thinking)');
  }
  if (hub.top_p !== undefined && hub.top_p < 0.95) {
    delete hub.top_p;
    note(ctx, 'top_p (below 0.95 is not supported with thinking)');
  }
  if (hub.top_k !== undefined) {
    delete hub.top_k;
    note(ctx, 'top_k (not supported with thinking)');
  }
}

/** The conversation ends in tool results answering the assistant's last turn. */
function resumesToolUse(messages: MessageParam[]): boolean {
  const last = messages.at(-1);
  return last?.role === 'user' && typeof last.content !== 'string' && last.content.some((b) => b.type === 'tool_result');
}

/** Tuning knobs without an Anthropic equivalent: the answer is still the one asked for, so note and carry on. */
function noteDropped(req: ChatCompletionCreateParams, ctx: TranslateContext): void {
  if (req.logprobs === true) note(ctx, 'logprobs');
  if (req.top_logprobs != null) note(ctx, 'top_logprobs');
  if (req.logit_bias != null && Object.keys(req.logit_bias).length) note(ctx, 'logit_bias');
  if (req.presence_penalty) note(ctx, 'presence_penalty');
  if (req.frequency_penalty) note(ctx, 'frequency_penalty');
  if (req.seed != null) note(ctx, 'seed');
  if (req.verbosity != null) note(ctx, 'verbosity');
  if (req.prediction != null) note(ctx, 'prediction');
  if (req.audio != null) note(ctx, 'audio');
  if (req.service_tier != null && req.service_tier !== 'auto' && req.service_tier !== 'default') note(ctx, 'service_tier');
  if (req.moderation != null) note(ctx, 'moderation (no moderation scores: Anthropic runs none)');
  for (const key of Object.keys(req)) if (!Object.hasOwn(ChatCompletionCreateParamsSchema.entries, key)) note(ctx, key);
}
