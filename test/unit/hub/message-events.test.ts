import { describe, expect, test } from 'bun:test';
import { messageStreamEvents } from '../../../src/hub/message-events.ts';
import type { Message, RawMessageStreamEvent } from '../../../src/hub/types.ts';
import { listFixtures, readFixture } from '../../helpers/fixtures.ts';

/** What a client assembles from the events, as the Anthropic SDK's MessageStream does. */
function assemble(events: RawMessageStreamEvent[]): Message {
  let msg: Message | undefined;
  const json: Record<number, string> = {};
  for (const ev of events) {
    switch (ev.type) {
      case 'message_start': msg = structuredClone(ev.message); break;
      case 'content_block_start': msg!.content[ev.index] = structuredClone(ev.content_block); break;
      case 'content_block_delta': {
        const b = msg!.content[ev.index] as Record<string, unknown>;
        const d = ev.delta;
        if (d.type === 'text_delta') b.text += d.text;
        else if (d.type === 'thinking_delta') b.thinking += d.thinking;
        else if (d.type === 'signature_delta') b.signature = d.signature;
        else if (d.type === 'input_json_delta') json[ev.index] = (json[ev.index] ?? '') + d.partial_json;
        break;
      }
      case 'content_block_stop': if (json[ev.index] !== undefined) (msg!.content[ev.index] as Record<string, unknown>).input = JSON.parse(json[ev.index]!); break;
      case 'message_delta': Object.assign(msg!, ev.delta); msg!.usage = { ...msg!.usage, ...ev.usage }; break;
      default: break;
    }
  }
  return msg!;
}

describe('messageStreamEvents', () => {
  const responses = listFixtures('anthropic').filter((f) => /\/response-[^/]*\.json$/.test(f));
  test.each(responses)('%s: the events assemble into the message', (f) => {
    const message = JSON.parse(readFixture(f)) as Message;
    const events = messageStreamEvents(message);
    expect(events[0]!.type).toBe('message_start');
    expect(events.at(-2)!.type).toBe('message_delta');
    expect(events.at(-1)!.type).toBe('message_stop');
    const start = events[0] as Extract<RawMessageStreamEvent, { type: 'message_start' }>;
    expect(start.message.content).toEqual([]);
    expect(start.message.stop_reason).toBeNull();
    const back = assemble(events);
    // text blocks' citations come as citations_delta in a real stream; a whole answer's are not carried here
    const strip = (m: Message) => ({ ...m, content: m.content.map((b) => (b.type === 'text' ? { type: 'text', text: (b as { text: string }).text } : b)) });
    expect(strip(back)).toEqual(strip(message));
  });

  test('a tool call with an empty input and a thinking block without text still open and close as blocks', () => {
    const message: Message = {
      id: 'msg_1', type: 'message', role: 'assistant', model: 'm', stop_reason: 'tool_use', stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 9 },
      content: [{ type: 'thinking', thinking: '', signature: 'sig' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }],
    };
    const events = messageStreamEvents(message);
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(assemble(events)).toEqual(message);
  });
});
