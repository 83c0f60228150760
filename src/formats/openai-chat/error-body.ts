/**
 * @module formats/openai-chat/error-body
 * Gateway errors in OpenAI's envelope, `{"error": {"message", "type", "param", "code"}}` (openapi `ErrorResponse`:
 * all four keys required, `param`/`code` nullable).
 *
 * The official SDKs pick the exception class from the HTTP status alone (`APIError.generate`: 400 BadRequestError,
 * 401 AuthenticationError, 429 RateLimitError, ≥500 InternalServerError…) and expose `error.type/code/param`
 * as given, so the envelope must parse; the strings are for humans and for code that switches on them.
 * Where OpenAI has a well-known value we use it (`invalid_request_error`, `server_error`; codes `invalid_api_key`,
 * `rate_limit_exceeded`); elsewhere the Anthropic type is kept, since it is just as descriptive.
 *
 * In a stream the same envelope is one `data:` event: the SDK's `Stream` throws `APIError` for any chunk that has an
 * `error` key (openai-node src/core/streaming.ts). No `[DONE]` follows it: the stream did not complete.
 */
import type { AnthropicErrorType, GatewayError } from '../../errors.ts';
import type { SseEvent } from '../../sse/types.ts';
/** The error envelope this gateway sends to Chat Completions clients (OpenAI's shape, every field present). */
export interface ChatErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const ERROR_TYPES: Record<AnthropicErrorType, { type: string; code: string | null }> = {
  invalid_request_error: { type: 'invalid_request_error', code: null },
  authentication_error: { type: 'authentication_error', code: 'invalid_api_key' },
  // OpenAI's own word for an account out of credit (it answers 429 with it; the status stays the upstream's 402)
  billing_error: { type: 'insufficient_quota', code: 'insufficient_quota' },
  permission_error: { type: 'permission_error', code: null },
  not_found_error: { type: 'not_found_error', code: null },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { type: 'server_error', code: null },
  timeout_error: { type: 'server_error', code: 'timeout' },
  overloaded_error: { type: 'server_error', code: 'overloaded' },
};

function openAiType(type: string): { type: string; code: string | null } {
  return Object.hasOwn(ERROR_TYPES, type) ? ERROR_TYPES[type as AnthropicErrorType] : { type: 'server_error', code: null };
}

export function chatErrorBody(err: GatewayError): ChatErrorEnvelope {
  const mapped = openAiType(err.type);
  if (err.status === 400 && err.code === null && CONTEXT_OVERFLOW.test(err.message)) {
    return { error: { message: err.message, type: mapped.type, param: err.param ?? 'messages', code: 'context_length_exceeded' } };
  }
  if (err.status === 404 && err.code === null && err.type === 'not_found_error' && UNKNOWN_MODEL.test(err.message)) {
    return { error: { message: err.message, type: mapped.type, param: err.param ?? 'model', code: 'model_not_found' } };
  }
  return { error: { message: err.message, type: mapped.type, param: err.param, code: err.code ?? mapped.code } };
}

/**
 * Anthropic's 400 for a conversation that does not fit the context window ("prompt is too long: 208310 tokens >
 * 200000 maximum"; before Claude 3.7 also "input length and `max_tokens` exceed context limit: …"). OpenAI's is
 * `code: "context_length_exceeded"`, `param: "messages"`, and that code is what apps and agent loops switch on to trim
 * their history; the message is kept as Anthropic wrote it.
 */
const CONTEXT_OVERFLOW = /^(?:prompt is too long: \d+ tokens > \d+ maximum|input length and `max_tokens` exceed context limit)/;

/**
 * Anthropic's 404 for a model it does not have or does not give this key: `not_found_error`, "model: claude-nope"
 * (anthropics/claude-code#5349). OpenAI's is `code: "model_not_found"`, `param: "model"`, as the gateway's own 404 for a
 * model it does not route says (pipeline/handle.ts); apps switch on that code. Any other 404 keeps code and param null.
 */
const UNKNOWN_MODEL = /^model: \S/;

/** An Anthropic stream `error` event's payload (`{type: 'overloaded_error', message}`) in OpenAI's envelope. */
export function chatErrorBodyFromHub(error: { type: string; message: string }): ChatErrorEnvelope {
  const mapped = openAiType(error.type);
  return { error: { message: error.message, type: mapped.type, param: null, code: mapped.code } };
}

/** A failure after the first streamed byte: one `data:` event the SDK turns into a thrown `APIError`. */
export function chatStreamErrorEvent(err: GatewayError): SseEvent {
  return { data: JSON.stringify(chatErrorBody(err)) };
}
