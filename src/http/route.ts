/**
 * @module http/route
 * What every route does around its handler, in one function per route rather than a chain of middlewares (the
 * chain and its per-request variable map cost ~3 µs of a small request's ~50, bench/): open the
 * log line and request id, authenticate, apply the loop guard, run the handler, render any error in the client's
 * dialect, set `request-id`, write the log line unless a streamed body writes it at its end, and, for a request from a
 * web page (its `Origin`), set the browser's headers on whatever it answers (http/cors.ts).
 * A route takes the request and its path: Hono calls it with its Context (app.ts), Bun's own router without one.
 */
import type { Context } from 'hono';
import type { FormatId } from '../formats/types.ts';
import type { AppDeps, Exchange } from './context.ts';
import { createAuthenticator } from './auth.ts';
import { hopMarker } from './loop-guard.ts';
import { requestLogger } from './request-log.ts';
import { renderError } from './errors.ts';
import type { Cors } from './cors.ts';

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
  /**
   * The handler settles the request itself: it renders its own errors (with the `render` it is given) and ends
   * with `settle`, so its promise never rejects and is returned as it is, not awaited in one more async function
   * here (a promise, a generator and an environment per request: ~110 of ~6,100 bytes allocated, bench/alloc.ts).
   * Implies setsRequestId. The inference endpoints (pipeline/handle.ts).
   */
  settles?: boolean;
}

/** Renders an error in the client's dialect (http/errors.ts). */
export type Render = (err: unknown, x: Exchange) => Response;

/** The end of a request's handling: its log line is written unless a streamed body writes it at its end. */
export function settle(x: Exchange, res: Response): Response {
  if (x.dropped !== undefined) res.headers.set('x-switchboard-dropped', x.dropped);
  if (!x.log.deferred) x.log.finish(res.status);
  return res;
}

/** `c`: Hono's Context when Hono routed the request (path parameters); absent when Bun's router did (app.ts). */
export type RouteHandler = (x: Exchange, c: Context | undefined, render: Render) => Response | Promise<Response>;
export type RouteFn = (req: Request, path: string, c?: Context) => Promise<Response>;
export type Route = (opts: RouteOptions, handler: RouteHandler) => RouteFn;

export function createRoute(deps: AppDeps, cors: Cors): Route {
  const authenticate = createAuthenticator(deps.config.keys);
  const openLog = requestLogger(deps.logger, deps.instanceId);
  const render = renderError(deps.logger);
  const open = (req: Request, path: string, opts: RouteOptions): Exchange => {
    const log = openLog(req.method, path);
    return { req, requestId: log.entry.request_id, format: opts.format, log, principal: null, hop: '', dropped: undefined };
  };
  /** The key check and the loop guard: throw what the client gets. */
  const admit = (x: Exchange, opts: RouteOptions) => {
    if (opts.auth) {
      x.principal = authenticate(x.req.headers);
      if (x.principal) x.log.entry.key = x.principal.name;
    }
    if (opts.loopGuard) x.hop = hopMarker(deps.instanceId, x.req.headers.get('x-switchboard-hop'));
  };
  return function route(opts, handler) {
    if (opts.settles) {
      return function settlingRoute(req, path, c) {
        const x = open(req, path, opts);
        const origin = req.headers.get('origin');
        try {
          admit(x, opts);
        } catch (err) {
          const res = settle(x, render(err, x));
          return Promise.resolve(origin === null ? res : cors.answer(res, origin));
        }
        const answer = handler(x, c, render) as Promise<Response>;
        return origin === null ? answer : answer.then((res) => cors.answer(res, origin));
      };
    }
    return async function routeHandler(req, path, c) {
      const x = open(req, path, opts);
      let res: Response;
      try {
        admit(x, opts);
        res = await handler(x, c, render);
        if (!opts.setsRequestId) {
          res.headers.set('request-id', x.requestId);
          if (x.format === 'openai-chat') res.headers.set('x-request-id', x.requestId); // the openai SDK's _request_id
        }
      } catch (err) {
        res = render(err, x);
      }
      const origin = req.headers.get('origin');
      return settle(x, origin === null ? res : cors.answer(res, origin));
    };
  };
}
