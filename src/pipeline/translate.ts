/**
 * @module pipeline/translate
 * Different formats: the request inbound → hub → the channel's format (from a large body's skeleton where it can),
 * the answer back the other way, JSON whole or a stream event by event; and an answer of the other shape than the one
 * asked for (a JSON answer to a stream request, a stream to a request not streamed), relayed or translated, through
 * the hub into the shape the client asked for.
 */
import { GatewayError, statusForErrorType, type AnthropicErrorType } from '../errors.ts';
import type { Channel, Endpoint } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import { relayableResponseHeaders } from '../channels/shared/upstream-headers.ts';
import type { Format, FormatId, StreamStage, TranslateContext } from '../formats/types.ts';
import type { Message, MessageCreateParams, RawContentBlockDelta, RawMessageStreamEvent } from '../hub/types.ts';
import { RawStrings, splice } from '../util/json-skeleton.ts';
import { addAnthropicUsage, emptyUsage, type UsageTotals } from '../accounting/usage.ts';
import { estimateInputTokens } from '../accounting/estimate-tokens.ts';
import { SseParser } from '../sse/decode.ts';
import { encodeOneLineEvent, encodeSseEvent } from '../sse/encode.ts';
import { messageStreamEvents } from '../hub/message-events.ts';
import { MessageAccumulator } from '../hub/accumulate.ts';
import type { SseEvent, SseSink } from '../sse/types.ts';
import type { Exchange, RequestLog } from '../http/context.ts';
import { relayStream, type ReadAhead } from './streams.ts';
import { thinkingStyleFor } from './thinking-style.ts';
import { credentialsRefused, finishStreamLog, markFirstByte, recordStreamEnd, relayFailure } from './answer.ts';
import { nestedTooDeep, type Inbound } from './inbound.ts';
import { prepareTools } from './tools-memo.ts';
import { lendBodyBuffer } from './body-buffers.ts';
import { dropFromBody } from './drop-fields.ts';
import { assertNever } from '../util/never.ts';
import { redactKey, redactSecrets, type Secrets } from '../util/redact.ts';

const utf8 = new TextDecoder();

/**
 * Where a translated request goes: the channel's own inference endpoint. A switch, not a table indexed by the format:
 * the engine's optimized code for such a lookup bets on the one key it has seen, and was thrown away each time the
 * traffic turned to the other format (`BUN_JSC_printEachOSRExit=1`: 1,601 exits there over the bench's modes in turn).
 */
export function nativeEndpoint(format: FormatId): Endpoint {
  switch (format) {
    case 'anthropic': return 'messages';
    case 'openai-chat': return 'chat_completions';
    default: return assertNever(format);
  }
}

/**
 * Inbound → hub → the channel's format. A large body is translated from its skeleton (long text left as bytes,
 * util/json-skeleton.ts), unless a converter needs a string's content or a placeholder cannot be put back: then
 * (and for every other body) from the full parse. `release`, when given, must be called once the body has been
 * handed to the channel's `send`: its bytes are then reused (pipeline/body-buffers.ts).
 */
export function translateRequest(inbound: Inbound, channel: Channel, upstreamModel: string, defaultMaxTokens: number, maxTokensCap?: number): Translated {
  const from = FORMATS[inbound.format];
  const to = FORMATS[channel.nativeFormat];
  const newContext = () => translationContext(inbound.model, upstreamModel, defaultMaxTokens, thinkingStyleFor(channel.config, upstreamModel), maxTokensCap);
  let estimate: (() => void) | undefined;
  const prepare = (hub: MessageCreateParams, ctx: TranslateContext, raw?: RawStrings) => {
    ctx.omitThinking = (hub.thinking as { display?: unknown } | undefined)?.display === 'omitted';
    // message_start needs input tokens before an upstream that reports them only at the end does: a sampled estimate
    if (inbound.stream && !to.streamStartsWithUsage) estimate = () => { ctx.estimatedInputTokens = estimateInputTokens(hub, { fast: true, raw, fromJson: true }); };
  };
  const skeleton = inbound.skeleton();
  if (skeleton) {
    const ctx = newContext();
    try {
      let spans = skeleton.spans;
      if (skeleton.tools) {
        // translated before for this channel (pipeline/tools-memo.ts): their bytes go in as one more span
        const prepared = prepareTools(skeleton.tools, channel, spans.length);
        ctx.tools = prepared.tools;
        if (prepared.span) spans = [...spans, prepared.span];
      }
      const hub = from.requestToHub(skeleton.json, ctx);
      prepare(hub, ctx, skeleton.raw);
      // into a buffer lent for this attempt (pipeline/body-buffers.ts): the caller releases it once it is sent
      const buffer = lendBodyBuffer();
      const body = splice(JSON.stringify(upstreamRequest(to, hub, ctx, channel)), spans, buffer.bytes);
      if (body) return { ctx, body, release: buffer.release, estimate };
      buffer.release();
    } catch (err) {
      // a 400 names the client's problem, the same on either path; anything else (NeedsFullParse, or a converter
      // surprised by a placeholder) is retried the ordinary way, which throws again if the fault is real
      if (err instanceof GatewayError) throw err;
    }
  }
  const ctx = newContext();
  try {
    const hub = from.requestToHub(inbound.json(), ctx);
    prepare(hub, ctx);
    return { ctx, body: JSON.stringify(upstreamRequest(to, hub, ctx, channel)), estimate };
  } catch (err) {
    // the converters recurse into the client's structure: a stack overflow there is the client's nesting
    throw nestedTooDeep(err);
  }
}

/**
 * The request in the channel's format, without the channel's drop_fields (pipeline/drop-fields.ts), named in
 * `ctx.dropped` with what the translation itself left out. The converters build a fresh object: ours to change.
 */
function upstreamRequest(to: Format<unknown>, hub: MessageCreateParams, ctx: TranslateContext, channel: Channel): unknown {
  const request = to.requestFromHub(hub, ctx, channel.quirks as never);
  const fields = channel.config.drop_fields;
  if (fields?.length) dropFromBody(request as Record<string, unknown>, fields, ctx.dropped);
  return request;
}

/**
 * A translation's context. Every member there from the start, the optional ones too, in one order: one object shape
 * whichever converters fill it in (members added later, in an order that depends on the formats, made
 * handleInference's optimized code see several shapes at `ctx.dropped` and be thrown away whenever the mode changed:
 * bench/FINDINGS.md "The JIT compiler").
 */
function translationContext(requestedModel: string, upstreamModel: string, defaultMaxTokens: number, thinkingStyle: TranslateContext['thinkingStyle'], maxTokensCap?: number): TranslateContext {
  return {
    requestedModel,
    upstreamModel,
    dropped: [],
    estimatedInputTokens: 0,
    defaultMaxTokens,
    thinkingStyle,
    omitThinking: false,
    streamUsage: false,
    usageEstimated: false,
    maxTokensCap,
    maxTokensSent: undefined,
    tools: undefined,
    historyToolIds: undefined,
    toolNames: undefined,
  };
}

/**
 * The local estimate of a request's input tokens, whatever the client's format (its hub form's: accounting/
 * estimate-tokens.ts), for a relayed answer that reports no usage; 0 when the body cannot be read as a request. Once
 * per such answer, at its end: the body is parsed (if it was not) and converted, what a translation of it costs.
 */
export function estimateInboundTokens(inbound: Inbound): number {
  try {
    const hub = FORMATS[inbound.format].requestToHub(inbound.json(), translationContext(inbound.model, inbound.model, 1, 'none'));
    return estimateInputTokens(hub, { fromJson: true });
  } catch {
    return 0;
  }
}

export interface Translated {
  ctx: TranslateContext;
  body: string | Uint8Array;
  /** When given: call it once the body has been handed to the channel's `send` (its bytes are then reused). */
  release?: () => void;
  /**
   * A streamed request's input-token estimate for message_start (`ctx.estimatedInputTokens`), left for the caller
   * to run once the request is on its way: fetch sends it from its own thread, so the estimate (~200 µs for the
   * bench's 200 KB conversation in-process) uses the time spent waiting for the upstream instead of delaying it.
   * It reads the request's bytes (long strings are priced from them): run it before they are handed back.
   */
  estimate?: () => void;
}

/**
 * One stream's translation: upstream bytes → SSE events → hub events → the client's SSE events → text, in one
 * synchronous pass per upstream chunk, event by event: whatever a chunk completes comes out of that chunk's call.
 * A token's text goes from the upstream's event text to the client's as it came where both formats allow it
 * (formats/types.ts: HubDeltaReader); `literals: false` sends every event the ordinary way (what that is tested
 * against).
 */
export class StreamTranslation {
  /** Usage as the hub events report it (message_start, then message_delta's). */
  readonly usage = emptyUsage();
  stopReason: string | null = null;
  /** The error event the answer ended with (the upstream's, or a stream cut off), for the log line; null if none. */
  failure: GatewayError | null = null;
  /** A message_delta was seen: the hub's mark of an answer that ended as a whole. */
  private ended = false;
  /** The message_stop, or an error event, was handed to the client's format: the text given since ends with its last event. */
  complete = false;
  private readonly parser = new SseParser();
  private readonly toHub: ReturnType<Format<unknown>['streamToHub']>;
  private readonly fromHub: ReturnType<Format<unknown>['streamFromHub']>;
  private readonly sink: SseSink;
  private readonly hub: RawMessageStreamEvent[] = [];
  private readonly sseOut: SseEvent[] = [];
  private text = '';

  /**
   * `key`: the channel's credential, masked (with anything shaped like one) in an error event's message before the
   * client's format writes it: the upstream's text, which may echo the key it was given, as an error body may.
   */
  constructor(client: FormatId, upstream: FormatId, ctx: TranslateContext, quirks: unknown, literals = true, private readonly key?: Secrets) {
    const toHub = (this.toHub = FORMATS[upstream].streamToHub(ctx, quirks as never));
    const fromHub = (this.fromHub = FORMATS[client].streamFromHub(ctx));
    const sink: SseSink = (this.sink = { event: (ev) => { toHub.push(ev, this.hub); this.hubOut(); } });
    const { deltaLiteral } = toHub;
    const { deltaEvent } = fromHub;
    if (literals && deltaLiteral && deltaEvent) {
      sink.data = (s, start, end, named) => {
        const literal = deltaLiteral.call(toHub, s, start, end, named);
        if (literal === null) return false;
        const kind = toHub.literalKind!;
        const index = toHub.literalIndex!;
        const written = deltaEvent.call(fromHub, kind, index, literal);
        if (written !== null) this.text += written;
        else {
          // the client's side writes it some other way: the hub event the reader stands for, the ordinary way
          const value = JSON.parse(literal) as string;
          const delta: RawContentBlockDelta = kind === 'text' ? { type: 'text_delta', text: value }
            : kind === 'thinking' ? { type: 'thinking_delta', thinking: value } : { type: 'input_json_delta', partial_json: value };
          this.hub.push({ type: 'content_block_delta', index, delta });
          this.hubOut();
        }
        return true;
      };
    }
  }

  /**
   * The answer's usage, once it has ended. One that ended before its message_delta (its connection cut, its client
   * gone, an error event) gets what the upstream's stage counted so far (formats/types.ts: UsageSoFar) over
   * message_start's placeholder, and the request's estimate (`inbound`) for an input still 0 (an Anthropic-compatible
   * server that reports it in message_delta only: Z.ai). Before noteTranslation, which reads the `ctx.usageEstimated`
   * this may set.
   */
  finalUsage(inbound: Inbound): UsageTotals {
    if (!this.ended) {
      const sofar = this.toHub.usageSoFar?.();
      if (sofar) {
        addAnthropicUsage(this.usage, sofar);
        if (this.usage.input_tokens === 0) this.usage.input_tokens = estimateInboundTokens(inbound);
      }
    }
    return this.usage;
  }

  /** The client's text for one upstream chunk, or for the end of the upstream's body (null); null when none. */
  translate(chunk: Uint8Array | null): string | null {
    this.text = '';
    if (chunk) this.parser.feed(chunk, this.sink);
    else {
      this.parser.finish(this.sink);
      this.toHub.end(this.hub);
      this.hubOut();
      this.fromHub.end(this.sseOut);
      this.hubOut();
      // no message_delta by the end: the client was told the answer is incomplete (its format's error)
      if (!this.ended && this.failure === null) this.failure = incomplete();
    }
    return this.text || null;
  }

  private hubOut() {
    const { hub, sseOut, usage } = this;
    for (const ev of hub) {
      if (ev.type === 'message_start') addAnthropicUsage(usage, ev.message.usage);
      else if (ev.type === 'message_delta') { addAnthropicUsage(usage, ev.usage); this.stopReason = ev.delta.stop_reason; this.ended = true; }
      else if (ev.type === 'message_stop') {
        this.complete = true;
        // no message_delta before it: the client is told the answer is incomplete (its format's error), and the relay
        // ends here, before the end of the upstream's body would say so
        if (!this.ended && this.failure === null) this.failure = incomplete();
      }
      else if (ev.type === 'error') {
        if (typeof ev.error.message === 'string') ev.error.message = redactSecrets(redactKey(ev.error.message, this.key));
        this.failure = new GatewayError(502, ev.error.type as AnthropicErrorType, ev.error.message);
        // the hub stream's last event (the upstream's stage sends nothing after it): the relay ends here, as at
        // message_stop, whether or not the upstream closes its body
        this.complete = true;
      }
      this.fromHub.push(ev, sseOut);
    }
    for (const ev of sseOut) this.text += encodeOneLineEvent(ev); // one-line data: Format.streamFromHub
    hub.length = 0; sseOut.length = 0;
  }
}

const incomplete = () => new GatewayError(502, 'api_error', 'upstream stream ended before the message was complete');

const SSE = 'text/event-stream; charset=utf-8';
const JSON_TYPE = 'application/json';

/**
 * A translated answer's headers: its type, the request id as `request-id` (Anthropic's SDK reads it) and, to a Chat
 * Completions client, as `x-request-id` too (the openai SDK's `_request_id`).
 */
function answerHeaders(x: Exchange, type: typeof SSE | typeof JSON_TYPE): Record<string, string> {
  const headers: Record<string, string> = type === SSE
    ? { 'content-type': SSE, 'cache-control': 'no-cache', 'request-id': x.requestId }
    : { 'content-type': JSON_TYPE, 'request-id': x.requestId };
  if (x.format === 'openai-chat') headers['x-request-id'] = x.requestId;
  return headers;
}

/** Upstream stream → the client's format, one synchronous pass per upstream chunk, relayed as it comes. */
export function relayTranslatedStream(x: Exchange, inbound: Inbound, channel: Channel, start: ReadAhead<Uint8Array>, upstream: AbortController, ctx: TranslateContext): Response {
  const log = x.log;
  const translation = new StreamTranslation(inbound.format, channel.nativeFormat, ctx, channel.quirks, true, channel.secrets);
  // written as strings: Bun encodes them into the socket's buffer as it writes, no bytes of our own in between
  const translate = (chunk: Uint8Array | null) => translation.translate(chunk);
  const headers = answerHeaders(x, SSE);
  setDropped(headers, ctx);
  markFirstByte(log);
  log.deferred = true;
  const body = relayStream(start, {
    idleMs: channel.config.stream_idle_timeout_ms,
    client: x.req.signal,
    map: translate,
    flush: () => translate(null),
    errorTail: (err) => encodeSseEvent(FORMATS[inbound.format].streamErrorEvent(relayFailure(err))),
    endsStream: () => translation.complete,
    onEnd(outcome, whole, cut) {
      // cancelled, failed, or ended at its last event while the upstream kept its connection: close that too
      if (outcome !== undefined || cut) upstream.abort();
      const usage = translation.finalUsage(inbound);
      // what the answer could not carry is known only as it streams (a tool call's arguments that were not JSON)
      noteTranslation(log, ctx);
      // an error event the answer ended with counts over what came after it (the client leaving once it read it); a
      // client that left once it had the last event was answered in full
      finishStreamLog(log, usage, translation.failure ?? (whole && outcome === 'cancelled' ? undefined : outcome), translation.stopReason, channel.secrets);
    },
  });
  log.entry.status = 200;
  return new Response(body, { status: 200, headers });
}

/** A whole JSON answer (read by the caller), translated into the client's format. */
export function answerTranslatedJson(x: Exchange, inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext): Response {
  const message = upstreamMessage(inbound, channel, buf, ctx);
  let answer: string;
  try {
    answer = JSON.stringify(FORMATS[inbound.format].responseFromHub(message, ctx));
  } catch (err) {
    throw untranslatable(channel, err);
  }
  logMessage(x, message, ctx);
  const headers = answerHeaders(x, JSON_TYPE);
  setDropped(headers, ctx);
  return new Response(answer, { status: 200, headers });
}

/**
 * A whole JSON answer to a streamed request (a provider or proxy that ignores `stream`): translated like any JSON
 * answer (an error envelope in it becomes the error, before any byte), then sent as the stream the client asked for.
 */
export function answerTranslatedJsonAsStream(x: Exchange, inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext): Response {
  if (looksLikeSse(buf)) return answerWholeStream(x, inbound, channel, buf, ctx);
  const message = upstreamMessage(inbound, channel, buf, ctx);
  let text: string;
  try {
    text = messageAsStream(inbound.format, message, ctx);
  } catch (err) {
    throw untranslatable(channel, err);
  }
  logMessage(x, message, ctx);
  const headers = answerHeaders(x, SSE);
  setDropped(headers, ctx);
  return new Response(text, { status: 200, headers });
}

/** A hub Message as the text of the client's stream (hub/message-events.ts, then the format's streamFromHub). */
function messageAsStream(client: FormatId, message: Message, ctx: TranslateContext): string {
  let text = '';
  const fromHub = FORMATS[client].streamFromHub(ctx);
  const events: SseEvent[] = [];
  for (const ev of messageStreamEvents(message)) fromHub.push(ev, events);
  fromHub.end(events);
  for (const ev of events) text += encodeOneLineEvent(ev);
  return text;
}

/**
 * A relayed stream request (the channel's format is the client's) answered with a whole JSON answer: an upstream that
 * ignores `stream` (older Ollama with tools, a server or proxy that buffers). The client's SDK reads no JSON where it
 * asked for a stream, so it gets the stream that carries the same answer, through the hub as a translation's JSON
 * answer does: read by the format's relayedResponseToHub (the model the answer names, no quirk that rewrites it), then
 * written by its streamFromHub. Usage and stop reason logged as for a stream; what the stream cannot carry (a
 * Chat answer's `logprobs`, `system_fingerprint`, a second choice) named in `x-switchboard-dropped` and the log line,
 * with what the request left out (drop_fields). The upstream's headers go on as a relay's do. Null for JSON that is
 * no answer in the format (no choices, no content, an error envelope inside the 200): the caller's 502, which falls back.
 */
export function answerRelayedJsonAsStream(x: Exchange, inbound: Inbound, channel: Channel, res: Response, buf: Uint8Array): Response | null {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(buf));
  } catch {
    return null;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const named = (json as { model?: unknown }).model;
  const model = typeof named === 'string' && named !== '' ? named : inbound.model;
  const ctx = translationContext(model, x.log.entry.upstream_model ?? model, 1, 'none');
  ctx.streamUsage = (inbound.json() as { stream_options?: { include_usage?: unknown } | null }).stream_options?.include_usage === true;
  // an answer without usage (some local servers), or without its input count: the request's estimate, as a translation gives
  if (lacksInputCount(json)) ctx.estimatedInputTokens = estimateInboundTokens(inbound);
  const before = x.log.entry.dropped;
  if (before) ctx.dropped.push(...before);
  let message: Message;
  let text: string;
  try {
    message = FORMATS[channel.nativeFormat].relayedResponseToHub(json, ctx);
    text = messageAsStream(inbound.format, message, ctx);
  } catch {
    return null;
  }
  logMessage(x, message, ctx);
  const headers = relayableResponseHeaders(res.headers, x.requestId, inbound.format === 'openai-chat', channel.credentialHeaders);
  headers.set('content-type', SSE);
  headers.set('cache-control', 'no-cache');
  if (ctx.dropped.length) headers.set('x-switchboard-dropped', droppedHeader(ctx.dropped));
  x.dropped = undefined; // in the header already, with what the stream could not carry
  return new Response(text, { status: 200, headers });
}

/**
 * A relayed request that asked for no stream (the channel's format is the client's) answered with an event stream,
 * read whole by the caller: an upstream or proxy that always streams. The client's SDK reads no stream where it asked
 * for none, so it gets the whole answer the stream carries, through the hub: read by the format's relayedStreamToHub,
 * gathered into a Message (hub/accumulate.ts), written by its responseFromHub. Usage and stop reason logged as for a
 * JSON answer; what the answer cannot carry (a Chat chunk's `logprobs`, `system_fingerprint`) named in
 * `x-switchboard-dropped` and the log line, with what the request left out (drop_fields); the upstream's headers go on
 * as a relay's do. A stream that carries an error event, or ends before its message did, is that failure (the
 * caller's: the next channel, or the error in the client's envelope), the channel's key masked in its message.
 */
export function answerRelayedStreamAsJson(x: Exchange, inbound: Inbound, channel: Channel, res: Response, buf: Uint8Array): Response | GatewayError | null {
  const format = FORMATS[channel.nativeFormat];
  const ctx = translationContext(inbound.model, x.log.entry.upstream_model ?? inbound.model, 1, 'none');
  // a stream that reports its input only at its end, if at all: the request's estimate, as a translation gives
  if (!format.streamStartsWithUsage) ctx.estimatedInputTokens = estimateInboundTokens(inbound);
  const before = x.log.entry.dropped;
  if (before) ctx.dropped.push(...before);
  const text = wholeAnswerOf(x, inbound, channel, () => format.relayedStreamToHub(ctx), buf, ctx, true);
  if (typeof text !== 'string') return text;
  const headers = relayableResponseHeaders(res.headers, x.requestId, inbound.format === 'openai-chat', channel.credentialHeaders);
  headers.set('content-type', JSON_TYPE);
  headers.delete('cache-control');
  if (ctx.dropped.length) headers.set('x-switchboard-dropped', droppedHeader(ctx.dropped));
  x.dropped = undefined; // in the header already, with what the answer could not carry
  return new Response(text, { status: 200, headers });
}

/**
 * A translated request that asked for no stream, answered with an event stream in the channel's format (read whole
 * by the caller): an upstream or proxy that always streams. The client gets the whole answer the stream carries:
 * read by the channel format's streamToHub with the translation's context and the channel's quirks, as the same
 * stream streamed would be (pipeline/translate.ts: StreamTranslation), gathered into a Message (hub/accumulate.ts)
 * and written by the client format's responseFromHub, as a translated JSON answer is (answerTranslatedJson). Usage
 * logged (the local estimate where the stream reported none, marked), what the translation could not carry named in
 * `x-switchboard-dropped`. A stream that carries an error event, or ends before its message did, is that failure (the
 * caller's: the next channel, or the error in the client's envelope); null for a body that is no event stream, or one
 * with no message in it (comments only): the caller's 502.
 */
export function answerTranslatedStreamAsJson(x: Exchange, inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext): Response | GatewayError | null {
  if (!looksLikeSse(buf)) return null;
  const format = FORMATS[channel.nativeFormat];
  // message_start needs input tokens before an upstream that reports them only at the end does, as a stream's
  if (!format.streamStartsWithUsage) ctx.estimatedInputTokens = estimateInboundTokens(inbound);
  const text = wholeAnswerOf(x, inbound, channel, () => format.streamToHub(ctx, channel.quirks as never), buf, ctx, false);
  if (typeof text !== 'string') return text;
  const headers = answerHeaders(x, JSON_TYPE);
  setDropped(headers, ctx);
  return new Response(text, { status: 200, headers });
}

/**
 * An event stream read whole, through `stage` into the hub, as the client format's whole JSON answer (its text), the
 * message logged: for answerRelayedStreamAsJson (`relayed`: the model the stream names) and answerTranslatedStreamAsJson.
 * The failure it carries (gatheredFailure), or null for no message at all.
 */
function wholeAnswerOf(x: Exchange, inbound: Inbound, channel: Channel, stage: () => StreamStage<SseEvent, RawMessageStreamEvent>, buf: Uint8Array, ctx: TranslateContext, relayed: boolean): string | GatewayError | null {
  let gathered: MessageAccumulator;
  let message: Message | null;
  let text = '';
  try {
    gathered = gatherStream(stage(), buf);
    message = gathered.error ? null : gathered.final();
    if (message && gathered.ended) {
      if (relayed) ctx.requestedModel = message.model;
      message.usage = countedUsage(message, inbound, ctx);
      text = JSON.stringify(FORMATS[inbound.format].responseFromHub(message, ctx));
    }
  } catch (err) {
    return unreadableStream(channel, err);
  }
  const failed = gatheredFailure(channel, gathered, message);
  if (failed !== undefined) return failed;
  logMessage(x, message!, ctx);
  return text;
}

/** An event stream read whole, through a format's stage into the hub, gathered into its message (hub/accumulate.ts). */
function gatherStream(stage: StreamStage<SseEvent, RawMessageStreamEvent>, buf: Uint8Array): MessageAccumulator {
  const gathered = new MessageAccumulator();
  const hub: RawMessageStreamEvent[] = [];
  const parser = new SseParser();
  const sink: SseSink = { event: (ev) => { stage.push(ev, hub); for (const h of hub) gathered.push(h); hub.length = 0; } };
  parser.feed(buf, sink);
  parser.finish(sink);
  stage.end(hub);
  for (const h of hub) gathered.push(h);
  return gathered;
}

/**
 * What a gathered stream that gave no whole message is: its error event (the status its type has, the channel's key
 * masked in its message), null for no message at all (comments only: the caller's 502), the 502 of a stream that
 * ended before its message did; undefined for a whole message.
 */
function gatheredFailure(channel: Channel, gathered: MessageAccumulator, message: Message | null): GatewayError | null | undefined {
  if (gathered.error) {
    const { type, message: said } = gathered.error;
    const status = statusForErrorType(type);
    if (status === 401 || status === 403) return credentialsRefused(channel, status, { error: { type, message: said } });
    return new GatewayError(status, type as AnthropicErrorType, redactSecrets(redactKey(String(said), channel.secrets)));
  }
  if (!message) return null;
  if (!gathered.ended) return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream stream ended before the message was complete`);
  return undefined;
}

/** A stream event the stage cannot read, or a message the client's format cannot write: the attempt's failure. */
function unreadableStream(channel: Channel, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream stream cannot be read as a whole answer (${(err as Error)?.message?.slice(0, 120) ?? 'malformed'})`);
}

/**
 * A gathered message's usage with the counts its stream did not report (an Anthropic-compatible server without usage
 * in message_start) estimated, as a JSON answer's are (formats/anthropic: estimatedUsage): the input the request's,
 * the output ~4 characters a token of its content; marked as an estimate. The usage as it is when both are counts.
 */
function countedUsage(message: Message, inbound: Inbound, ctx: TranslateContext): Message['usage'] {
  const usage = message.usage ?? {};
  const input = typeof usage.input_tokens === 'number', output = typeof usage.output_tokens === 'number';
  if (input && output) return usage;
  ctx.usageEstimated = true;
  let chars = 0;
  for (const b of message.content as Array<{ type: string; text?: string; thinking?: string; input?: unknown }>) {
    chars += b.type === 'text' ? (b.text ?? '').length : b.type === 'thinking' ? (b.thinking ?? '').length : b.type === 'tool_use' ? JSON.stringify(b.input ?? {}).length : 0;
  }
  return { ...usage, input_tokens: input ? usage.input_tokens : estimateInboundTokens(inbound), output_tokens: output ? usage.output_tokens : Math.ceil(chars / 4) };
}

/**
 * An event stream labelled as JSON (a proxy that sets `application/json` on everything), read whole by the time its
 * label was looked at: translated like any stream, in one pass, and answered in one write.
 */
function answerWholeStream(x: Exchange, inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext): Response {
  const translation = new StreamTranslation(inbound.format, channel.nativeFormat, ctx, channel.quirks, true, channel.secrets);
  const text = (translation.translate(buf) ?? '') + (translation.translate(null) ?? '');
  const usage = translation.finalUsage(inbound);
  noteTranslation(x.log, ctx);
  recordStreamEnd(x.log, usage, translation.failure ?? undefined, translation.stopReason, channel.secrets);
  const headers = answerHeaders(x, SSE);
  setDropped(headers, ctx);
  return new Response(text, { status: 200, headers });
}

/**
 * The body starts as an event stream does (`data:`, `event:`, `id:` or a `:` comment), after a UTF-8 byte order mark
 * (the event stream format allows one: https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream,
 * `stream = [ bom ] *event`; some .NET and Java servers write it, and SseParser's decoder drops it) and blank space.
 */
export function looksLikeSse(buf: Uint8Array): boolean {
  let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (i < buf.length && (buf[i] === 32 || buf[i] === 10 || buf[i] === 13 || buf[i] === 9)) i++;
  if (buf[i] === 58 /* : */) return true;
  const head = utf8.decode(buf.subarray(i, i + 6));
  return head.startsWith('data:') || head.startsWith('event:') || head.startsWith('id:');
}

/** An upstream's whole JSON answer turned into a hub Message. */
function upstreamMessage(inbound: Inbound, channel: Channel, buf: Uint8Array, ctx: TranslateContext): Message {
  const text = utf8.decode(buf);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatewayError(502, 'api_error', `channel ${channel.name}: upstream returned a body that is not JSON`);
  }
  // an answer without usage (some local servers), or without its input count, is logged and answered with the local
  // estimate, as a stream is; a Messages client's request is the hub's own shape
  if (lacksInputCount(json)) {
    ctx.estimatedInputTokens = inbound.format === 'anthropic'
      ? estimateInputTokens(inbound.json() as unknown as MessageCreateParams, { fromJson: true })
      : estimateInboundTokens(inbound);
  }
  try {
    return FORMATS[channel.nativeFormat].responseToHub(json, ctx, channel.quirks as never);
  } catch (err) {
    throw untranslatable(channel, err);
  }
}

/** Whether a JSON answer reports no input count: no usage, or one without Anthropic's `input_tokens` or Chat's `prompt_tokens`. */
function lacksInputCount(json: unknown): boolean {
  const usage = (json as { usage?: { input_tokens?: unknown; prompt_tokens?: unknown } | null } | null)?.usage;
  return !usage || typeof usage !== 'object' || (typeof usage.input_tokens !== 'number' && typeof usage.prompt_tokens !== 'number');
}

/**
 * A shape the converters do not expect (a null where an object belongs, nesting past the stack): the upstream's
 * answer is at fault, not the gateway. A GatewayError (an error envelope inside the answer) stays as it is, the
 * channel's key masked in its message (the upstream's text, for the client and the log line, as in an error body).
 */
function untranslatable(channel: Channel, err: unknown): GatewayError {
  if (err instanceof GatewayError) {
    err.message = redactKey(err.message, channel.secrets);
    return err;
  }
  return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream returned an answer that cannot be translated (${(err as Error)?.message?.slice(0, 120) ?? 'malformed'})`);
}

/** The answer's usage and stop reason into the request's log line, and what its translation left out. */
function logMessage(x: Exchange, message: Message, ctx: TranslateContext) {
  noteTranslation(x.log, ctx);
  const usage = emptyUsage();
  addAnthropicUsage(usage, message.usage);
  Object.assign(x.log.entry, usage);
  x.log.entry.stop_reason = message.stop_reason;
}

/** What the translation could not carry, and whether the usage it gave is a local estimate, into the log line. */
function noteTranslation(log: RequestLog, ctx: TranslateContext) {
  if (ctx.dropped.length) log.entry.dropped = ctx.dropped;
  if (ctx.usageEstimated) log.entry.usage_estimated = true;
}

/**
 * Name what the translation could not carry (README: "What a translation cannot carry"). The names come from the
 * client's field names, so a character a header value cannot hold (beyond printable ASCII: a control character, any
 * non-ASCII letter) is written as `\uXXXX`; the log line's `dropped` keeps them as they were.
 */
function setDropped(headers: Record<string, string>, ctx: TranslateContext) {
  if (ctx.dropped.length) headers['x-switchboard-dropped'] = droppedHeader(ctx.dropped);
}

function droppedHeader(dropped: string[]): string {
  return [...new Set(dropped)].join(', ').replace(NOT_PRINTABLE_ASCII, asUnicodeEscape).slice(0, DROPPED_HEADER_MAX);
}

/** The longest `x-switchboard-dropped` value: a header line stays far below what clients take (Node: 16 KB in all). */
export const DROPPED_HEADER_MAX = 4000;

const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/g;
const asUnicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
