/**
 * @module pipeline/answer
 * Reading an upstream answer under the attempt's watch (pipeline/watchdog.ts): its first stream chunk, a whole JSON
 * body (bounded), an error body; what a failure becomes; the stream's log line. Shared by passthrough and translate.
 */
import { GatewayError, NotAnAnswer, statusForErrorType } from '../errors.ts';
import type { Channel, Endpoint } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import { relayableResponseHeaders } from '../channels/shared/upstream-headers.ts';
import type { UsageTotals } from '../accounting/usage.ts';
import type { Exchange, RequestLog } from '../http/context.ts';
import { endsSoon, readAhead, type ReadAhead, type Reader, type ReadResult } from './streams.ts';
import { unwatch, watch, type Watch } from './watchdog.ts';
import { readAtMost } from './read-body.ts';
import { redactKey, redactKeyBytes, redactSecrets, type Secrets } from '../util/redact.ts';
import { bufferIndexOf, bufferLastIndexOf } from '../util/bytes.ts';

const utf8 = new TextDecoder();

/** The client went away before a response: nothing to send; logged as cancelled. */
export class ClientGone extends Error {
  constructor() { super('client disconnected'); this.name = 'ClientGone'; }
}

/** What an attempt waits for: the response's headers, a stream's first chunk, a whole body. */
type WaitingFor = 'response' | 'first chunk' | 'body';

/**
 * An attempt under the watchdog: its deadline and what it waits for move from response to first chunk or whole
 * body. The timeout's message is written only if it fires (no string per request).
 */
export class AttemptWatch implements Watch {
  deadline: number;
  /** A body being read under this watch: cancelled when it fires. */
  body: Reader<Uint8Array> | null = null;
  slot = -1;
  private waitingFor: WaitingFor = 'response';
  constructor(private readonly upstream: AbortController, readonly client: AbortSignal, private readonly channel: string, private ms: number) {
    this.deadline = performance.now() + ms;
  }
  /** Another phase: `ms` from now (Infinity: only the client is watched). */
  extend(ms: number, waitingFor: WaitingFor) {
    this.deadline = performance.now() + ms;
    this.ms = ms;
    this.waitingFor = waitingFor;
  }
  get timeoutMessage(): string {
    if (this.waitingFor === 'response') return `channel ${this.channel}: no response within ${this.ms} ms`;
    if (this.waitingFor === 'first chunk') return `channel ${this.channel}: upstream sent nothing for ${this.ms} ms`;
    return `channel ${this.channel}: upstream answer stalled for ${this.ms} ms`;
  }
  /** The upstream request let go once its answer is in (a body held open after its last event: readEvents). */
  abortUpstream() {
    this.upstream.abort();
  }
  fire(why: 'timeout' | 'client') {
    const reason = why === 'client' ? new ClientGone() : new GatewayError(504, 'timeout_error', this.timeoutMessage);
    this.upstream.abort(reason);
    this.body?.cancel(reason).catch(() => {});
  }
}

export function describeFetchError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message?.slice(0, 120) ?? 'error';
}

/** A failure while relaying a response, as the error the client's stream ends with. */
export function relayFailure(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(502, 'api_error', 'upstream stream failed');
}

export function markFirstByte(log: RequestLog) {
  if (log.entry.ttfb_ms === undefined) log.entry.ttfb_ms = Math.round((performance.now() - log.start) * 100) / 100;
}

export function finishStreamLog(log: RequestLog, usage: UsageTotals, outcome: unknown, stopReason: string | null, key: Secrets) {
  recordStreamEnd(log, usage, outcome, stopReason, key);
  log.finish();
}

/**
 * How a stream ended, into its log line: usage, stop reason, and the outcome (undefined: it ended well; 'cancelled';
 * or the failure, an error event it carried included). finishStreamLog writes the line; a stream answered in one
 * write leaves that to the route's settle. An error event's message is the upstream's text: the channel's `key`
 * and anything that looks like a credential are masked in it, as in an error body (errorBodyOf).
 */
export function recordStreamEnd(log: RequestLog, usage: UsageTotals, outcome: unknown, stopReason: string | null, key: Secrets) {
  Object.assign(log.entry, usage);
  if (stopReason !== undefined) log.entry.stop_reason = stopReason;
  if (outcome === 'cancelled') log.entry.outcome = 'cancelled';
  else if (outcome !== undefined) {
    const e = relayFailure(outcome);
    log.entry.outcome = 'error';
    log.entry.error_type = e.type;
    log.entry.error = redactSecrets(redactKey(e.message, key));
  }
}

/**
 * A response that has no body by its status (Fetch's null body statuses): fetch gives these, and only these, a null
 * `body`. Asked this way rather than through `res.body`, which makes a ReadableStream (and its source and state) for
 * a body that is then read whole anyway.
 */
export function hasNullBody(res: Response): boolean {
  const s = res.status;
  return s === 204 || s === 205 || s === 304;
}

/** JSON answers up to this size (by Content-Length) are relayed in one write instead of through a JS stream. */
const ONE_WRITE_MAX = 4 * 1024 * 1024;

/**
 * A JSON answer of known, bounded size (relayed whole), as opposed to a stream or a body of unknown length. A
 * compressed answer's Content-Length is that of its compressed bytes, and fetch decodes them to any size (a few MB
 * of gzip can be gigabytes): it is relayed as it comes.
 */
export function isBoundedJson(res: Response): boolean {
  const h = res.headers;
  if ((h.get('content-type') ?? '').includes('text/event-stream')) return false;
  return Number(h.get('content-length') ?? NaN) <= ONE_WRITE_MAX && !h.has('content-encoding');
}

/**
 * A JSON answer where a stream was asked for (`application/json`, `…+json`): an upstream that ignores `stream`, or
 * an error envelope sent with a 2xx. A translation reads it whole (pipeline/translate.ts: answerTranslatedJsonAsStream).
 */
export function isJsonAnswer(res: Response): boolean {
  return /\bjson\b/i.test(res.headers.get('content-type') ?? '');
}

/**
 * The first chunk of a streamed answer, read under the attempt's watch (within the idle timeout; a client that goes
 * away aborts the upstream meanwhile). The caller awaits it, then ends the watch, and turns a failure into what it
 * means with `firstReadFailure` (not an async function of its own: one async layer less per stream).
 * `lookForEnd`: whether a first chunk that ends the stream is checked for being all of it (passthrough only:
 * answering a translated stream in one write measured slower than relaying it, bench/).
 */
export function readFirst(channel: Channel, res: Response, guard: AttemptWatch, lookForEnd: boolean): Promise<ReadAhead<Uint8Array>> {
  guard.extend(channel.config.stream_idle_timeout_ms, 'first chunk');
  const reader = (res.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })).getReader();
  // aborting the fetch does not end a read already waiting on its body: the watch cancels the read too
  guard.body = reader;
  return readAhead(reader, lookForEnd ? FORMATS[channel.nativeFormat].endsStream : never);
}

/**
 * What a 2xx answer must be: a JSON object (a request not streamed), an event stream (a streamed one), either (a
 * translation's JSON answer to a streamed request: an upstream that ignores `stream`, or labels its stream JSON).
 */
export type AnswerShape = 'json' | 'sse' | 'either';

/**
 * A 2xx answer that is no answer in the format, told from its first bytes (`head`; undefined: none came) and, for a
 * stream, whether the body ended with them (`ended`): an empty body (a proxy that lost its upstream, a server that
 * crashed after its headers), a page or text where JSON belongs (a captive portal, a base_url pointing at a web UI),
 * a JSON list, JSON or a page where a stream was asked for, an event stream of comments that ended with no event. The
 * attempt's failure (pipeline/handle.ts): counted against the channel, and the next channel tried, as for a 5xx;
 * null for anything else. One or two bytes looked at for an answer that is one (a JSON object's `{`, an event's `d`
 * or `e`); a JSON object that parses is never second-guessed here.
 */
export function notAnAnswer(channel: Channel, res: Response, head: Uint8Array | undefined, shape: AnswerShape, ended: boolean): GatewayError | null {
  // past a UTF-8 byte order mark (some .NET and Java servers write one; JSON.parse after a UTF-8 decode, and fetch's
  // .json(), never see it) and blank space
  let i = head !== undefined && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  if (head !== undefined) while (i < head.length && isBlank(head[i]!)) i++;
  if (head === undefined || i === head.length) {
    return ended ? new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answered ${res.status} with an empty body`) : null;
  }
  const b = head[i]!;
  if (shape === 'json' ? b === 123 /* { */ : shape === 'sse' ? startsEvent(b) : b === 123 || startsEvent(b)) {
    if (b !== 58 /* : */ || !ended || !onlyComments(head)) return null;
    return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answered ${res.status} with an event stream that ended with no event`);
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() || 'no content-type';
  const what = shape === 'sse' ? `${type}, not an event stream` : /\bjson\b/.test(type) ? `${type} that is not an object` : `${type}, not JSON`;
  return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answered ${res.status} with ${what}: is base_url right?${began(channel, head.subarray(i))}`);
}

/**
 * A relayed 2xx JSON answer whose usage read found none (no `"usage"` in its bytes: what an answer that is one nearly
 * always has), parsed here, and only here (the relayed JSON path reads no other answer whole): the error object it is
 * (OpenRouter's `{"error": {"code": 429, …}}` inside a 200, https://openrouter.ai/docs/api/errors; vLLM's
 * `{"object": "error", "code": 400, …}`; an Anthropic-compatible proxy's `{"type": "error", "error": {…}}`), with the
 * status the same error would have come with (its code when that is an HTTP status, an Anthropic type's own status,
 * else 502) and the channel named; JSON that is no answer at all (`{}`: no choices, no content) the 502 notAnAnswer
 * gives (a NotAnAnswer); null for an answer (one without usage: some OpenAI-compatible servers omit it; a count_tokens answer).
 */
export function errorInsideAnswer(channel: Channel, status: number, buf: Uint8Array, endpoint: Endpoint): GatewayError | null {
  let body: unknown;
  try { body = JSON.parse(utf8.decode(buf)); } catch { body = undefined; }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return new NotAnAnswer(`channel ${channel.name}: upstream answered ${status} with JSON that does not parse: is base_url right?${began(channel, buf)}`);
  }
  const o = body as { type?: unknown; error?: unknown; object?: unknown; choices?: unknown; content?: unknown; input_tokens?: unknown };
  if (channel.nativeFormat === 'openai-chat' ? Array.isArray(o.choices) : endpoint === 'count_tokens' ? typeof o.input_tokens === 'number' : o.type === 'message' || Array.isArray(o.content)) return null;
  const masked = errorBodyOf(channel, utf8.decode(buf));
  if (o.type === 'error' && typeof (o.error as { type?: unknown } | null)?.type === 'string') {
    // Anthropic's envelope: the status Anthropic gives its type
    return inside(channel, FORMATS.anthropic.errorToGateway(statusForErrorType((o.error as { type: string }).type), masked));
  }
  if ((o.error !== undefined && o.error !== null) || o.object === 'error') return inside(channel, FORMATS['openai-chat'].errorToGateway(200, masked));
  return new NotAnAnswer(`channel ${channel.name}: upstream answered ${status} with JSON that is no answer (${channel.nativeFormat === 'openai-chat' ? 'no choices' : 'no content'}): is base_url right?${began(channel, buf)}`);
}

/** An error read from inside a 2xx answer, the channel named; its own key or access refused is the channel's 502. */
function inside(channel: Channel, said: GatewayError): GatewayError {
  if (said.status === 401 || said.status === 403) return credentialsRefused(channel, said.status);
  said.message = `channel ${channel.name}: ${said.message}`;
  return said;
}

/**
 * A translation's whole JSON answer that its converter found no answer (NotAnAnswer: no choices, no content): the
 * channel named, and how the answer began.
 */
export function unreadableAnswer(channel: Channel, buf: Uint8Array, err: NotAnAnswer): GatewayError {
  return new GatewayError(502, 'api_error', `channel ${channel.name}: ${err.message}: is base_url right?${began(channel, buf)}`);
}

/**
 * ` It began: "…"`: the first 80 characters of an answer's text, as an error page is quoted (upstreamError:
 * unexplained: tags and runs of white space dropped, the channel's key masked); '' when it has none.
 */
function began(channel: Channel, bytes: Uint8Array): string {
  const text = redactSecrets(redactKey(utf8.decode(bytes.subarray(0, 2048)), channel.secrets))
    .replace(/<[^<>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 80);
  return text ? ` It began: "${text}"` : '';
}

const isBlank = (b: number) => b === 32 || b === 10 || b === 13 || b === 9;

/** A byte an event stream's first line starts with: `data:`, `event:`, `id:`, `retry:`, a `:` comment, a byte order mark. */
const startsEvent = (b: number) => b === 100 || b === 101 || b === 58 || b === 105 || b === 114 || b === 0xef;

/**
 * Whether a stream's first read holds only SSE comments, where an event is still to come (OpenRouter's
 * `: OPENROUTER PROCESSING`, written alone every few seconds while the provider has not answered; a proxy's keep-alive
 * before an Anthropic stream): pastComments then reads on. One byte looked at for any other stream (the caller awaits
 * nothing more for it).
 */
export function opensWithComments(channel: Channel, start: ReadAhead<Uint8Array>): boolean {
  const first = start.head[0];
  return first !== undefined && first[0] === 58 /* : */ && !start.whole && start.pending === null
    && start.head.length === 1 && onlyComments(first);
}

/** Most comment bytes held back before the stream is relayed as it is (a keep-alive comment is a few dozen bytes). */
const MAX_HELD_COMMENTS = 64 * 1024;

/**
 * Reads on past a first read of comments only (opensWithComments), each read within the idle timeout, until one
 * holds an event or MAX_HELD_COMMENTS are held, and joins them into one chunk (the same bytes), so that an error event
 * after the comments is still the stream's opening error (openingStreamError), which falls back. Rejects as a first
 * read does.
 */
export async function pastComments(channel: Channel, start: ReadAhead<Uint8Array>, guard: AttemptWatch): Promise<ReadAhead<Uint8Array>> {
  while (!start.whole && start.head[0]!.length <= MAX_HELD_COMMENTS && onlyComments(start.head[0]!)) {
    guard.extend(channel.config.stream_idle_timeout_ms, 'first chunk');
    const next = await start.reader.read();
    if (next.done) start.whole = true;
    else start.head[0] = concat([start.head[0]!, next.value]);
  }
  return start;
}

/**
 * Whether every line of a chunk (a last one cut short included) is an SSE comment (`:`…) or blank. A line ends at
 * \n, \r\n or a lone \r, as sse/decode.ts reads it: looking for \n alone took `: x\rdata: …\r\r` for one comment.
 */
function onlyComments(chunk: Uint8Array): boolean {
  let at = 0;
  while (at < chunk.length) {
    const c = chunk[at]!;
    if (c !== 58 /* : */ && c !== 10 && c !== 13) return false;
    while (at < chunk.length && chunk[at] !== 10 && chunk[at] !== 13) at++;
    at++; // past the line's \r or \n (a \r\n's \n is then a blank line's)
  }
  return true;
}

/**
 * What a first read that failed (or that the watch cancelled: it may end as an empty body rather than fail, so the
 * watch's reason decides) means: ClientGone, or the GatewayError that lets the next candidate try.
 */
export function firstReadFailure(x: Exchange, channel: Channel, upstream: AbortController, err: unknown, what = 'stream failed before its first byte'): ClientGone | GatewayError {
  if (x.req.signal.aborted) return new ClientGone();
  const reason = upstream.signal.aborted ? upstream.signal.reason : err;
  return reason instanceof GatewayError ? reason : new GatewayError(502, 'api_error', `channel ${channel.name}: upstream ${what} (${describeFetchError(err)})`);
}

const never = () => false;

export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks);
}

/**
 * A whole JSON answer, read natively under the attempt's watch: it must arrive within the idle timeout once its
 * headers are in (a JSON answer comes at once), and a client that goes away aborts the upstream meanwhile. At most
 * `max` bytes (declared or counted): a larger answer is a 502, not a gateway that runs out of memory.
 */
export async function readWhole(x: Exchange, channel: Channel, res: Response, upstream: AbortController, guard: AttemptWatch, max = Infinity, limit = 'server.max_body_bytes'): Promise<Uint8Array> {
  let buf: Uint8Array;
  try {
    buf = await startReadWhole(channel, res, guard, max, limit);
  } catch (err) {
    throw wholeReadFailure(x, channel, res, upstream, err);
  } finally {
    unwatch(guard);
  }
  markFirstByte(x.log);
  return buf;
}

/**
 * readWhole's steps, for a caller that awaits the read itself (pipeline/handle.ts: one async function less per
 * small request): the read, started under the watch; what a failed read becomes (the caller unwatches either way,
 * then marks the first byte).
 */
export function startReadWhole(channel: Channel, res: Response, guard: AttemptWatch, max = Infinity, limit = 'server.max_body_bytes'): Promise<Uint8Array> {
  guard.extend(channel.config.stream_idle_timeout_ms, 'body');
  if (max === Infinity) return res.bytes(); // unbounded (a passthrough's answer): no length to check
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) return Promise.reject(answerTooLarge(channel, max, limit));
  // a compressed body's declared length is not what fetch decodes it to (isBoundedJson): counted as it is read
  const bounded = Number.isFinite(declared) && !res.headers.has('content-encoding');
  return bounded || !res.body ? res.bytes() : readCapped(res.body, max, channel, guard, limit, res);
}

/**
 * What a failed read of a whole answer means: the client gone, or the attempt's failure (a stall, a connection
 * dropped, an answer past its limit), which falls back like any failure before the first byte (pipeline/handle.ts).
 */
export function wholeReadFailure(x: Exchange, channel: Channel, res: Response, upstream: AbortController, err: unknown): ClientGone | GatewayError {
  if (res.body && !res.body.locked) res.body.cancel().catch(() => {});
  return firstReadFailure(x, channel, upstream, err, 'answer failed before its end');
}

/**
 * The rest of an answer whose first read is in (`start`: a JSON answer to a relayed stream request, sent without a
 * length or compressed; with `stream`, an event stream to a relayed request not streamed, each read within the idle
 * timeout), read whole under the attempt's watch as readWhole reads one, at most `max` bytes in all.
 * A stream is read up to its format's last event (`endsStream`), not to its body's end: a server or proxy that holds
 * its connection open after it (the case relayStream ends at that event for) would otherwise hold the answer until the
 * idle timeout, and fail it. Its body is then given END_GRACE_MS to end on its own (the connection back to fetch's
 * pool), meanwhile, and cut if it goes on (letGoAtEnd).
 * Rejects with what a failed read of a whole answer means (ClientGone, or the attempt's failure).
 */
export async function readRest(x: Exchange, channel: Channel, start: ReadAhead<Uint8Array>, upstream: AbortController, guard: AttemptWatch, max: number, stream = false): Promise<Uint8Array> {
  watch(guard);
  const idle = channel.config.stream_idle_timeout_ms;
  guard.extend(idle, 'body');
  guard.body = start.reader;
  const tooLarge = () => answerTooLarge(channel, max, 'server.max_body_bytes');
  try {
    if (stream) return await readEvents(start, channel, guard, max, tooLarge, () => upstream.abort());
    const parts = [...start.head];
    let size = 0;
    for (const p of parts) size += p.length;
    if (size > max) throw tooLarge();
    if (start.pending) {
      const next = await start.pending;
      if (!next.done) { parts.push(next.value); size += next.value.length; } else start.whole = true;
      if (size > max) throw tooLarge();
    }
    if (!start.whole) parts.push(await readAtMost(start.reader, max - size, tooLarge));
    return concat(parts);
  } catch (err) {
    start.reader.cancel().catch(() => {});
    throw firstReadFailure(x, channel, upstream, err, 'answer failed before its end');
  } finally {
    unwatch(guard);
  }
}

/** A stream read up to its last event: its body given a moment to end on its own (streams.ts: endsSoon), else cut. */
function letGoAtEnd(reader: Reader<Uint8Array>, pending: Promise<ReadResult<Uint8Array>> | null, abort: () => void): void {
  void endsSoon(reader, pending).then((ended) => {
    if (ended) return;
    reader.cancel(new Error('stream complete')).catch(() => {});
    abort();
  });
}

/**
 * A body of undeclared length, read up to `max` bytes; the watch can cancel the waiting read. One labelled an event
 * stream (a translation not streamed answered by an upstream that always streams) is read as readRest reads one:
 * generated as it comes, each read within the idle timeout, and up to its format's last event, not its body's end (a
 * server or proxy that holds its connection after it would otherwise turn the whole answer into a 504).
 */
function readCapped(body: ReadableStream<Uint8Array>, max: number, channel: Channel, guard: AttemptWatch, limit: string, res: Response): Promise<Uint8Array> {
  const reader = body.getReader();
  guard.body = reader;
  const tooLarge = () => answerTooLarge(channel, max, limit);
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return readAtMost(reader, max, tooLarge);
  return readEvents({ reader, head: [], pending: null, whole: false }, channel, guard, max, tooLarge, () => guard.abortUpstream())
    .catch((err) => {
      reader.cancel().catch(() => {});
      throw err;
    });
}

/**
 * An event stream read whole (readRest's `stream`, readCapped), `start` what was read of it already: each read within
 * the channel's idle timeout, at most `max` bytes in all, and up to its format's last event (or an error event, which
 * ends it as well), not its body's end; the
 * body then let go (letGoAtEnd, `abort` the upstream request's).
 */
async function readEvents(start: ReadAhead<Uint8Array>, channel: Channel, guard: AttemptWatch, max: number, tooLarge: () => GatewayError, abort: () => void): Promise<Uint8Array> {
  const idle = channel.config.stream_idle_timeout_ms;
  const format = FORMATS[channel.nativeFormat];
  // its last event, or an error event, which ends a stream too (formats/types.ts: endsWithError)
  const ends = (chunk: Uint8Array, before: Uint8Array | null) => format.endsStream(chunk, before) || format.endsWithError(chunk, before);
  const parts = [...start.head];
  let size = 0;
  for (const p of parts) size += p.length;
  if (size > max) throw tooLarge();
  let last = parts.at(-1);
  let atEnd = last !== undefined && ends(last, parts.at(-2) ?? null);
  let pending = start.pending;
  while (!atEnd && !start.whole) {
    guard.extend(idle, 'body');
    const next = await (pending ?? start.reader.read());
    pending = null;
    if (next.done) break;
    size += next.value.length;
    if (size > max) throw tooLarge();
    parts.push(next.value);
    atEnd = ends(next.value, last ?? null);
    last = next.value;
  }
  if (atEnd && !start.whole) letGoAtEnd(start.reader, pending, abort);
  return concat(parts);
}

function answerTooLarge(channel: Channel, max: number, limit: string): GatewayError {
  return new GatewayError(502, 'api_error', `channel ${channel.name}: upstream answer larger than ${max} bytes (${limit})`);
}

/** Error bodies are small: past this size (or a stall) the body is dropped and the status goes out alone. */
const ERROR_BODY_MAX = 1024 * 1024;

/** A final upstream error: same format → its body as it is (a JSON one); translated, or no JSON → the client's envelope. */
export async function upstreamError(x: Exchange, channel: Channel, res: Response, passthrough: boolean, upstream: AbortController, guard: AttemptWatch): Promise<Response> {
  // read under the watch like any answer (an error page that stalls must not hold the client forever), but the
  // status is what matters: a body that stalls, breaks off or is too large is dropped, the status still goes out
  let raw: Uint8Array = new Uint8Array(0);
  try {
    raw = await readWhole(x, channel, res, upstream, guard, ERROR_BODY_MAX, 'the most an error body is read');
  } catch (err) {
    if (err instanceof ClientGone) throw err;
  }
  x.log.entry.error = `upstream HTTP ${res.status}`;
  // an upstream that echoes the credential it was given: never to the client (relayed bytes change only there)
  const key = channel.secrets;
  const body = errorBodyOf(channel, utf8.decode(raw));
  if (res.status === 401 || res.status === 403) throw credentialsRefused(channel, res.status, body);
  const said = FORMATS[channel.nativeFormat].errorToGateway(res.status, body);
  // an error object of the client's own format goes out as it came; a page that is no JSON (a proxy's HTML 502, an
  // empty body) is put in the client's envelope as a translation's is, so that its SDK reads a message and Claude Code
  // shows one line naming the channel rather than the page's markup; a status that is no error (a 304: redirects are
  // handled before) passes through as it is (test/e2e/messages-passthrough.test.ts), translated it is the channel's 502
  if (passthrough && (typeof body !== 'string' || res.status < 400)) {
    // the log line gets the error's type as a translated error's does (its message stays out: it may quote the request)
    x.log.entry.error_type = said.type;
    return new Response(redactKeyBytes(raw, key), { status: res.status, headers: relayableResponseHeaders(res.headers, x.requestId, x.format === 'openai-chat', channel.credentialHeaders) });
  }
  // a page rather than an error object (up to 1 MB of it, HTML and all) is quoted short, with the channel named
  const err = typeof body === 'string' || said.message === `upstream returned HTTP ${res.status}` ? unexplained(said, channel, res.status, body) : said;
  // the upstream's retry advice, which the client's SDK reads the same way in either format (the Anthropic and openai
  // SDKs both honour all three): `x-should-retry: false` (a quota gone, not a moment's rate limit) was lost, and the
  // SDK retried what the upstream had said not to
  for (const name of RETRY_ADVICE) {
    const value = res.headers.get(name);
    if (value) err.headers[name] = value;
  }
  throw err;
}

/** Response headers that tell a client whether and when to retry, kept on a translated error (upstreamError). */
const RETRY_ADVICE = ['retry-after', 'retry-after-ms', 'x-should-retry'] as const;

/**
 * An error whose body said nothing the formats read (a wrong base_url path's plain 404, a proxy's HTML page): the
 * channel named, and the page's text quoted (tags and runs of white space dropped, at most 200 characters, the
 * channel's key already masked), so that the client's message says where to look.
 */
function unexplained(said: GatewayError, channel: Channel, status: number, body: unknown): GatewayError {
  // a tag cannot hold `<`: with `[^>]*`, every `<` of a page without its `>` scanned the rest of the page (a megabyte
  // of `<`: minutes of the event loop); with `[^<>]*` no character is scanned from more than one `<`
  const text = typeof body === 'string' ? body.replace(/<[^<>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) : '';
  return new GatewayError(said.status, said.type, `channel ${channel.name}: upstream returned HTTP ${status}${text ? `: ${text}` : ''}`, { code: said.code, param: said.param });
}

/**
 * The upstream refused the channel's own key (401) or its access (403), on the last candidate: the gateway's
 * configuration, not the client's credentials, so not the upstream's 401 or 403, which an SDK or Claude Code would
 * read as its own key refused ("Please run /login"). A 502 naming the channel, with the upstream's message, and
 * `x-should-retry: false`, which the official SDKs honour (retrying cannot mend a key). Without `body` (one not read:
 * the next candidate was to be tried), the status alone.
 */
export function credentialsRefused(channel: Channel, status: number, body?: unknown): GatewayError {
  const said = body === undefined ? '' : `: ${FORMATS[channel.nativeFormat].errorToGateway(status, body).message.slice(0, 500)}`;
  return new GatewayError(502, 'api_error', `channel ${channel.name}: the upstream refused this channel's ${status === 401 ? 'credentials' : 'access'} (HTTP ${status}${said}); the gateway's configuration needs fixing, not the client's key`, {
    headers: { 'x-should-retry': 'false' },
  });
}

/**
 * An upstream's error body as the gateway reads it: the channel's key and anything that looks like a credential
 * masked (an upstream may echo the key it was given), then parsed; the text itself when it is not JSON.
 */
function errorBodyOf(channel: Channel, text: string): unknown {
  const masked = redactSecrets(redactKey(text, channel.secrets));
  try { return JSON.parse(masked); } catch { return masked; } // non-JSON error page
}

/**
 * A stream whose first event is an error: nothing has reached the client yet, so this can be the attempt's failure:
 * the next channel is tried, or a translation's client gets the error's status (which its SDK retries) instead of an
 * error event inside a 200 (pipeline/handle.ts). Anthropic answers 200 and then `overloaded_error` before any
 * message when it is busy (given the status Anthropic gives that error outside a stream, 529); OpenAI-compatible
 * servers send an error object as their first event (openingChatError). Null for any other first chunk. Read as
 * upstreamError reads an error body: the channel's key masked, and its own key or access refused (401, 403) is the
 * channel's 502, not the client's 401 or 403.
 */
export function openingStreamError(channel: Channel, first: Uint8Array | undefined): GatewayError | null {
  if (first === undefined) return null;
  const opening = channel.nativeFormat !== 'anthropic' ? openingChatError(channel, first) : openingAnthropicError(channel, first);
  if (opening === null) return null;
  const error = FORMATS[channel.nativeFormat].errorToGateway(opening.status, opening.body);
  return error.status === 401 || error.status === 403 ? credentialsRefused(channel, error.status, opening.body) : error;
}

/** An opening error event's body (its credentials masked), and the status to read it with. */
interface OpeningError { status: number; body: unknown }

/** An Anthropic stream whose first event is `event: error`: its body, with the status Anthropic gives its type. */
function openingAnthropicError(channel: Channel, first: Uint8Array): OpeningError | null {
  // only a chunk whose first event (past any comments: a proxy's keep-alive) is `event: error` is read further
  const start = first[0] === 101 /* e */ ? 0 : eventStart(first);
  if (start < 0 || first[start] !== 101) return null;
  for (let i = 0; i < EVENT_ERROR.length; i++) if (first[start + i] !== EVENT_ERROR[i]) return null;
  const text = utf8.decode(first.subarray(start));
  const data = /^data: ?(.*)$/m.exec(text)?.[1];
  const body = errorBodyOf(channel, data ?? '');
  if (typeof body === 'string') return null; // an event cut by the chunk: relayed as it is
  const type = (body as { error?: { type?: unknown } } | null)?.error?.type;
  return { status: statusForErrorType(String(type)), body };
}

const EVENT_ERROR = new TextEncoder().encode('event: error\n');

/**
 * An OpenAI-compatible stream whose first event is an error object: OpenAI's, SGLang's and OpenRouter's
 * `{"error": {…}}` (OpenRouter after its `: OPENROUTER PROCESSING` comments), vLLM's `{"object": "error", …}`, Groq's
 * after `event: error`; its status from the error's own code, else 502 (formats/openai-chat/errors.ts). Only a first
 * event that holds `"error"` is decoded and parsed.
 */
function openingChatError(channel: Channel, first: Uint8Array): OpeningError | null {
  const start = eventStart(first);
  if (start < 0) return null;
  let end = bufferIndexOf.call(first, BLANK_LINE, start);
  if (end < 0) end = first.length;
  const hit = end - start >= ERROR_KEY.length ? bufferLastIndexOf.call(first, ERROR_KEY, end - ERROR_KEY.length) : -1;
  if (hit < start) return null;
  const event = /^(?:event: ?error\r?\n)?data: ?(\{.*\})\s*$/.exec(utf8.decode(first.subarray(start, end)));
  if (!event) return null;
  const body = errorBodyOf(channel, event[1]!);
  if (!body || typeof body !== 'object') return null;
  const o = body as { error?: unknown; object?: unknown };
  if ((o.error === undefined || o.error === null) && o.object !== 'error') return null;
  return { status: 200, body }; // its status from its own code (formats/openai-chat/errors.ts)
}

/** Where a chunk's first event starts, past comment lines and blank lines; -1 when its last line is a comment. */
function eventStart(first: Uint8Array): number {
  let start = 0;
  while (first[start] === 58 /* : */ || first[start] === 10 || first[start] === 13) {
    const nl = first.indexOf(10, start);
    if (nl < 0) return -1;
    start = nl + 1;
  }
  return start;
}

const BLANK_LINE = Buffer.from('\n\n');
const ERROR_KEY = Buffer.from('"error"');
