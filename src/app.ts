/**
 * @module app
 * createApp(deps): the Hono app. No env reads and no I/O here (STYLE rule 10): main.ts owns those,
 * and tests call app.request() or serve it on port 0.
 */
import { Hono } from 'hono';
import type { AppDeps, Env } from './http/context.ts';
import type { FormatId } from './formats/types.ts';
import type { Endpoint } from './channels/types.ts';
import { GatewayError } from './errors.ts';
import { renderError } from './http/errors.ts';
import { requestLog } from './http/middleware/request-log.ts';
import { gatewayAuth } from './http/middleware/auth.ts';
import { loopGuard } from './http/middleware/loop-guard.ts';
import { getModel, listModels } from './http/routes/models.ts';
import { handleInference } from './pipeline/handle.ts';

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.use(requestLog(deps.logger, deps.instanceId));
  app.use(async function inboundFormat(c, next) {
    c.set('format', c.req.path.startsWith('/v1/chat/') ? 'openai-chat' : 'anthropic');
    return next();
  });

  // unauthenticated: liveness, readiness, and the base-URL probe Claude Code has sent (HEAD /)
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) =>
    deps.state.draining ? c.json({ status: 'draining' }, 503)
      : deps.channels.length === 0 ? c.json({ status: 'no channels configured' }, 503)
        : c.json({ status: 'ready' }));
  app.on(['GET', 'HEAD'], '/', (c) => c.json({ name: 'switchboard', version: deps.version }));

  const v1 = new Hono<Env>();
  v1.use(gatewayAuth(deps.config.keys));
  v1.get('/models', listModels(deps));
  v1.get('/models/:id{.+}', getModel(deps));
  const inference = (format: FormatId, endpoint: Endpoint) => async function inferenceHandler(c: Parameters<typeof handleInference>[0]) {
    deps.state.inflight++;
    try {
      return await handleInference(c, deps, format, endpoint);
    } finally {
      deps.state.inflight--;
    }
  };
  v1.use('/messages', loopGuard(deps.instanceId));
  v1.use('/messages/*', loopGuard(deps.instanceId));
  v1.use('/chat/*', loopGuard(deps.instanceId));
  v1.post('/messages', inference('anthropic', 'messages'));
  v1.post('/messages/count_tokens', inference('anthropic', 'count_tokens'));
  v1.post('/chat/completions', inference('openai-chat', 'chat_completions'));
  app.route('/v1', v1);

  const onError = renderError(deps.logger);
  app.notFound((c) => onError(new GatewayError(404, 'not_found_error', `${c.req.method} ${c.req.path}: no such endpoint`), c));
  app.onError(onError);
  return app;
}
