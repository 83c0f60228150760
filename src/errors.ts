/**
 * @module errors
 * One error class thrown from anywhere (config, auth, routing, formats, channels) and rendered once,
 * in the client's dialect, by `renderError` in http/errors.ts. Pure: no imports from http/ or channels/.
 */

/** Anthropic error types (https://docs.anthropic.com/en/api/errors). */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** Whether `type` is one of Anthropic's error types (statusForErrorType knows each). */
export function isAnthropicErrorType(type: unknown): type is AnthropicErrorType {
  return typeof type === 'string' && statusForErrorType(type) !== 502;
}

/** The default error type for each HTTP status, as Anthropic's API uses them. */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 402: return 'billing_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 504: return 'timeout_error';
    case 529: return 'overloaded_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * The HTTP status Anthropic answers an error type with outside a stream (the inverse of errorTypeForStatus); 502 for
 * a type it does not have.
 */
export function statusForErrorType(type: string): number {
  switch (type) {
    case 'invalid_request_error': return 400;
    case 'authentication_error': return 401;
    case 'billing_error': return 402;
    case 'permission_error': return 403;
    case 'not_found_error': return 404;
    case 'request_too_large': return 413;
    case 'rate_limit_error': return 429;
    case 'api_error': return 500;
    case 'timeout_error': return 504;
    case 'overloaded_error': return 529;
    default: return 502;
  }
}

export interface GatewayErrorOptions {
  cause?: unknown;
  /** The OpenAI-dialect `param` (the offending field), when known. */
  param?: string | null;
  /** The OpenAI-dialect `code`, when known. */
  code?: string | null;
  /** Extra response headers (e.g. retry-after). */
  headers?: Record<string, string>;
  /**
   * Anthropic's `error.details` (`{error_code, …}`), which the Anthropic SDK reads to pick an error class and to
   * recover (a message thread falls back to the full history on `thread_unsupported_request`).
   */
  details?: Record<string, unknown>;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown> | null;

  constructor(status: number, type: AnthropicErrorType | undefined, message: string, opts: GatewayErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.status = status;
    this.type = type ?? errorTypeForStatus(status);
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
    this.details = opts.details ?? null;
  }
}

/**
 * An upstream's 2xx answer that is not its format's answer (a Chat Completions answer without choices, a Messages one
 * without content: `{"detail": "Not Found"}` from a wrong path, a health check's `{"status": "ok"}`), as the
 * converters find it: the pipeline counts it as the channel's failure, names the channel and tries the next one
 * (pipeline/handle.ts), as for a 5xx.
 */
export class NotAnAnswer extends GatewayError {
  constructor(message: string) {
    super(502, 'api_error', message);
  }
}

/** 400 invalid_request_error naming the field, e.g. `messages.0.content: Invalid type`. */
export function invalidRequest(message: string, param?: string): GatewayError {
  return new GatewayError(400, 'invalid_request_error', param ? `${param}: ${message}` : message, { param: param ?? null });
}
