/**
 * @module channels/shared/upstream-headers
 * Which headers cross the gateway. Hop-by-hop headers are connection-scoped and never forwarded
 * (RFC 9110 §7.6.1, https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1 — the same list Hono's proxy helper strips).
 */
import type { ChannelConfig } from '../../config/schema.ts';

export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

/**
 * Never forwarded upstream: the client's credentials; what fetch computes itself; `content-encoding` (the gateway read
 * the body as plain JSON, and sends it so); headers with which a proxy or framework in front of an upstream takes
 * another path, method or host than the request's (they would send the channel's key where the client chose); those
 * that pick which of the channel key's organisations, projects, workspaces or billing accounts pays, or for which party
 * it acts (the channel's `headers` set them: the Anthropic SDK's `workspace_id` and `user_profile_id` params are sent as
 * `anthropic-workspace-id` and `anthropic-user-profile-id`, anthropics/anthropic-sdk-typescript
 * src/resources/messages/messages.ts); and a browser's `Origin` and `Referer`.
 */
const CLIENT_ONLY = new Set([
  'host', 'content-length', 'authorization', 'x-api-key', 'api-key', 'cookie', 'accept-encoding', 'expect',
  'x-forwarded-for', 'x-real-ip', 'forwarded', 'content-encoding',
  'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-original-host',
  'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override',
  'openai-organization', 'openai-project', 'x-goog-api-key', 'x-goog-user-project', 'anthropic-workspace-id', 'anthropic-user-profile-id',
  // a web page's origin and address, and what the browser says of itself and of the page's request (fetch metadata,
  // client hints): the gateway answered the browser (http/cors.ts); the upstream is called by the gateway, not by the
  // page (and Anthropic's API refuses a request with an Origin unless the client says it knows). Named one by one: a
  // prefix test would cost every header of every request a comparison more
  'origin', 'referer', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user', 'sec-fetch-storage-access',
  'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform',
]);

/**
 * Not relayed to the client: fetch already decoded the body (encoding, length), and Bun writes its own date; the
 * credential headers of a request, which an upstream or a proxy in front of it may quote back (the channel's key, sent
 * as `x-api-key`, `api-key` or `authorization`: its body is masked, util/redact.ts, its headers were not), and its
 * challenge and answer to them (`www-authenticate`, `authentication-info`: about the channel's credentials, not the
 * client's); and what an upstream tells browsers (https://fetch.spec.whatwg.org/#http-responses): the gateway's own
 * policy answers them (http/cors.ts). Named one by one, so that no response pays more than the one lookup per header
 * it paid before.
 */
const UPSTREAM_ONLY = new Set([
  'content-encoding', 'content-length', 'set-cookie', 'date', 'server',
  'x-api-key', 'api-key', 'authorization', 'www-authenticate', 'authentication-info', 'x-goog-api-key',
  'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods',
  'access-control-allow-headers', 'access-control-expose-headers', 'access-control-max-age',
  'access-control-allow-private-network',
]);

/** Header names (lower-case) and values as a plain object: Bun's Headers#toJSON, one native call. */
type HeaderRecord = Record<string, string>;
const toRecord = (h: Headers) => h.toJSON() as HeaderRecord;

/**
 * The client's headers minus hop-by-hop, credentials and anything named in `Connection`: a native copy with those
 * deleted (an SDK or Claude Code sends ~20 headers: 3.6 instead of 4.7 µs per request against a plain object that
 * fetch converts back, in-process; equal with the bench's 5).
 */
export function forwardableClientHeaders(client: Headers): Headers {
  const names = toRecord(client);
  const out = new Headers(client);
  const named = names.connection;
  const extraHop = named ? named.toLowerCase().split(',').map((s) => s.trim()) : undefined;
  for (const key in names) {
    if (HOP_BY_HOP.has(key) || CLIENT_ONLY.has(key) || key.startsWith('x-switchboard-') || extraHop?.includes(key)) out.delete(key);
  }
  return out;
}

/**
 * Upstream response headers safe to relay, with this request's id: no hop-by-hop, no encoding/length; the upstream's
 * request id renamed. A native copy with a few names deleted: with an Anthropic answer's ~18 headers (rate limits,
 * cf-ray, ...) 2.8 µs per response against 4.0 for a plain object that Response must convert back (in-process, the
 * Response built too; equal with the 4 headers of the bench's mock). `credentials`: the names of the credential
 * headers the channel's `headers` send (Channel.credentialHeaders), dropped too; on a channel without any, a check of
 * undefined per header.
 */
export function relayableResponseHeaders(upstream: Headers, requestId: string, chat: boolean, credentials?: ReadonlySet<string>): Headers {
  const names = toRecord(upstream);
  const out = new Headers(upstream);
  for (const key in names) {
    if (HOP_BY_HOP.has(key) || UPSTREAM_ONLY.has(key) || credentials?.has(key)) out.delete(key);
    else if (key === 'request-id' || key === 'x-request-id') {
      out.delete(key);
      out.set('upstream-request-id', names[key]!);
    }
  }
  out.set('request-id', requestId);
  // the openai SDK's `_request_id` reads x-request-id (Anthropic's SDK reads request-id)
  if (chat) out.set('x-request-id', requestId);
  return out;
}

/**
 * Join a base URL and a path without doubling `/v1` or slashes. The path goes before a query string the base URL
 * carries (`…/v1?tenant=a`: after it, the path would be part of the query, and the upstream called at the base URL
 * itself); a fragment, never sent, is dropped.
 */
export function joinUrl(base: string, path: string): string {
  const hash = base.indexOf('#');
  const noHash = hash < 0 ? base : base.slice(0, hash);
  const q = noHash.indexOf('?');
  const query = q < 0 ? '' : noHash.slice(q);
  const b = (q < 0 ? noHash : noHash.slice(0, q)).replace(/\/+$/, '');
  if (path.startsWith('/v1/') && b.endsWith('/v1')) return b + path.slice(3) + query;
  return b + path + query;
}

/** `url` with the query parameters of `search` (`?a=1`, or '') added after any it has. */
export function withSearch(url: string, search: string): string {
  if (!search) return url;
  return url.includes('?') ? `${url}&${search.slice(1)}` : url + search;
}

/**
 * A channel's credentials as an upstream could quote them back: its `api_key`, and the value of each configured header
 * whose name says it carries one (`authorization`, `x-api-key`, `api-key`, a proxy's token or cookie) with, for a
 * `Scheme token` value, the token alone too. Masked in upstream text by value (util/redact.ts), where the shapes
 * redactSecrets knows miss a token of no known form.
 */
export function channelSecrets(config: ChannelConfig): string[] {
  const out = config.api_key ? [config.api_key] : [];
  for (const name in config.headers) {
    const value = config.headers[name];
    if (typeof value !== 'string' || !CREDENTIAL_HEADER.test(name)) continue;
    out.push(value);
    const token = /^\s*[A-Za-z][\w-]*\s+(\S{8,})\s*$/.exec(value)?.[1];
    if (token) out.push(token);
  }
  return out;
}

/**
 * The names (lower-case) of the channel's configured headers that carry a credential (CREDENTIAL_HEADER), which an
 * upstream may quote back in its answer's headers; undefined when there is none (channelSecrets has their values).
 */
export function credentialHeaderNames(config: ChannelConfig): ReadonlySet<string> | undefined {
  const out = new Set<string>();
  for (const name in config.headers) {
    if (typeof config.headers[name] === 'string' && CREDENTIAL_HEADER.test(name)) out.add(name.toLowerCase());
  }
  return out.size ? out : undefined;
}

/**
 * A name holding `authorization` or `authentication` (`proxy-authorization`, Azure's `x-ms-authorization-auxiliary`),
 * `cookie` by name, a name ending in `auth` (`x-corp-auth`), else one that holds a word for a credential
 * (`x-api-key`, `x-auth-token`, `x-vault-secret`, `x-jwt`); not every `…auth…` name (`x-auth-mode: required` would
 * mask the word wherever it occurs).
 */
const CREDENTIAL_HEADER = /authori[sz]ation|authentication|^cookie$|auth$|key|token|secret|password|passwd|credential|jwt|session|signature/i;
