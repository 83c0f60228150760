/** @module sse/types */
/** One Server-Sent Event. `data` is the joined `data:` lines; comments are not events. */
export interface SseEvent { event?: string; data: string; id?: string }

/** Where SseParser.feed puts what it reads, in stream order. */
export interface SseSink {
  event(ev: SseEvent): void;
  /**
   * Optional: an event of one `data:` line, alone (`named` false) or after an `event:` line (`named` true), and
   * nothing else, offered as its data's text `s[start, end)` before an SseEvent is made of it: true when the sink
   * took it that way (no event follows), false to get it through `event`.
   */
  data?(s: string, start: number, end: number, named: boolean): boolean;
}
