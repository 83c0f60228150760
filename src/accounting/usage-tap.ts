/**
 * @module accounting/usage-tap
 * Reads usage on the side of a passthrough body without touching its bytes (STYLE rule 7).
 * Only lines that mention `"usage"` are JSON-parsed; everything else is a substring search.
 * SSE: Anthropic's message_start / message_delta, or OpenAI's usage chunk. JSON: the whole (small) body at the end.
 */
import type { FormatId } from '../formats/types.ts';
import { addAnthropicUsage, addChatUsage, emptyUsage, type UsageTotals } from './usage.ts';

const MAX_JSON_SIDE_COPY = 4 * 1024 * 1024;

export class UsageSniffer {
  readonly usage: UsageTotals = emptyUsage();
  stopReason: string | null = null;
  private readonly text = new TextDecoder();
  private carry = '';
  private json = '';

  constructor(private readonly format: FormatId, private readonly sse: boolean) {}

  push(chunk: Uint8Array): void {
    const s = this.text.decode(chunk, { stream: true });
    if (!this.sse) {
      if (this.json.length < MAX_JSON_SIDE_COPY) this.json += s;
      return;
    }
    const buf = this.carry ? this.carry + s : s;
    let from = 0;
    for (;;) {
      const hit = buf.indexOf('"usage"', from);
      if (hit < 0) break;
      const lineStart = buf.lastIndexOf('\n', hit) + 1;
      const lineEnd = buf.indexOf('\n', hit);
      if (lineEnd < 0) { this.carry = buf.slice(lineStart); return; }
      this.line(buf.slice(lineStart, lineEnd));
      from = lineEnd + 1;
    }
    // keep only the unfinished last line, in case its "usage" arrives in the next chunk
    const lastNl = buf.lastIndexOf('\n');
    this.carry = lastNl < 0 ? buf.slice(-4096) : buf.slice(lastNl + 1, lastNl + 1 + 65536);
  }

  finish(): UsageTotals {
    if (this.sse) {
      if (this.carry.includes('"usage"')) this.line(this.carry);
    } else if (this.json) {
      try { this.apply(JSON.parse(this.json)); } catch { /* not JSON: no usage */ }
    }
    this.carry = '';
    this.json = '';
    return this.usage;
  }

  private line(line: string): void {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (!l.startsWith('data:')) return;
    try { this.apply(JSON.parse(l.slice(5))); } catch { /* partial or foreign line */ }
  }

  private apply(o: Record<string, unknown>): void {
    if (this.format === 'anthropic') {
      if (o.type === 'message_start') addAnthropicUsage(this.usage, (o.message as Record<string, unknown>)?.usage);
      else if (o.type === 'message_delta') {
        addAnthropicUsage(this.usage, o.usage);
        const d = o.delta as Record<string, unknown> | undefined;
        if (typeof d?.stop_reason === 'string') this.stopReason = d.stop_reason;
      } else if (o.type === 'message') {
        addAnthropicUsage(this.usage, o.usage);
        if (typeof o.stop_reason === 'string') this.stopReason = o.stop_reason;
      } else if (o.usage !== undefined) addAnthropicUsage(this.usage, o.usage); // count_tokens: {input_tokens}
      else if (typeof o.input_tokens === 'number') addAnthropicUsage(this.usage, o);
    } else {
      addChatUsage(this.usage, o.usage);
      const choice = (o.choices as Array<Record<string, unknown>> | undefined)?.[0];
      if (typeof choice?.finish_reason === 'string') this.stopReason = choice.finish_reason;
    }
  }
}
