/**
 * @module pipeline/handle
 * The request path for every inference endpoint: read → validate → authorize the model → resolve candidates →
 * for each candidate: passthrough (same format: the client's bytes) or translate (inbound → hub → channel) →
 * relay the response, falling back to the next candidate only before the first byte reached the client.
 * The steps live beside it: the client's body (inbound.ts), the same format both ways (passthrough.ts), a
 * translation (translate.ts), and reading an upstream answer under the attempt's watch (answer.ts).
 */
import { GatewayError, NotAnAnswer } from '../errors.ts';
import type { Channel, Endpoint } from '../channels/types.ts';
import type { FormatId, TranslateContext } from '../formats/types.ts';
import type { MessageCreateParams } from '../hub/types.ts';
import { rewriteModel } from '../util/json.ts';
import { orderRoutes } from '../routing/balance.ts';
import { isChannelFailureStatus, isRetryableStatus, retryAfterMs } from '../routing/fallback.ts';
import type { Route } from '../routing/table.ts';
import { estimateInputTokens } from '../accounting/estimate-tokens.ts';
import type { AppDeps, Exchange } from '../http/context.ts';
import { settle, type Render } from '../http/route.ts';
import { readBody } from './read-body.ts';
import type { ReadAhead } from './streams.ts';
import { unwatch, watch } from './watchdog.ts';
import { AttemptWatch, ClientGone, credentialsRefused, describeFetchError, errorInsideAnswer, firstReadFailure, hasNullBody, isBoundedJson, isJsonAnswer, markFirstByte, notAnAnswer, openingStreamError, opensWithComments, pastComments, readFirst, readRest, startReadWhole, unreadableAnswer, upstreamError, wholeReadFailure } from './answer.ts';
import { FULL_CHECK_MAX, readInbound, type Inbound } from './inbound.ts';
import { answerPassthroughJson, relayPassthrough } from './passthrough.ts';
import { answerRelayedJsonAsStream, answerRelayedStreamAsJson, answerTranslatedJson, answerTranslatedStreamAsJson, answerTranslatedJsonAsStream, DROPPED_HEADER_MAX, looksLikeSse, nativeEndpoint, relayTranslatedStream, translateRequest } from './translate.ts';
import { handBack } from './body-buffers.ts';
import { learntCeiling, refusedCeiling, rememberCeiling } from './output-ceilings.ts';
import { overflowInAnthropicWords } from './context-overflow.ts';
import { refusedHistory, repairHistory, type HistoryRefusal } from './foreign-thinking.ts';
import { dropFromBody, relayedWithout } from './drop-fields.ts';

/**
 * The request settled here (http/route.ts: `settles`): every answer goes out through `settle`, and an error is
 * rendered in the client's dialect with `render`, so the promise never rejects.
 */
export async function handleInference(x: Exchange, deps: AppDeps, format: FormatId, endpoint: Endpoint, render: Render): Promise<Response> {
  const req = x.req;
  const log = x.log;
  deps.state.inflight++;
  let inbound: Inbound | undefined;
  try {
    // the body is read under the server's idle timeout (a client that stops sending mid-body is cut off); after that
    // it is lifted: Bun would otherwise close a connection whose handler still waits for a slow first token
    const body = await readBody(req, deps.config.server.max_body_bytes);
    deps.noIdleTimeout?.(req);
    inbound = readInbound(body, format, endpoint, req.headers);
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
    // each candidate in turn, falling back to the next only before the first byte reached the client (one
    // function with the steps above: an async layer per request costs a promise, a generator and its environment)
    const pool = candidates(deps, routes);
    const max = deps.config.routing.max_attempts;
    let tried = pool.length > max ? pool.slice(0, max) : pool;
    // the candidates beyond max_attempts, from here: one takes the place of a candidate the breaker skips (below)
    let spare = tried.length;
    // several channels, not all of them open: each attempt asks the breaker as it starts (a half-open channel's probe
    // is claimed by the attempt that makes it, not by a request that never gets to it); all of them, not only those
    // within max_attempts (with max_attempts 1, every request probed a half-open channel)
    const gated = pool.length > 1 && pool.some((r) => !deps.breaker.isOpen(r.channel.name));
    let lastError: GatewayError | undefined;
    // the first refusal of a translation that could not carry the request (below), and its candidate
    let untranslatable: GatewayError | undefined;
    let refusedBy: Route | undefined;
    // the candidate of the last attempt that called its upstream: the one the log line names, a refusal's aside
    let sent: Route | undefined;
    // the output ceiling a provider named when it refused this request's max_tokens: its retry, once per channel
    // (pipeline/output-ceilings.ts)
    let refused: { route: Route; ceiling: number } | null = null;
    // the history Anthropic refused for its thinking blocks or its blank text blocks, repaired for its retry: once per
    // channel and refusal (pipeline/foreign-thinking.ts, pipeline/blank-text.ts)
    let repaired: { route: Route } & RepairedBody | null = null;
    // the attempts made, for the log line: a candidate the breaker skips is not one
    let attempts = 0;
    for (let i = 0; i < tried.length; i++) {
      // a client that left during the last attempt (or the wait after it) is not served by the next one
      if (i > 0 && req.signal.aborted) throw new ClientGone();
      const route = tried[i]!;
      const channel = route.channel;
      const last = i === tried.length - 1;
      const passthrough = channel.nativeFormat === inbound.format;
      // a count made here calls no upstream: it claims no probe
      const localCount = inbound.endpoint === 'count_tokens' && !channel.countsTokens;
      // a retry of the channel that has just answered (within its output ceiling, or with a repaired history) is not
      // asked again: opened meanwhile by other requests, it would leave this one with no answer at all
      const again = retries(route, refused, repaired);
      if (!localCount && gated && !again && !deps.breaker.admit(channel.name)) {
        // opened, or probed, by another request meanwhile: skipped, no attempt made, so the next candidate past
        // max_attempts may make it (tried is a copy of pool's first ones here)
        if (spare < pool.length) tried = [...tried, pool[spare++]!];
        continue;
      }
      log.entry.attempts = ++attempts;
      log.entry.channel = channel.name;
      log.entry.upstream_model = route.upstreamModel;
      log.entry.dropped = undefined; // what an earlier attempt's translation left out, this one's answer did not
      // nor what an earlier channel's repaired history, or its drop_fields, left out of a relayed request
      if (x.dropped !== undefined) x.dropped = undefined;

      if (localCount) return settle(x, estimatedCount(x, inbound));

      // a model this channel cannot be asked for (channels/types.ts: refuses) is refused as a request its format cannot
      // carry is (below); a property read per attempt, a call only on a channel that has it
      let refusal = channel.refuses?.(route.upstreamModel) ?? null;
      let body: Uint8Array | string = '';
      let ctx: TranslateContext | null = null;
      let release: (() => void) | undefined;
      let estimate: (() => void) | undefined;
      let copy: Uint8Array | null = null;
      if (refusal !== null) {
        // nothing to build: the refusal is handled below
      } else if (passthrough && repaired !== null && repaired.route === route) {
        body = repaired.body;
        log.entry.dropped = repaired.dropped;
        // held to a translation's limit: the list, one entry per turn left out, has none of its own
        x.dropped = repaired.dropped.join(', ').slice(0, DROPPED_HEADER_MAX);
      } else if (passthrough && channel.config.drop_fields?.length) {
        // the channel's drop_fields (pipeline/drop-fields.ts); a channel without them takes the branch below, unchanged
        const relayed = relayedWithout(inbound, channel.config.drop_fields, route.upstreamModel);
        if (relayed.bytes !== inbound.bytes && relayed.bytes.length > HAND_BACK_MIN) copy = relayed.bytes;
        body = relayed.bytes;
        if (relayed.dropped.length) {
          log.entry.dropped = relayed.dropped;
          x.dropped = relayed.dropped.join(', '); // a few short names: far below DROPPED_HEADER_MAX
        }
      } else if (passthrough) {
        const bytes = route.upstreamModel === inbound.model ? inbound.bytes : rewriteModel(inbound.bytes, route.upstreamModel, inbound.keys);
        // a large rewritten copy is read by nothing once fetch has copied it: freed then, like a translated body
        if (bytes !== inbound.bytes && bytes.length > HAND_BACK_MIN) copy = bytes;
        body = bytes;
      } else {
        const cap = refused?.route === route ? refused.ceiling : learntCeiling(channel, route.upstreamModel);
        try {
          ({ ctx, body, release, estimate } = translateRequest(inbound, channel, route.upstreamModel, deps.config.default_max_tokens, cap));
        } catch (err) {
          if (!(err instanceof GatewayError) || err.status !== 400) {
            if (gated) deps.breaker.withdraw(channel.name);
            throw err;
          }
          refusal = err;
        }
        if (ctx?.dropped.length) log.entry.dropped = ctx.dropped;
      }
      if (refusal !== null) {
        if (gated) deps.breaker.withdraw(channel.name); // a half-open channel's probe was not made: the next request's
        // a request this channel's format cannot carry (a block type it has no form for, more stop sequences than
        // the provider takes), or a model it cannot be asked for, may be one another candidate takes as it is (a
        // Messages request on an anthropic channel): the next one; the refusal is the answer when no candidate answers
        // (untranslatable, below)
        if (!untranslatable) { untranslatable = refusal; refusedBy = route; }
        // no upstream attempt was made: the log line names the attempt before, whose failure may be the answer, or
        // the first refusal when nothing was sent
        const named = sent ?? refusedBy!;
        log.entry.attempts = --attempts;
        log.entry.channel = named.channel.name;
        log.entry.upstream_model = named.upstreamModel;
        // no attempt either: the next candidate past max_attempts takes its place, as for one the breaker skips
        if (spare < pool.length) tried = [...tried, pool[spare++]!];
        continue;
      }

      sent = route;
      // one controller per attempt: the client going away, the first-byte timeout and a failed relay all abort it
      const upstream = new AbortController();
      const guard = watch(new AttemptWatch(upstream, req.signal, channel.name, channel.config.timeout_ms));
      let res: Response;
      try {
        const sending = channel.send({
          endpoint: passthrough ? inbound.endpoint : nativeEndpoint(channel.nativeFormat),
          upstreamModel: route.upstreamModel,
          body,
          search: passthrough ? querySuffix(req.url) : '',
          clientHeaders: req.headers,
          passthrough,
          signal: upstream.signal,
          hopHeader: x.hop,
        });
        bodySent(release, copy);
        // a stream's input-token estimate, made while the request travels (pipeline/translate.ts: Translated)
        estimate?.();
        res = await sending;
      } catch (err) {
        bodySent(release, copy);
        unwatch(guard);
        lastError = attemptFailed(x, deps, channel, unreachable(x, channel, upstream, err));
        continue;
      }

      if (!res.ok) {
        if (last && inbound.endpoint === 'count_tokens' && COUNT_NOT_SERVED.has(res.status)) return settle(x, await notCounted(x, deps, channel, res, upstream, guard, inbound));
        // a Messages request relayed to Anthropic whose history may be repaired, unless it was on this channel already
        // for every refusal it can be (a retry refused for the other one is repaired for both)
        const applied = repaired?.route === route ? repaired.refusals : NO_REFUSALS;
        const history: History | null = passthrough && inbound.format === 'anthropic' && applied.length < REFUSAL_KINDS ? { inbound, upstreamModel: route.upstreamModel, dropFields: channel.config.drop_fields, applied } : null;
        const failed = await notOk(x, deps, channel, res, passthrough, upstream, guard, last, refused?.route === route ? null : ctx, history);
        if (failed instanceof Response) return settle(x, failed);
        if (typeof failed === 'number') {
          // the provider named its output ceiling: the same channel once more, capped to it
          refused = { route, ceiling: failed };
          tried = [...tried.slice(0, i + 1), route, ...tried.slice(i + 1)];
          continue;
        }
        if (!(failed instanceof GatewayError)) {
          // Anthropic refused the history's thinking blocks or blank text: the same channel once more, without them
          repaired = { route, ...failed };
          tried = [...tried.slice(0, i + 1), route, ...tried.slice(i + 1)];
          continue;
        }
        lastError = failed;
        continue;
      }
      // the channel's success is counted once its answer is in (a stream's first chunk, a whole JSON body), not at
      // its headers: a 200 that stalls, breaks off or opens with an error is a failure, and counted as one only
      if (!ctx && hasNullBody(res)) {
        unwatch(guard);
        deps.breaker.success(channel.name);
        return settle(x, answerPassthroughJson(x, inbound, channel, res, null) as Response);
      }
      // a whole answer: a JSON one (a translation reads every JSON answer whole, also one to a streamed request from an
      // upstream that ignores `stream`), read before answering; one that stalls or breaks before its end falls back
      // like any failure before the first byte (readWhole's steps, awaited here: an async function less per request)
      if (ctx ? !inbound.stream || isJsonAnswer(res) : isBoundedJson(res)) {
        let buf: Uint8Array;
        try {
          buf = await startReadWhole(channel, res, guard, ctx ? deps.config.server.max_body_bytes : Infinity);
        } catch (err) {
          const failure = wholeReadFailure(x, channel, res, upstream, err);
          if (failure instanceof ClientGone) throw failure;
          lastError = attemptFailed(x, deps, channel, failure);
          continue;
        } finally {
          unwatch(guard);
        }
        // a 2xx that is no answer (an empty body, a page, JSON where a stream was asked for): its first byte looked at
        const none = notAnAnswer(channel, res, buf, !inbound.stream ? 'json' : ctx ? 'either' : 'sse', true);
        if (none) {
          // a relayed stream request's JSON answer (an upstream that ignores `stream`): the same answer as the stream
          // and a request not streamed answered with a stream (an upstream that always streams): the answer whole
          const asStream = ctx ? (inbound.stream ? null : translatedStreamAsJson(x, deps, inbound, channel, buf, ctx, last)) : inbound.stream ? await relayedJsonAsStream(x, deps, inbound, channel, res, buf, upstream, guard, last) : await relayedStreamAsJson(x, deps, inbound, channel, res, buf, upstream, guard, last);
          if (asStream instanceof Response) return settle(x, asStream);
          lastError = attemptFailed(x, deps, channel, asStream ?? none);
          continue;
        }
        markFirstByte(log);
        if (!ctx) {
          const answer = answerPassthroughJson(x, inbound, channel, res, buf);
          if (answer instanceof Response) {
            deps.breaker.success(channel.name);
            return settle(x, answer);
          }
          // an error object inside the 2xx, or JSON that is no answer: as the same error with its status
          lastError = failedInside(x, deps, channel, answer, last);
          continue;
        }
        let answer: Response;
        try {
          answer = inbound.stream ? answerTranslatedJsonAsStream(x, inbound, channel, buf, ctx) : answerTranslatedJson(x, inbound, channel, buf, ctx);
        } catch (err) {
          // an error object inside the 2xx (OpenRouter's {"error": {"code": 429}}): as a relayed one is (errorInsideAnswer),
          // the attempt's failure as the same error with its status would be, the next channel tried when it falls back
          const inside = errorInsideAnswer(channel, res.status, buf, nativeEndpoint(channel.nativeFormat));
          if (inside && !(inside instanceof NotAnAnswer)) {
            lastError = failedInside(x, deps, channel, inside, last);
            continue;
          }
          // JSON its converter finds no answer (no choices, no content): the attempt's failure, as the answers above
          if (err instanceof NotAnAnswer) {
            lastError = attemptFailed(x, deps, channel, unreadableAnswer(channel, buf, err));
            continue;
          }
          deps.breaker.success(channel.name); // a shape it cannot translate
          throw err;
        }
        deps.breaker.success(channel.name);
        return settle(x, answer);
      }
      // a stream: its first chunk is read before answering, so an upstream that fails before it still falls back
      let start: ReadAhead<Uint8Array>;
      try {
        start = await readFirst(channel, res, guard, !ctx);
        if (opensWithComments(channel, start)) start = await pastComments(channel, start, guard);
        if (upstream.signal.aborted) throw upstream.signal.reason; // cancelled by the watch: an empty body, maybe
      } catch (err) {
        unwatch(guard);
        const failure = firstReadFailure(x, channel, upstream, err);
        if (failure instanceof ClientGone) throw failure;
        lastError = attemptFailed(x, deps, channel, failure);
        continue;
      }
      unwatch(guard);
      // a 2xx that is no answer (an empty body, a page, a stream of comments only): as a stream that fails before it
      const none = notAnAnswer(channel, res, start.head[0], inbound.stream ? 'sse' : 'json', start.whole);
      if (none) {
        // as above, for a JSON answer of undeclared length: read whole first
        // and a relayed request not streamed that was answered with a stream: the same answer whole
        const asStream = ctx ? null : inbound.stream ? await relayedJsonAsStream(x, deps, inbound, channel, res, start, upstream, guard, last) : await relayedStreamAsJson(x, deps, inbound, channel, res, start, upstream, guard, last);
        if (asStream instanceof Response) return settle(x, asStream);
        if (asStream) {
          lastError = attemptFailed(x, deps, channel, asStream);
          continue;
        }
        upstream.abort();
        start.reader.cancel().catch(() => {});
        lastError = attemptFailed(x, deps, channel, none);
        continue;
      }
      // a stream that opens with an error (a 200 whose first event is Anthropic's overloaded_error, or an OpenAI-compatible
      // error object): the next channel when it falls back; else a translation's client gets it as an error status,
      // and a relayed stream goes out as it came, counted against the channel as the same error with its status would be
      const opening = openingStreamError(channel, start.head[0]);
      if (opening && (ctx || (!last && isRetryableStatus(opening.status)))) {
        lastError = openedWithError(x, deps, channel, start, upstream, opening);
        continue;
      }
      const answer = ctx ? relayTranslatedStream(x, inbound, channel, start, upstream, ctx) : relayPassthrough(x, inbound, channel, res, start, upstream);
      if (!(answer instanceof Response)) {
        // a JSON answer of undeclared length that came whole: an error object inside the 2xx, or no answer
        lastError = failedInside(x, deps, channel, answer, last);
        continue;
      }
      if (opening && isChannelFailureStatus(opening.status)) deps.breaker.failure(channel.name);
      else deps.breaker.success(channel.name);
      return settle(x, answer);
    }
    // a channel that failed (Anthropic's 529 before an openai channel that could not carry the request) is the answer,
    // which the client retries, rather than a 400 that blames a request the failed channel takes; but a refusal the
    // client's SDK recovers from by itself (`details.error_code`: a message thread it then sends as the whole
    // conversation) comes first
    if (untranslatable && (untranslatable.details !== null || lastError === undefined)) {
      // the refusal is the answer: the line names the channel that refused, beside the attempts made before it
      log.entry.channel = refusedBy!.channel.name;
      log.entry.upstream_model = refusedBy!.upstreamModel;
      throw untranslatable;
    }
    throw lastError ?? new GatewayError(503, 'overloaded_error', 'no channel available');
  } catch (err) {
    return settle(x, render(format === 'anthropic' && err instanceof GatewayError ? inAnthropicWords(x, err, inbound) : err, x));
  } finally {
    deps.state.inflight--;
    if (inbound && inbound.bytes.length > HAND_BACK_MIN) letGoOfBody(inbound.bytes);
  }
}

/**
 * A Messages client's error, when it is a provider's refusal of a conversation too long for its window: in Anthropic's
 * words, which Claude Code reads its numbers from (pipeline/context-overflow.ts); the log line keeps the provider's.
 * A translated request's error, mostly: a relayed non-2xx answer goes out as the provider's own bytes, but an error
 * read inside a relayed 2xx (answer.ts: errorInsideAnswer, an Anthropic-compatible proxy's) is one too, and is told
 * the same way.
 */
function inAnthropicWords(x: Exchange, err: GatewayError, inbound: Inbound | undefined): GatewayError {
  const told = overflowInAnthropicWords(err, () => {
    try { return inbound ? estimateInputTokens(inbound.json() as unknown as MessageCreateParams, { fromJson: true }) : undefined; } catch { return undefined; }
  });
  if (told !== err) x.log.entry.error = `${x.log.entry.error ?? 'upstream error'}: context window exceeded, told in Anthropic's words; the provider said: ${err.message.slice(0, 300)}`;
  return told;
}

// What an attempt does when it does not go well, apart from handleInference: run seldom, they would only make the
// function run on every request larger, and the engine's compiling of it slower (bench/README.md: the untimed round).

/**
 * An attempt that failed before its answer started: counted against the channel (unless its status says the channel
 * is up: routing/fallback.ts), logged, and returned.
 */
function attemptFailed(x: Exchange, deps: AppDeps, channel: Channel, error: GatewayError): GatewayError {
  if (isChannelFailureStatus(error.status)) deps.breaker.failure(channel.name);
  else deps.breaker.success(channel.name);
  deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, error: error.message });
  return error;
}

/**
 * An error read inside a relayed 2xx answer (answer.ts: errorInsideAnswer), as notOk takes the same error with its
 * status: the attempt's failure when it falls back (a retryable status, a candidate after this one); else thrown,
 * into the client's envelope, counted against the channel as its status says.
 */
function failedInside(x: Exchange, deps: AppDeps, channel: Channel, error: GatewayError, last: boolean): GatewayError {
  if (!last && isRetryableStatus(error.status)) return attemptFailed(x, deps, channel, error);
  if (isChannelFailureStatus(error.status)) deps.breaker.failure(channel.name);
  else deps.breaker.success(channel.name);
  throw error;
}

/**
 * A relayed stream request answered with JSON (`application/json`: an upstream that ignores `stream`), whole in `buf`
 * or begun in `start`'s first read (read whole here, within server.max_body_bytes): when it is an answer in the
 * channel's format, the same answer as the client's stream (translate.ts: answerRelayedJsonAsStream), the channel's
 * success; an error envelope inside the 200, the error it says (errorInsideAnswer: returned when it falls back, else
 * thrown); null when it is none (no choices, no content), or a body that is not JSON: the caller's 502, as before; the
 * attempt's failure when the rest of the body could not be read.
 */
async function relayedJsonAsStream(x: Exchange, deps: AppDeps, inbound: Inbound, channel: Channel, res: Response, answer: Uint8Array | ReadAhead<Uint8Array>, upstream: AbortController, guard: AttemptWatch, last: boolean): Promise<Response | GatewayError | null> {
  if (!isJsonAnswer(res)) return null;
  let buf: Uint8Array;
  if (answer instanceof Uint8Array) buf = answer;
  else {
    if (answer.head[0]?.find((b) => b !== 32 && b !== 10 && b !== 13 && b !== 9) !== 123 /* { */) return null;
    try {
      buf = await readRest(x, channel, answer, upstream, guard, deps.config.server.max_body_bytes);
    } catch (err) {
      upstream.abort();
      if (err instanceof ClientGone) throw err;
      return err as GatewayError;
    }
  }
  const stream = answerRelayedJsonAsStream(x, inbound, channel, res, buf);
  if (stream === null) {
    // an error object inside the 2xx: the error it says, as a request not streamed gets it (errorInsideAnswer), returned
    // when it falls back (the caller counts it), else thrown, counted as its status says
    const inside = errorInsideAnswer(channel, res.status, buf, inbound.endpoint);
    if (!inside || inside instanceof NotAnAnswer) return null;
    if (!last && isRetryableStatus(inside.status)) return inside;
    return failedInside(x, deps, channel, inside, true);
  }
  markFirstByte(x.log);
  deps.breaker.success(channel.name);
  return stream;
}

/**
 * A relayed request not streamed that was answered with an event stream (an upstream or proxy that always streams),
 * whole in `buf` (labelled JSON, with a length) or begun in `start`'s first read (read whole here, within
 * server.max_body_bytes, each read within the idle timeout): the whole answer it carries (translate.ts:
 * answerRelayedStreamAsJson), the channel's success; null for a body that does not begin as a stream, or a stream
 * with no message in it (comments only): the caller's 502, as before. A stream that carries an error event (or ends before its message) is that error: the attempt's
 * failure when it falls back, as an opening error does; else thrown, into the client's envelope, counted as its
 * status says. The attempt's failure too when the rest of the body could not be read.
 */
async function relayedStreamAsJson(x: Exchange, deps: AppDeps, inbound: Inbound, channel: Channel, res: Response, answer: Uint8Array | ReadAhead<Uint8Array>, upstream: AbortController, guard: AttemptWatch, last: boolean): Promise<Response | GatewayError | null> {
  const head = answer instanceof Uint8Array ? answer : answer.head[0];
  if (inbound.endpoint === 'count_tokens' || !head || !looksLikeSse(head)) return null;
  let buf: Uint8Array;
  if (answer instanceof Uint8Array) buf = answer;
  else {
    try {
      buf = await readRest(x, channel, answer, upstream, guard, deps.config.server.max_body_bytes, true);
    } catch (err) {
      upstream.abort();
      if (err instanceof ClientGone) throw err;
      return err as GatewayError;
    }
  }
  return wholeFromStream(x, deps, channel, answerRelayedStreamAsJson(x, inbound, channel, res, buf), last);
}

/**
 * A translated request not streamed answered with an event stream (an upstream or proxy that always streams), whole
 * in `buf`: the whole answer it carries (translate.ts: answerTranslatedStreamAsJson), as relayedStreamAsJson gives a
 * relayed one; null for a body that is no event stream, or one with no message (comments only): the caller's 502.
 */
function translatedStreamAsJson(x: Exchange, deps: AppDeps, inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext, last: boolean): Response | GatewayError | null {
  if (inbound.endpoint === 'count_tokens') return null;
  return wholeFromStream(x, deps, channel, answerTranslatedStreamAsJson(x, inbound, channel, buf, ctx), last);
}

/**
 * A stream's whole answer settled: the channel's success; a failure it carried (its error event, its end before the
 * message's) returned when it falls back, else thrown into the client's envelope, counted as its status says.
 */
function wholeFromStream(x: Exchange, deps: AppDeps, channel: Channel, whole: Response | GatewayError | null, last: boolean): Response | GatewayError | null {
  if (whole === null) return null;
  markFirstByte(x.log);
  if (whole instanceof Response) {
    deps.breaker.success(channel.name);
    return whole;
  }
  if (!last && isRetryableStatus(whole.status)) return whole;
  if (isChannelFailureStatus(whole.status)) deps.breaker.failure(channel.name);
  else deps.breaker.success(channel.name);
  throw whole;
}

/**
 * A stream whose first event was an error (answer.ts: openingStreamError), the upstream closed: the attempt's failure
 * when it falls back; else thrown, the request's own fault (the channel is up).
 */
function openedWithError(x: Exchange, deps: AppDeps, channel: Channel, start: ReadAhead<Uint8Array>, upstream: AbortController, error: GatewayError): GatewayError {
  upstream.abort();
  start.reader.cancel().catch(() => {});
  if (!isRetryableStatus(error.status)) {
    deps.breaker.success(channel.name); // the request's own fault: the channel is up
    throw error;
  }
  return attemptFailed(x, deps, channel, error);
}

/** What a fetch that failed means: the watch's reason (a timeout), the upstream unreachable, or the client gone (thrown). */
function unreachable(x: Exchange, channel: Channel, upstream: AbortController, err: unknown): GatewayError {
  if (x.req.signal.aborted) throw new ClientGone();
  return upstream.signal.aborted && upstream.signal.reason instanceof GatewayError
    ? upstream.signal.reason
    : new GatewayError(502, 'api_error', `channel ${channel.name}: upstream unreachable (${describeFetchError(err)})`);
}

/**
 * An upstream status other than 2xx: a retryable one (routing/fallback.ts: 408, 409, 429, 5xx) on a candidate that is
 * not the last falls back (the error returned, after the upstream's Retry-After when it is short enough); any other
 * becomes the answer.
 */
async function notOk(x: Exchange, deps: AppDeps, channel: Channel, res: Response, passthrough: boolean, upstream: AbortController, guard: AttemptWatch, last: boolean, ctx: TranslateContext | null, history: History | null): Promise<Response | GatewayError | number | RepairedBody> {
  if (REDIRECTS.has(res.status)) return redirected(x, deps, channel, res, guard);
  const retryable = isRetryableStatus(res.status);
  // a 4xx that is the request's own fault (or a model the channel lacks) says the channel is up (a half-open probe
  // reports so too)
  if (isChannelFailureStatus(res.status)) deps.breaker.failure(channel.name);
  else deps.breaker.success(channel.name);
  if (res.status === 400 && ctx?.maxTokensSent !== undefined) return ceilingOrError(x, deps, channel, res, upstream, guard, ctx);
  if (res.status === 400 && history) return historyOrError(x, deps, channel, res, upstream, guard, history);
  if (!retryable || last) return upstreamError(x, channel, res, passthrough, upstream, guard);
  unwatch(guard);
  const wait = retryAfterMs(res.headers);
  deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, status: res.status });
  await res.body?.cancel().catch(() => {});
  const client = x.req.signal;
  // waited out, unless the client leaves meanwhile, or has left already: its abort event, fired before this listener
  // was added (the 429 came before the watch's next look), would never wake the wait
  if (wait !== null && wait > 0 && wait <= deps.config.routing.max_retry_after_ms && !client.aborted) {
    let left = () => {};
    const leaving = new Promise<void>((resolve) => { left = () => resolve(); client.addEventListener('abort', left, { once: true }); });
    await Promise.race([(deps.sleep ?? Bun.sleep)(wait), leaving]);
    client.removeEventListener('abort', left);
  }
  // what the client gets should every later candidate be skipped (its circuit opened meanwhile): a 401 or 403 is the
  // channel's key refused, the 502 it is on the last candidate, never the client's own 401 or 403
  return res.status === 401 || res.status === 403 ? credentialsRefused(channel, res.status) : new GatewayError(res.status, undefined, `channel ${channel.name}: HTTP ${res.status}`);
}

/**
 * A 400 to a translated request: the output ceiling the provider named, when it refused a larger `max_tokens`
 * (remembered for the channel and model when it is the model's own: pipeline/output-ceilings.ts), else the error,
 * thrown as upstreamError throws it.
 */
async function ceilingOrError(x: Exchange, deps: AppDeps, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, ctx: TranslateContext): Promise<number> {
  try {
    await upstreamError(x, channel, res, false, upstream, guard);
  } catch (err) {
    const refused = err instanceof GatewayError ? refusedCeiling(err.message) : null;
    if (!refused || refused.ceiling >= ctx.maxTokensSent!) throw err;
    if (refused.remember) rememberCeiling(channel, ctx.upstreamModel, refused.ceiling);
    deps.logger.event('warn', 'upstream refused max_tokens: sent again within its ceiling', {
      request_id: x.requestId, channel: channel.name, upstream_model: ctx.upstreamModel, sent: ctx.maxTokensSent, ceiling: refused.ceiling, remembered: refused.remember,
    });
    // the attempt that follows decides the line: its error, and when its answer began (not when this refusal was read)
    x.log.entry.error = x.log.entry.ttfb_ms = undefined;
    return refused.ceiling;
  }
  throw new GatewayError(502, 'api_error', `channel ${channel.name}: HTTP ${res.status}`); // not reached: a translation's error is thrown
}

/**
 * A relayed Messages request whose history may be repaired, the model its channel serves it as, what it drops, and the
 * refusals its body was repaired for already on this channel (a retry refused again).
 */
interface History { inbound: Inbound; upstreamModel: string; dropFields: readonly string[] | undefined; applied: readonly HistoryRefusal[] }

/** A request body repaired for its retry (serialised, the upstream model in it), what it left out, and for which refusals. */
interface RepairedBody { body: string; dropped: string[]; refusals: HistoryRefusal[] }

/** The refusals a history is repaired for, by kind: its thinking blocks (either wording), its blank text blocks, its empty turns. */
const kindOf = (r: HistoryRefusal) => (r === 'signature' || r === 'thinking-first' ? 'thinking' : r);
const REFUSAL_KINDS = 4;
/** What the warn line says was refused, by kind. */
const REFUSED_WHAT = {
  thinking: 'thinking blocks: sent again without them', 'blank-text': 'blank text blocks: sent again without them',
  'empty-turn': 'empty assistant turns: sent again without them', 'tool-id': 'tool-call ids: sent again with ids within its pattern',
} as const;
const NO_REFUSALS: readonly HistoryRefusal[] = [];

/**
 * A 400 to a Messages request relayed to Anthropic: when it refuses the history's thinking blocks (a signature it did
 * not write for this model, or a tool loop's last turn without one: pipeline/foreign-thinking.ts), its text blocks
 * of whitespace alone (pipeline/blank-text.ts) or its assistant turns with no content (pipeline/empty-turns.ts), the
 * request repaired for one more try on the same channel (a retry refused for another kind is repaired for each so
 * far, one more); else the refusal, its bytes as they came
 * (upstreamError's answer). The body is parsed and re-encoded here only: a request Anthropic takes is never scanned.
 */
async function historyOrError(x: Exchange, deps: AppDeps, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, history: History): Promise<Response | RepairedBody> {
  const answer = await upstreamError(x, channel, res, true, upstream, guard);
  const raw = await answer.bytes();
  const message = errorMessageOf(raw);
  const refusal = refusedHistory(message);
  // each kind once: a retry refused again for what it was repaired for goes to the client as it came
  const repair = refusal && !history.applied.some((r) => kindOf(r) === kindOf(refusal)) && repairedBody(history, refusal);
  if (!repair) return new Response(raw, { status: answer.status, headers: answer.headers });
  deps.logger.event('warn', `upstream refused the history's ${REFUSED_WHAT[kindOf(refusal)]}`, {
    request_id: x.requestId, channel: channel.name, upstream_model: history.upstreamModel, error: message.slice(0, 300), dropped: repair.dropped,
  });
  // the attempt that follows decides the line: its error, and when its answer began (not when this refusal was read)
  x.log.entry.error = x.log.entry.error_type = x.log.entry.ttfb_ms = undefined;
  return repair;
}

/**
 * The client's body without what Anthropic refused (a fresh parse), and without what it refused before on this channel,
 * re-encoded; null when this refusal changes nothing.
 */
function repairedBody(history: History, refusal: HistoryRefusal): RepairedBody | null {
  const { inbound, upstreamModel, dropFields, applied } = history;
  try {
    let body = JSON.parse(utf8.decode(inbound.bytes)) as Record<string, unknown>;
    const dropped: string[] = [];
    for (const earlier of applied) {
      const again = repairHistory(body, earlier);
      if (again) { body = again.body; dropped.push(...again.dropped); }
    }
    const fixed = repairHistory(body, refusal);
    if (!fixed) return null;
    dropped.push(...fixed.dropped);
    // the model rewritten, and the channel's drop_fields left out, as on the first attempt (util/json.ts)
    if (upstreamModel !== inbound.model) fixed.body.model = upstreamModel;
    if (dropFields) dropFromBody(fixed.body, dropFields, dropped);
    return { body: JSON.stringify(fixed.body), dropped, refusals: [...applied, refusal] };
  } catch {
    return null; // nested too deeply to re-encode: the refusal goes to the client as it came
  }
}

/** An Anthropic error body's `error.message`, or '' when it has none. */
function errorMessageOf(raw: Uint8Array): string {
  try {
    const message = (JSON.parse(utf8.decode(raw)) as { error?: { message?: unknown } } | null)?.error?.message;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}

const utf8 = new TextDecoder();

/** The statuses that redirect (with a Location); 304 Not Modified is not one. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A redirect from an upstream is not followed (channels send with `redirect: "manual"`): following it would send the
 * channel's key and the client's prompt wherever the answer points. The attempt fails (it falls back like a 5xx)
 * with a message that says where it pointed, so that `base_url` can be set there.
 */
function redirected(x: Exchange, deps: AppDeps, channel: Channel, res: Response, guard: AttemptWatch): GatewayError {
  unwatch(guard);
  res.body?.cancel().catch(() => {});
  deps.breaker.failure(channel.name);
  let to = 'nowhere';
  try { const u = new URL(res.headers.get('location') ?? '', channel.config.base_url); to = (u.origin + u.pathname).slice(0, 200); } catch { /* no usable Location */ }
  const error = new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answered ${res.status}, a redirect to ${to}, which is not followed (set base_url to where it points)`);
  deps.logger.event('warn', 'upstream attempt failed', { request_id: x.requestId, channel: channel.name, status: res.status, error: error.message });
  return error;
}

/**
 * count_tokens for a channel without it (OpenAI-compatible providers): the local estimate (README: "count_tokens"),
 * logged as one.
 */
function estimatedCount(x: Exchange, inbound: Inbound): Response {
  const estimate = estimateInputTokens(inbound.json() as unknown as MessageCreateParams, { fromJson: true });
  x.log.entry.input_tokens = estimate;
  x.log.entry.usage_estimated = true;
  return Response.json({ input_tokens: estimate }, { headers: { 'x-switchboard-estimate': 'true', 'request-id': x.requestId } });
}

/**
 * What an upstream that does not serve `/v1/messages/count_tokens` answers there: not found, or the path's method
 * refused. Anthropic-compatible endpoints often lack it (a Console account, Wei-Shaw/claude-relay-service#731; LM
 * Studio, lmstudio-ai/lmstudio-bug-tracker#2055), where Claude Code calls it for `/context` and, in VS Code, dozens of
 * times at start.
 */
const COUNT_NOT_SERVED = new Set([404, 405]);

/**
 * count_tokens that the last candidate does not serve (COUNT_NOT_SERVED): the local estimate, as for a channel
 * without it, rather than the upstream's 404 (an earlier candidate's 404 moves on to the next, which may count). The
 * channel is up; a warn line says what it answered. A 404 that names the model (Anthropic's `model: <name>` for one
 * it does not have: a retired model, a mapping's typo) is the answer, as the same request to /v1/messages gets it:
 * an estimate would count for a model no request can use.
 */
async function notCounted(x: Exchange, deps: AppDeps, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, inbound: Inbound): Promise<Response> {
  deps.breaker.success(channel.name);
  // a JSON error comes back as a Response; a body that is none (a proxy's text or HTML page, an empty one) is thrown in
  // the client's envelope, and names no model: an endpoint without count_tokens too (the error path only)
  let answer: Response | undefined;
  try {
    answer = await upstreamError(x, channel, res, true, upstream, guard);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
  }
  if (answer) {
    const raw = await answer.bytes();
    if (res.status === 404 && errorMessageOf(raw).startsWith('model:')) return new Response(raw, { status: answer.status, headers: answer.headers });
  }
  x.log.entry.error = x.log.entry.error_type = undefined;
  deps.logger.event('warn', 'upstream does not serve count_tokens: answered from the local estimate', { request_id: x.requestId, channel: channel.name, status: res.status });
  return estimatedCount(x, inbound);
}

/**
 * Request bodies larger than this (those scanned rather than parsed: pipeline/inbound.ts) are handed back to the
 * allocator once every attempt is over, and so are rewritten copies once sent (below).
 */
const HAND_BACK_MIN = FULL_CHECK_MAX;
/** Bodies larger than this count toward the safety-net full collection. */
const LARGE_BODY = 1024 * 1024;

/**
 * A large request body once every attempt is over (a streamed answer may still be relayed, but nothing reads the
 * request's bytes again: what a translation took from them went into the upstream request, which fetch copied):
 * its memory is handed back at once (pipeline/body-buffers.ts: handBack) instead of waiting for the collector.
 * Interleaved A/B (bench/ab.ts, 200 KB conversation, c=8, 5 rounds): messages->openai 406 -> 378 µs of CPU per
 * request and peak RSS 117 -> 77 MB, the passthrough 200 -> 188 µs and 98 -> 63 MB, lower in every round. For 5 MB
 * images: bench/FINDINGS.md "5 MB images". Bodies over 1 MB also count toward a full collection every 256 MB of them, as a
 * safety net for whatever else they left to the collector (a full parse's strings).
 */
function letGoOfBody(bytes: Uint8Array) {
  const size = bytes.length;
  handBack(bytes);
  if (size <= LARGE_BODY) return;
  largeSinceGc += size;
  if (largeSinceGc < LARGE_GC_BUDGET) return;
  largeSinceGc = 0;
  Bun.gc(true);
}

/** Multi-megabyte bodies seen since the last full collection. */
let largeSinceGc = 0;

const LARGE_GC_BUDGET = 256 * 1024 * 1024;

/**
 * Priority/weight order, channels with an open circuit left out (unless every one is open: then all, in order); the
 * first `max_attempts` of them are tried, the others stand in for one the breaker skips as its attempt starts.
 */
function candidates(deps: AppDeps, routes: Route[]): Route[] {
  if (routes.length === 1) return routes; // open circuit or not, the only channel is tried
  const ordered = orderRoutes(routes, deps.random);
  const closed = ordered.filter((r) => !deps.breaker.isOpen(r.channel.name));
  return closed.length ? closed : ordered;
}

/** Whether this attempt on `route` is the retry of one of the two kinds a channel gets once (handleInference). */
function retries(route: Route, ceiling: { route: Route } | null, history: { route: Route } | null): boolean {
  return ceiling?.route === route || history?.route === route;
}

/**
 * The request's body has been sent: fetch copied it (channels/types.ts), so a buffer lent to a translation serves
 * the next one, and a large rewritten copy goes back to the allocator.
 */
function bodySent(release: (() => void) | undefined, copy: Uint8Array | null) {
  release?.();
  if (copy) handBack(copy);
}

/**
 * `?beta=true` of a request URL, or '': `beta` is the one query parameter of Anthropic's Messages API (the SDK's beta
 * methods send it). Nothing else a client writes there goes upstream with the channel's key: an upstream that takes,
 * say, `?model=` (LiteLLM did, BerriAI/litellm#41810) would serve a model the client's key may not use.
 */
function querySuffix(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return '';
  const search = url.slice(q);
  if (search === '?beta=true') return search;
  const beta = new URLSearchParams(search).get('beta');
  return beta === null ? '' : `?beta=${encodeURIComponent(beta)}`;
}
