/**
 * @module channels/types
 * A channel is "where and how to call": a base URL, credentials, a native wire format, transport quirks.
 * Translation is not here: the pipeline composes formats/ around `send`.
 */
import type { ChannelConfig } from '../config/schema.ts';
import type { FormatId } from '../formats/types.ts';
import type { GatewayError } from '../errors.ts';

/** What the client asked for, in endpoint terms the channel maps to its own URL. */
export type Endpoint = 'messages' | 'count_tokens' | 'chat_completions';

export interface UpstreamRequest {
  endpoint: Endpoint;
  /** The model name the upstream knows (after the channel's model map). */
  upstreamModel: string;
  /** Exact bytes to send (passthrough: the client's, model rewritten at most). */
  body: Uint8Array | string;
  /** The client's query string, `?beta=true` included (passthrough only; '' otherwise). */
  search: string;
  /** The client's headers: a channel picks what it forwards (never the client's credentials). */
  clientHeaders: Headers;
  /** True when the body is the client's own (same format): forward client headers such as anthropic-beta. */
  passthrough: boolean;
  signal: AbortSignal;
  /** Loop guard marker to send upstream (see pipeline/loop-guard.ts). */
  hopHeader: string;
}

export interface Channel {
  readonly name: string;
  readonly kind: string;
  readonly nativeFormat: FormatId;
  readonly config: ChannelConfig;
  /** Options handed to the native format's upstream-role converters (openai: resolved quirks). */
  readonly quirks: unknown;
  /** Whether the upstream serves POST /v1/messages/count_tokens itself. */
  readonly countsTokens: boolean;
  /**
   * What the channel sends as credentials (its `api_key`, and credential headers of its `headers`): masked wherever an
   * upstream's text quotes them (an error message echoing the key it was given). channels/shared: channelSecrets.
   */
  readonly secrets: readonly string[];
  /**
   * The names (lower-case) of the credential headers among its `headers` (`cf-aig-authorization`, an API manager's
   * `ocp-apim-subscription-key`): not relayed from an upstream's answer, which may quote them back, as the standard
   * ones are not (channels/shared: relayableResponseHeaders); absent when it has none.
   */
  readonly credentialHeaders?: ReadonlySet<string>;
  /**
   * Why the channel cannot be asked for this upstream model (an invalid request, 400), or null; absent on a channel
   * that takes any name. An openai channel whose base_url puts the model in its path refuses `.` and `..`.
   */
  readonly refuses?: (upstreamModel: string) => GatewayError | null;
  /**
   * Make the request. The body is handed to `fetch` before `send` returns (which copies a byte body when the request
   * is made, per the Fetch standard): the pipeline reuses its buffer as soon as `send` has returned.
   */
  send(req: UpstreamRequest): Promise<Response>;
}

export type ChannelFactory = (config: ChannelConfig, path: string) => Channel;
