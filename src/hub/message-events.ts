/**
 * @module hub/message-events
 * A whole Message as the stream events that would have carried it, the way Anthropic streams one: message_start
 * with the envelope and no content, each block opened empty, filled by one delta and closed, then message_delta with
 * the stop reason and usage, and message_stop. For an upstream that answered a streamed request with a whole JSON
 * answer (a provider or proxy that ignores `stream`): the client asked for a stream and gets one.
 */
import type { ContentBlock, Message, RawMessageStreamEvent } from './types.ts';

export function messageStreamEvents(message: Message): RawMessageStreamEvent[] {
  const { content, stop_reason, stop_sequence, usage, ...envelope } = message;
  const out: RawMessageStreamEvent[] = [{
    type: 'message_start',
    message: { ...envelope, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: Math.min(usage.output_tokens, 1) } },
  }];
  content.forEach((block, index) => {
    // known blocks are opened empty and filled by one delta; any other (redacted thinking) starts whole
    const b = block as ContentBlock;
    switch (b.type) {
      case 'text':
        out.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        // a cited text's citations, each as Anthropic streams it (the SDK gathers them into the block's `citations`)
        for (const citation of citationsOf(b)) out.push({ type: 'content_block_delta', index, delta: { type: 'citations_delta', citation } });
        if (b.text) out.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
        break;
      case 'thinking':
        out.push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
        if (b.thinking) out.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: b.thinking } });
        out.push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: b.signature ?? '' } });
        break;
      case 'tool_use': {
        out.push({ type: 'content_block_start', index, content_block: { ...b, input: {} } }); // with any field of its own (`caller`)
        const input = JSON.stringify(b.input ?? {});
        if (input !== '{}') out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: input } });
        break;
      }
      default:
        out.push({ type: 'content_block_start', index, content_block: block });
    }
    out.push({ type: 'content_block_stop', index });
  });
  // stop_details (why a refusal stopped) where the message has them: the SDK takes them from message_delta alone
  const stopDetails = (message as { stop_details?: unknown }).stop_details;
  const delta = stopDetails === undefined ? { stop_reason, stop_sequence } : { stop_reason, stop_sequence, stop_details: stopDetails };
  out.push({ type: 'message_delta', delta, usage: { ...usage } });
  out.push({ type: 'message_stop' });
  return out;
}

function citationsOf(block: ContentBlock): unknown[] {
  const citations = (block as { citations?: unknown }).citations;
  return Array.isArray(citations) ? citations : [];
}
