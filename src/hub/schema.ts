/**
 * @module hub/schema
 * Validation of inbound Anthropic Messages bodies: just enough to route and translate safely.
 * looseObject throughout, so fields this gateway does not know (context_management, output_config,
 * defer_loading, tomorrow's additions) survive untouched (STYLE rule 6).
 */
import * as v from 'valibot';
import { stringOrArray } from '../util/validate.ts';

/** Model names are short (the longest real ones, Bedrock ARNs, are ~150 characters); a longer one is refused. */
export const MAX_MODEL_LENGTH = 256;
export const ModelNameSchema = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(MAX_MODEL_LENGTH, `must be at most ${MAX_MODEL_LENGTH} characters`));

const BlockSchema = v.looseObject({ type: v.pipe(v.string(), v.minLength(1)) });
const ContentSchema = stringOrArray(v.string(), v.array(BlockSchema), 'Invalid type: Expected string or array of content blocks');

export const MessageParamSchema = v.looseObject({
  // `system` turns inside messages: current Claude Code sends them mid-conversation
  role: v.picklist(['user', 'assistant', 'system'], 'Invalid value: Expected "user", "assistant" or "system"'),
  content: ContentSchema,
});

export const ToolsSchema = v.array(v.looseObject({ name: v.string() }));

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
