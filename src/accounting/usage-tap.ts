/**
 * @module accounting/usage-tap
 * Reads usage on the side of a passthrough body without touching its bytes (STYLE rule 7).
 * The bytes are searched natively for `"usage"`; only the usage object after it is decoded and parsed, and the stop
 * reason is read beside it by a byte search too. `"usage"` followed by its closing quote cannot occur inside a JSON
 * string (quotes there are escaped), so every hit is a real key (or a string value "usage", which has no object).
 */
import type { FormatId } from '../formats/types.ts';
import { addAnthropicUsage, addChatUsage, emptyUsage, type UsageTotals } from './usage.ts';

const USAGE = Buffer.from('"usage"');
const STOP_REASON = Buffer.from('"stop_reason"');
const FINISH_REASON = Buffer.from('"finish_reason"');
const NL = 10;
/** Longest unfinished line kept between chunks (usage-bearing events are small). */
const MAX_CARRY = 64 * 1024;
const MAX_JSON_SIDE_COPY = 4 * 1024 * 1024;

/**
 * Buffer's byte-sequence search, on any Uint8Array (a stream's chunks are plain ones): a Buffer view per chunk
 * would cost an object and ~55 ns each, ~5 µs per 100-chunk stream, most of which hold no usage at all.
 */
const bufferIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
const bufferLastIndexOf = Buffer.prototype.lastIndexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
const find = (bytes: Uint8Array, needle: Uint8Array) => bufferIndexOf.call(bytes, needle);
const findLast = (bytes: Uint8Array, needle: Uint8Array) => bufferLastIndexOf.call(bytes, needle);
/**
 * Buffer's decoding, on any Uint8Array: a view of a small array that fetch just made costs ~0.3 µs more, because
 * reaching its `.buffer` makes the engine move the bytes out of the array into an ArrayBuffer of their own.
 */
const bufferToString = Buffer.prototype.toString as (this: Uint8Array, encoding: 'utf8', start?: number, end?: number) => string;

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
  private carry: Buffer | null = null;
  private json: Buffer[] = [];
  private jsonBytes = 0;

  constructor(private readonly format: FormatId, private readonly sse: boolean) {}

  push(chunk: Uint8Array): void {
    if (!this.sse) {
      if (this.jsonBytes < MAX_JSON_SIDE_COPY) { this.json.push(Buffer.from(chunk)); this.jsonBytes += chunk.length; }
      return;
    }
    if (this.carry === null && find(chunk, USAGE) < 0) {
      // most chunks: no usage, nothing left over from the last one
      if (this.format !== 'anthropic') this.finishReason(chunk);
      const lastNl = chunk.lastIndexOf(NL);
      if (lastNl < chunk.length - 1) this.keep(chunk.subarray(lastNl + 1));
      return;
    }
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let from = 0;
    if (this.carry) {
      // the line left unfinished by the last chunk: joined (a copy) only when it holds "usage"
      const nl = bytes.indexOf(NL);
      const head = nl < 0 ? bytes : bytes.subarray(0, nl);
      const carry = this.carry;
      if (nl < 0) {
        // a long line still unfinished: all of it is kept, "usage" may come later in it
        this.keep(Buffer.concat([carry, bytes]));
        return;
      }
      const hit = carry.indexOf(USAGE) >= 0 || head.indexOf(USAGE) >= 0
        || Buffer.concat([carry.subarray(Math.max(0, carry.length - USAGE.length + 1)), head.subarray(0, USAGE.length - 1)]).indexOf(USAGE) >= 0;
      this.carry = null;
      if (hit) this.line(Buffer.concat([carry, head]));
      from = nl + 1;
    }
    for (;;) {
      const hit = bytes.indexOf(USAGE, from);
      if (hit < 0) break;
      // `"usage":null` (every chunk of an OpenAI stream with include_usage but the last): nothing to read
      if (isNullAfterKey(bytes, hit + USAGE.length)) { from = hit + USAGE.length; continue; }
      const lineStart = Math.max(from, bytes.lastIndexOf(NL, hit) + 1);
      const lineEnd = bytes.indexOf(NL, hit);
      if (lineEnd < 0) { this.keep(bytes.subarray(lineStart)); return; }
      this.line(bytes.subarray(lineStart, lineEnd));
      from = lineEnd + 1;
    }
    if (this.format !== 'anthropic') this.finishReason(bytes);
    // keep the unfinished last line: its "usage" may arrive with the next chunk
    const lastNl = bytes.lastIndexOf(NL);
    const tail = lastNl < from - 1 ? bytes.subarray(from) : bytes.subarray(lastNl + 1);
    if (tail.length) this.keep(tail);
  }

  finish(): UsageTotals {
    if (this.sse) {
      if (this.carry && this.carry.indexOf(USAGE) >= 0) this.line(this.carry);
    } else if (this.json.length) {
      this.readJson(this.json.length === 1 ? this.json[0]! : Buffer.concat(this.json));
    }
    this.carry = null;
    this.json = [];
    return this.usage;
  }

  /** A whole JSON body: parse just the last `"usage": {…}` object and the stop reason next to it. */
  readJson(body: Uint8Array): void {
    const stop = readJsonUsage(body, this.format, this.usage);
    if (stop !== null) this.stopReason = stop;
  }

  /** OpenAI-style streams name the finish reason in a chunk of its own, without usage. */
  private finishReason(chunk: Uint8Array): void {
    const finish = stringAfter(chunk, FINISH_REASON);
    if (finish !== null) this.stopReason = finish;
  }

  private keep(tail: Uint8Array): void {
    this.carry = Buffer.from(tail.length > MAX_CARRY ? tail.subarray(tail.length - MAX_CARRY) : tail);
  }

  /** One SSE line holding `"usage"`: only its usage object is parsed, and the stop reason read beside it. */
  private line(l: Buffer): void {
    if (l.length < 5 || l[0] !== 100 || l[1] !== 97 || l[2] !== 116 || l[3] !== 97 || l[4] !== 58) return; // `data:`
    const hit = l.lastIndexOf(USAGE);
    if (hit >= 0) addUsageAt(l, hit, this.format, this.usage);
    const stop = stringAfter(l, this.format === 'anthropic' ? STOP_REASON : FINISH_REASON);
    if (stop !== null) this.stopReason = stop;
  }

}

/** The `"usage": {…}` object whose key starts at `hit`, parsed alone and added; `"usage": null` adds nothing. */
function addUsageAt(buf: Uint8Array, hit: number, format: FormatId, into: UsageTotals): void {
  let i = skipWs(buf, hit + USAGE.length);
  if (buf[i] !== 58 /* : */) return;
  i = skipWs(buf, i + 1);
  if (buf[i] !== 123 /* { */) return;
  const close = matchBrace(buf, i);
  if (close < 0) return;
  try {
    const usage = JSON.parse(bufferToString.call(buf, 'utf8', i, close + 1));
    if (format === 'anthropic') addAnthropicUsage(into, usage);
    else addChatUsage(into, usage);
  } catch { /* malformed: no usage */ }
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
function matchBrace(buf: Uint8Array, open: number): number {
  let depth = 0;
  for (let i = open; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 34 /* " */) {
      for (i++; i < buf.length && buf[i] !== 34; i++) if (buf[i] === 92 /* \ */) i++;
      continue;
    }
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}

/** The short lower-case string value of the last `"key"` in a JSON body (`"stop_reason": "end_turn"`), or null. */
function stringAfter(buf: Uint8Array, key: Uint8Array): string | null {
  const at = findLast(buf, key);
  if (at < 0) return null;
  let i = skipWs(buf, at + key.length);
  if (buf[i] !== 58 /* : */) return null;
  i = skipWs(buf, i + 1);
  if (buf[i++] !== 34 /* " */) return null;
  const start = i;
  while (i < buf.length && i - start < 64 && ((buf[i]! >= 97 && buf[i]! <= 122) || buf[i] === 95 /* _ */)) i++;
  return buf[i] === 34 && i > start ? String.fromCharCode(...buf.subarray(start, i)) : null;
}
