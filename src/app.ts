/**
 * @module app
 * createApp(deps): the Hono app. No env reads and no I/O here (STYLE rule 10): main.ts owns those,
 * and tests call app.request() or serve it on port 0. Each route is one function (http/route.ts wraps the handler
 * with logging, auth, the loop guard and error rendering); Hono routes.
 */
import { Hono } from 'hono';
import type { AppDeps } from './http/context.ts';
import type { FormatId } from './formats/types.ts';
import type { Endpoint } from './channels/types.ts';
import { GatewayError } from './errors.ts';
import { renderError } from './http/errors.ts';
import { createRoute } from './http/route.ts';
import { getModel, listModels } from './http/routes/models.ts';
import { handleInference } from './pipeline/handle.ts';

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const route = createRoute(deps);
  const open = { format: 'anthropic', auth: false } as const;
  const json = (body: unknown, status = 200) => Response.json(body, { status });

  // unauthenticated: liveness, readiness, and the base-URL probe Claude Code has sent (HEAD /)
  app.get('/health', route(open, () => json({ status: 'ok' })));
  app.get('/ready', route(open, () =>
    deps.state.draining ? json({ status: 'draining' }, 503)
      : deps.channels.length === 0 ? json({ status: 'no channels configured' }, 503)
        : json({ status: 'ready' })));
  app.on(['GET', 'HEAD'], '/', route(open, () => json({ name: 'switchboard', version: deps.version })));

  const authed = { format: 'anthropic', auth: true } as const;
  app.get('/v1/models', route(authed, listModels(deps)));
  app.get('/v1/models/:id{.+}', route(authed, getModel(deps)));

  const inference = (format: FormatId, endpoint: Endpoint) =>
    route({ format, auth: true, loopGuard: true, setsRequestId: true }, (x) => handleInference(x, deps, format, endpoint));
  app.post('/v1/messages', inference('anthropic', 'messages'));
  app.post('/v1/messages/count_tokens', inference('anthropic', 'count_tokens'));
  app.post('/v1/chat/completions', inference('openai-chat', 'chat_completions'));

  const notFound = (format: FormatId) => route({ format, auth: false }, (x) => {
    throw new GatewayError(404, 'not_found_error', `${x.req.method} ${x.log.entry.path}: no such endpoint`);
  });
  const notFoundAnthropic = notFound('anthropic');
  const notFoundChat = notFound('openai-chat');
  app.notFound((c) => (c.req.path.startsWith('/v1/chat/') ? notFoundChat : notFoundAnthropic)(c));
  // last resort: route() renders what its handler throws, so only a fault in Hono itself lands here
  const render = renderError(deps.logger);
  app.onError((err, c) => render(err, { requestId: '', format: c.req.path.startsWith('/v1/chat/') ? 'openai-chat' : 'anthropic' }));
  return app;
}
