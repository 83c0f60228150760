/**
 * @module http/cors
 * Browsers (CORS, the Fetch standard: https://fetch.spec.whatwg.org/#http-cors-protocol). A web page may read the
 * gateway's answers when its origin is in `server.cors_origins`: by default any origin when keys are configured (a
 * browser attaches no `x-api-key` or `Authorization` by itself, so a page still needs a key: Anthropic's and OpenAI's
 * APIs answer browsers the same way), none without keys (http/auth.ts lets in only this machine's pages then, and
 * config/load.ts refuses to list others).
 *
 * The headers are added in one place, to whatever a route answers (http/route.ts), and only to a request that came
 * with an `Origin`: every other client (an SDK in Node, Claude Code, curl) pays one header lookup. A browser asks
 * first, before a request it may not send on its own (`OPTIONS` with `Access-Control-Request-Method`: every request
 * that carries a key): the preflight, answered here without a key, since a browser sends none with it.
 */
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import type { Exchange } from './context.ts';

/** What the routes take (app.ts). */
const METHODS = 'GET, HEAD, POST, OPTIONS';
/**
 * The headers allowed when a preflight names none it wants (it echoes those it names): the keys, the API's own, and
 * what the Anthropic and OpenAI SDKs send.
 */
const HEADERS = [
  'x-api-key', 'authorization', 'content-type', 'anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access',
  'x-stainless-arch', 'x-stainless-lang', 'x-stainless-os', 'x-stainless-package-version', 'x-stainless-runtime',
  'x-stainless-runtime-version', 'x-stainless-retry-count', 'x-stainless-timeout', 'x-stainless-helper', 'x-stainless-helper-method',
].join(', ');
/** A day: how long a browser may keep a preflight's answer (Chromium keeps it 2 hours at most). */
const MAX_AGE = '86400';

/** A browser's preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method` (on any path). */
export function isPreflight(headers: Headers): boolean {
  return headers.get('access-control-request-method') !== null && headers.get('origin') !== null;
}

/** The origins allowed: as configured, else `*` with keys and none without. */
export function corsOrigins(config: Config): readonly string[] {
  return config.server.cors_origins ?? (config.keys.length > 0 ? ['*'] : []);
}

export interface Cors {
  /** A page of this origin may read the gateway's answers. */
  allows(origin: string): boolean;
  /**
   * A route's answer to a request that came with `Origin`: the browser's headers added when the origin is allowed
   * (an upstream's own never reach it: channels/shared/upstream-headers.ts).
   */
  answer(res: Response, origin: string): Response;
  /**
   * A route handler for preflights (app.ts): 204 with the methods and headers allowed, and how long to keep them (the
   * origin is set by `answer`, as on any answer); a 403 in the API's envelope, without them, to an origin not allowed.
   */
  preflight(x: Exchange): Response;
}

export function createCors(config: Config): Cors {
  const origins = corsOrigins(config);
  const any = origins.includes('*');
  const listed = new Set(origins);
  const allows = (origin: string) => any || listed.has(origin);
  return {
    allows,
    answer(res, origin) {
      if (!allows(origin)) return res;
      const h = res.headers;
      // `*` needs no Vary; an origin echoed does (a cache must not serve one origin's answer to another)
      if (any) h.set('access-control-allow-origin', '*');
      else {
        h.set('access-control-allow-origin', origin);
        varyOnOrigin(h);
      }
      // every header, `request-id`, `retry-after`, `x-should-retry` and the rate limits an upstream relays among them:
      // `*` is a wildcard for a request without credentials, and a credentialed one never passes here (the gateway
      // sends no access-control-allow-credentials), https://fetch.spec.whatwg.org/#http-access-control-expose-headers
      h.set('access-control-expose-headers', '*');
      return res;
    },
    preflight(x) {
      const h = x.req.headers;
      const origin = h.get('origin') ?? '';
      if (!allows(origin)) {
        const why = config.keys.length === 0
          ? 'with no keys configured, web pages are served only from this machine\'s origins listed in server.cors_origins'
          : origins.length === 0 ? 'server.cors_origins is empty' : 'it is not in server.cors_origins';
        throw new GatewayError(403, 'permission_error', `origin ${JSON.stringify(origin.slice(0, 200))} may not call this gateway from a web page: ${why}`);
      }
      const requested = h.get('access-control-request-headers');
      const headers: Record<string, string> = {
        'access-control-allow-methods': METHODS,
        'access-control-allow-headers': requested ?? HEADERS,
        'access-control-max-age': MAX_AGE,
      };
      if (requested !== null) headers.vary = 'access-control-request-headers';
      return new Response(null, { status: 204, headers });
    },
  };
}

/** `Vary: origin`, added to an upstream's `Vary` unless it names it already. */
function varyOnOrigin(h: Headers) {
  const vary = h.get('vary');
  if (vary === null) h.set('vary', 'origin');
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) h.set('vary', `${vary}, origin`);
}
