/**
 * @module formats/anthropic
 * The identity adapter: the hub IS Anthropic Messages. It exists so the pipeline composes every
 * translation the same way (e.g. Chat Completions client → anthropic channel) with no special case.
 */
import { GatewayError, NotAnAnswer, errorTypeForStatus, isAnthropicErrorType, type AnthropicErrorType } from '../../errors.ts';
import type { ContentBlock, Message, MessageCreateParams, RawContentBlockDelta, RawMessageDeltaEvent, RawMessageStreamEvent, Tool, Usage } from '../../hub/types.ts';
import { MessageCreateParamsSchema, ToolsSchema, isPlainMessageCreateParams } from '../../hub/schema.ts';
import { parseOrThrow } from '../../util/validate.ts';
import { quoteJson } from '../../util/quote-json.ts';
import { EventTemplate, NO_PREFIX } from '../../util/event-template.ts';
import type { SseEvent } from '../../sse/types.ts';
import { endsWithEvent, joinedLastEvent, lastEventStart, lineAt } from '../../sse/decode.ts';
import { oneLineEventParts } from '../../sse/encode.ts';
import type { DeltaKind, Format, HubDeltaReader, HubDeltaWriter, StreamStage, TranslateContext, UsageSoFar } from '../types.ts';

const HUB_EVENT_TYPES = new Set<string>([
  'message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error',
]);

export function anthropicErrorBody(err: GatewayError, requestId: string) {
  const error = err.details ? { type: err.type, message: err.message, details: err.details } : { type: err.type, message: err.message };
  return { type: 'error', error, request_id: requestId };
}

/** An upstream Anthropic error body → GatewayError (its type kept when it is one we know). */
export function anthropicErrorToGateway(status: number, body: unknown): GatewayError {
  const e = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  // a status that is no error (a 304 or 300 an upstream or a proxy answers, which no redirect handling took): the
  // upstream's failure, 502, as chatErrorToGateway tells it; as it was, a 304 went out without its body, logged ok
  const effective = status >= 400 ? status : 502;
  const type = isAnthropicErrorType(e?.type) ? e.type : errorTypeForStatus(effective);
  const message = typeof e?.message === 'string' ? e.message : `upstream returned HTTP ${status}`;
  return new GatewayError(effective, type, message);
}

export const anthropicFormat: Format<unknown> = {
  id: 'anthropic',

  requestToHub(body: unknown, ctx: TranslateContext): MessageCreateParams {
    // a body valibot would give back unchanged is the hub as it is (a copy of its top level: ours to change)
    const hub = (isPlainMessageCreateParams(body) ? { ...body } : parseOrThrow(MessageCreateParamsSchema, body)) as MessageCreateParams;
    if (ctx.tools) hub.tools = ctx.tools.hub; // validated when they were prepared; the body's own are empty
    return hub;
  },
  toolsToHub: (tools) => parseOrThrow(ToolsSchema, tools) as Tool[],
  responseFromHub(message: Message): unknown {
    return message;
  },
  streamFromHub(): StreamStage<RawMessageStreamEvent, SseEvent> & HubDeltaWriter {
    // the text around a delta's literal, for the block written last (a stream writes one block's deltas in a row)
    let partsOf = -1;
    let parts = { head: '', tail: '' };
    return {
      deltaEvent(kind, index, literal) {
        const key = index * 3 + (kind === 'text' ? 0 : kind === 'thinking' ? 1 : 2);
        if (key !== partsOf) {
          partsOf = key;
          parts = oneLineEventParts('content_block_delta', deltaDataHead(index, kind), DELTA_DATA_TAIL);
        }
        return parts.head + literal + parts.tail;
      },
      push(ev, out) {
        // a text, thinking or input_json delta (most events of a translated stream) written out directly:
        // JSON.stringify(ev) gives the same bytes, only slower (an event and a delta object walked per token)
        if (ev.type === 'content_block_delta') {
          const d = ev.delta;
          const i = ev.index;
          if (d.type === 'text_delta') { out.push({ event: ev.type, data: deltaDataHead(i, 'text') + quoteJson(d.text) + DELTA_DATA_TAIL }); return; }
          if (d.type === 'thinking_delta') { out.push({ event: ev.type, data: deltaDataHead(i, 'thinking') + quoteJson(d.thinking) + DELTA_DATA_TAIL }); return; }
          if (d.type === 'input_json_delta') { out.push({ event: ev.type, data: deltaDataHead(i, 'json') + quoteJson(d.partial_json) + DELTA_DATA_TAIL }); return; }
        }
        out.push({ event: ev.type, data: JSON.stringify(ev) });
      },
      end() {},
    };
  },
  errorBody: anthropicErrorBody,
  streamErrorEvent: (err) => anthropicStreamError(err),
  // text blocks, string content (messages, tool results), the system prompt, base64 sources, tool descriptions;
  // never inside a tool_use input, which converters serialise into a string of its own
  verbatimText: {
    text: new Set(['text', 'content', 'system', 'data', 'description']),
    dataUrl: new Set(),
    opaque: new Set(['input', 'metadata']),
  },

  requestFromHub(hub: MessageCreateParams, ctx: TranslateContext): unknown {
    const out: Record<string, unknown> = { ...hub, model: ctx.upstreamModel };
    if (typeof hub.max_tokens === 'number') {
      // within a ceiling the provider named when it refused more (pipeline/output-ceilings.ts)
      out.max_tokens = ctx.maxTokensSent = ctx.maxTokensCap !== undefined && ctx.maxTokensCap < hub.max_tokens ? ctx.maxTokensCap : hub.max_tokens;
    }
    const prepared = ctx.tools?.upstream;
    if (prepared && hub.tools === ctx.tools!.hub) out.tools = prepared.placeholder;
    return out;
  },
  toolsFromHub: (tools) => ({ value: tools, names: tools.flatMap((t) => (typeof t.name === 'string' ? [t.name] : [])), dropped: [] }),
  // a message without usage, or whose usage lacks a count (some compatible servers, proxies), gets the local estimate
  // for what it lacks (`ctx.estimatedInputTokens`, which the pipeline makes then), as a translation's answer does: a
  // stream must carry both counts (hub/message-events.ts), and a count is never null
  responseToHub(body: unknown, ctx: TranslateContext): Message {
    const msg = body as Message;
    if (!msg || typeof msg !== 'object' || !Array.isArray(msg.content)) throw new NotAnAnswer('upstream returned a malformed message');
    const message = { ...msg, model: ctx.requestedModel };
    const usage = msg.usage as Partial<Usage> | null | undefined;
    if (usage && typeof usage === 'object' && typeof usage.input_tokens === 'number' && typeof usage.output_tokens === 'number') return message;
    ctx.usageEstimated = true;
    return { ...message, usage: estimatedUsage(message, usage, ctx) };
  },
  // the hub is this format: everything the message holds goes into its stream (hub/message-events.ts)
  relayedResponseToHub(body: unknown, ctx: TranslateContext): Message {
    return anthropicFormat.responseToHub(body, ctx, undefined);
  },
  // the hub is this format: everything the stream holds goes into the message, its model as the stream named it
  relayedStreamToHub(ctx: TranslateContext): StreamStage<SseEvent, RawMessageStreamEvent> {
    const stage = anthropicFormat.streamToHub(ctx, undefined);
    return {
      push(ev, out) {
        const from = out.length;
        stage.push(ev, out);
        for (let i = from; i < out.length; i++) {
          const hub = out[i]!;
          if (hub.type !== 'message_start') continue;
          const model = (JSON.parse(ev.data) as { message?: { model?: unknown } }).message?.model;
          out[i] = { ...hub, message: { ...hub.message, model: typeof model === 'string' && model !== '' ? model : ctx.requestedModel } };
        }
      },
      end: (out) => stage.end(out),
    };
  },
  streamToHub(ctx: TranslateContext): StreamStage<SseEvent, RawMessageStreamEvent> & HubDeltaReader & UsageSoFar {
    // deltas (most of a stream's events) recognised by their bytes: util/event-template.ts
    const lanes = DELTA_KINDS.map(newDeltaLane);
    let literalIndex = 0;
    let literalKind: DeltaKind = 'text';
    // the deltas' characters, for the output of an answer cut before its message_delta
    let chars = 0;
    // message_start's usage, for a message_delta that says 0 where it said more (countsKept)
    let started: Usage | undefined;
    return {
      get literalIndex() { return literalIndex; },
      get literalKind() { return literalKind; },
      /**
       * Asked only of an answer that ended before its message_delta (pipeline/translate.ts): message_start said 1
       * output token, where Anthropic bills what it generated; ~4 characters a token, as an answer without usage is
       * counted. Null when nothing was generated.
       */
      usageSoFar() {
        if (chars === 0) return null;
        ctx.usageEstimated = true;
        return { output_tokens: Math.ceil(chars / 4) };
      },
      // a text, thinking or input_json delta read by the template push() reads it with, its literal taken as it is (the event's
      // name is not read: push() goes by the data's type)
      deltaLiteral(s, start, end) {
        for (let i = 0; i < lanes.length; i++) {
          const lane = lanes[i]!;
          const close = lane.template.literalAt(s, start, end);
          if (close === NO_PREFIX) continue;
          // the first lane that may take it decides, as in push(); literals written otherwise go that way
          if (close < 0) return null;
          const from = start + lane.template.literalOffset;
          literalIndex = lane.template.index;
          literalKind = lane.kind.type === 'text_delta' ? 'text' : lane.kind.type === 'thinking_delta' ? 'thinking' : 'json';
          chars += lane.template.literalChars;
          return s.slice(from, close + 1);
        }
        return null;
      },
      push(ev, out) {
        if (!ev.data) return;
        for (let i = 0; i < lanes.length; i++) {
          const lane = lanes[i]!;
          const value = lane.template.match(ev.data);
          if (value !== undefined) {
            chars += value.length;
            out.push({ type: 'content_block_delta', index: lane.template.index, delta: { type: lane.kind.type, [lane.kind.field]: value } as RawContentBlockDelta });
            return;
          }
        }
        let parsed: RawMessageStreamEvent;
        try {
          parsed = JSON.parse(ev.data);
        } catch {
          throw new GatewayError(502, 'api_error', 'upstream sent a malformed stream event');
        }
        // event types newer than this gateway are not forwarded into a translation (their consumers switch exhaustively)
        if (!HUB_EVENT_TYPES.has(parsed?.type)) return;
        if (parsed.type === 'message_start') {
          started = parsed.message?.usage;
          parsed = { ...parsed, message: { ...parsed.message, model: ctx.requestedModel } };
        } else if (parsed.type === 'message_delta' && started) parsed = countsKept(parsed, started);
        out.push(parsed);
        if (parsed.type !== 'content_block_delta') return;
        for (const lane of lanes) {
          if (parsed.delta?.type !== lane.kind.type) continue;
          const value = (parsed.delta as unknown as Record<string, unknown>)[lane.kind.field];
          if (typeof value === 'string') chars += value.length;
          if (typeof value === 'string' && value && lane.template.learning) lane.template.learn(ev.data, value);
        }
      },
      end() {},
    };
  },
  errorToGateway: anthropicErrorToGateway,
  // message_start carries usage.input_tokens
  streamStartsWithUsage: true,
  endsStream: (chunk, before) => endsWithEvent(chunk, MESSAGE_STOP, before),
  // an `error` event ends a stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events)
  endsWithError: (chunk, before) => {
    const c = (before && joinedLastEvent(chunk, before)) || chunk;
    return lineAt(c, lastEventStart(c), EVENT_ERROR);
  },
};

const MESSAGE_STOP = new TextEncoder().encode('event: message_stop');
const EVENT_ERROR = new TextEncoder().encode('event: error');

/** A message's usage with the counts it lacks estimated (the input the request's, the output its content's), no nulls. */
function estimatedUsage(message: Message, usage: Partial<Usage> | null | undefined, ctx: TranslateContext): Usage {
  const kept: Record<string, unknown> = {};
  if (usage && typeof usage === 'object') for (const [k, v] of Object.entries(usage)) if (v != null) kept[k] = v;
  return {
    ...kept,
    input_tokens: typeof usage?.input_tokens === 'number' ? usage.input_tokens : ctx.estimatedInputTokens,
    output_tokens: typeof usage?.output_tokens === 'number' ? usage.output_tokens : outputEstimate(message),
  } as Usage;
}

/** Output tokens of a message that reports none: ~4 characters a token of its text, thinking and tool input. */
function outputEstimate(message: Message): number {
  let chars = 0;
  for (const b of message.content as ContentBlock[]) chars += b.type === 'text' ? b.text.length : b.type === 'thinking' ? b.thinking.length : b.type === 'tool_use' ? JSON.stringify(b.input ?? {}).length : 0;
  return Math.ceil(chars / 4);
}

/** A delta event's JSON before its string (the same bytes as JSON.stringify of the event), and after it. */
const deltaDataHead = (index: number, kind: DeltaKind) => `{"type":"content_block_delta","index":${index},"delta":{${DELTA_FIELD[kind]}`;
const DELTA_FIELD: Record<DeltaKind, string> = {
  text: '"type":"text_delta","text":',
  thinking: '"type":"thinking_delta","thinking":',
  json: '"type":"input_json_delta","partial_json":',
};
const DELTA_DATA_TAIL = '}}';

/** The deltas read by their bytes: each type with the field that carries its string. */
const DELTA_KINDS = [
  { type: 'text_delta', field: 'text' },
  { type: 'thinking_delta', field: 'thinking' },
  { type: 'input_json_delta', field: 'partial_json' },
] as const;
type DeltaLaneKind = (typeof DELTA_KINDS)[number];

/** One kind of delta read by its bytes; a learnt template's index is its block's. */
interface DeltaLane { kind: DeltaLaneKind; template: EventTemplate }

function newDeltaLane(kind: DeltaLaneKind): DeltaLane {
  // a template per block
  const template = new EventTemplate({ key: `"${kind.field}":`, plain: (ev, value) => exactDeltaIndex(ev, kind, value), maxLearnt: 16 });
  return { kind, template };
}

/**
 * The block index of `{"type":"content_block_delta","index":N,"delta":{"type":TYPE,FIELD:value}}` with nothing else
 * in it (what the template path builds is then exactly what JSON.parse gives), or null.
 */
function exactDeltaIndex(ev: unknown, kind: DeltaLaneKind, value: string): number | null {
  if (typeof ev !== 'object' || ev === null) return null;
  const e = ev as Record<string, unknown>;
  const d = e.delta as Record<string, unknown> | null;
  const exact = e.type === 'content_block_delta' && typeof e.index === 'number' && typeof d === 'object' && d !== null && !Array.isArray(d)
    && d.type === kind.type && d[kind.field] === value && Object.keys(e).length === 3 && Object.keys(d).length === 2;
  return exact ? e.index as number : null;
}

const USAGE_COUNTS = ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const;

/**
 * `delta` with message_start's count for each count it says is 0 where message_start said more: message_delta's
 * counts are cumulative (https://docs.anthropic.com/en/docs/build-with-claude/streaming), and compatible servers write
 * 0 there for what message_start reported (SGLang's `input_tokens: 0`, sgl-project/sglang#20830), which would reach a
 * Chat client's usage and the log as a prompt of 0 tokens. The same event when there is none.
 */
function countsKept(delta: RawMessageDeltaEvent, started: Usage): RawMessageDeltaEvent {
  const usage = delta.usage as unknown as Record<string, unknown> | null | undefined;
  if (!usage || typeof usage !== 'object') return delta;
  let kept: Record<string, unknown> | null = null;
  for (const k of USAGE_COUNTS) {
    const had = started[k];
    if (usage[k] === 0 && typeof had === 'number' && had > 0) (kept ??= { ...usage })[k] = had;
  }
  return kept ? { ...delta, usage: kept as unknown as RawMessageDeltaEvent['usage'] } : delta;
}

/** A mid-stream failure as Anthropic SSE (https://docs.anthropic.com/en/api/messages-streaming#error-events). */
export function anthropicStreamError(err: GatewayError): SseEvent {
  return { event: 'error', data: JSON.stringify({ type: 'error', error: { type: err.type, message: err.message } }) };
}
