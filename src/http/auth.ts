/**
 * @module http/auth
 * Gateway keys arrive as `x-api-key` or `Authorization: Bearer` (Claude Code with ANTHROPIC_AUTH_TOKEN, and the
 * Anthropic TS SDK, send Bearer); with both, either may be the gateway key. The presented key is compared with every configured key, every character, without
 * stopping at a match or a difference, so the time taken says nothing about how much of a key matched (only whether
 * some key has the same length, which is no secret). With no keys configured (allowed on loopback addresses only,
 * main.ts), every request from this machine passes, but not one from a web page: any site the user visits could
 * otherwise post to http://127.0.0.1:8080 (a form or a fetch needs no preflight, and the body is read as JSON whatever
 * its content-type) and spend the channels' keys, or, rebinding its own host name to 127.0.0.1 (DNS rebinding), read
 * the answers too. So a request that names a host other than a loopback one, or that a browser sent from a page of
 * another origin (its `Origin`), is refused.
 */
import { GatewayError } from '../errors.ts';
import type { KeyConfig } from '../config/schema.ts';
import type { Principal } from './context.ts';
import { isLoopbackHost, isLoopbackOrigin } from '../util/origin.ts';

export type Authenticate = (headers: Headers) => Principal | null;

export function createAuthenticator(keys: KeyConfig[]): Authenticate {
  const table = keys.map((k) => ({ key: k.key, principal: { name: k.name, models: k.models ? new Set(k.models) : null } satisfies Principal }));
  return function authenticate(headers) {
    if (table.length === 0) return openAdmit(headers);
    // an empty x-api-key is no key (the Python SDK sends one when ANTHROPIC_API_KEY is set empty, beside its Bearer)
    const apiKey = headers.get('x-api-key');
    const presented = apiKey || bearer(headers.get('authorization'));
    if (!presented) throw notPresented(headers.get('authorization'));
    const found = lookUp(table, presented) ?? (apiKey ? lookUp(table, bearer(headers.get('authorization'))) : null);
    if (!found) throw unauthorized('invalid API key');
    return found;
  };
}

/**
 * The principal of the key presented, or null. Claude Code sends both headers when both ANTHROPIC_API_KEY and
 * ANTHROPIC_AUTH_TOKEN are set: a user whose own Anthropic key is still in ANTHROPIC_API_KEY (a shell profile from
 * before the gateway) and who sets ANTHROPIC_AUTH_TOKEN to the gateway key, as README says, presents both, so the
 * Bearer key is looked up when the x-api-key is none (only then: a request with a valid key pays nothing more).
 */
function lookUp(table: readonly { key: string; principal: Principal }[], presented: string | undefined): Principal | null {
  if (!presented) return null;
  let found: Principal | null = null;
  for (const k of table) if (sameLengthEqual(k.key, presented)) found = k.principal; // no early exit
  return found;
}

/**
 * The 401 for a request with no key where one is looked for: an Authorization header in another form (a bare key, Basic,
 * Token) is named by its scheme, never echoed, rather than called missing. Only a scheme of AUTH_SCHEMES is named: a
 * first word of any other shape may be the key itself (a short key with more after it).
 */
function notPresented(authorization: string | null): GatewayError {
  const sent = authorization?.trim();
  if (!sent) return unauthorized('missing API key: send it as x-api-key or Authorization: Bearer');
  const first = /^\S+(?=\s)/.exec(sent)?.[0];
  const scheme = /^bearer$/i.test(sent) ? 'Bearer with no key' : first && AUTH_SCHEMES.test(first) ? first : first ? 'an unknown scheme' : 'a bare key';
  return unauthorized(`Authorization: ${scheme} is not accepted: send the key as x-api-key or Authorization: Bearer <key>`);
}

/**
 * A 401 that says retrying will not mend it (`x-should-retry: false`, which the official SDKs honour): Claude Code
 * retries a 401 without it, as for a token it could refresh, so a mistyped gateway key left `claude -p` silent for
 * minutes, retrying with backoff, where with it the CLI says "Failed to authenticate. API Error: 401 …" at once.
 */
function unauthorized(message: string): GatewayError {
  return new GatewayError(401, 'authentication_error', message, { headers: { 'x-should-retry': 'false' } });
}

/** HTTP authentication schemes (https://www.iana.org/assignments/http-authschemes) and the common unregistered `Token`. */
const AUTH_SCHEMES = /^(?:basic|digest|hoba|mutual|negotiate|ntlm|oauth|privatetoken|scram-sha-1|scram-sha-256|vapid|concealed|dpop|gnap|aws4-hmac-sha256|token)$/i;

/** Equal strings, in time that depends only on the length (a length mismatch answers at once). */
function sameLengthEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function bearer(h: string | null): string | undefined {
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}

/** No keys configured: null for a request from this machine, else the 403 (see the module comment). */
function openAdmit(headers: Headers): null {
  const host = headers.get('host');
  const origin = headers.get('origin');
  if ((host === null || isLoopbackHost(host)) && (origin === null || isLoopbackOrigin(origin))) return null;
  throw new GatewayError(403, 'permission_error',
    'with no keys configured, only requests to a loopback host name and not from a web page are served; configure keys to serve others');
}
