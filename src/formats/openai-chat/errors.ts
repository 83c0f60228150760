/**
 * @module formats/openai-chat/errors
 * Upstream OpenAI-style errors → GatewayError with the Anthropic error type a client expects.
 * Bodies seen in the wild: OpenAI `{"error":{"message","type","param","code"}}`, OpenRouter
 * `{"error":{"code":429,"message","metadata":{"raw"}}}`, Groq in-stream `{"error":{…,"status_code":400}}`,
 * vLLM `{"object":"error","message",…}`, FastAPI `{"detail":…}` (Mistral's inside its `message`), Gemini's
 * `[{"error":{…}}]`, or plain text.
 * The status → type table is Anthropic's (https://docs.anthropic.com/en/api/errors).
 */
import { GatewayError, errorTypeForStatus, type AnthropicErrorType } from '../../errors.ts';
import { redactSecrets } from '../../util/redact.ts';
import { CHAT_FINISH_FAILURES } from './stop-reason.ts';
import type { ChatErrorBody, ChatErrorObject } from './types.ts';

const MAX_MESSAGE = 1000;

/** Anthropic error type for an upstream status. 503 is how OpenAI-compatible servers say "overloaded". */
export function chatErrorType(status: number): AnthropicErrorType {
  if (status === 503) return 'overloaded_error';
  return errorTypeForStatus(status);
}

/**
 * An upstream error response → GatewayError. `body` is the parsed JSON when it parsed, else the text.
 * A 2xx status means the error arrived inside a successful response (an `error` key in a 200 body or
 * stream): the status then comes from the error's own numeric code, or 502.
 */
export function chatErrorToGateway(status: number, body: unknown): GatewayError {
  const err = errorObject(body);
  const effective = status >= 400 ? status : (statusFromError(err) ?? 502);
  let message = errorMessage(err, body) ?? `upstream returned HTTP ${status}`;
  // llama.cpp's overflow names its counts in fields of their own, not in its message (ggml-org/llama.cpp#15780): kept
  // in the message, where a Messages client gets them in Anthropic's words (pipeline/context-overflow.ts)
  if (err?.type === 'exceed_context_size_error' && typeof err.n_prompt_tokens === 'number' && typeof err.n_ctx === 'number') {
    message += ` (n_prompt_tokens: ${err.n_prompt_tokens}, n_ctx: ${err.n_ctx})`;
  }
  const code = typeof err?.code === 'string' ? err.code : null;
  const param = typeof err?.param === 'string' ? err.param : null;
  return new GatewayError(effective, chatErrorType(effective), redactSecrets(message), { code, param });
}

/** The hub `error` event for an error object met inside a 200 stream (OpenRouter chunk, Groq `event: error`). */
export function chatStreamErrorToHub(body: unknown): { type: AnthropicErrorType; message: string } {
  const e = chatErrorToGateway(200, body);
  return { type: e.type, message: e.message };
}

/**
 * The error a choice ends with, as an error body (chatErrorToGateway / chatStreamErrorToHub read it), or null: its own
 * `error` (OpenRouter puts one on the choice, https://openrouter.ai/docs/api-reference/overview), or a finish reason
 * that says generation failed (stop-reason.ts: CHAT_FINISH_FAILURES).
 */
export function chatChoiceError(choice: { error?: unknown; finish_reason?: unknown }): ChatErrorBody | null {
  if (isRecord(choice.error)) return { error: choice.error as ChatErrorObject };
  const finish = choice.finish_reason;
  if (typeof finish !== 'string' || !Object.hasOwn(CHAT_FINISH_FAILURES, finish)) return null;
  return { error: { code: CHAT_FINISH_FAILURES[finish], message: `upstream ended the answer with finish_reason "${finish}"` } };
}

function errorObject(body: unknown): ChatErrorObject | undefined {
  // Gemini's OpenAI-compatible endpoint answers with a list of one (`[{"error": {"code": 429, …}}]`, n4ze3m/page-assist#406)
  if (Array.isArray(body) && body.length > 0 && isRecord(body[0])) body = body[0];
  if (!isRecord(body)) return undefined;
  const e = body.error;
  if (isRecord(e)) return e as ChatErrorObject;
  if (typeof e === 'string') return { message: e };
  // vLLM / llama.cpp style: the error fields at the top level
  if (typeof body.message === 'string') return body as ChatErrorObject;
  // Mistral's validation errors: the top-level message is FastAPI's `{"detail": […]}` (editor-code-assistant/eca#231)
  if (isRecord(body.message) && validationMessage(body.message.detail)) return { ...(body as ChatErrorObject), message: validationMessage(body.message.detail) };
  if (typeof body.detail === 'string') return { message: body.detail };
  const listed = validationMessage(body.detail);
  if (listed) return { message: listed };
  return undefined;
}

/**
 * A FastAPI / pydantic validation error list (`[{"loc": ["body", "max_completion_tokens"], "msg": "Extra inputs are
 * not permitted"}, …]`) as one message naming each field: `max_completion_tokens: Extra inputs are not permitted`.
 * At most five; undefined for anything else.
 */
function validationMessage(detail: unknown): string | undefined {
  if (!Array.isArray(detail)) return undefined;
  const parts: string[] = [];
  for (const d of detail.slice(0, 5)) {
    if (!isRecord(d) || typeof d.msg !== 'string') continue;
    const at = Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body').join('.') : '';
    parts.push(at ? `${at}: ${d.msg}` : d.msg);
  }
  return parts.length ? parts.join('; ') : undefined;
}

function statusFromError(err: ChatErrorObject | undefined): number | undefined {
  for (const c of [err?.code, err?.status_code, err?.status]) {
    const n = typeof c === 'number' ? c : typeof c === 'string' && /^\d{3}$/.test(c) ? Number(c) : NaN;
    if (n >= 400 && n <= 599) return n;
  }
  return undefined;
}

function errorMessage(err: ChatErrorObject | undefined, body: unknown): string | undefined {
  let msg = typeof err?.message === 'string' && err.message.trim() ? err.message.trim() : undefined;
  // OpenRouter's "Provider returned error" says nothing; the provider's own text is in metadata.raw
  const raw = err?.metadata?.raw;
  if (typeof raw === 'string' && raw.trim() && raw.trim() !== msg) msg = msg ? `${msg}: ${raw.trim()}` : raw.trim();
  if (!msg && typeof body === 'string' && body.trim()) msg = body.trim();
  if (!msg) return undefined;
  return msg.length > MAX_MESSAGE ? `${msg.slice(0, MAX_MESSAGE)}…` : msg;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
