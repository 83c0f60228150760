/**
 * @module sse/encode
 * The only place that writes `event:` / `data:` text.
 */
import type { SseEvent } from './types.ts';

const enc = new TextEncoder();

/**
 * An event whose `data` the caller knows holds no line break (a format's own events: serialised JSON or a marker,
 * see Format.streamFromHub): written without searching it for one, which costs a copy of the string.
 */
export function encodeOneLineEvent(ev: SseEvent): string {
  let s = '';
  if (ev.event !== undefined) s += `event: ${ev.event}\n`;
  if (ev.id !== undefined) s += `id: ${ev.id}\n`;
  return `${s}data: ${ev.data}\n\n`;
}

/**
 * The text of a one-line event (as encodeOneLineEvent writes it) in two parts around its data's end: `head` (the
 * fields and the data's start) and `tail`, for an event written again and again with another middle.
 */
export function oneLineEventParts(event: string, dataHead: string, dataTail: string): { head: string; tail: string } {
  return { head: `event: ${event}\ndata: ${dataHead}`, tail: `${dataTail}\n\n` };
}

export function encodeSseEvent(ev: SseEvent): string {
  let s = '';
  if (ev.event !== undefined) s += `event: ${ev.event}\n`;
  if (ev.id !== undefined) s += `id: ${ev.id}\n`;
  // a JSON payload never contains a raw newline; other payloads may, and each line needs its own `data:`
  if (ev.data.includes('\n')) for (const line of ev.data.split('\n')) s += `data: ${line}\n`;
  else s += `data: ${ev.data}\n`;
  return s + '\n';
}

export function encodeSse(ev: SseEvent): Uint8Array {
  return enc.encode(encodeSseEvent(ev));
}

export function sseEncoder(): TransformStream<SseEvent, Uint8Array> {
  return new TransformStream<SseEvent, Uint8Array>({
    transform(ev, controller) { controller.enqueue(encodeSse(ev)); },
  });
}
