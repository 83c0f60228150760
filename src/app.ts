/**
 * @module app
 * createApp(deps): the Hono app. No env reads and no I/O here (STYLE rule 10): main.ts owns those,
 * and tests call app.request() or serve it on port 0. Each route is one function (http/route.ts wraps the handler
 * with logging, auth, the loop guard and error rendering); Hono routes.
 *
 * The inference endpoints are also handed to Bun's own router (`app.routes`, for Bun.serve's `routes` beside
 * `fetch: app.fetch`): the same route functions, matched natively, without a Hono Context per request (an object
 * with 15 closures of its own: 30 → 12 function objects allocated per small request, 13 → 11 promises, the
 * collector's work falling with them; bench/). Other methods and paths fall through to `fetch`, that is to Hono.
 */
import { Hono, type Context } from 'hono';
import { getPath } from 'hono/utils/url';
import type { AppDeps } from './http/context.ts';
import type { FormatId } from './formats/types.ts';
import type { Endpoint } from './channels/types.ts';
import { GatewayError } from './errors.ts';
import { renderError } from './http/errors.ts';
import { createRoute, type RouteFn } from './http/route.ts';
import { createCors, isPreflight } from './http/cors.ts';
import { getModel, listModels } from './http/routes/models.ts';
import { handleInference } from './pipeline/handle.ts';

/** Bun.serve's `routes`: path → method → handler. */
export type NativeRoutes = Record<string, { POST: (req: Request) => Promise<Response> }>;

export type SwitchboardApp = Hono & {
  routes: NativeRoutes;
  /** Bun.serve's `error`: the last resort for what escapes a natively routed handler (as `onError` is for Hono's). */
  serveError: (err: unknown) => Response;
};

/**
 * A request's path, for Hono. Bun gives a request with no `Host`, or one it cannot parse, a url that is its path alone
 * (`/health`: HTTP/1.0 requires no Host, and a health checker's `GET /health HTTP/1.0` sends none), which Hono's own
 * getPath, made for absolute urls, reads wrong (`h`, and a 404).
 */
const pathOf = (req: Request) => getPath(req.url.charCodeAt(0) === 47 ? { url: `http://host${req.url}` } as Request : req);

const NOT_SERVED = 'this gateway does not serve this endpoint; it serves POST /v1/messages, POST /v1/messages/count_tokens, POST /v1/chat/completions and GET /v1/models';

export function createApp(deps: AppDeps): SwitchboardApp {
  const app = new Hono({ getPath: pathOf });
  const cors = createCors(deps.config);
  const route = createRoute(deps, cors);
  const hono = (fn: RouteFn) => (c: Context) => fn(c.req.raw, c.req.path, c);
  const open = { format: 'anthropic', auth: false } as const;
  const json = (body: unknown, status = 200) => Response.json(body, { status });

  // unauthenticated: liveness, readiness, and the base-URL probe Claude Code has sent (HEAD /)
  app.get('/health', hono(route(open, () => json({ status: 'ok' }))));
  app.get('/ready', hono(route(open, () =>
    deps.state.draining ? json({ status: 'draining' }, 503)
      : deps.channels.length === 0 ? json({ status: 'no channels configured' }, 503)
        : json({ status: 'ready' }))));
  app.on(['GET', 'HEAD'], '/', hono(route(open, () => json({ name: 'switchboard', version: deps.version }))));

  // both SDKs list models here: errors in the asker's dialect, Anthropic's for a client that names its API version
  // (the Anthropic SDK and Claude Code always do), OpenAI's otherwise (the openai SDK reads its err.code there)
  const byDialect = (handler: Parameters<typeof route>[1]) => {
    const anthropic = hono(route({ format: 'anthropic', auth: true }, handler));
    const chat = hono(route({ format: 'openai-chat', auth: true }, handler));
    return (c: Context) => (c.req.raw.headers.has('anthropic-version') ? anthropic : chat)(c);
  };
  app.get('/v1/models', byDialect(listModels(deps)));
  app.get('/v1/models/:id{.+}', byDialect(getModel(deps)));

  const inference = (format: FormatId, endpoint: Endpoint) =>
    route({ format, auth: true, loopGuard: true, setsRequestId: true, settles: true }, (x, _c, render) => handleInference(x, deps, format, endpoint, render));
  const routes: NativeRoutes = {};
  const post = (path: string, fn: RouteFn) => {
    app.post(path, hono(fn));
    routes[path] = { POST: (req) => fn(req, path) };
  };
  post('/v1/messages', inference('anthropic', 'messages'));
  post('/v1/messages/count_tokens', inference('anthropic', 'count_tokens'));
  post('/v1/chat/completions', inference('openai-chat', 'chat_completions'));

  // what the SDKs offer beyond these (the Anthropic SDK's Message Batches, Files, Skills…) is not served: said so, so that
  // its user does not read the 404 as the provider's; a 404, which the SDKs do not retry
  const notFound = (format: FormatId) => route({ format, auth: false }, (x) => {
    throw new GatewayError(404, 'not_found_error', `${x.req.method} ${x.log.entry.path}: ${NOT_SERVED}`);
  });
  const notFoundAnthropic = hono(notFound('anthropic'));
  const notFoundChat = hono(notFound('openai-chat'));
  app.notFound((c) => (c.req.path.startsWith('/v1/chat/') ? notFoundChat : notFoundAnthropic)(c));
  // a browser's preflight, on any path, without a key (http/cors.ts); an OPTIONS that is not one is the 404 it was
  const preflightAnthropic = hono(route(open, cors.preflight));
  const preflightChat = hono(route({ format: 'openai-chat', auth: false }, cors.preflight));
  app.options('*', (c) => {
    const chat = c.req.path.startsWith('/v1/chat/');
    if (!isPreflight(c.req.raw.headers)) return (chat ? notFoundChat : notFoundAnthropic)(c);
    return (chat ? preflightChat : preflightAnthropic)(c);
  });
  // last resort: route() renders what its handler throws, so only a fault in Hono itself lands here
  const render = renderError(deps.logger);
  app.onError((err, c) => {
    const res = render(err, { requestId: '', format: c.req.path.startsWith('/v1/chat/') ? 'openai-chat' : 'anthropic' });
    const origin = c.req.raw.headers.get('origin');
    return origin === null ? res : cors.answer(res, origin);
  });
  return Object.assign(app, { routes, serveError: (err: unknown) => render(err, { requestId: '', format: 'anthropic' as const }) });
}
