/**
 * @module channels/openai
 * OpenAI-compatible Chat Completions channel (OpenAI, Azure, DeepSeek, OpenRouter, Groq, Mistral, xAI, Gemini,
 * vLLM, Ollama, llama.cpp…). Native format `openai-chat`; provider differences are data (presets.ts + `quirks`).
 */
import type { Channel, ChannelFactory, UpstreamRequest } from '../types.ts';
import { channelSecrets, credentialHeaderNames, forwardableClientHeaders, joinUrl } from '../shared/upstream-headers.ts';
import { INFERENCE_PATH } from '../kinds.ts';
import { PRESETS, resolveQuirks } from './presets.ts';
import { TRANSPORT } from './transport.ts';
import { invalidRequest } from '../../errors.ts';

export const openaiChannel: ChannelFactory = (config, path) => {
  const provider = config.provider;
  if (provider !== undefined && !(provider in PRESETS)) {
    throw new Error(`${path}.provider: unknown provider "${provider}"; known: ${Object.keys(PRESETS).join(', ')}`);
  }
  const transport = TRANSPORT[provider ?? 'openai'] ?? { auth: 'bearer' as const };
  const base = config.base_url ?? transport.base_url;
  if (!base) throw new Error(`${path}.base_url: required for provider "${provider}"`);
  const quirks = resolveQuirks(provider, config.quirks);
  const apiVersion = config.api_version ?? transport.api_version;
  // Azure's classic deployment URLs carry the model in the path: base_url ".../openai/deployments/{model}"
  const urlFor = (model: string) => {
    let u = joinUrl(base.replace('{model}', encodeURIComponent(model)), INFERENCE_PATH.openai);
    if (apiVersion) u += `${u.includes('?') ? '&' : '?'}api-version=${encodeURIComponent(apiVersion)}`;
    return u;
  };
  const fixedUrl = base.includes('{model}') ? null : urlFor('');
  // `.` and `..` as the whole of a path segment are not names but steps (RFC 3986 §5.2.4, and the WHATWG URL parser
  // fetch uses, which takes %2e for a dot too): model ".." sent the channel's key to /openai/chat/completions, a URL
  // the operator never configured. Any other name is one segment, encodeURIComponent escaping its slashes
  const refuses = fixedUrl !== null ? undefined : (model: string) => (model === '.' || model === '..'
    ? invalidRequest(`"${model}" cannot be put in channel ${config.name}'s URL (its base_url puts the model in the path, and "${model}" would be a step up the path, not a name)`, 'model')
    : null);

  // configured headers, names lower-cased so they replace (or, null, remove) the client's of the same name
  const extra = Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const channel: Channel = {
    name: config.name,
    kind: 'openai',
    nativeFormat: 'openai-chat',
    config,
    quirks,
    secrets: channelSecrets(config),
    credentialHeaders: credentialHeaderNames(config),
    refuses,
    countsTokens: false,
    send(req: UpstreamRequest): Promise<Response> {
      if (req.endpoint !== 'chat_completions') throw new Error(`openai channel has no ${req.endpoint} endpoint`);
      const headers = req.passthrough ? forwardableClientHeaders(req.clientHeaders) : new Headers();
      headers.set('content-type', 'application/json');
      if (!req.passthrough) headers.set('accept', 'application/json, text/event-stream');
      if (config.api_key) {
        if (transport.auth === 'api-key') headers.set('api-key', config.api_key);
        else headers.set('authorization', `Bearer ${config.api_key}`);
      }
      // answers uncompressed (bench/FINDINGS.md "Compressed answers"): a channel's `headers` may ask otherwise
      headers.set('accept-encoding', 'identity');
      for (const k in extra) {
        const value = extra[k]!;
        if (value === null) headers.delete(k);
        else headers.set(k, value);
      }
      headers.set('x-switchboard-hop', req.hopHeader);
      // a redirect is not followed: it would take the key and the prompt to another origin (pipeline/handle.ts)
      return fetch(fixedUrl ?? urlFor(req.upstreamModel), { method: 'POST', headers, body: req.body, signal: req.signal, redirect: 'manual' });
    },
  };
  return channel;
};
