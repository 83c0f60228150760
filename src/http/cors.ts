/**
 * @module http/cors
 * Browsers (CORS, the Fetch standard: https://fetch.spec.whatwg.org/#http-cors-protocol). A web page may read the
 * gateway's answers when its origin is in `server.cors_origins`: by default any origin when keys are configured (a
 * browser attaches no `x-api-key` or `Authorization` by itself, so a page still needs a key: Anthropic's and OpenAI's
 * APIs answer browsers the same way), none without keys (http/auth.ts lets in only this machine's pages then, and
 * config/load.ts refuses to list others).
 *
 * The headers are added in one place, to whatever a route answers (http/route.ts), and only to a request that came
 * with an `Origin`: every other client (an SDK in Node, Claude Code, curl) pays one header lookup.
 */
import type { Config } from '../config/schema.ts';

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
  };
}

/** `Vary: origin`, added to an upstream's `Vary` unless it names it already. */
function varyOnOrigin(h: Headers) {
  const vary = h.get('vary');
  if (vary === null) h.set('vary', 'origin');
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) h.set('vary', `${vary}, origin`);
}
