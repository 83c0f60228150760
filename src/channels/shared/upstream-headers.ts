/**
 * @module channels/shared/upstream-headers
 * Which headers cross the gateway. Hop-by-hop headers are connection-scoped and never forwarded
 * (RFC 9110 §7.6.1, https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1 — the same list Hono's proxy helper strips).
 */

export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

/** Never forwarded upstream: the client's credentials, and what fetch computes itself. */
const CLIENT_ONLY = new Set([
  'host', 'content-length', 'authorization', 'x-api-key', 'api-key', 'cookie', 'accept-encoding', 'expect',
  'x-forwarded-for', 'x-real-ip', 'forwarded',
]);

/** The client's headers minus hop-by-hop, credentials and anything named in `Connection`. */
export function forwardableClientHeaders(client: Headers): Headers {
  const out = new Headers();
  const named = client.get('connection');
  const extraHop = named ? new Set(named.toLowerCase().split(',').map((s) => s.trim())) : undefined;
  client.forEach((value, key) => {
    if (HOP_BY_HOP.has(key) || CLIENT_ONLY.has(key) || key.startsWith('x-switchboard-') || extraHop?.has(key)) return;
    out.set(key, value);
  });
  return out;
}

/** Upstream response headers safe to relay: no hop-by-hop, no encoding/length (fetch already decoded the body). */
export function relayableResponseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  upstream.forEach((value, key) => {
    if (HOP_BY_HOP.has(key) || key === 'content-encoding' || key === 'content-length' || key === 'set-cookie' || key === 'date' || key === 'server') return;
    if (key === 'request-id' || key === 'x-request-id') { out.set(`upstream-${key.replace(/^x-/, '')}`, value); return; }
    out.set(key, value);
  });
  return out;
}

/** Join a base URL and a path without doubling `/v1` or slashes. */
export function joinUrl(base: string, path: string): string {
  const b = base.replace(/\/+$/, '');
  if (path.startsWith('/v1/') && b.endsWith('/v1')) return b + path.slice(3);
  return b + path;
}
