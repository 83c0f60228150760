/**
 * @module http/errors
 * Renders any thrown error once, in the client's dialect (STYLE rule 5). Unknown errors become a
 * generic 500 api_error: no stack trace or internal message reaches a client.
 */
import type { Context } from 'hono';
import { GatewayError } from '../errors.ts';
import { FORMATS } from '../formats/index.ts';
import type { Env } from './context.ts';
import type { Logger } from '../log.ts';
import { ClientGone } from '../pipeline/handle.ts';

export function toGatewayError(err: unknown, logger: Logger, requestId: string): GatewayError {
  if (err instanceof GatewayError) return err;
  logger.event('error', 'unhandled error', { request_id: requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  return new GatewayError(500, 'api_error', 'internal error');
}

export function renderError(logger: Logger) {
  return function onError(err: Error, c: Context<Env>): Response {
    const requestId = c.get('requestId') ?? '';
    const log = c.get('log');
    if (err instanceof ClientGone) {
      if (log) { log.entry.outcome = 'cancelled'; }
      return new Response(null, { status: 499 });
    }
    const ge = toGatewayError(err, logger, requestId);
    if (log) {
      log.entry.error_type = ge.type;
      log.entry.error ??= ge.message;
    }
    const format = c.get('format') ?? 'anthropic';
    const headers = new Headers({ 'content-type': 'application/json', 'request-id': requestId, ...ge.headers });
    if (format === 'openai-chat') headers.set('x-request-id', requestId);
    return new Response(JSON.stringify(FORMATS[format].errorBody(ge, requestId)), { status: ge.status, headers });
  };
}
