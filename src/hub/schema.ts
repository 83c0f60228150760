/**
 * @module hub/schema
 * Validation of inbound Anthropic Messages bodies: just enough to route and translate safely.
 * looseObject throughout, so fields this gateway does not know (context_management, output_config,
 * defer_loading, tomorrow's additions) survive untouched (STYLE rule 6).
 */
import * as v from 'valibot';
import { isUnchangedObject, stringOrArray } from '../util/validate.ts';

/** Model names are short (the longest real ones, Bedrock ARNs, are ~150 characters); a longer one is refused. */
export const MAX_MODEL_LENGTH = 256;
/** What ModelNameSchema accepts, for the plain checks (here, pipeline/inbound.ts, formats/openai-chat/request-to-hub.ts). */
export function isModelName(m: unknown): m is string {
  return typeof m === 'string' && m.length >= 1 && m.length <= MAX_MODEL_LENGTH;
}
export const ModelNameSchema = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(MAX_MODEL_LENGTH, `must be at most ${MAX_MODEL_LENGTH} characters`));

const BlockSchema = v.looseObject({ type: v.pipe(v.string(), v.minLength(1)) });
const ContentSchema = stringOrArray(v.string(), v.array(BlockSchema), 'Invalid type: Expected string or array of content blocks');

export const MessageParamSchema = v.looseObject({
  // `system` turns inside messages: current Claude Code sends them mid-conversation
  role: v.picklist(['user', 'assistant', 'system'], 'Invalid value: Expected "user", "assistant" or "system"'),
  content: ContentSchema,
});

/**
 * Tools: a client tool needs its `name`; a typed one may have none, for it stands for a family of tools
 * (`mcp_toolset`, `browser_toolset_…`, `computer_toolset_…`: Anthropic's API takes them nameless).
 */
export const ToolsSchema = v.array(v.pipe(
  v.looseObject({ name: v.optional(v.string()) }),
  v.forward(v.check((t) => t.name !== undefined || isTypedTool(t), 'Field required'), ['name']),
));

/** A tool with a `type` of its own (Anthropic's server tools and toolsets), which needs no name. */
function isTypedTool(t: Record<string, unknown>): boolean {
  return typeof t.type === 'string' && t.type !== 'custom';
}

const common = {
  model: ModelNameSchema,
  messages: v.array(MessageParamSchema),
  system: v.optional(stringOrArray(v.string(), v.array(BlockSchema), 'Invalid type: Expected string or array of text blocks')),
  tools: v.optional(ToolsSchema),
  tool_choice: v.optional(v.looseObject({ type: v.string() })),
  thinking: v.optional(v.looseObject({ type: v.string() })),
};

export const MessageCreateParamsSchema = v.looseObject({
  ...common,
  max_tokens: v.pipe(v.number(), v.integer(), v.minValue(1)),
  stream: v.optional(v.boolean()),
  stop_sequences: v.optional(v.array(v.string())),
  temperature: v.optional(v.number()),
  top_p: v.optional(v.number()),
  top_k: v.optional(v.pipe(v.number(), v.integer())),
  metadata: v.optional(v.looseObject({ user_id: v.optional(v.nullable(v.string())) })),
});

export const MessageCountTokensParamsSchema = v.looseObject(common);

/**
 * True only for a body that MessageCreateParamsSchema accepts, checked in one plain pass: such a body can be used as
 * the hub as it is, without valibot's copy of every message and block (~23 of ~185 µs of translating the bench's
 * 200 KB conversation, in-process). It differs from valibot's output only in key order (valibot puts the schema's
 * keys first). Anything this does not accept goes to valibot, which names the field: an invalid body, and one that
 * valibot would change (an array where an object belongs, which it copies into an object; a key it leaves out of its
 * copy: `__proto__`, `constructor`, `prototype`, own keys that JSON.parse can make).
 * test/unit/hub/schema.test.ts holds it to valibot's verdict on fixed and random inputs.
 */
export function isPlainMessageCreateParams(x: unknown): x is Record<string, unknown> {
  if (!isUnchangedObject(x)) return false;
  const model = x.model;
  if (!isModelName(model)) return false;
  const max = x.max_tokens;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return false;
  if (!Array.isArray(x.messages)) return false;
  for (const m of x.messages) {
    if (!isUnchangedObject(m) || (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system')) return false;
    if (typeof m.content !== 'string' && !areBlocks(m.content)) return false;
  }
  if (x.system !== undefined && typeof x.system !== 'string' && !areBlocks(x.system)) return false;
  if (x.tools !== undefined) {
    if (!Array.isArray(x.tools)) return false;
    for (const t of x.tools) if (!isUnchangedObject(t) || (typeof t.name !== 'string' && (t.name !== undefined || !isTypedTool(t)))) return false;
  }
  for (const k of ['tool_choice', 'thinking'] as const) {
    const o = x[k];
    if (o !== undefined && (!isUnchangedObject(o) || typeof o.type !== 'string')) return false;
  }
  if (x.stream !== undefined && typeof x.stream !== 'boolean') return false;
  if (x.stop_sequences !== undefined) {
    if (!Array.isArray(x.stop_sequences)) return false;
    for (const s of x.stop_sequences) if (typeof s !== 'string') return false;
  }
  for (const k of ['temperature', 'top_p'] as const) if (x[k] !== undefined && !isNumber(x[k])) return false;
  if (x.top_k !== undefined && !(isNumber(x.top_k) && Number.isInteger(x.top_k))) return false;
  const meta = x.metadata;
  if (meta !== undefined) {
    if (!isUnchangedObject(meta)) return false;
    if (meta.user_id !== undefined && meta.user_id !== null && typeof meta.user_id !== 'string') return false;
  }
  return true;
}

function isNumber(x: unknown): boolean {
  return typeof x === 'number' && !Number.isNaN(x);
}

function areBlocks(x: unknown): boolean {
  if (!Array.isArray(x)) return false;
  for (const b of x) if (!isUnchangedObject(b) || typeof b.type !== 'string' || b.type.length < 1) return false;
  return true;
}
