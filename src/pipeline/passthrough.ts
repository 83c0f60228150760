/**
 * @module pipeline/passthrough
 * Same format on both sides: the upstream's bytes go back as they came, usage read on the side (accounting/usage-tap.ts).
 */
import type { Channel } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import { relayableResponseHeaders } from '../channels/shared/upstream-headers.ts';
import { AnthropicTextCounter, ChatTextCounter, UsageSniffer, chatAnswerChars, readJsonUsage } from '../accounting/usage-tap.ts';
import type { UsageTotals } from '../accounting/usage.ts';
import { valueAt } from '../util/json.ts';
import { GatewayError } from '../errors.ts';
import { encodeSse } from '../sse/encode.ts';
import { endsAtEventBoundary } from '../sse/decode.ts';
import type { Exchange, RequestLog } from '../http/context.ts';
import { relayStream, type ReadAhead } from './streams.ts';
import { concat, errorInsideAnswer, finishStreamLog, markFirstByte, recordStreamEnd, relayFailure } from './answer.ts';
import type { Inbound } from './inbound.ts';
import { estimateInboundTokens } from './translate.ts';
import { redactKeyBytes, type Secrets } from '../util/redact.ts';

/**
 * Same format: the upstream's bytes as they are, usage read on the side. A stream that came whole in its first
 * read is answered in one write (usage read at once); any other goes through the relay, chunk by chunk. A JSON
 * answer that came whole and is an error object, or no answer (answer.ts: errorInsideAnswer), is returned instead.
 */
export function relayPassthrough(x: Exchange, inbound: Inbound, channel: Channel, res: Response, start: ReadAhead<Uint8Array>, upstream: AbortController): Response | GatewayError {
  const log = x.log;
  const isSse = (res.headers.get('content-type') ?? '').includes('text/event-stream');
  const headers = relayableResponseHeaders(res.headers, x.requestId, x.format === 'openai-chat', channel.credentialHeaders);
  const sniffer = new UsageSniffer(channel.nativeFormat, isSse, channel.secrets);
  const counter = isSse && reportsNoUsage(inbound, channel) ? new ChatTextCounter() : null;
  markFirstByte(log);
  if (start.whole) {
    for (const chunk of start.head) sniffer.push(chunk);
    // an error event may echo the channel's credentials (a proxy's "invalid key …"): masked, as in an error body (and
    // a stream that ends inside a line that holds `"error"`: its event unread, but no less an echo)
    const mask = sniffer.failure !== null || sniffer.errorLineOpen;
    if (counter) for (const chunk of start.head) counter.push(chunk);
    const usage = estimatedIfNone(inbound, sniffer.finish(), outputEstimate(channel, isSse, counter, sniffer), log);
    // a JSON answer of undeclared length (chunked, compressed) that came whole, without usage: read as
    // answerPassthroughJson reads one (an error object inside the 2xx is the attempt's failure); one that came in
    // several reads is relayed as it comes, its bytes on their way before its end is known
    if (!isSse && usage.input_tokens === 0 && usage.output_tokens === 0) {
      const failure = errorInsideAnswer(channel, res.status, concat(start.head), inbound.endpoint);
      if (failure) return failure;
    }
    // a whole Anthropic stream is counted only when it lacks its message_delta (the bytes are all here)
    if (isSse && channel.nativeFormat === 'anthropic' && sniffer.stopReason === null) cutShort(inbound, usage, start.head, log);
    recordStreamEnd(log, usage, sniffer.failure ?? undefined, sniffer.stopReason, channel.secrets);
    const bytes = concat(start.head);
    return new Response(mask ? redactKeyBytes(bytes, channel.secrets) : bytes, { status: res.status, headers });
  }
  log.deferred = true;
  // the chunk before (the last event, or an error event, may begin in it)
  let before: Uint8Array | null = null;
  let beforeLast: Uint8Array | null = null;
  // an Anthropic stream's reads are held (counted only when asked, or every 64 KB: AnthropicTextCounter), for the
  // output of one that ends before its message_delta
  const generated = isSse && channel.nativeFormat === 'anthropic' ? new AnthropicTextCounter() : counter;
  const masking = new ErrorEventMasking(sniffer, channel.secrets);
  const body = relayStream(start, {
    idleMs: channel.config.stream_idle_timeout_ms,
    client: x.req.signal,
    // each read as it came, but for the one that holds an error event (and what follows it), whose credentials are
    // masked: two field reads per read on a stream that carries none (ErrorEventMasking)
    map: (chunk) => {
      sniffer.push(chunk);
      generated?.push(chunk);
      return masking.idle() ? chunk : masking.relay(chunk);
    },
    // A stream that ends with neither its stop reason nor its last event (`message_stop`, `data: [DONE]`) nor an error
    // event was cut off (an upstream or a proxy that closed cleanly mid-answer): told as a failure, its error event
    // after what came, as a translation tells it, not a clean end that hands an SDK half an answer as the whole. Looked
    // at once, when the source ends; a line held for masking goes with the failure, as on any other.
    flush: () => {
      if (isSse && sniffer.stopReason === null && sniffer.failure === null) {
        sniffer.finish(); // the last line, if it came without its line break (read again by onEnd: nothing left then)
        if (sniffer.stopReason === null && sniffer.failure === null && (before === null || !FORMATS[channel.nativeFormat].endsStream(before, beforeLast))) {
          throw new GatewayError(502, 'api_error', `channel ${channel.name}: upstream stream ended before the message was complete`);
        }
      }
      return masking.rest();
    },
    // a stream's failure is told in an error event; a JSON answer's has no place to go but the connection, which is
    // cut (without its last chunk): a clean end would hand the client half a body as the whole answer (RFC 9112 §7.1:
    // a chunked body without its last chunk is incomplete; oven-sh/bun#36477). Bun prints the error on stderr.
    // After a cut inside an event (a line, a UTF-8 character) a blank line first: written straight after the partial
    // line, the error event was read as part of it (`event: content_blockevent: error`), lost, and the SDK took half an
    // answer for the whole. The partial event is then dispatched as it is (a client's parser may fail on it: still a
    // failure, not a silent end). Only on a failure, on the last chunk written (`before`): no cost to a stream that ends.
    errorTail: isSse ? (err) => {
      const tail = encodeSse(FORMATS[inbound.format].streamErrorEvent(relayFailure(err)));
      return before === null || endsAtEventBoundary(before) ? tail : concat([EVENT_BREAK, tail]);
    } : undefined,
    // the format's last event, as an event of its own (a quote of it in a text is none), after the answer's stop reason
    // was read, or an error event that ends the stream, once the tap saw one: the relay ends there, whether or not the
    // upstream closes its body (Claude Code waited out the idle timeout after an overloaded_error)
    // (the chunk kept as `before` whatever the tap saw: the error event that ends the stream is seen only once the
    // read that completes it is in, and it may have begun in the read before)
    endsStream: isSse ? (chunk) => {
      const last = before;
      beforeLast = last;
      before = chunk;
      if (sniffer.stopReason === null && sniffer.failure === null) return false;
      const format = FORMATS[channel.nativeFormat];
      return format.endsStream(chunk, last) || (sniffer.failure !== null && format.endsWithError(chunk, last));
    } : undefined,
    onEnd(outcome, whole, cut) {
      // cancelled, failed, or ended at its last event while the upstream kept its connection: close that too
      if (outcome !== undefined || cut) upstream.abort();
      const usage = estimatedIfNone(inbound, sniffer.finish(), outputEstimate(channel, isSse, counter, sniffer), log);
      if (generated instanceof AnthropicTextCounter && sniffer.stopReason === null) cutShortBy(inbound, usage, generated.chars, log);
      // an error event the upstream sent counts over what came after it (the client leaving once it read it); a client
      // that left once it had the last event was answered in full
      finishStreamLog(log, usage, sniffer.failure ?? (whole && outcome === 'cancelled' ? undefined : outcome), sniffer.stopReason, channel.secrets);
    },
  });
  log.entry.status = res.status;
  return new Response(body, { status: res.status, headers });
}

/**
 * The channel's credentials masked in the reads of a relayed stream that hold an error event (an upstream, or a proxy
 * in front of it, that echoes "invalid api key …" with the key it was given), as they are in an error body
 * (answer.ts: upstreamError): a read is searched for them only once the usage tap has seen an error event, or the
 * start of a line that holds `"error"` (UsageSniffer.errorLineOpen), never on a stream that carries none. Such a
 * line, unfinished at the end of a read, is held back until the read that ends it (at most MAX_ERROR_LINE bytes: the
 * tap reads no longer line as an error), so that a credential cut between two reads is masked whole. Known limit: a
 * credential that comes before `"error"` in its line and is cut by a read went half out before the line was known to
 * be an error's: every error chunk known (Anthropic's, OpenAI's, OpenRouter's, vLLM's, Groq's) has `"error"` before its message.
 * A line held when the source fails is dropped (an unfinished line; the relay's own error event follows).
 */
export class ErrorEventMasking {
  private held: Uint8Array | null = null;
  constructor(private readonly sniffer: UsageSniffer, private readonly secrets: Secrets) {}

  /** Nothing to mask and nothing held: the read goes out as it came. */
  idle(): boolean {
    return this.held === null && this.sniffer.failure === null && !this.sniffer.errorLineOpen;
  }

  /** The read (after what was held) with the credentials masked, less an unfinished error line now held; null: all held. */
  relay(chunk: Uint8Array): Uint8Array | null {
    let bytes = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    this.held = null;
    if (this.sniffer.errorLineOpen) {
      // the line began in `held` or in this read, after its last line break
      const cut = bytes.lastIndexOf(NL) + 1;
      this.held = bytes.subarray(cut);
      bytes = bytes.subarray(0, cut);
    }
    return bytes.length === 0 ? null : redactKeyBytes(bytes, this.secrets);
  }

  /** What is held when the source ends (a stream that stops inside its error line), masked. */
  rest(): Uint8Array | null {
    const held = this.held;
    this.held = null;
    return held === null ? null : redactKeyBytes(held, this.secrets);
  }
}

const NL = 10;
const EVENT_BREAK = new TextEncoder().encode('\n\n');

/**
 * A complete JSON answer of known, bounded size, read whole (`buf`; null: a status without a body): one native read
 * instead of a JS stream per response (the largest single cost in the profile of small passthrough requests), usage
 * read once, bytes unchanged. The caller reads it (pipeline/handle.ts: an async layer less per request).
 * An answer in which the usage read found nothing (no `"usage"`) is parsed (answer.ts: errorInsideAnswer): an error
 * object inside the 2xx, or JSON that is no answer, is returned, the attempt's failure, as the same error with its
 * status would be; an OpenAI-compatible answer without usage (some local servers) gets the local estimate.
 */
export function answerPassthroughJson(x: Exchange, inbound: Inbound, channel: Channel, res: Response, buf: Uint8Array | null): Response | GatewayError {
  const headers = relayableResponseHeaders(res.headers, x.requestId, x.format === 'openai-chat', channel.credentialHeaders);
  if (buf === null) return new Response(null, { status: res.status, headers });
  // usage straight into the log line: its four counts start at 0, as a stream's do
  const entry = x.log.entry;
  entry.input_tokens = entry.output_tokens = entry.cache_read_input_tokens = entry.cache_creation_input_tokens = 0;
  const stop = readJsonUsage(buf, channel.nativeFormat, entry as UsageTotals);
  if (stop !== null) entry.stop_reason = stop;
  if (entry.input_tokens === 0 && entry.output_tokens === 0) {
    const failure = errorInsideAnswer(channel, res.status, buf, inbound.endpoint);
    if (failure) return failure;
    // an OpenAI-compatible answer without usage: the local estimate, as a translation gives
    if (channel.nativeFormat === 'openai-chat') estimatedIfNone(inbound, entry as UsageTotals, Math.ceil(chatAnswerChars(buf) / 4), x.log);
  }
  return new Response(buf, { status: res.status, headers });
}

/**
 * A relayed Chat Completions stream that will carry no usage: the client did not ask for it
 * (`stream_options.include_usage`), and Switchboard does not add the option to a relayed request (the client would
 * get a usage chunk, and `usage: null` on every chunk, it did not ask for). Its generated text is counted instead.
 */
function reportsNoUsage(inbound: Inbound, channel: Channel): boolean {
  if (channel.nativeFormat !== 'openai-chat' || !inbound.stream) return false;
  const options = inbound.keys ? valueAt(inbound.bytes, inbound.keys.get('stream_options')) : inbound.json().stream_options;
  return (options as { include_usage?: unknown } | null | undefined)?.include_usage !== true;
}

/**
 * The output tokens of a relayed Chat stream, should it report no usage; undefined for any other answer (Anthropic's
 * streams report usage in their first event). Without include_usage, its generated text was counted: ~4 characters a
 * token, as a translation counts an answer without usage. With it, the usage chunk was cut off (the connection, the
 * client, a timeout) or the provider ignores the option: the text was not counted (that would cost every such stream
 * what only a failed one needs), so the events that said `"usage": null` stand for the tokens. A stream that is an
 * error event and nothing else (relayed as it came, on the last channel) has none: nothing generated, nothing to
 * charge, as for an error envelope inside a 200 JSON answer.
 */
function outputEstimate(channel: Channel, isSse: boolean, counter: ChatTextCounter | null, sniffer: UsageSniffer): number | undefined {
  const output = counter ? Math.ceil(counter.chars / 4) : isSse && channel.nativeFormat === 'openai-chat' ? sniffer.usageNulls : undefined;
  return output === 0 && sniffer.failure !== null ? undefined : output;
}

/**
 * An Anthropic stream that ended before its message_delta (no stop reason read: its client gone, its connection cut, a
 * timeout, an error event) reports the output message_start did, 1 token, where Anthropic bills what it generated:
 * its text, thinking and tool input counted, ~4 characters a token (as a translation counts an answer without usage),
 * when that is more; the log line says it is an estimate. Its input, from message_start, is Anthropic's own; where
 * message_start said 0 (a server that reports the input in message_delta only: Z.ai, zai-org/GLM-5#139), the
 * request's estimate.
 */
function cutShort(inbound: Inbound, usage: UsageTotals, chunks: Uint8Array[], log: RequestLog) {
  const counter = new AnthropicTextCounter();
  for (const chunk of chunks) counter.push(chunk);
  cutShortBy(inbound, usage, counter.chars, log);
}

function cutShortBy(inbound: Inbound, usage: UsageTotals, chars: number, log: RequestLog) {
  const output = Math.ceil(chars / 4);
  if (output <= usage.output_tokens) return;
  usage.output_tokens = output;
  if (usage.input_tokens === 0) usage.input_tokens = estimateInboundTokens(inbound);
  log.entry.usage_estimated = true;
}

/**
 * `usage` as read from the answer, or, when it reported none (`output`: the estimated output tokens, undefined when
 * there is no estimate), the local estimate: input from the request (read here, at the end: only an answer without
 * usage pays for it), and `output`; the log line says it is an estimate.
 */
function estimatedIfNone(inbound: Inbound, usage: UsageTotals, output: number | undefined, log: RequestLog): UsageTotals {
  if (output === undefined || usage.input_tokens !== 0 || usage.output_tokens !== 0) return usage;
  usage.input_tokens = estimateInboundTokens(inbound);
  usage.output_tokens = output;
  log.entry.usage_estimated = true;
  return usage;
}
