/**
 * @module channels/kinds
 * The channel type names, kept apart from registry.ts so that config validation needs no channel code.
 * registry.ts checks at compile time that every name here has a factory, and no more.
 */
export const CHANNEL_TYPES = ['anthropic', 'openai'] as const;
export type ChannelKind = (typeof CHANNEL_TYPES)[number];

/**
 * The path each channel type appends to its `base_url` for an inference request (channels/*), also read by the
 * config check that refuses a base_url carrying it already (config/load.ts).
 */
export const INFERENCE_PATH: Readonly<Record<ChannelKind, string>> = { anthropic: '/v1/messages', openai: '/chat/completions' };
