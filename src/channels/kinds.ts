/**
 * @module channels/kinds
 * The channel type names, kept apart from registry.ts so that config validation needs no channel code.
 * registry.ts checks at compile time that every name here has a factory, and no more.
 */
export const CHANNEL_TYPES = ['anthropic', 'openai'] as const;
export type ChannelKind = (typeof CHANNEL_TYPES)[number];
