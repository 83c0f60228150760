/**
 * @module config/schema
 * The config file's shape: a public contract, documented field by field in README ("Configuration").
 * strictObject everywhere: a typo is a start-up error naming its path, never a silently ignored key.
 */
import * as v from 'valibot';
import { CHANNEL_TYPES } from '../channels/kinds.ts';
import { ChatQuirksSchema } from '../formats/openai-chat/quirks.ts';
import { listenHostProblem, originProblem } from '../util/origin.ts';
import { mapping, numeric } from '../util/validate.ts';

const PositiveInt = v.pipe(numeric(), v.integer(), v.minValue(1));
const NonNegativeInt = v.pipe(numeric(), v.integer(), v.minValue(0));
/** setTimeout holds at most 2^31-1 ms and fires at once for anything longer (Node and Bun alike). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TooLong = `at most ${MAX_TIMER_MS} ms (24.8 days)`;
const Millis = v.pipe(PositiveInt, v.maxValue(MAX_TIMER_MS, TooLong));
const MillisOrZero = v.pipe(NonNegativeInt, v.maxValue(MAX_TIMER_MS, TooLong));
const NonEmpty = v.pipe(v.string(), v.minLength(1, 'must not be empty'));
/** RFC 9110 field names (tokens) and values without line breaks: checked here rather than failing every request. */
/** A model name: no space or line break at either end (a client's name never has one, so it would never match). */
const ModelName = v.pipe(NonEmpty, v.regex(/^\S(?:[^]*\S)?$/, 'no space or line break at either end'));
const HeaderName = v.pipe(NonEmpty, v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name'));
const HeaderValue = v.pipe(v.string(), v.regex(/^[^\r\n\0]*$/, 'a header value cannot hold line breaks or NUL'));
/** The scheme first: `api.deepseek.com/v1` is told what it lacks, not just "Invalid URL" (one problem per field). */
const HttpUrl = v.pipe(v.string(), v.regex(/^https?:\/\//i, 'must start with http:// or https://'), v.url('Invalid URL'));
/** An origin exactly as a browser sends it in `Origin` (it is compared as a string), or `*`. */
const CorsOrigin = v.pipe(v.string(), v.rawCheck(({ dataset, addIssue }) => {
  if (!dataset.typed || dataset.value === '*') return;
  const problem = originProblem(dataset.value);
  if (problem) addIssue({ message: problem });
}));

/** A listen address: a host name or an IP address, without scheme or port (util/origin.ts). */
const ListenHost = v.pipe(NonEmpty, v.rawCheck(({ dataset, addIssue }) => {
  if (!dataset.typed) return;
  const problem = listenHostProblem(dataset.value);
  if (problem) addIssue({ message: problem });
}));

export const ServerSchema = v.strictObject({
  host: v.optional(ListenHost, '127.0.0.1'),
  port: v.optional(v.pipe(numeric(), v.integer(), v.minValue(0), v.maxValue(65535)), 8080),
  /** Largest accepted request body; Anthropic's own limit is 32 MB. */
  max_body_bytes: v.optional(PositiveInt, 32 * 1024 * 1024),
  /** On SIGTERM/SIGINT: how long in-flight requests may take to finish before the process exits anyway. */
  drain_timeout_ms: v.optional(MillisOrZero, 30_000),
  /** Request log lines: `info` (one line per request), `warn`, `error`, `silent`. */
  log_level: v.optional(v.picklist(['debug', 'info', 'warn', 'error', 'silent']), 'info'),
  /**
   * Connections the kernel queues for accepting (Linux; capped by net.core.somaxconn); 0 leaves Bun's 512
   * (http/listen-backlog.ts).
   */
  listen_backlog: v.optional(v.pipe(NonNegativeInt, v.maxValue(65535)), 4096),
  /**
   * The origins whose web pages may call the gateway (CORS, http/cors.ts): `scheme://host[:port]`, or `["*"]` for any;
   * `[]` for none. Absent: any when keys are configured, none without them (http/cors.ts: corsOrigins); with no keys,
   * only loopback origins may be listed (config/load.ts: crossChecks).
   */
  cors_origins: v.optional(v.pipe(
    v.array(CorsOrigin),
    v.check((list) => !list.includes('*') || list.length === 1, '"*" allows every origin: list it alone'),
  )),
});

export const KeySchema = v.strictObject({
  key: v.pipe(
    v.string(),
    v.minLength(8, 'must be at least 8 characters'),
    // a key a client can send as it is: HTTP trims header values, and clients send them as ASCII (a `${VAR}` read
    // from a file with its trailing newline would otherwise be a key nobody can ever match)
    v.regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, 'must be printable ASCII with no space or line break at either end'),
  ),
  name: NonEmpty,
  /** Exposed model names this key may use; absent = all. */
  models: v.optional(v.array(ModelName)),
});

const ModelList = v.pipe(v.array(ModelName), v.minLength(1, 'must list at least one model'));
const ModelMap = v.pipe(v.record(ModelName, ModelName), v.check((m) => Object.keys(m).length > 0, 'must map at least one model'));
const ModelsShape = v.union([ModelList, ModelMap], 'must be a list of model names or a map of exposed name → upstream name');
/**
 * A list is checked as a list and a mapping as a map, so that a bad entry is named (`models[0]: must not be empty`):
 * as a union, a list failed as both (v.record takes an array as a map of "0", "1"…) and was reported as neither.
 */
const ModelsSchema = v.lazy((input) => (Array.isArray(input) ? ModelList : input !== null && typeof input === 'object' ? ModelMap : ModelsShape));

export const ChannelSchema = v.strictObject({
  name: v.pipe(NonEmpty, v.regex(/^[\w.-]+$/, 'may contain only letters, digits, _ . -')),
  type: v.picklist(CHANNEL_TYPES, `must be one of: ${CHANNEL_TYPES.join(', ')}`),
  /** openai channels: provider preset setting known quirks (see README). */
  provider: v.optional(NonEmpty),
  base_url: v.optional(HttpUrl),
  api_key: v.optional(v.string()),
  models: ModelsSchema,
  priority: v.optional(v.pipe(numeric(), v.integer()), 0),
  // finite: YAML's `.inf` is a number, and a weight of Infinity made the pick's arithmetic NaN (the last one always won)
  weight: v.optional(v.pipe(numeric(), v.minValue(0), v.finite('must be a finite number')), 1),
  /** Longest wait for the upstream response to begin (connect + first byte). */
  timeout_ms: v.optional(Millis, 120_000),
  /** Longest silence between two chunks of a streamed response. */
  stream_idle_timeout_ms: v.optional(Millis, 300_000),
  /**
   * Sent upstream on every request, replacing the client's of the same name; `null` sends none of that name (a client's
   * `anthropic-beta` that a Bedrock or Vertex proxy refuses).
   */
  headers: v.optional(mapping(HeaderName, v.nullable(HeaderValue)), {}),
  /** Azure OpenAI: the `api-version` query parameter. */
  api_version: v.optional(NonEmpty),
  /** openai channels: per-channel overrides of the provider preset's quirks. */
  quirks: v.optional(ChatQuirksSchema),
  /**
   * For requests translated INTO this channel from /v1/chat/completions (anthropic channels): how `reasoning_effort`
   * becomes Anthropic thinking, per upstream model name (`*` for the rest). Defaults by model generation (README).
   */
  thinking: v.optional(mapping(NonEmpty, v.picklist(['adaptive', 'budget', 'none']))),
  /**
   * Top-level request fields removed before the request goes upstream (an Anthropic-compatible endpoint that answers
   * 400 to `context_management` or `output_config`, which Claude Code sends on every request). Names in the channel's
   * own format; those a request cannot do without, and repeats, are refused by config/load.ts (crossChecks).
   */
  drop_fields: v.optional(v.array(v.pipe(NonEmpty, v.regex(/^[a-z_]+$/, 'a top-level field name: lower-case letters and _ only')))),
});

export const RoutingSchema = v.strictObject({
  /** Consecutive failures after which a channel is skipped. */
  circuit_failures: v.optional(PositiveInt, 3),
  /** How long a tripped channel is skipped before it is tried again. */
  circuit_cooldown_ms: v.optional(Millis, 30_000),
  /** A `retry-after` up to this long is waited out before the next attempt; longer ones move on at once. */
  max_retry_after_ms: v.optional(MillisOrZero, 2_000),
  /** Most upstream attempts for one request (across candidates). */
  max_attempts: v.optional(PositiveInt, 4),
});

export const ConfigSchema = v.strictObject({
  server: v.optional(ServerSchema, {}),
  keys: v.optional(v.array(KeySchema), []),
  /** Names are unique: checked after parsing (config/load.ts), to name the repeated one. */
  channels: v.array(ChannelSchema),
  routing: v.optional(RoutingSchema, {}),
  /** Default `max_tokens` for /v1/chat/completions requests to anthropic channels that set none. */
  default_max_tokens: v.optional(PositiveInt, 8192),
});

export type Config = v.InferOutput<typeof ConfigSchema>;
export type ChannelConfig = v.InferOutput<typeof ChannelSchema>;
export type KeyConfig = v.InferOutput<typeof KeySchema>;
