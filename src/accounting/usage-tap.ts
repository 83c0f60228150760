/**
 * @module accounting/usage-tap
 * Reads usage on the side of a passthrough body without touching its bytes (STYLE rule 7).
 * The bytes are searched natively for `"usage"`; only the usage object after it is decoded and parsed, and the stop
 * reason is read beside it by a byte search too. `"usage"` followed by its closing quote cannot occur inside a JSON
 * string (quotes there are escaped), so every hit is a real key (or a string value "usage", which has no object).
 */
import type { FormatId } from '../formats/types.ts';
import { GatewayError, isAnthropicErrorType, type AnthropicErrorType } from '../errors.ts';
import { chatErrorToGateway } from '../formats/openai-chat/errors.ts';
import { addAnthropicUsage, addChatUsage, emptyUsage, type UsageTotals } from './usage.ts';
import { bufferIndexOf, bufferLastIndexOf } from '../util/bytes.ts';
import { redactKey, redactSecrets, type Secrets } from '../util/redact.ts';

const USAGE = Buffer.from('"usage"');
const STOP_REASON = Buffer.from('"stop_reason"');
const FINISH_REASON = Buffer.from('"finish_reason"');
const ERROR = Buffer.from('"error"');
/** Bytes either side of a cut between reads searched for a key split there: the longest key's, less one. */
const SEAM = FINISH_REASON.length - 1;
/** Longest line read for an error event (they are short; a text that merely says "error" may be long). */
const MAX_ERROR_LINE = 16 * 1024;
const NL = 10;
/** Longest unfinished line kept between chunks (usage-bearing events are small). */
const MAX_CARRY = 64 * 1024;
const MAX_JSON_SIDE_COPY = 4 * 1024 * 1024;

const copyOf = Uint8Array.prototype.slice as (this: Uint8Array, start: number, end: number) => Uint8Array;
const find = (bytes: Uint8Array, needle: Uint8Array) => bufferIndexOf.call(bytes, needle);
const findLast = (bytes: Uint8Array, needle: Uint8Array) => bufferLastIndexOf.call(bytes, needle);
/**
 * Buffer's decoding, on any Uint8Array: a view of a small array that fetch just made costs ~0.3 µs more, because
 * reaching its `.buffer` makes the engine move the bytes out of the array into an ArrayBuffer of their own.
 */
const bufferToString = Buffer.prototype.toString as (this: Uint8Array, encoding: 'utf8' | 'latin1', start?: number, end?: number) => string;

/**
 * A whole JSON answer's usage, added into `into` (the request's log entry, or a sniffer's totals): only the last
 * `"usage": {…}` object is parsed; returns the stop reason beside it, or null. Reads the bytes as they are: no
 * copy, no view, no object of its own (a JSON answer is read once per non-streamed request).
 */
export function readJsonUsage(body: Uint8Array, format: FormatId, into: UsageTotals): string | null {
  const hit = findLast(body, USAGE);
  if (hit < 0) {
    // count_tokens answers `{"input_tokens": N}`: small, parse it whole
    if (body.length < 4096 && format === 'anthropic') {
      try {
        const o = JSON.parse(bufferToString.call(body, 'utf8')) as Record<string, unknown> | null;
        if (o && typeof o === 'object' && typeof o.input_tokens === 'number') addAnthropicUsage(into, o);
      } catch { /* not JSON */ }
    }
    return null;
  }
  addUsageAt(body, hit, format, into);
  return stringAfter(body, format === 'anthropic' ? STOP_REASON : FINISH_REASON);
}

export class UsageSniffer {
  readonly usage: UsageTotals = emptyUsage();
  stopReason: string | null = null;
  /**
   * The error event a stream carried inside its 200 (Anthropic's `error`, OpenRouter's `{"error": …}`, Groq's
   * `event: error`), for the log line; null if none. Found by a byte search per chunk, like usage; a `data:` line
   * split between two reads is joined, as one holding usage is, when `"error"` lies in the line kept from the read
   * before, at the start of this one, or across the two (a server or proxy that cuts its writes anywhere).
   */
  failure: GatewayError | null = null;
  /**
   * Events seen with `"usage": null` (an OpenAI stream that asked for include_usage carries it on every chunk but the
   * last): counted where the search for usage finds them anyway, for an output estimate of a stream cut before its
   * usage chunk (OpenAI streams about one token a chunk; other providers a few: a floor rather than a guess).
   */
  usageNulls = 0;
  /**
   * Whether the line the last chunk left unfinished holds `"error"` (and is short enough to be an error event's):
   * its error event, should it be one, is known only once the line ends. A relay that masks an error event's
   * credentials (pipeline/passthrough.ts) holds such a line back until then, so that a credential cut by the read
   * does not leave half of itself unmasked. Found where the search for `"error"` found it anyway: no search more.
   */
  errorLineOpen = false;
  private carry: Uint8Array | null = null;
  /**
   * Whether the kept line is a `data:` line, when its start was cut off to keep it within MAX_CARRY (a line longer
   * than that: an answer's last chunk with its whole text and the usage after it); null: its bytes tell.
   */
  private carryData: boolean | null = null;
  /** A JSON body's chunks (not an SSE one's: made on first use). */
  private json: Uint8Array[] | null = null;
  private jsonBytes = 0;

  /**
   * `secrets`: the channel's credentials, masked in an error event's message before it is cut to the length the log
   * line keeps (a credential cut there would leave its first half unmasked; the log masks what it is given).
   */
  constructor(private readonly format: FormatId, private readonly sse: boolean, private readonly secrets?: Secrets) {}

  push(chunk: Uint8Array): void {
    if (!this.sse) {
      if (this.jsonBytes < MAX_JSON_SIDE_COPY) { (this.json ??= []).push(copyOf.call(chunk, 0, chunk.length)); this.jsonBytes += chunk.length; }
      return;
    }
    const errorAt = find(chunk, ERROR);
    const errorLineWasOpen = this.errorLineOpen;
    this.errorLineOpen = false;
    if (this.carry === null && find(chunk, USAGE) < 0) {
      if (errorAt >= 0) this.errorEvents(chunk, 0);
      // most chunks: no usage, nothing left over from the last one
      if (this.format !== 'anthropic') this.finishReason(chunk);
      const lastNl = chunk.lastIndexOf(NL);
      if (lastNl < chunk.length - 1) {
        this.keep(chunk, lastNl + 1, chunk.length);
        if (errorAt >= 0) this.errorLineOpen = errorInTail(chunk, lastNl + 1);
      }
      return;
    }
    // searched and read as they are: a view of a fresh array from fetch makes the engine copy its bytes out first
    // (a 13 KB burst answered in one read: ~10 µs per stream, in-process, bench/alloc.ts)
    let from = 0;
    if (this.carry) {
      // the line left unfinished by the last chunk: joined (a copy) only when it holds "usage"
      const nl = bufferIndexOf.call(chunk, NL);
      const carry = this.carry;
      if (nl < 0) {
        // a long line still unfinished: all of it is kept, "usage" may come later in it
        const joined = Buffer.concat([carry, chunk]);
        this.keep(joined, 0, joined.length, this.carryData);
        // the line goes on: it holds `"error"` when it did, when this read does, or when the cut split the word
        this.errorLineOpen = joined.length <= MAX_ERROR_LINE && (errorLineWasOpen || errorAt >= 0 || find(joined.subarray(Math.max(0, carry.length - ERROR.length + 1), carry.length + ERROR.length - 1), ERROR) >= 0);
        return;
      }
      const head = chunk.subarray(0, nl);
      // the seam: the bytes either side of the cut, where a key may lie split (as wide as the longest key looked for)
      let seam: Uint8Array | null = null;
      const hit = find(carry, USAGE) >= 0 || find(head, USAGE) >= 0 || find(seam = seamOf(carry, head), USAGE) >= 0;
      const carryData = this.carryData;
      this.carry = null;
      this.carryData = null;
      const joined = hit ? Buffer.concat([carry, head]) : null;
      // an error event's data line cut in two (a carry cut to MAX_CARRY is longer than any error line)
      if (carryData === null && ((errorAt >= 0 && errorAt < nl) || find(carry, ERROR) >= 0
        || find(seam ??= seamOf(carry, head), ERROR) >= 0)) {
        this.errorEvents(joined ?? Buffer.concat([carry, head]), 0);
      }
      if (joined) this.line(joined, 0, joined.length, carryData);
      // an OpenAI-style finish reason whose key or value the cut split (its chunk holds no usage): neither read saw it,
      // and a relay ends at `data: [DONE]` only once it is known (a Chat client waited out the idle timeout after it)
      else if (this.format !== 'anthropic' && carryData === null && (find(carry, FINISH_REASON) >= 0 || find(seam ??= seamOf(carry, head), FINISH_REASON) >= 0)) {
        this.finishReason(Buffer.concat([carry, head]));
      }
      from = nl + 1;
    }
    if (errorAt >= 0) this.errorEvents(chunk, from);
    for (;;) {
      const hit = bufferIndexOf.call(chunk, USAGE, from);
      if (hit < 0) break;
      // `"usage":null` (every chunk of an OpenAI stream with include_usage but the last): nothing to read
      if (isNullAfterKey(chunk, hit + USAGE.length)) { this.usageNulls++; from = hit + USAGE.length; continue; }
      const lineStart = Math.max(from, chunk.lastIndexOf(NL, hit) + 1);
      const lineEnd = chunk.indexOf(NL, hit);
      if (lineEnd < 0) {
        // the finish reason of the lines before it too (an OpenAI stream's own chunk, then its usage chunk cut here)
        if (this.format !== 'anthropic') this.finishReason(chunk);
        this.keep(chunk, lineStart, chunk.length);
        if (errorAt >= 0) this.errorLineOpen = errorInTail(chunk, lineStart);
        return;
      }
      this.line(chunk, lineStart, lineEnd);
      from = lineEnd + 1;
    }
    if (this.format !== 'anthropic') this.finishReason(chunk);
    // keep the unfinished last line: its "usage" may arrive with the next chunk
    const lastNl = chunk.lastIndexOf(NL);
    const tail = lastNl < from - 1 ? from : lastNl + 1;
    if (tail < chunk.length) {
      this.keep(chunk, tail, chunk.length);
      if (errorAt >= 0) this.errorLineOpen = errorInTail(chunk, tail);
    }
  }

  finish(): UsageTotals {
    if (this.sse) {
      if (this.carry && find(this.carry, USAGE) >= 0) this.line(this.carry, 0, this.carry.length, this.carryData);
    } else if (this.json) {
      this.readJson(this.json.length === 1 ? this.json[0]! : Buffer.concat(this.json));
    }
    this.carry = null;
    this.carryData = null;
    this.errorLineOpen = false;
    this.json = null;
    return this.usage;
  }

  /** A whole JSON body: parse just the last `"usage": {…}` object and the stop reason next to it. */
  readJson(body: Uint8Array): void {
    const stop = readJsonUsage(body, this.format, this.usage);
    if (stop !== null) this.stopReason = stop;
  }

  /** The `data:` lines of `chunk` that hold `"error"` and are an error event: the last one is the failure. */
  private errorEvents(chunk: Uint8Array, from: number): void {
    while (from < chunk.length) {
      const hit = bufferIndexOf.call(chunk, ERROR, from);
      if (hit < 0) return;
      const start = chunk.lastIndexOf(NL, hit) + 1;
      let end = chunk.indexOf(NL, hit);
      if (end < 0) end = chunk.length;
      from = end + 1;
      if (end - start > MAX_ERROR_LINE || !isDataLine(chunk, start, end)) continue;
      let event: unknown;
      try { event = JSON.parse(bufferToString.call(chunk, 'utf8', start + 5, end)); } catch { continue; }
      if (!event || typeof event !== 'object') continue;
      const { type, object } = event as { type?: unknown; object?: unknown };
      // an OpenAI-compatible error chunk's fields under `error`, or at its top level (vLLM's `{"object": "error"}`)
      let error = this.format !== 'anthropic' && object === 'error' ? event : (event as { error?: unknown }).error;
      // or the message itself (TGI's `{"error": "…", "error_type": …}`, Ollama's), as the translation, the opening-error
      // check and endsWithError read it (formats/openai-chat/errors.ts)
      if (this.format !== 'anthropic' && typeof error === 'string' && error) error = { message: error };
      if (!error || typeof error !== 'object' || (this.format === 'anthropic' && type !== 'error')) continue;
      const e = error as { type?: unknown; message?: unknown };
      // the credentials masked before the cut (recordStreamEnd masks what is left: a credential cut here would stay half)
      let message = typeof e.message === 'string' ? redactSecrets(redactKey(e.message, this.secrets)).slice(0, 500) : 'upstream error inside the stream';
      let logged: AnthropicErrorType;
      if (isAnthropicErrorType(e.type)) logged = e.type;
      else {
        // another word (vLLM's `BadRequestError`, OpenAI's `server_error`): Anthropic's type, as the same stream
        // translated gets it (its numeric code or status, else api_error), so log lines aggregate on one vocabulary;
        // the upstream's word kept in the message
        logged = this.format === 'anthropic' ? 'api_error' : chatErrorToGateway(200, event).type;
        if (typeof e.type === 'string' && e.type && !message.includes(e.type)) message = `${e.type}: ${message}`;
      }
      this.failure = new GatewayError(502, logged, message);
    }
  }

  /**
   * OpenAI-style streams name the finish reason in a chunk of its own, without usage: the last key's string value, or,
   * when that is none, the one key's before it (OpenRouter's usage chunk says `"finish_reason":null` after the chunk
   * that said `"stop"`, in the same read). Two short searches back from the end, never a scan of the whole read for a
   * key that a read in mid-stream holds only with `null` (a search for `"finish_reason":"` did that: ~18 µs more per
   * 25 KB Chat burst, `bench/ab.ts --stream --client openai`).
   */
  private finishReason(chunk: Uint8Array): void {
    const last = findLastBefore(chunk, FINISH_REASON, 0, chunk.length);
    if (last < 0) return;
    let finish = stringAfter(chunk, FINISH_REASON, 0, chunk.length, last);
    if (finish === null) {
      const before = findLastBefore(chunk, FINISH_REASON, 0, last + FINISH_REASON.length - 1);
      if (before >= 0) finish = stringAfter(chunk, FINISH_REASON, 0, last, before);
    }
    if (finish !== null) this.stopReason = finish;
  }

  /**
   * Keeps a copy of `buf[start, end)` (its last MAX_CARRY bytes) for the next chunk. `known`: whether the line is a
   * `data:` line, when that is already known (its start was cut off before); else read from its start if it is cut.
   */
  private keep(buf: Uint8Array, start: number, end: number, known: boolean | null = null): void {
    const from = Math.max(start, end - MAX_CARRY);
    if (from > start) {
      const dataLine = known ?? isDataLine(buf, start);
      // what is cut off may hold the usage (written before a long text): read now, if its object is all there
      if (dataLine && findLastBefore(buf, USAGE, start, from) >= 0) this.line(buf, start, from, true);
      this.carryData = dataLine;
    } else this.carryData = known;
    this.carry = copyOf.call(buf, from, end); // a copy even of a Buffer (whose slice is a view)
  }

  /**
   * One SSE line holding `"usage"` (`buf[start, end)`): only its usage object is parsed, and the stop reason read
   * beside it. `dataLine`: whether it is a `data:` line, when its start is not in `buf` (cut off); null: read it.
   */
  private line(buf: Uint8Array, start: number, end: number, dataLine: boolean | null = null): void {
    if (!(dataLine ?? isDataLine(buf, start, end))) return;
    const hit = findLastBefore(buf, USAGE, start, end);
    if (hit >= 0) addUsageAt(buf, hit, this.format, this.usage, end);
    const stop = stringAfter(buf, this.format === 'anthropic' ? STOP_REASON : FINISH_REASON, start, end);
    if (stop !== null) this.stopReason = stop;
  }
}

/**
 * The `"usage": {…}` object whose key starts at `hit`, parsed alone and added; `"usage": null` adds nothing, and
 * so does an object that does not close before `end` (its line's end, in a stream).
 */
function addUsageAt(buf: Uint8Array, hit: number, format: FormatId, into: UsageTotals, end = buf.length): void {
  let i = skipWs(buf, hit + USAGE.length);
  if (buf[i] !== 58 /* : */) return;
  i = skipWs(buf, i + 1);
  if (buf[i] !== 123 /* { */) return;
  const close = matchBrace(buf, i, end);
  if (close < 0) return;
  try {
    const usage = JSON.parse(bufferToString.call(buf, 'utf8', i, close + 1));
    if (format === 'anthropic') addAnthropicUsage(into, usage, true);
    else addChatUsage(into, usage);
  } catch { /* malformed: no usage */ }
}

/** The bytes either side of the cut between two reads (the kept line and the next read's first line), SEAM each. */
function seamOf(carry: Uint8Array, head: Uint8Array): Uint8Array {
  return Buffer.concat([carry.subarray(Math.max(0, carry.length - SEAM)), head.subarray(0, SEAM)]);
}

/** Whether `chunk` from `start` (an unfinished line it ends with) holds `"error"`, within an error line's length. */
function errorInTail(chunk: Uint8Array, start: number): boolean {
  return chunk.length - start <= MAX_ERROR_LINE && findLast(chunk, ERROR) >= start;
}

/** `data:` at `start` (within `end`). */
function isDataLine(buf: Uint8Array, start: number, end = buf.length): boolean {
  return end - start >= 5 && buf[start] === 100 && buf[start + 1] === 97 && buf[start + 2] === 116 && buf[start + 3] === 97 && buf[start + 4] === 58;
}

/** `: null` at `i` (spaces allowed around the colon). */
function isNullAfterKey(buf: Uint8Array, i: number): boolean {
  i = skipWs(buf, i);
  if (buf[i] !== 58 /* : */) return false;
  i = skipWs(buf, i + 1);
  return buf[i] === 110 /* n */ && buf[i + 1] === 117 && buf[i + 2] === 108 && buf[i + 3] === 108;
}

function skipWs(buf: Uint8Array, i: number): number {
  while (buf[i] === 32 || buf[i] === 10 || buf[i] === 13 || buf[i] === 9) i++;
  return i;
}

/** Index of the `}` closing the object that opens at `open`, skipping strings; -1 if it does not close. */
function matchBrace(buf: Uint8Array, open: number, end: number): number {
  let depth = 0;
  for (let i = open; i < end; i++) {
    const c = buf[i]!;
    if (c === 34 /* " */) {
      for (i++; i < end && buf[i] !== 34; i++) if (buf[i] === 92 /* \ */) i++;
      continue;
    }
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}

/** The last `needle` that lies wholly within `buf[start, end)`, or -1. */
function findLastBefore(buf: Uint8Array, needle: Uint8Array, start: number, end: number): number {
  const at = end - needle.length;
  if (at < start) return -1;
  const hit = bufferLastIndexOf.call(buf, needle, at);
  return hit >= start ? hit : -1;
}

/**
 * The short lower-case string value of the last `"key"` in `buf[start, end)` (`"stop_reason": "end_turn"`), or
 * null. The value is read inside the range too. `keyAt`: the key's place, when already found.
 */
function stringAfter(buf: Uint8Array, key: Uint8Array, start = 0, end = buf.length, keyAt = -1): string | null {
  const at = keyAt >= 0 ? keyAt : findLastBefore(buf, key, start, end);
  if (at < 0) return null;
  let i = skipWs(buf, at + key.length);
  if (buf[i] !== 58 /* : */) return null;
  i = skipWs(buf, i + 1);
  if (buf[i++] !== 34 /* " */) return null;
  const from = i;
  while (i < end && i - from < 64 && ((buf[i]! >= 97 && buf[i]! <= 122) || buf[i] === 95 /* _ */)) i++;
  return i < end && buf[i] === 34 && i > from ? bufferToString.call(buf, 'latin1', from, i) : null;
}

/**
 * The generated text of a relayed Chat Completions stream, in characters (content, reasoning, refusal, tool calls'
 * names and arguments): for an output estimate when the stream reports no usage, as a client that did not ask for
 * `stream_options.include_usage` gets it (the openai SDK's default; the stream is relayed as it is, so the option is
 * not added for it). Read like usage, by native byte searches for the keys whose string values are generated text,
 * each value's characters counted in place (bench/FINDINGS.md, "Usage estimates": parsing every event instead cost
 * such a stream 57.8 -> 90.0 us of CPU, this way ~+8 us). A value or key cut by a chunk's end is counted up to the
 * cut or not at all: an estimate.
 */
export class ChatTextCounter {
  chars = 0;

  push(chunk: Uint8Array): void {
    this.count(chunk, CONTENT);
    // both reasoning keys begin with `"reasoning`: looked for only in a chunk that holds it (one search, not two)
    if (find(chunk, REASONING) >= 0) { this.count(chunk, REASONING_CONTENT); this.count(chunk, REASONING_TEXT); }
    this.count(chunk, ARGUMENTS);
    this.count(chunk, NAME);
    this.count(chunk, REFUSAL);
  }

  private count(chunk: Uint8Array, key: Uint8Array): void {
    this.chars += valueChars(chunk, key);
  }
}

/**
 * The generated text of a relayed Anthropic stream, in characters (text, thinking, a tool call's JSON), counted as
 * ChatTextCounter counts a Chat stream's: for the output of a stream that ends before its message_delta (its client
 * gone, its connection cut, a timeout), which Anthropic bills for what it generated, where message_start says 1.
 * Counted only when asked (`chars`): the chunks are held until then, by reference (fetch hands each read over as an
 * array of its own: Bun 1.4.5), up to HOLD_MAX bytes, past which they are counted and let go. Counting each chunk as
 * it passed cost a relayed ~20 KB burst ~15 µs of gateway CPU (bench/ab.ts), ~50 ns for each event even with one
 * search, for every stream, where only a stream cut short needs the count. `"text":"` is a key wherever it matches
 * (inside a JSON string its quotes would be escaped); empty values (a block's start) count nothing, and a server
 * tool's result that holds text (an MCP tool's) counts as if generated: an estimate.
 */
export class AnthropicTextCounter {
  private counted = 0;
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  push(chunk: Uint8Array): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > HOLD_MAX) this.count();
  }

  get chars(): number {
    this.count();
    return this.counted;
  }

  /** The held chunks counted as one (a value that runs from one read into the next is counted whole), then let go. */
  private count(): void {
    if (this.held.length === 0) return;
    const bytes = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    this.counted += valueChars(bytes, TEXT) + valueChars(bytes, THINKING) + valueChars(bytes, PARTIAL_JSON);
  }
}

/** Most bytes of a stream AnthropicTextCounter holds before it counts them. */
const HOLD_MAX = 64 * 1024;

/** The characters of every string value after `key` (`"key":"`) in `chunk`. */
function valueChars(chunk: Uint8Array, key: Uint8Array): number {
  let chars = 0;
  for (let hit = bufferIndexOf.call(chunk, key); hit >= 0; hit = bufferIndexOf.call(chunk, key, hit + key.length)) {
    chars += stringChars(chunk, hit + key.length);
  }
  return chars;
}

/** `"key":"` of the Chat delta fields that carry generated text (a key inside a JSON string is escaped: no match). */
const valueKey = (k: string) => Buffer.from(`"${k}":"`);
const CONTENT = valueKey('content');
const REASONING_CONTENT = valueKey('reasoning_content');
const REASONING_TEXT = valueKey('reasoning');
const ARGUMENTS = valueKey('arguments');
const NAME = valueKey('name');
const REFUSAL = valueKey('refusal');
const REASONING = Buffer.from('"reasoning');
const TEXT = valueKey('text');
const THINKING = valueKey('thinking');
const PARTIAL_JSON = valueKey('partial_json');

/** Characters of the JSON string whose text starts at `i` (after its opening quote), up to its closing quote or the end. */
function stringChars(b: Uint8Array, i: number): number {
  let chars = 0;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === 34 /* " */) break;
    if (c === 92 /* \ */) { i += b[i + 1] === 117 /* u */ ? 5 : 1; chars++; continue; }
    if ((c & 0xc0) !== 0x80) chars++; // a UTF-8 character's first byte
  }
  return chars;
}

/** Characters of a whole Chat Completions answer's generated text, counted as ChatTextCounter counts a stream's. */
export function chatAnswerChars(body: Uint8Array): number {
  let answer: unknown;
  try { answer = JSON.parse(bufferToString.call(body, 'utf8')); } catch { return 0; }
  const choices = (answer as { choices?: unknown } | null)?.choices;
  let chars = 0;
  if (Array.isArray(choices)) for (const c of choices) chars += generatedChars((c as { message?: unknown } | null)?.message);
  return chars;
}

const GENERATED_TEXT = ['content', 'reasoning_content', 'reasoning', 'refusal'] as const;

/** A Chat `delta` or `message`: the length of its text fields (content as a string or as text parts) and tool calls. */
function generatedChars(m: unknown): number {
  if (!m || typeof m !== 'object') return 0;
  const o = m as Record<string, unknown>;
  let chars = 0;
  for (const k of GENERATED_TEXT) {
    const v = o[k];
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) for (const p of v) if (typeof (p as { text?: unknown } | null)?.text === 'string') chars += (p as { text: string }).text.length;
  }
  if (Array.isArray(o.tool_calls)) {
    for (const t of o.tool_calls) {
      const f = (t as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      if (typeof f?.name === 'string') chars += f.name.length;
      if (typeof f?.arguments === 'string') chars += f.arguments.length;
    }
  }
  return chars;
}
