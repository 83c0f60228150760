/**
 * @module formats
 * Wire formats by id. A new format = one folder + one line here; every route and channel can then reach it.
 */
import type { Format, FormatId } from './types.ts';
import { anthropicFormat } from './anthropic/index.ts';
import { openaiChatFormat } from './openai-chat/index.ts';

export const FORMATS = {
  anthropic: anthropicFormat,
  'openai-chat': openaiChatFormat,
} satisfies Record<FormatId, Format<any>>;
