/**
 * @module http/middleware/request-log
 * Assigns the request id (set on every response as `request-id`) and writes one JSON log line per request:
 * here after the handler, or at the end of a streamed body when the pipeline takes the line over.
 */
import type { MiddlewareHandler } from 'hono';
import type { Env, RequestLog } from '../context.ts';
import type { Logger } from '../../log.ts';

export function requestLog(logger: Logger, instanceId: string): MiddlewareHandler<Env> {
  let counter = 0;
  return async function requestLogMiddleware(c, next) {
    const requestId = `req_${instanceId}${(++counter).toString(36).padStart(6, '0')}`;
    c.set('requestId', requestId);
    c.set('principal', null);
    const start = performance.now();
    let done = false;
    const log: RequestLog = {
      entry: { request_id: requestId, method: c.req.method, path: c.req.path, status: 0, latency_ms: 0 },
      start,
      deferred: false,
      finish(status?: number) {
        if (done) return;
        done = true;
        if (status !== undefined) log.entry.status = status;
        log.entry.latency_ms = Math.round((performance.now() - start) * 100) / 100;
        log.entry.outcome ??= log.entry.status >= 400 ? 'error' : 'ok';
        logger.request(log.entry);
      },
    };
    c.set('log', log);
    await next();
    c.res.headers.set('request-id', requestId);
    if (!log.deferred) log.finish(c.res.status);
  };
}
