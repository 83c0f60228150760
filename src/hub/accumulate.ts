/**
 * @module hub/accumulate
 * Hub stream events gathered into the whole Message they carry, as the Anthropic SDK's MessageStream gathers them
 * (`finalMessage()`): message_start's envelope, each block from its content_block_start and its deltas (text,
 * thinking and its signature, a tool's input JSON parsed at the end, citations), message_delta's stop reason, its
 * other fields (`stop_details`) and its usage over message_start's. For a relayed request that asked for no stream
 * and was answered with one (an upstream or proxy that always streams): the client gets the whole answer. The mirror
 * of hub/message-events.ts.
 */
import type { Message, RawMessageStreamEvent, Usage } from './types.ts';
import { assertNever } from '../util/never.ts';

/** What a stream gathered: its message (null before message_start), whether it ended, the error it carried. */
export class MessageAccumulator {
  message: Message | null = null;
  /** A message_delta was seen: the answer ended as a whole. */
  ended = false;
  /** The stream's error event, if any (the stream's last word: nothing after it is gathered). */
  error: { type: string; message: string } | null = null;
  /** Each tool block's input JSON as it came, by block index, parsed when the block stops. */
  private readonly json = new Map<number, string>();

  /** The message gathered, its blocks in index order (null when no message_start came). */
  final(): Message | null {
    const m = this.message;
    return m && { ...m, content: m.content.filter((b) => b !== undefined) };
  }

  push(ev: RawMessageStreamEvent): void {
    if (this.error) return;
    const m = this.message;
    switch (ev.type) {
      case 'message_start':
        this.message = { ...ev.message, content: [], usage: { ...ev.message.usage } };
        return;
      case 'content_block_start':
        if (m) m.content[ev.index] = { ...ev.content_block };
        return;
      case 'content_block_delta': {
        const block = m?.content[ev.index] as Record<string, unknown> | undefined;
        if (!block) return;
        const d = ev.delta;
        switch (d.type) {
          case 'text_delta': block.text = String(block.text ?? '') + d.text; return;
          case 'thinking_delta': block.thinking = String(block.thinking ?? '') + d.thinking; return;
          case 'signature_delta': block.signature = d.signature; return;
          case 'input_json_delta': this.json.set(ev.index, (this.json.get(ev.index) ?? '') + d.partial_json); return;
          case 'citations_delta': block.citations = [...(Array.isArray(block.citations) ? block.citations : []), d.citation]; return;
          default: return assertNever(d);
        }
      }
      case 'content_block_stop': {
        const text = this.json.get(ev.index);
        const block = m?.content[ev.index] as Record<string, unknown> | undefined;
        if (text === undefined || !block) return;
        this.json.delete(ev.index);
        // the hub's tool input is a JSON object by the time it is streamed (the format's stage makes it one)
        if (text.trim()) block.input = JSON.parse(text);
        return;
      }
      case 'message_delta': {
        if (!m) return;
        this.ended = true;
        Object.assign(m, ev.delta);
        for (const [k, v] of Object.entries(ev.usage ?? {})) if (v != null) (m.usage as Usage)[k] = v;
        return;
      }
      case 'error':
        this.error = ev.error;
        return;
      case 'message_stop':
      case 'ping':
        return;
      default:
        return assertNever(ev);
    }
  }
}
