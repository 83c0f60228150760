/**
 * @module channels/registry
 * Channel types by name. Adding a type = one folder + one line here (+ its name in kinds.ts).
 */
import type { ChannelFactory } from './types.ts';
import type { ChannelKind } from './kinds.ts';
import { anthropicChannel } from './anthropic/index.ts';
import { openaiChannel } from './openai/index.ts';

export const CHANNELS = {
  anthropic: anthropicChannel,
  openai: openaiChannel,
} satisfies Record<ChannelKind, ChannelFactory>;
