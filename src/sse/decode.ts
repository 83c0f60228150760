/**
 * @module sse/decode
 * Byte-level SSE decoding (https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream).
 * Input may be split anywhere, including inside a multi-byte UTF-8 character or between `\r` and `\n`.
 * Comment lines (`: OPENROUTER PROCESSING`) are skipped; `retry:` is ignored.
 */
import type { SseEvent } from './types.ts';

/** Incremental parser; `push` returns the events completed by this chunk. */
export class SseParser {
  private readonly text = new TextDecoder('utf-8');
  private buf = '';
  private pendingCr = false;
  private event: string | undefined;
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: Uint8Array | string, out: SseEvent[] = []): SseEvent[] {
    let s = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    if (this.pendingCr) {
      // a `\r` ended the previous chunk: a leading `\n` here belongs to the same line break
      this.pendingCr = false;
      if (s.startsWith('\n')) s = s.slice(1);
    }
    let start = 0;
    const buf = this.buf + s;
    const base = this.buf.length;
    this.buf = '';
    // line breaks found with native indexOf (the carried-over part holds none); `\r` is rare, so look for it
    // only while one is known to lie ahead
    let nextCr = buf.indexOf('\r', base);
    let nextLf = buf.indexOf('\n', base);
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
    return out;
  }

  /** End of input: a final event without its blank line is still dispatched (lenient, like the SDKs). */
  end(out: SseEvent[] = []): SseEvent[] {
    const rest = this.text.decode();
    if (rest) this.buf += rest;
    if (this.buf) { this.line(this.buf, out); this.buf = ''; }
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') { this.dispatch(out); return; }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data': this.data.push(value); break;
      case 'event': this.event = value; break;
      case 'id': this.id = value; break;
      default: break; // `retry` and unknown fields are ignored, per spec
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length === 0 && this.event === undefined) return;
    const ev: SseEvent = { data: this.data.join('\n') };
    if (this.event !== undefined) ev.event = this.event;
    if (this.id !== undefined) ev.id = this.id;
    out.push(ev);
    this.data = [];
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
 * True when `chunk` ends at an event boundary (a blank line) and `marker` occurs within its last 256 bytes: a cheap
 * "this chunk closes the stream" for a format whose last event is known (`event: message_stop`, `data: [DONE]`).
 * A hint, not a parse: callers must not rely on it for what they send.
 */
export function endsWithEvent(chunk: Uint8Array, marker: Uint8Array): boolean {
  const n = chunk.byteLength;
  if (n < marker.byteLength + 2 || chunk[n - 1] !== 10 /* \n */ && chunk[n - 1] !== 13 /* \r */) return false;
  const last = chunk[n - 2];
  if (last !== 10 && last !== 13) return false;
  const from = n > TAIL_WINDOW ? n - TAIL_WINDOW : 0;
  return Buffer.from(chunk.buffer, chunk.byteOffset + from, n - from).indexOf(marker) >= 0;
}
