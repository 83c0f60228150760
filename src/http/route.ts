/**
 * @module http/route
 * What every route does around its handler, in one function per route rather than a chain of middlewares (the
 * chain and its per-request variable map cost ~3 µs of a small request's ~50, bench/): open the
 * log line and request id, authenticate, apply the loop guard, run the handler, render any error in the client's
 * dialect, set `request-id`, and write the log line unless a streamed body writes it at its end.
 * A route takes the request and its path: Hono calls it with its Context (app.ts), Bun's own router without one.
 */
import type { Context } from 'hono';
import type { FormatId } from '../formats/types.ts';
import type { AppDeps, Exchange } from './context.ts';
import { createAuthenticator } from './auth.ts';
import { hopMarker } from './loop-guard.ts';
import { requestLogger } from './request-log.ts';
import { renderError } from './errors.ts';

export interface RouteOptions {
  /** The client's dialect (errors are rendered in it). */
  format: FormatId;
  /** Requires a gateway key (when any are configured). */
  auth: boolean;
  /** Refuses requests that have passed through this instance before (routes that call upstreams). */
  loopGuard?: boolean;
  /**
   * The handler puts `request-id` in the headers it builds its responses with. Otherwise it is set here, on the
   * finished response, which costs a header object materialised per request (~1.5 µs of ~35, bench/).
   */
  setsRequestId?: boolean;
}

/** `c`: Hono's Context when Hono routed the request (path parameters); absent when Bun's router did (app.ts). */
export type RouteHandler = (x: Exchange, c?: Context) => Response | Promise<Response>;
export type RouteFn = (req: Request, path: string, c?: Context) => Promise<Response>;
export type Route = (opts: RouteOptions, handler: RouteHandler) => RouteFn;

export function createRoute(deps: AppDeps): Route {
  const authenticate = createAuthenticator(deps.config.keys);
  const openLog = requestLogger(deps.logger, deps.instanceId);
  const render = renderError(deps.logger);
  return function route(opts, handler) {
    return async function routeHandler(req, path, c) {
      const log = openLog(req.method, path);
      const x: Exchange = { req, requestId: log.entry.request_id, format: opts.format, log, principal: null, hop: '' };
      let res: Response;
      try {
        if (opts.auth) {
          x.principal = authenticate(req.headers);
          if (x.principal) log.entry.key = x.principal.name;
        }
        if (opts.loopGuard) x.hop = hopMarker(deps.instanceId, req.headers.get('x-switchboard-hop'));
        res = await handler(x, c);
        if (!opts.setsRequestId) res.headers.set('request-id', x.requestId);
      } catch (err) {
        res = render(err, x);
      }
      if (!log.deferred) log.finish(res.status);
      return res;
    };
  };
}
