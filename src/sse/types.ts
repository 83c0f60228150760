/** @module sse/types */
/** One Server-Sent Event. `data` is the joined `data:` lines; comments are not events. */
export interface SseEvent { event?: string; data: string; id?: string }
