/**
 * @module formats/types
 * The contract every wire format implements. The hub is the Anthropic Messages shape (hub/types.ts).
 *
 * A format plays two roles:
 * - inbound (a client speaks it):   requestToHub, responseFromHub, streamFromHub, errorBody
 * - upstream (a channel speaks it): requestFromHub, responseToHub, streamToHub, errorToGateway
 * When the inbound format equals the channel's, none of these run: bytes pass through (pipeline/passthrough.ts).
 */
import type { GatewayError } from '../errors.ts';
import type { Message, MessageCreateParams, RawMessageStreamEvent, Tool, Usage } from '../hub/types.ts';
import type { SseEvent } from '../sse/types.ts';
import type { SkeletonRules } from '../util/json-skeleton.ts';

export type FormatId = 'anthropic' | 'openai-chat';

/**
 * A synchronous stream stage: `push` one item in, get zero or more out; `end` flushes at end of input.
 * Stages are composed by the pipeline into one pass per upstream chunk (no Web Streams pipe per stage on the
 * hot path); `stageToTransform` wraps one as a TransformStream where a stream is handier (tests).
 * A stage may throw a GatewayError for input it cannot translate; the pipeline ends the stream with it.
 */
export interface StreamStage<I, O> {
  push(item: I, out: O[]): void;
  end(out: O[]): void;
}

/**
 * Optional on a streamToHub stage: a token's text read straight from the upstream's event text, for a stream whose
 * client format can write it straight back (HubDeltaWriter): the JSON literal goes from one side to the other as it
 * came. Most events of a translated stream are one token each; made into an SseEvent, a parsed chunk, a hub event
 * and an SseEvent again, they cost a 100-token burst about as much as the rest of the gateway's work on it (304
 * against 168 µs of CPU with the translation's output replayed instead; with literals 290 → 230 µs, bench/ab.ts
 * --stream --delay 0 --model bench-openai).
 */
export interface HubDeltaReader {
  /**
   * For the upstream event whose whole data is `s[start, end)` (one `data:` line, after an `event:` line when
   * `named`, no other field): when push() would turn it into exactly one text_delta, thinking_delta or
   * input_json_delta and nothing else, with its string written as JSON.stringify writes it, that JSON string literal
   * (quotes included), the stage advanced as push() would advance it, and the delta's block index in
   * `literalIndex` and its kind in `literalKind`. Otherwise null, nothing changed: the event goes to push().
   */
  deltaLiteral(s: string, start: number, end: number, named: boolean): string | null;
  readonly literalIndex: number;
  readonly literalKind: DeltaKind;
}

/**
 * Optional on a streamToHub stage whose format reports usage only at the end (its message_delta comes at the end of
 * the upstream's body): the usage of an answer that ended before that, cut off or left by its client, as its
 * message_delta would have said it (the upstream's own counts when they came, else the estimate, with
 * `ctx.usageEstimated` set); null when nothing was streamed. Asked once, at such an end; never on the way.
 */
export interface UsageSoFar {
  usageSoFar(): Partial<Usage> | null;
}

/** A delta carried as a literal: text_delta, thinking_delta or input_json_delta. */
export type DeltaKind = 'text' | 'thinking' | 'json';

/**
 * Optional on a streamFromHub stage: the SSE text push() and the pipeline's encoding give for such a delta, the
 * stage advanced as push() would advance it; null when push() would write anything else for it (or nothing), the
 * stage unchanged: the delta then goes to push() as a hub event.
 */
export interface HubDeltaWriter {
  deltaEvent(kind: DeltaKind, index: number, literal: string): string | null;
}

export function stageToTransform<I, O>(stage: StreamStage<I, O>): TransformStream<I, O> {
  const out: O[] = [];
  const drain = (controller: TransformStreamDefaultController<O>) => {
    for (const o of out) controller.enqueue(o);
    out.length = 0;
  };
  return new TransformStream<I, O>({
    transform(item, controller) { stage.push(item, out); drain(controller); },
    flush(controller) { stage.end(out); drain(controller); },
  });
}

/**
 * Per-request state shared by the converters of one translated exchange. The gateway makes it in one place
 * (pipeline/translate.ts: `newContext`) with every member set, the optional ones too, so that every context has one
 * object shape whatever the formats: a member added here belongs there as well (bench/FINDINGS.md "The JIT compiler").
 */
export interface TranslateContext {
  /** The model name the client asked for: responses report this name. */
  requestedModel: string;
  /** The name sent upstream (after the channel's model map). */
  upstreamModel: string;
  /**
   * What could not be carried across, one short item each (`top_k`, `tools.web_search (server tool)`).
   * Surfaced to the client in the `x-switchboard-dropped` header and logged.
   */
  dropped: string[];
  /** Local estimate of the request's input tokens, for stream starts where the upstream reports none yet. */
  estimatedInputTokens: number;
  /** For requests translated into Anthropic: `max_tokens` when the client set none. */
  defaultMaxTokens: number;
  /** For requests translated into Anthropic: how the target model takes thinking (per channel config and model). */
  thinkingStyle: 'adaptive' | 'budget' | 'none';
  /** The request set `thinking.display: "omitted"`: thinking blocks keep their place and signature but no text. */
  omitThinking?: boolean;
  /**
   * Upstream role: the answer reported no usage (some local servers), so the usage the converter gave is the local
   * estimate (input from the request, output from the answer's length); the request's log line says so.
   */
  usageEstimated?: boolean;
  /**
   * Upstream role: a ceiling on the output tokens asked for, below the client's `max_tokens` and the channel's
   * configured ceilings (pipeline/output-ceilings.ts: one the provider named when it refused a larger value).
   */
  maxTokensCap?: number;
  /** Upstream role: the output-token limit the converter put in the request (after every ceiling), if any. */
  maxTokensSent?: number;
  /** Inbound role: the client asked for usage at the end of the stream (Chat Completions `stream_options.include_usage`). */
  streamUsage?: boolean;
  /**
   * The request's tools, translated before (pipeline/tools-memo.ts): the body the inbound converter gets has an
   * empty `tools`, and it takes these instead.
   */
  tools?: PreparedTools;
  /**
   * Upstream role: the ids of the calls in the request's history (as the client sent them, a carried signature left
   * out), noted by the request converter. An answer's call whose upstream id is one of them gets a fresh id: some
   * providers number calls per answer (`call_0`, Kimi's `Read:0`) and Claude Code drops a call whose id its history
   * already holds ("[Tool use interrupted]"), then asks again, for ever. A list, not a Set: built for every request
   * with tool calls in its history, looked in only for an answer's few calls.
   */
  historyToolIds?: readonly string[];
  /**
   * Upstream role: the tool names sent under an alias because the provider would refuse them (formats/openai-chat/
   * tool-names.ts: longer than 64 characters…), alias → the client's name, noted by the request converter; an answer's
   * calls are given back under the client's name. Undefined when every name went as it is.
   */
  toolNames?: Map<string, string>;
  /**
   * Inbound role (Chat Completions): how many `prompt_cache_breakpoint` parts became `cache_control`, so the request
   * converter fits them to Anthropic's rules (at most 4, longer lifetimes first) only when there are some.
   */
  cacheBreakpoints?: number;
}

/** A request's tools prepared once for many requests (pipeline/tools-memo.ts). Shared: never mutated. */
export interface PreparedTools {
  /** Hub form of the client's tools: what the inbound converter puts in `hub.tools`. */
  readonly hub: Tool[];
  /** How many tools the client sent (the hub form may hold fewer). */
  readonly clientCount: number;
  /**
   * The channel's form, ready as bytes: when `hub.tools` is still `hub` (the very array), the channel's converter
   * writes `placeholder` as the value of its tools field, and takes `names`, `count` and `dropped` as what its own
   * translation would have given. Null: the channel's converter translates `hub` itself.
   */
  readonly upstream: {
    placeholder: string; names: ReadonlySet<string>; count: number; dropped: readonly string[];
    /** The tools sent under another name than the client's (TranslateContext.toolNames), upstream name → client's; null: none. */
    renamed: ReadonlyMap<string, string> | null;
  } | null;
}

export interface Format<Quirks = undefined> {
  readonly id: FormatId;

  // ---- inbound role ----
  /** Validate an inbound JSON body (already parsed) and convert it to the hub. Throws GatewayError(400) naming the field. */
  requestToHub(body: unknown, ctx: TranslateContext): MessageCreateParams;
  responseFromHub(message: Message, ctx: TranslateContext): unknown;
  /**
   * Hub events → this format's SSE events (including any terminator such as `[DONE]`). Each event's `data` is one
   * line (serialised JSON or such a marker): the pipeline writes it without searching it for line breaks.
   */
  streamFromHub(ctx: TranslateContext): StreamStage<RawMessageStreamEvent, SseEvent> & Partial<HubDeltaWriter>;
  /** Render a gateway error in this format's envelope. */
  errorBody(err: GatewayError, requestId: string): unknown;
  /** A failure after streaming began, as this format's in-stream error event. */
  streamErrorEvent(err: GatewayError): SseEvent;
  /**
   * Where a request body of this format carries long text that converters only move (util/json-skeleton.ts):
   * large translated bodies are converted with those strings left undecoded. Every converter treats such
   * strings as opaque (copy, concatenate), or reads them through realString().
   */
  readonly verbatimText: SkeletonRules;
  /**
   * Optional: this format's `tools` array on its own (parsed) → hub tools; throws for tools it would refuse (the
   * request is then translated the ordinary way, which names the field). Lets a large body's tools be translated
   * once for every request that sends the same bytes (pipeline/tools-memo.ts); requestToHub then finds them in
   * `ctx.tools`.
   */
  toolsToHub?(tools: unknown[]): Tool[];

  // ---- upstream role ----
  requestFromHub(hub: MessageCreateParams, ctx: TranslateContext, quirks: Quirks): unknown;
  /**
   * Optional: hub tools → this format's tools value (serialised as it is), the name of each tool offered, and
   * what could not be carried: exactly what requestFromHub gives for them, so it can take `ctx.tools.upstream`; and
   * the tools it gave another name than the client's (upstream name → client's), if any.
   */
  toolsFromHub?(tools: Tool[], quirks: Quirks): { value: unknown; names: string[]; dropped: string[]; renamed?: ReadonlyMap<string, string> };
  responseToHub(body: unknown, ctx: TranslateContext, quirks: Quirks): Message;
  /**
   * A whole answer of this format read into the hub for a client of this same format: a relayed stream request that
   * the upstream answered with JSON (one that ignores `stream`), sent on as the client's stream (streamFromHub). As
   * responseToHub reads it, with no quirk that changes what it says; what the hub cannot carry back into this format's
   * stream is named in `ctx.dropped` (the client, relayed, would have had it). Throws as responseToHub does.
   */
  relayedResponseToHub(body: unknown, ctx: TranslateContext): Message;
  /**
   * A stream of this format read into the hub for a client of this same format that asked for no stream: a relayed
   * request that the upstream answered with an event stream (one that always streams), gathered into the whole
   * answer (hub/accumulate.ts) and written by responseFromHub. As streamToHub reads it, with no quirk that changes what
   * it says, the message's id and model as the stream gave them; what the whole answer cannot carry named in
   * `ctx.dropped` (the client, relayed, would have had it).
   */
  relayedStreamToHub(ctx: TranslateContext): StreamStage<SseEvent, RawMessageStreamEvent>;
  /** Upstream SSE events → hub events. Must emit a complete, valid Anthropic event sequence. */
  streamToHub(ctx: TranslateContext, quirks: Quirks): StreamStage<SseEvent, RawMessageStreamEvent> & Partial<HubDeltaReader & UsageSoFar>;
  /**
   * Whether this format's streams report the input tokens before any content (Anthropic's message_start does); when
   * they do not, streamToHub starts the hub stream with `ctx.estimatedInputTokens`, which the pipeline then makes.
   */
  readonly streamStartsWithUsage: boolean;
  /** An upstream error response (status + parsed body, or text) → GatewayError with the matching type. */
  errorToGateway(status: number, body: unknown): GatewayError;
  /**
   * Whether a chunk of an upstream stream in this format ends with the stream's last event, as an event of its own
   * (sse/decode.ts endsWithEvent: a text that quotes it is none). A first chunk that does is checked for the end of the
   * body (an answer that came whole is sent in one write); a relayed stream ends at it (pipeline/streams.ts).
   * `before`: the chunk read before it, where the last event may have begun.
   */
  endsStream(chunk: Uint8Array, before?: Uint8Array | null): boolean;
  /**
   * Whether a chunk of an upstream stream in this format ends with an error event (Anthropic's `event: error`, an
   * OpenAI-compatible server's `data: {"error": …}`), the stream's last word: nothing follows it in either format, so
   * a relay, or a stream read whole, ends there as at endsStream's event, whether or not the upstream closes its
   * body (one that holds its connection would otherwise hold the client until the idle timeout). Asked only where an
   * error is known to have come (a relay's usage tap saw one), or once per read of a stream read whole: a look at the
   * chunk's last event (sse/decode.ts: lastEventStart), parsed only when it holds `"error"`. `before`: the chunk read
   * before it, where the error event may have begun (a server or proxy that cuts its writes anywhere); only that
   * event's start, the tail of `before`, is joined to `chunk`, and only when `chunk` holds no event's start of its own
   * (sse/decode.ts: joinedLastEvent).
   */
  endsWithError(chunk: Uint8Array, before?: Uint8Array | null): boolean;
}
