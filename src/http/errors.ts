/**
 * @module http/errors
 * Renders any thrown error once, in the client's dialect (STYLE rule 5). Unknown errors become a
 * generic 500 api_error: no stack trace or internal message reaches a client.
 */
import { GatewayError } from '../errors.ts';
import { FORMATS } from '../formats/index.ts';
import type { FormatId } from '../formats/types.ts';
import type { Logger } from '../log.ts';
import type { RequestLog } from './context.ts';
import { ClientGone } from '../pipeline/answer.ts';

export function toGatewayError(err: unknown, logger: Logger, requestId: string): GatewayError {
  if (err instanceof GatewayError) return err;
  logger.event('error', 'unhandled error', { request_id: requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  return new GatewayError(500, 'api_error', 'internal error');
}

export interface ErrorTarget { requestId: string; format: FormatId; log?: RequestLog; req?: Request }

export function renderError(logger: Logger) {
  return function render(err: unknown, x: ErrorTarget): Response {
    // the client went away (mid-upload, say: reading its body then fails with Bun's AbortError): not our error
    if (err instanceof ClientGone || (!(err instanceof GatewayError) && x.req?.signal.aborted)) {
      if (x.log) x.log.entry.outcome = 'cancelled';
      return new Response(null, { status: 499 });
    }
    const ge = toGatewayError(err, logger, x.requestId);
    if (x.log) {
      x.log.entry.error_type = ge.type;
      x.log.entry.error ??= ge.message;
    }
    const headers = new Headers({ 'content-type': 'application/json', 'request-id': x.requestId, ...ge.headers });
    if (x.format === 'openai-chat') headers.set('x-request-id', x.requestId);
    return new Response(JSON.stringify(FORMATS[x.format].errorBody(ge, x.requestId)), { status: ge.status, headers });
  };
}
