import { describe, expect, test } from 'bun:test';
import { MessageAccumulator } from '../../../src/hub/accumulate.ts';
import { messageStreamEvents } from '../../../src/hub/message-events.ts';
import type { Message } from '../../../src/hub/types.ts';

const MESSAGE: Message = {
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-up',
  content: [
    { type: 'thinking', thinking: 'hmm', signature: 'sig' },
    { type: 'text', text: 'Grass is green.', citations: [{ type: 'char_location', cited_text: 'green', document_index: 0 }] },
    { type: 'redacted_thinking', data: 'abc' },
    { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: [1, { b: 'c' }] } },
    { type: 'tool_use', id: 'toolu_2', name: 'g', input: {} },
  ],
  stop_reason: 'tool_use', stop_sequence: null, stop_details: null,
  usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 3 },
};

describe('MessageAccumulator', () => {
  test('gathers the events hub/message-events.ts writes back into the same message', () => {
    const acc = new MessageAccumulator();
    for (const ev of messageStreamEvents(MESSAGE)) acc.push(ev);
    expect(acc.ended).toBe(true);
    expect(acc.error).toBeNull();
    expect(acc.final()).toEqual(MESSAGE);
  });

  test('an error event is the stream\'s last word; a stream without message_delta has not ended', () => {
    const acc = new MessageAccumulator();
    const events = messageStreamEvents(MESSAGE);
    for (const ev of events.slice(0, 3)) acc.push(ev);
    expect(acc.ended).toBe(false);
    acc.push({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    for (const ev of events.slice(3)) acc.push(ev);
    expect(acc.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    expect(acc.ended).toBe(false);
  });
});
