/**
 * @module sse/decode
 * Byte-level SSE decoding (https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream).
 * Input may be split anywhere, including inside a multi-byte UTF-8 character or between `\r` and `\n`.
 * Comment lines (`: OPENROUTER PROCESSING`) are skipped; `retry:` is ignored.
 */
import type { SseEvent, SseSink } from './types.ts';
import { bufferIndexOf, bufferLastIndexOf } from '../util/bytes.ts';

/** The longest event the parser holds while waiting for its end, in characters (a hostile stream cannot grow it). */
export const MAX_EVENT_CHARS = 32 * 1024 * 1024;

/**
 * Incremental parser; `push` returns the events completed by this chunk. It throws when the unfinished event it holds
 * grows past `maxEvent` characters (an upstream that never ends an event must not exhaust memory).
 */
export class SseParser {
  private readonly text = new TextDecoder('utf-8');
  private buf = '';
  private pendingCr = false;
  private event: string | undefined;
  private data: string[] = [];
  private dataChars = 0;
  private id: string | undefined;

  constructor(private readonly maxEvent = MAX_EVENT_CHARS) {}

  push(chunk: Uint8Array | string, out: SseEvent[] = []): SseEvent[] {
    this.feed(chunk, this.into(out));
    return out;
  }

  /** `push`, the events handed to `sink` in order (an event of one data line offered to its `data` first). */
  feed(chunk: Uint8Array | string, out: SseSink): void {
    let s = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    if (this.pendingCr) {
      // a `\r` ended the previous chunk: a leading `\n` here belongs to the same line break
      this.pendingCr = false;
      if (s.startsWith('\n')) s = s.slice(1);
    }
    const carried = this.buf.length;
    const buf = this.buf + s;
    // no `\r` anywhere and no event half-read line by line: whole events are cut at their blank line ("\n\n") and
    // the common shapes read directly; everything else goes line by line
    if (this.data.length === 0 && this.event === undefined && this.id === undefined && s.indexOf('\r') === -1) {
      // the carried text holds no blank line (a long event split over many chunks is not searched again and again)
      this.buf = buf.slice(this.blocks(buf, carried > 0 ? carried - 1 : 0, out));
    } else {
      this.lines(buf, out);
    }
    if (this.buf.length + this.dataChars > this.maxEvent) throw new Error(`stream event longer than ${this.maxEvent} characters`);
  }

  /** An array as a sink (one per parser, pointed at the array of each call). */
  private readonly arraySink = { target: [] as SseEvent[], event(ev: SseEvent) { this.target.push(ev); } };
  private into(out: SseEvent[]): SseSink {
    this.arraySink.target = out;
    return this.arraySink;
  }

  /**
   * Whole events of `buf` (LF line breaks only), dispatched; returns where the unfinished rest begins. The first
   * blank line is searched for from `scanFrom` (what came before it is known to hold none). An event's first line
   * break is found first: most events are one line, whose end it then is (one search per event, not two).
   */
  private blocks(buf: string, scanFrom: number, out: SseSink): number {
    let start = 0;
    if (scanFrom > 0) {
      const end = buf.indexOf('\n\n', scanFrom);
      if (end === -1) return 0;
      if (end > 0) this.block(buf, 0, end, buf.indexOf('\n'), out);
      start = end + 2;
    }
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl === -1) return start;
      if (buf.charCodeAt(nl + 1) === 10) {
        if (nl > start) this.block(buf, start, nl, nl, out);
        start = nl + 2;
        continue;
      }
      const end = buf.indexOf('\n\n', nl + 1);
      if (end === -1) return start;
      this.block(buf, start, end, nl, out);
      start = end + 2;
    }
  }

  /** One event's lines, `buf[start, end)`, without the blank line that ends it; `nl`: its first line break (or `end`). */
  private block(buf: string, start: number, end: number, nl: number, out: SseSink): void {
    const oneLine = nl >= end;
    if (oneLine && buf.startsWith('data: ', start)) {
      if (out.data?.(buf, start + 6, end, false) !== true) out.event({ data: buf.slice(start + 6, end) });
      return;
    }
    if (!oneLine && buf.startsWith('event: ', start) && buf.startsWith('data: ', nl + 1)) {
      const next = buf.indexOf('\n', nl + 1);
      if (next === -1 || next >= end) {
        if (out.data?.(buf, nl + 7, end, true) !== true) out.event({ data: buf.slice(nl + 7, end), event: buf.slice(start + 7, nl) });
        return;
      }
    }
    let from = start;
    while (from <= end) {
      let i = buf.indexOf('\n', from);
      if (i === -1 || i > end) i = end;
      this.line(buf.slice(from, i), out);
      from = i + 1;
    }
    this.dispatch(out);
  }

  /** The general case: line by line, any of `\r\n`, `\n`, `\r`; the unfinished last line is kept in `buf`. */
  private lines(buf: string, out: SseSink): void {
    let start = 0;
    // line breaks found with native indexOf; `\r` is rare, so look for it only while one is known to lie ahead
    let nextCr = buf.indexOf('\r');
    let nextLf = buf.indexOf('\n');
    while (nextLf !== -1 || nextCr !== -1) {
      const cr = nextCr !== -1 && (nextLf === -1 || nextCr < nextLf);
      const i = cr ? nextCr : nextLf;
      this.line(buf.slice(start, i), out);
      let after = i + 1;
      if (cr) {
        if (after < buf.length) { if (buf.charCodeAt(after) === 10) after++; }
        else this.pendingCr = true;
        nextCr = buf.indexOf('\r', after);
      }
      if (nextLf !== -1 && nextLf < after) nextLf = buf.indexOf('\n', after);
      start = after;
    }
    this.buf = buf.slice(start);
  }

  /** End of input: a final event without its blank line is still dispatched (lenient, like the SDKs). */
  end(out: SseEvent[] = []): SseEvent[] {
    this.finish(this.into(out));
    return out;
  }

  /** `end`, the events handed to `sink`. */
  finish(out: SseSink): void {
    const buf = this.buf + this.text.decode();
    if (buf) {
      this.lines(buf, out);
      if (this.buf) this.line(this.buf, out);
      this.buf = '';
    }
    this.pendingCr = false;
    this.dispatch(out);
  }

  private line(line: string, out: SseSink): void {
    if (line === '') { this.dispatch(out); return; }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data': this.data.push(value); this.dataChars += value.length; break;
      case 'event': this.event = value; break;
      case 'id': this.id = value; break;
      default: break; // `retry` and unknown fields are ignored, per spec
    }
  }

  private dispatch(out: SseSink): void {
    if (this.data.length === 0 && this.event === undefined) return;
    const ev: SseEvent = { data: this.data.join('\n') };
    if (this.event !== undefined) ev.event = this.event;
    if (this.id !== undefined) ev.id = this.id;
    out.event(ev);
    this.data = [];
    this.dataChars = 0;
    this.event = undefined;
    this.id = undefined;
  }
}

export function sseDecoder(): TransformStream<Uint8Array, SseEvent> {
  const parser = new SseParser();
  return new TransformStream<Uint8Array, SseEvent>({
    transform(chunk, controller) {
      for (const ev of parser.push(chunk)) controller.enqueue(ev);
    },
    flush(controller) {
      for (const ev of parser.end()) controller.enqueue(ev);
    },
  });
}

const TAIL_WINDOW = 256;

/**
 * True when `chunk` ends at an event boundary (a blank line) and, within its last 256 bytes, `marker` (`event:
 * message_stop`, `data: [DONE]`) is an event's first line, whole: after a blank line (or at the chunk's start) and
 * followed by a line break. A text that quotes the marker is never that: a JSON string cannot hold a raw line break
 * (its `\n` are escaped), so the quote is never at a line's start. A marker at the chunk's start (or after a line
 * break there) is taken at its word: had the previous chunk ended inside a JSON string, that line would not be JSON.
 * The relay ends a stream at such a chunk (pipeline/streams.ts): a marker inside the answer must not count.
 * `before`, the chunk read before `chunk`: a last event split between the two is found too.
 */
export function endsWithEvent(chunk: Uint8Array, marker: Uint8Array, before?: Uint8Array | null): boolean {
  if (endsWithOwnEvent(chunk, marker)) return true;
  // `before`: the chunk read before this one. When it did not end at a blank line, this one goes on with its last
  // event, which may hold the marker's start (a proxy that cuts its chunks anywhere): the two are looked at as one
  // (a copy of at most 512 bytes, made only for such a pair)
  if (!before || chunk.byteLength >= TAIL_WINDOW || startsEvent(before, before.byteLength)) return false;
  const tail = before.byteLength > TAIL_WINDOW ? before.subarray(before.byteLength - TAIL_WINDOW) : before;
  return endsWithOwnEvent(Buffer.concat([tail, chunk]), marker);
}

function endsWithOwnEvent(chunk: Uint8Array, marker: Uint8Array): boolean {
  const n = chunk.byteLength;
  const m = marker.byteLength;
  if (n < m + 2 || chunk[n - 1] !== 10 /* \n */ && chunk[n - 1] !== 13 /* \r */) return false;
  const last = chunk[n - 2];
  if (last !== 10 && last !== 13) return false;
  // Buffer's search on the array itself: no view (reaching a fresh small array's `.buffer` copies its bytes out)
  for (let at = bufferIndexOf.call(chunk, marker, n > TAIL_WINDOW ? n - TAIL_WINDOW : 0); at >= 0; at = bufferIndexOf.call(chunk, marker, at + 1)) {
    const after = chunk[at + m];
    if ((after === 10 || after === 13) && startsEvent(chunk, at)) return true;
  }
  return false;
}

/** `chunk[at]` starts an event: the chunk's start, or a blank line before it (two line breaks, each `\n`, `\r\n` or `\r`). */
function startsEvent(chunk: Uint8Array, at: number): boolean {
  for (let breaks = 0; breaks < 2; breaks++) {
    if (at === 0) return true; // the chunk's start (see endsWithEvent)
    const c = chunk[at - 1];
    if (c === 10) at -= at > 1 && chunk[at - 2] === 13 ? 2 : 1;
    else if (c === 13) at -= 1;
    else return false;
  }
  return true;
}

/** Whether `chunk` ends with a blank line (`\n\n`, `\r\n\r\n`, `\r\r`): an event's end, nothing of the next one begun. */
export function endsAtEventBoundary(chunk: Uint8Array): boolean {
  const n = chunk.length;
  if (n < 2) return false;
  const a = chunk[n - 2], b = chunk[n - 1];
  return (a === 10 && b === 10) || (a === 13 && b === 13) || (a === 13 && b === 10 && n >= 4 && chunk[n - 3] === 10 && chunk[n - 4] === 13);
}

/**
 * Where the last event of `chunk` starts, past comment lines, when the chunk ends at an event boundary (a blank line,
 * `\n` or `\r\n` line breaks); -1 when it does not. Found with two native searches back from its end for the blank
 * line before it; without one, the chunk's start (taken at its word, as endsWithEvent takes a marker there: an event
 * begun in an earlier chunk is not looked for). For a look at a stream's last event that only a failure needs
 * (formats/types.ts: endsWithError).
 */
export function lastEventStart(chunk: Uint8Array): number {
  let e = chunk.byteLength;
  if (e < 2 || chunk[e - 1] !== 10 /* \n */ || (chunk[e - 2] !== 10 && !(chunk[e - 2] === 13 && chunk[e - 3] === 10))) return -1;
  while (e > 0 && (chunk[e - 1] === 10 || chunk[e - 1] === 13)) e--;
  const lf = e > 0 ? bufferLastIndexOf.call(chunk, LF_LF, e - 1) : -1;
  const crlf = e > 0 ? bufferLastIndexOf.call(chunk, LF_CRLF, e - 1) : -1;
  let start = Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 3);
  while (start < e && chunk[start] === 58 /* : a comment line */) {
    const nl = chunk.indexOf(10, start);
    if (nl < 0 || nl >= e) return -1; // comments only
    start = nl + 1;
  }
  return start < e ? start : -1;
}

/** The longest error event looked for across two reads (tail of the read before and the read that ends it), in bytes. */
const SPLIT_EVENT_MAX = 8 * 1024;

/**
 * `chunk`'s last event joined to its start in `before` (the chunk read before it), when `chunk` ends at an event
 * boundary, holds no blank line before it (its last event began earlier), and `before` did not end at one: the tail
 * of `before` from its last blank line (or its start, taken at its word as lastEventStart takes a chunk's) followed by
 * `chunk`, a copy of at most SPLIT_EVENT_MAX bytes; null otherwise (the event starts in `chunk`, or is longer: an
 * error event is short). For endsWithError (formats/types.ts), whose event a server or proxy may cut anywhere.
 */
export function joinedLastEvent(chunk: Uint8Array, before: Uint8Array): Uint8Array | null {
  let e = chunk.byteLength;
  if (e === 0 || e >= SPLIT_EVENT_MAX || chunk[e - 1] !== 10 || startsEvent(before, before.byteLength)) return null;
  while (e > 0 && (chunk[e - 1] === 10 || chunk[e - 1] === 13)) e--;
  // line breaks alone: the blank line's second half (lastEventStart reads the two joined); else `chunk` ends at a
  // blank line of its own and holds none before it
  if (e > 0 && (chunk.byteLength - e < 2 || chunk[chunk.byteLength - 2] === 13 && chunk.byteLength - e < 3)) return null;
  if (e > 0 && (bufferLastIndexOf.call(chunk, LF_LF, e - 1) >= 0 || bufferLastIndexOf.call(chunk, LF_CRLF, e - 1) >= 0)) return null;
  // the tail of `before` that fits: its last blank line searched for there alone
  const room = SPLIT_EVENT_MAX - chunk.byteLength;
  const whole = before.byteLength <= room;
  const tail = whole ? before : before.subarray(before.byteLength - room);
  const lf = bufferLastIndexOf.call(tail, LF_LF);
  const crlf = bufferLastIndexOf.call(tail, LF_CRLF);
  if (lf < 0 && crlf < 0 && !whole) return null;
  const start = Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 3);
  return Buffer.concat([tail.subarray(start), chunk]);
}

/** Whether `chunk` holds `line` at `at`, a whole line (a line break after it). */
export function lineAt(chunk: Uint8Array, at: number, line: Uint8Array): boolean {
  const m = line.byteLength;
  if (at < 0 || at + m >= chunk.byteLength) return false;
  for (let i = 0; i < m; i++) if (chunk[at + i] !== line[i]) return false;
  const after = chunk[at + m];
  return after === 10 || after === 13;
}

const LF_LF = new Uint8Array([10, 10]);
const LF_CRLF = new Uint8Array([10, 13, 10]);
