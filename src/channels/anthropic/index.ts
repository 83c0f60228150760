/**
 * @module channels/anthropic
 * Native Anthropic Messages channel: the client's bytes go out as they came (model rewritten at most),
 * with the channel's key as `x-api-key`, the client's `anthropic-version` (else 2023-06-01) and `anthropic-beta`.
 * Imports nothing from formats/: a passthrough channel never translates.
 */
import type { Channel, ChannelFactory, Endpoint, UpstreamRequest } from '../types.ts';
import { channelSecrets, credentialHeaderNames, forwardableClientHeaders, joinUrl, withSearch } from '../shared/upstream-headers.ts';
import { INFERENCE_PATH } from '../kinds.ts';

const PATHS: Record<Endpoint, string | null> = {
  messages: INFERENCE_PATH.anthropic,
  count_tokens: `${INFERENCE_PATH.anthropic}/count_tokens`,
  chat_completions: null,
};

export const anthropicChannel: ChannelFactory = (config) => {
  const base = config.base_url ?? 'https://api.anthropic.com';
  const urls = {
    messages: joinUrl(base, PATHS.messages!),
    count_tokens: joinUrl(base, PATHS.count_tokens!),
  };
  // configured headers, names lower-cased so they replace (or, null, remove) the client's of the same name
  const extra = Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const channel: Channel = {
    name: config.name,
    kind: 'anthropic',
    nativeFormat: 'anthropic',
    config,
    quirks: undefined,
    secrets: channelSecrets(config),
    credentialHeaders: credentialHeaderNames(config),
    countsTokens: true,
    send(req: UpstreamRequest): Promise<Response> {
      if (req.endpoint === 'chat_completions') throw new Error('anthropic channel has no chat_completions endpoint');
      const headers = req.passthrough ? forwardableClientHeaders(req.clientHeaders) : new Headers();
      headers.set('content-type', 'application/json');
      if (!headers.has('anthropic-version')) headers.set('anthropic-version', req.clientHeaders.get('anthropic-version') ?? '2023-06-01');
      if (!req.passthrough) {
        const beta = req.clientHeaders.get('anthropic-beta');
        if (beta) headers.set('anthropic-beta', beta);
        headers.set('accept', 'application/json, text/event-stream');
      }
      if (config.api_key) headers.set('x-api-key', config.api_key);
      // answers uncompressed (bench/FINDINGS.md "Compressed answers"): a channel's `headers` may ask otherwise
      headers.set('accept-encoding', 'identity');
      for (const k in extra) {
        const value = extra[k]!;
        if (value === null) headers.delete(k);
        else headers.set(k, value);
      }
      headers.set('x-switchboard-hop', req.hopHeader);
      return fetch(withSearch(urls[req.endpoint], req.search), {
        // a redirect is not followed: it would take the key and the prompt to another origin (pipeline/handle.ts)
        method: 'POST', headers, body: req.body, signal: req.signal, redirect: 'manual',
      });
    },
  };
  return channel;
};
