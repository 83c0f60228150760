/**
 * @module http/request-log
 * Request ids (`req_<instance><counter>`, set on every response as `request-id`) and the one JSON log line per
 * request: written when the handler returns, or at the end of a streamed body when the pipeline takes it over.
 */
import type { Logger, RequestLogEntry } from '../log.ts';
import type { RequestLog } from './context.ts';

export type OpenRequestLog = (method: string, path: string) => RequestLog;

export function requestLogger(logger: Logger, instanceId: string): OpenRequestLog {
  let counter = 0;
  return function openRequestLog(method, path) {
    return new OpenLog(logger, `req_${instanceId}${(++counter).toString(36).padStart(6, '0')}`, method, path);
  };
}

/** One request's log line until it is written (a class: no closure allocated per request). */
class OpenLog implements RequestLog {
  readonly start = performance.now();
  deferred = false;
  private done = false;
  // every field declared up front, in line order: one object shape for every request (undefined ones are not
  // written), and time/level/msg, which the logger fills in, come first without a copy
  readonly entry: RequestLogEntry;

  constructor(private readonly logger: Logger, requestId: string, method: string, path: string) {
    this.entry = {
      time: '', level: 'info', msg: 'request',
      request_id: requestId, method, path, status: 0, latency_ms: 0,
      ttfb_ms: undefined, key: undefined, model: undefined, channel: undefined, upstream_model: undefined, stream: undefined,
      attempts: undefined, input_tokens: undefined, output_tokens: undefined, cache_read_input_tokens: undefined,
      cache_creation_input_tokens: undefined, stop_reason: undefined, error_type: undefined, error: undefined,
      dropped: undefined, usage_estimated: undefined, outcome: undefined,
    };
  }

  finish(status?: number): void {
    if (this.done) return;
    this.done = true;
    const entry = this.entry;
    if (status !== undefined) entry.status = status;
    entry.latency_ms = Math.round((performance.now() - this.start) * 100) / 100;
    entry.outcome ??= entry.status >= 400 ? 'error' : 'ok';
    this.logger.request(entry);
  }
}
