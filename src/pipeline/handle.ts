/**
 * @module pipeline/handle
 * The request path for every inference endpoint: read → validate → authorize the model → resolve candidates →
 * for each candidate: passthrough (same format: the client's bytes) or translate (inbound → hub → channel) →
 * relay the response, falling back to the next candidate only before the first byte reached the client.
 */
import { GatewayError, invalidRequest } from '../errors.ts';
import type { Channel, Endpoint } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import type { FormatId, TranslateContext } from '../formats/types.ts';
import { MAX_MODEL_LENGTH, MessageCountTokensParamsSchema, MessageCreateParamsSchema } from '../hub/schema.ts';
import type { Message, MessageCreateParams, RawMessageStreamEvent } from '../hub/types.ts';
import { parseChatRequest } from '../formats/openai-chat/request-to-hub.ts';
import { parseOrThrow } from '../util/validate.ts';
import { kindAt, rewriteModel, scanTopLevel, valueAt } from '../util/json.ts';
import { NestingTooDeep, RawStrings, skeletonize, splice } from '../util/json-skeleton.ts';
import { orderRoutes } from '../routing/balance.ts';
import { isRetryableStatus, retryAfterMs } from '../routing/fallback.ts';
import type { Route } from '../routing/table.ts';
import { relayableResponseHeaders } from '../channels/shared/upstream-headers.ts';
import { UsageSniffer } from '../accounting/usage-tap.ts';
import { addAnthropicUsage, emptyUsage, type UsageTotals } from '../accounting/usage.ts';
import { estimateInputTokens } from '../accounting/estimate-tokens.ts';
import { SseParser } from '../sse/decode.ts';
import { encodeOneLineEvent, encodeSse } from '../sse/encode.ts';
import type { SseEvent } from '../sse/types.ts';
import type { AppDeps, Exchange, RequestLog } from '../http/context.ts';
import { readBody } from './read-body.ts';
import { readAhead, relayStream, type ReadAhead, type Reader } from './streams.ts';
import { thinkingStyleFor } from './thinking-style.ts';
import { unwatch, watch, type Watch } from './watchdog.ts';

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** Where a translated request goes: the channel's own inference endpoint. */
const NATIVE_ENDPOINT: Record<FormatId, Endpoint> = { anthropic: 'messages', 'openai-chat': 'chat_completions' };

/** What routing and accounting need from an inbound body: no re-serialisation, and no parse a passthrough can skip. */
interface Inbound {
  format: FormatId;
  endpoint: Endpoint;
  bytes: Uint8Array;
  /** Top-level key → value span, when the body was scanned rather than parsed. */
  keys: Map<string, [number, number]> | null;
  model: string;
  stream: boolean;
  /** The parsed and validated body (throws the 400 naming the field): parsed on first use. */
  json(): Record<string, unknown>;
  /** A large body's skeleton, parsed (util/json-skeleton.ts), for translation; null when it has none. */
  skeleton(): ParsedSkeleton | null;
}

interface ParsedSkeleton { json: Record<string, unknown>; spans: Uint8Array[]; raw: RawStrings }

/**
 * Bodies up to this size are parsed and validated in full before routing. Larger ones (a long Claude Code
 * conversation is 50–500 KB) are scanned at the byte level for the fields routing needs and their types; a
 * passthrough then forwards them unparsed (JSON.parse alone costs ~1 µs per KB), and a deeper type error is
 * reported by the upstream, in the same envelope. A translated request parses and validates them in full.
 */
const FULL_CHECK_MAX = 64 * 1024;

export async function handleInference(x: Exchange, deps: AppDeps, format: FormatId, endpoint: Endpoint): Promise<Response> {
  deps.state.inflight++;
  try {
    return await handle(x, deps, format, endpoint);
  } finally {
    deps.state.inflight--;
  }
}

async function handle(x: Exchange, deps: AppDeps, format: FormatId, endpoint: Endpoint): Promise<Response> {
  const req = x.req;
  const log = x.log;
  // the body is read under the server's idle timeout (a client that stops sending mid-body is cut off); after that
  // it is lifted: Bun would otherwise close a connection whose handler still waits for a slow first token
  const body = await readBody(req, deps.config.server.max_body_bytes);
  deps.noIdleTimeout?.(req);
  let inbound: Inbound;
  try {
    inbound = readInbound(body, format, endpoint);
  } catch (err) {
    throw nestedTooDeep(err);
  }
  log.entry.model = inbound.model;
  log.entry.stream = inbound.stream;

  const principal = x.principal;
  if (principal?.models && !principal.models.has(inbound.model)) {
    throw new GatewayError(403, 'permission_error', `model: this API key may not use model "${inbound.model}"`, { param: 'model' });
  }
  const routes = deps.table.routes(inbound.model);
  if (routes.length === 0) {
    throw new GatewayError(404, 'not_found_error', `model: model "${inbound.model}" is not served by this gateway`, { param: 'model', code: 'model_not_found' });
  }
  const res = await attempt(x, deps, inbound, candidates(deps, routes));
  if (inbound.bytes.length > LARGE_BODY) collectLargeGarbage(inbound.bytes.length);
  return res;
}

const LARGE_BODY = 1024 * 1024;
/** Multi-megabyte bodies seen since the last full collection, and how many bytes of them trigger one. */
let largeSinceGc = 0;
const LARGE_GC_BUDGET = 32 * 1024 * 1024;

/**
 * A multi-megabyte body leaves large copies (the bytes, the upstream request, a translation's output) that the
 * collector frees only when the heap next fills up: with 5 MB image requests one after another, peak RSS reached
 * 165-245 MB (bench/). A full collection costs 8-15 ms on the event loop, so it runs once per 32 MB of such bodies
 * (every seventh 5 MB image), which keeps the peak near 130 MB; in between, the collector is only asked to run soon.
 */
function collectLargeGarbage(bytes: number) {
  largeSinceGc += bytes;
  if (largeSinceGc < LARGE_GC_BUDGET) { Bun.gc(false); return; }
  largeSinceGc = 0;
  Bun.gc(true);
}

function readInbound(bytes: Uint8Array, format: FormatId, endpoint: Endpoint): Inbound {
  if (bytes.length > FULL_CHECK_MAX) {
    const keys = scanTopLevel(bytes);
    const routing = keys && shallowCheck(bytes, keys, format, endpoint);
    if (routing) {
      let parsed: Record<string, unknown> | undefined;
      let skeleton: ParsedSkeleton | null | undefined;
      return {
        format, endpoint, bytes, keys, model: routing.model, stream: routing.stream,
        json: () => (parsed ??= parseInbound(bytes, format, endpoint).json),
        skeleton: () => (skeleton === undefined ? (skeleton = endpoint === 'count_tokens' ? null : parseSkeleton(bytes, format)) : skeleton),
      };
    }
    // not a well-formed object, or a routing field of the wrong type: the full parse names the problem
  }
  const { json, model, stream } = parseInbound(bytes, format, endpoint);
  return { format, endpoint, bytes, keys: null, model, stream, json: () => json, skeleton: () => null };
}

/** The skeleton of a large body, parsed; null when there is none or it does not parse (the full parse then names the problem). */
function parseSkeleton(bytes: Uint8Array, format: FormatId): ParsedSkeleton | null {
  const sk = skeletonize(bytes, FORMATS[format].verbatimText);
  if (!sk) return null;
  let json: unknown;
  try { json = JSON.parse(sk.text); } catch { return null; }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return null;
  return { json: json as Record<string, unknown>, spans: sk.spans, raw: new RawStrings(sk.spans) };
}

function parseInbound(bytes: Uint8Array, format: FormatId, endpoint: Endpoint): { json: Record<string, unknown>; model: string; stream: boolean } {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw invalidRequest(`request body is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalidRequest('request body must be a JSON object');
  if (format === 'anthropic') {
    const p = parseOrThrow(endpoint === 'count_tokens' ? MessageCountTokensParamsSchema : MessageCreateParamsSchema, json);
    return { json: json as Record<string, unknown>, model: p.model, stream: endpoint === 'messages' && (p as { stream?: boolean }).stream === true };
  }
  const p = parseChatRequest(json);
  return { json: json as Record<string, unknown>, model: p.model, stream: p.stream };
}

/** The routing fields of a scanned body, when they and the top-level types are right; else null (parse in full). */
function shallowCheck(b: Uint8Array, keys: Map<string, [number, number]>, format: FormatId, endpoint: Endpoint): { model: string; stream: boolean } | null {
  const model = valueAt(b, keys.get('model'));
  // anything unusual about the model (empty, too long) gets the full parse, whose validation names it
  if (typeof model !== 'string' || model === '' || model.length > MAX_MODEL_LENGTH || kindAt(b, keys.get('messages')) !== '[') return null;
  const stream = keys.has('stream') ? valueAt(b, keys.get('stream')) : false;
  if (typeof stream !== 'boolean') return null;
  if (format === 'anthropic') {
    if (endpoint === 'messages') {
      const max = valueAt(b, keys.get('max_tokens'));
      if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return null;
    }
    const system = kindAt(b, keys.get('system'));
    if (system !== undefined && system !== '"' && system !== '[') return null;
    for (const k of ['tools', 'stop_sequences']) if (keys.has(k) && kindAt(b, keys.get(k)) !== '[') return null;
    for (const k of ['tool_choice', 'thinking', 'metadata']) if (keys.has(k) && kindAt(b, keys.get(k)) !== '{') return null;
    return { model, stream: endpoint === 'messages' && stream };
  }
  if (keys.has('stream_options') && !['{', 'n'].includes(kindAt(b, keys.get('stream_options'))!)) return null;
  return { model, stream };
}

/**
 * A recursive step (validation, conversion, serialisation) that ran out of stack on a deeply nested body: the
 * client's input, answered as such instead of as an internal error. Anything else is returned unchanged.
 */
function nestedTooDeep(err: unknown): unknown {
  if (err instanceof NestingTooDeep) return invalidRequest(`request body is ${err.message}`);
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return invalidRequest('request body is nested too deeply to be processed (thousands of levels)');
  }
  return err;
}

/** Priority/weight order, channels with an open circuit left out (unless every one is open: then all, in order). */
function candidates(deps: AppDeps, routes: Route[]): Route[] {
  if (routes.length === 1) return routes; // open circuit or not, the only channel is tried
  const ordered = orderRoutes(routes, deps.random);
  const closed = ordered.filter((r) => !deps.breaker.isOpen(r.channel.name));
  return (closed.length ? closed : ordered).slice(0, deps.config.routing.max_attempts);
}

async function attempt(x: Exchange, deps: AppDeps, inbound: Inbound, routes: Route[]): Promise<Response> {
  const { req, log } = x;
  const sleep = deps.sleep ?? ((ms: number) => Bun.sleep(ms));
  let lastError: GatewayError | undefined;
  let estimate: number | undefined;
  const estimated = (hub: MessageCreateParams) => (estimate ??= estimateInputTokens(hub, { fromJson: true }));

  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    const channel = route.channel;
    const last = i === routes.length - 1;
    const passthrough = channel.nativeFormat === inbound.format;
    log.entry.attempts = i + 1;
    log.entry.channel = channel.name;
    log.entry.upstream_model = route.upstreamModel;

    if (inbound.endpoint === 'count_tokens' && !channel.countsTokens) {
      // OpenAI-compatible providers have no count_tokens: answer from the local estimate (README: "count_tokens")
      let hub: MessageCreateParams;
      try {
        hub = inbound.json() as unknown as MessageCreateParams;
      } catch (err) {
        throw nestedTooDeep(err);
      }
      log.entry.input_tokens = estimated(hub);
      return Response.json({ input_tokens: estimated(hub) }, { headers: { 'x-switchboard-estimate': 'true', 'request-id': x.requestId } });
    }

    let body: Uint8Array | string;
    let ctx: TranslateContext | null = null;
    if (passthrough) {
      body = route.upstreamModel === inbound.model ? inbound.bytes : rewriteModel(inbound.bytes, route.upstreamModel, inbound.keys);
    } else {
      // translation errors (a block type the channel cannot take) are the client's: no fallback
      try {
        ({ ctx, body } = translateRequest(inbound, channel, route.upstreamModel, deps.config.default_max_tokens));
      } catch (err) {
        throw nestedTooDeep(err);
      }
      if (ctx.dropped.length) log.entry.dropped = ctx.dropped;
    }

    // one controller per attempt: the client going away, the first-byte timeout and a failed relay all abort it
    const upstream = new AbortController();
    const guard = watch(new AttemptWatch(upstream, req.signal, channel.config.timeout_ms, `channel ${channel.name}: no response within ${channel.config.timeout_ms} ms`));
    let res: Response;
    try {
      res = await channel.send({
        endpoint: passthrough ? inbound.endpoint : NATIVE_ENDPOINT[channel.nativeFormat],
        upstreamModel: route.upstreamModel,
        body,
        search: passthrough ? querySuffix(req.url) : '',
        clientHeaders: req.headers,
        passthrough,
        signal: upstream.signal,
        hopHeader: x.hop,
      });
    } catch (err) {
      unwatch(guard);
      if (req.signal.aborted) throw new ClientGone();
      lastError = upstream.signal.aborted && upstream.signal.reason instanceof GatewayError
        ? upstream.signal.reason
        : new GatewayError(502, 'api_error', `channel ${channel.name}: upstream unreachable (${describeFetchError(err)})`);
      deps.breaker.failure(channel.name);
      deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, error: lastError.message });
      continue;
    }

    if (!res.ok) {
      const retryable = isRetryableStatus(res.status);
      if (retryable) deps.breaker.failure(channel.name);
      if (retryable && !last) {
        unwatch(guard);
        const wait = retryAfterMs(res.headers);
        deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, status: res.status });
        lastError = new GatewayError(res.status, undefined, `channel ${channel.name}: HTTP ${res.status}`);
        await res.body?.cancel().catch(() => {});
        if (wait !== null && wait > 0 && wait <= deps.config.routing.max_retry_after_ms) await sleep(wait);
        continue;
      }
      return await upstreamError(x, channel, res, passthrough, upstream, guard);
    }
    deps.breaker.success(channel.name);
    // `return await`: one microtask for a native promise, where returning it from an async function costs three
    if (ctx && !inbound.stream) return await relayTranslatedJson(x, inbound, channel, res, upstream, ctx, guard, deps.config.server.max_body_bytes);
    if (!ctx && (!res.body || isBoundedJson(res))) return await relayPassthroughJson(x, channel, res, upstream, guard);
    // a stream: its first chunk is read before answering, so an upstream that fails before it still falls back
    let start: ReadAhead<Uint8Array>;
    try {
      start = await readFirst(x, channel, res, upstream, guard, !ctx);
    } catch (err) {
      if (err instanceof ClientGone) throw err;
      lastError = err as GatewayError;
      deps.breaker.failure(channel.name);
      deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, error: lastError.message });
      continue;
    }
    return ctx ? relayTranslatedStream(x, inbound, channel, start, upstream, ctx) : relayPassthrough(x, inbound, channel, res, start, upstream);
  }
  throw lastError ?? new GatewayError(503, 'overloaded_error', 'no channel available');
}

/**
 * Inbound → hub → the channel's format. A large body is translated from its skeleton (long text left as bytes,
 * util/json-skeleton.ts), unless a converter needs a string's content or a placeholder cannot be put back: then
 * (and for every other body) from the full parse.
 */
function translateRequest(inbound: Inbound, channel: Channel, upstreamModel: string, defaultMaxTokens: number): { ctx: TranslateContext; body: string | Uint8Array } {
  const from = FORMATS[inbound.format];
  const to = FORMATS[channel.nativeFormat];
  const newContext = (): TranslateContext => ({
    requestedModel: inbound.model,
    upstreamModel,
    dropped: [],
    estimatedInputTokens: 0,
    defaultMaxTokens,
    thinkingStyle: thinkingStyleFor(channel.config, upstreamModel),
  });
  const prepare = (hub: MessageCreateParams, ctx: TranslateContext, raw?: RawStrings) => {
    ctx.omitThinking = (hub.thinking as { display?: unknown } | undefined)?.display === 'omitted';
    // message_start needs input tokens before the upstream reports them: a sampled estimate, final usage follows
    if (inbound.stream) ctx.estimatedInputTokens = estimateInputTokens(hub, { fast: true, raw, fromJson: true });
  };
  const skeleton = inbound.skeleton();
  if (skeleton) {
    const ctx = newContext();
    try {
      const hub = from.requestToHub(skeleton.json, ctx);
      prepare(hub, ctx, skeleton.raw);
      const body = splice(JSON.stringify(to.requestFromHub(hub, ctx, channel.quirks as never)), skeleton.spans);
      if (body) return { ctx, body };
    } catch (err) {
      // a 400 names the client's problem, the same on either path; anything else (NeedsFullParse, or a converter
      // surprised by a placeholder) is retried the ordinary way, which throws again if the fault is real
      if (err instanceof GatewayError) throw err;
    }
  }
  const ctx = newContext();
  const hub = from.requestToHub(inbound.json(), ctx);
  prepare(hub, ctx);
  return { ctx, body: JSON.stringify(to.requestFromHub(hub, ctx, channel.quirks as never)) };
}

/** An attempt under the watchdog: its deadline and message move from first byte to whole body. */
class AttemptWatch implements Watch {
  deadline: number;
  /** A body being read under this watch: cancelled when it fires. */
  body: Reader<Uint8Array> | null = null;
  constructor(private readonly upstream: AbortController, readonly client: AbortSignal, ms: number, public timeoutMessage: string) {
    this.deadline = performance.now() + ms;
  }
  /** Another phase: `ms` from now (Infinity: only the client is watched). */
  extend(ms: number, message: string) {
    this.deadline = performance.now() + ms;
    this.timeoutMessage = message;
  }
  fire(why: 'timeout' | 'client') {
    const reason = why === 'client' ? new ClientGone() : new GatewayError(504, 'timeout_error', this.timeoutMessage);
    this.upstream.abort(reason);
    this.body?.cancel(reason).catch(() => {});
  }
}

/** The client went away before a response: nothing to send; logged as cancelled. */
export class ClientGone extends Error {
  constructor() { super('client disconnected'); this.name = 'ClientGone'; }
}

/** `?beta=true` of a request URL, or ''. */
function querySuffix(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}

function describeFetchError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message?.slice(0, 120) ?? 'error';
}

/** Error bodies are small; a larger one is cut off with a 502 rather than read without end. */
const ERROR_BODY_MAX = 1024 * 1024;

/** A final upstream error: same format → its body as it is; translated → the client's envelope. */
async function upstreamError(x: Exchange, channel: Channel, res: Response, passthrough: boolean, upstream: AbortController, guard: AttemptWatch): Promise<Response> {
  // read under the watch like any answer (an error page that stalls must not hold the client forever), but the
  // status is what matters: a body that stalls, breaks off or is too large is dropped, the status still goes out
  let raw: Uint8Array = new Uint8Array(0);
  try {
    raw = await readWhole(x, channel, res, upstream, guard, ERROR_BODY_MAX, 'the most an error body is read');
  } catch (err) {
    if (err instanceof ClientGone) throw err;
  }
  x.log.entry.error = `upstream HTTP ${res.status}`;
  if (passthrough) {
    const headers = relayableResponseHeaders(res.headers);
    headers['request-id'] = x.requestId;
    return new Response(raw, { status: res.status, headers });
  }
  const text = utf8.decode(raw);
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* non-JSON error page */ }
  const err = FORMATS[channel.nativeFormat].errorToGateway(res.status, body);
  const ra = res.headers.get('retry-after');
  if (ra) err.headers['retry-after'] = ra;
  throw err;
}

/** A failure while relaying a response, as the error the client's stream ends with. */
function relayFailure(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(502, 'api_error', 'upstream stream failed');
}

function finishStreamLog(log: RequestLog, usage: UsageTotals, outcome: unknown, stopReason?: string | null) {
  Object.assign(log.entry, usage);
  if (stopReason !== undefined) log.entry.stop_reason = stopReason;
  if (outcome === 'cancelled') log.entry.outcome = 'cancelled';
  else if (outcome !== undefined) {
    const e = relayFailure(outcome);
    log.entry.outcome = 'error';
    log.entry.error_type = e.type;
    log.entry.error = e.message;
  }
  log.finish();
}

function markFirstByte(log: RequestLog) {
  if (log.entry.ttfb_ms === undefined) log.entry.ttfb_ms = Math.round((performance.now() - log.start) * 100) / 100;
}

/** JSON answers up to this size (by Content-Length) are relayed in one write instead of through a JS stream. */
const ONE_WRITE_MAX = 4 * 1024 * 1024;

/** A JSON answer of known, bounded size (relayed whole), as opposed to a stream or a body of unknown length. */
function isBoundedJson(res: Response): boolean {
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) return false;
  return Number(res.headers.get('content-length') ?? NaN) <= ONE_WRITE_MAX;
}

/**
 * The first chunk of a streamed answer, under the attempt's watch (within the idle timeout; a client that goes
 * away aborts the upstream meanwhile). Throws ClientGone, or the GatewayError that lets the next candidate try.
 * `lookForEnd`: whether a first chunk that ends the stream is checked for being all of it (passthrough only:
 * answering a translated stream in one write measured slower than relaying it, bench/).
 */
async function readFirst(x: Exchange, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, lookForEnd: boolean): Promise<ReadAhead<Uint8Array>> {
  const idleMs = channel.config.stream_idle_timeout_ms;
  guard.extend(idleMs, `channel ${channel.name}: upstream sent nothing for ${idleMs} ms`);
  const reader = (res.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })).getReader();
  // aborting the fetch does not end a read already waiting on its body: the watch cancels the read too
  guard.body = reader;
  try {
    const start = await readAhead(reader, lookForEnd ? FORMATS[channel.nativeFormat].endsStream : never);
    // a cancelled read may end as an empty body rather than fail: the watch's reason decides
    if (upstream.signal.aborted) throw upstream.signal.reason;
    return start;
  } catch (err) {
    if (x.req.signal.aborted) throw new ClientGone();
    const reason = upstream.signal.aborted ? upstream.signal.reason : err;
    throw reason instanceof GatewayError ? reason : new GatewayError(502, 'api_error', `channel ${channel.name}: upstream stream failed before its first byte (${describeFetchError(err)})`);
  } finally {
    unwatch(guard);
  }
}

/**
 * Same format: the upstream's bytes as they are, usage read on the side. A stream that came whole in its first
 * read is answered in one write (usage read at once); any other goes through the relay, chunk by chunk.
 */
function relayPassthrough(x: Exchange, inbound: Inbound, channel: Channel, res: Response, start: ReadAhead<Uint8Array>, upstream: AbortController): Response {
  const log = x.log;
  const isSse = (res.headers.get('content-type') ?? '').includes('text/event-stream');
  const headers = relayableResponseHeaders(res.headers);
  headers['request-id'] = x.requestId;
  const sniffer = new UsageSniffer(channel.nativeFormat, isSse);
  markFirstByte(log);
  if (start.whole) {
    for (const chunk of start.head) sniffer.push(chunk);
    Object.assign(log.entry, sniffer.finish());
    if (sniffer.stopReason !== null) log.entry.stop_reason = sniffer.stopReason;
    return new Response(concat(start.head), { status: res.status, headers });
  }
  log.deferred = true;
  const body = relayStream(start, {
    idleMs: channel.config.stream_idle_timeout_ms,
    onChunk: (chunk) => sniffer.push(chunk),
    errorTail: (err) => (isSse ? encodeSse(FORMATS[inbound.format].streamErrorEvent(relayFailure(err))) : null),
    onEnd(outcome) {
      if (outcome !== undefined) upstream.abort(); // cancelled or failed: close the upstream connection too
      finishStreamLog(log, sniffer.finish(), outcome, sniffer.stopReason);
    },
  });
  log.entry.status = res.status;
  return new Response(body, { status: res.status, headers });
}

const never = () => false;

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks);
}

/**
 * A whole JSON answer, read natively under the attempt's watch: it must arrive within the idle timeout once its
 * headers are in (a JSON answer comes at once), and a client that goes away aborts the upstream meanwhile. At most
 * `max` bytes (declared or counted): a larger answer is a 502, not a gateway that runs out of memory.
 */
async function readWhole(x: Exchange, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, max = Infinity, limit = 'server.max_body_bytes'): Promise<Uint8Array> {
  const idleMs = channel.config.stream_idle_timeout_ms;
  guard.extend(idleMs, `upstream sent nothing for ${idleMs} ms`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  let buf: Uint8Array;
  try {
    if (declared > max) throw answerTooLarge(channel, max, limit);
    buf = Number.isFinite(declared) || max === Infinity || !res.body ? await res.bytes() : await readCapped(res.body, max, channel, guard, limit);
  } catch (err) {
    if (res.body && !res.body.locked) res.body.cancel().catch(() => {});
    if (x.req.signal.aborted) throw new ClientGone();
    throw relayFailure(upstream.signal.aborted ? upstream.signal.reason : err);
  } finally {
    unwatch(guard);
  }
  markFirstByte(x.log);
  return buf;
}

/** A body of undeclared length, read chunk by chunk up to `max` bytes (the watch can cancel the waiting read). */
async function readCapped(body: ReadableStream<Uint8Array>, max: number, channel: Channel, guard: AttemptWatch, limit: string): Promise<Uint8Array> {
  const reader = body.getReader();
  guard.body = reader;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    total += r.value.byteLength;
    if (total > max) {
      reader.cancel().catch(() => {});
      throw answerTooLarge(channel, max, limit);
    }
    chunks.push(r.value);
  }
  return concat(chunks);
}

function answerTooLarge(channel: Channel, max: number, limit: string): GatewayError {
  return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answer larger than ${max} bytes (${limit})`);
}

/**
 * A complete JSON answer of known, bounded size (or no body): read whole (one native read instead of a JS stream
 * per response, the largest single cost in the profile of small passthrough requests), usage read once, bytes
 * unchanged.
 */
async function relayPassthroughJson(x: Exchange, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch): Promise<Response> {
  const log = x.log;
  const headers = relayableResponseHeaders(res.headers);
  headers['request-id'] = x.requestId;
  if (!res.body) {
    unwatch(guard);
    return new Response(null, { status: res.status, headers });
  }
  const buf = await readWhole(x, channel, res, upstream, guard);
  const sniffer = new UsageSniffer(channel.nativeFormat, false);
  sniffer.readJson(buf);
  Object.assign(log.entry, sniffer.usage);
  if (sniffer.stopReason !== null) log.entry.stop_reason = sniffer.stopReason;
  return new Response(buf, { status: res.status, headers });
}

/** Upstream stream → the client's format, one synchronous pass per upstream chunk, relayed as it comes. */
function relayTranslatedStream(x: Exchange, inbound: Inbound, channel: Channel, start: ReadAhead<Uint8Array>, upstream: AbortController, ctx: TranslateContext): Response {
  const log = x.log;
  const usage = emptyUsage();
  let stopReason: string | null = null;
  // upstream bytes → SSE events → hub events → the client's SSE events → bytes, in one synchronous pass per
  // upstream chunk: whatever a chunk completes goes out before the next chunk is read
  const parser = new SseParser();
  const toHub = FORMATS[channel.nativeFormat].streamToHub(ctx, channel.quirks as never);
  const fromHub = FORMATS[inbound.format].streamFromHub(ctx);
  const sseIn: SseEvent[] = [];
  const hub: RawMessageStreamEvent[] = [];
  const sseOut: SseEvent[] = [];
  const translate = (chunk: Uint8Array | null): Uint8Array | null => {
    if (chunk) parser.push(chunk, sseIn); else parser.end(sseIn);
    for (const ev of sseIn) toHub.push(ev, hub);
    if (!chunk) toHub.end(hub);
    for (const ev of hub) {
      if (ev.type === 'message_start') addAnthropicUsage(usage, ev.message.usage);
      else if (ev.type === 'message_delta') { addAnthropicUsage(usage, ev.usage); stopReason = ev.delta.stop_reason; }
      fromHub.push(ev, sseOut);
    }
    if (!chunk) fromHub.end(sseOut);
    let text = '';
    for (const ev of sseOut) text += encodeOneLineEvent(ev); // one-line data: Format.streamFromHub
    sseIn.length = 0; hub.length = 0; sseOut.length = 0;
    return text ? utf8Encoder.encode(text) : null;
  };
  const headers: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': x.requestId };
  setDropped(headers, ctx);
  markFirstByte(log);
  log.deferred = true;
  const body = relayStream(start, {
    idleMs: channel.config.stream_idle_timeout_ms,
    map: translate,
    flush: () => translate(null),
    errorTail: (err) => encodeSse(FORMATS[inbound.format].streamErrorEvent(relayFailure(err))),
    onEnd(outcome) {
      if (outcome !== undefined) upstream.abort(); // cancelled or failed: close the upstream connection too
      finishStreamLog(log, usage, outcome, stopReason);
    },
  });
  log.entry.status = 200;
  return new Response(body, { status: 200, headers });
}

async function relayTranslatedJson(x: Exchange, inbound: Inbound, channel: Channel, res: Response, upstream: AbortController, ctx: TranslateContext, guard: AttemptWatch, max: number): Promise<Response> {
  const log = x.log;
  // translated whole: held in memory, so bounded like a request body
  const text = utf8.decode(await readWhole(x, channel, res, upstream, guard, max));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatewayError(502, 'api_error', `channel ${channel.name}: upstream returned a body that is not JSON`);
  }
  let message: Message;
  let answer: string;
  try {
    message = FORMATS[channel.nativeFormat].responseToHub(json, ctx, channel.quirks as never);
    answer = JSON.stringify(FORMATS[inbound.format].responseFromHub(message, ctx));
  } catch (err) {
    // a shape the converters do not expect (a null where an object belongs, nesting past the stack): the upstream's
    // answer is at fault, not the gateway
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(502, 'api_error', `channel ${channel.name}: upstream returned an answer that cannot be translated (${(err as Error)?.message?.slice(0, 120) ?? 'malformed'})`);
  }
  const usage = emptyUsage();
  addAnthropicUsage(usage, message.usage);
  Object.assign(log.entry, usage);
  log.entry.stop_reason = message.stop_reason;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': x.requestId };
  setDropped(headers, ctx);
  return new Response(answer, { status: 200, headers });
}

/** Name what the translation could not carry (README: "What a translation cannot carry"). */
function setDropped(headers: Record<string, string>, ctx: TranslateContext) {
  if (ctx.dropped.length) headers['x-switchboard-dropped'] = [...new Set(ctx.dropped)].join(', ').slice(0, 4000);
}
