/**
 * formats/anthropic streamFromHub writes text deltas without JSON.stringify of the event: the bytes must be the same.
 */
import { describe, expect, test } from 'bun:test';
import { anthropicFormat } from '../../../../src/formats/anthropic/index.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { SseEvent } from '../../../../src/sse/types.ts';
import { encodeOneLineEvent } from '../../../../src/sse/encode.ts';

describe('anthropic streamFromHub', () => {
  test.each([['text_delta', 'text'], ['thinking_delta', 'thinking'], ['input_json_delta', 'partial_json']])('a %s is serialised exactly as JSON.stringify would', (type, field) => {
    for (const text of ['', 'plain', 'quote " backslash \\ newline \n tab \t', 'é ✓ 中文 🎉 \u0000 \u2028 \ud800', '</script>', '{"a":'.repeat(20)]) {
      for (const index of [0, 7, 123]) {
        const ev = { type: 'content_block_delta', index, delta: { type, [field]: text } } as unknown as RawMessageStreamEvent;
        const out: SseEvent[] = [];
        anthropicFormat.streamFromHub({} as never).push(ev, out);
        expect(out).toEqual([{ event: 'content_block_delta', data: JSON.stringify(ev) }]);
      }
    }
  });

  test('deltaEvent: a text or thinking delta given as its literal is written as push() and the encoding write it', () => {
    const stage = anthropicFormat.streamFromHub({} as never);
    // blocks one after another, and back: the text around the literal follows the block and its kind
    for (const [thinking, index] of [[false, 0], [false, 0], [true, 1], [false, 1], [true, 1], [false, 12], [false, 0]] as const) {
      for (const text of ['plain', 'é ✓ 中文 🎉', '']) {
        const ev = { type: 'content_block_delta', index, delta: thinking ? { type: 'thinking_delta', thinking: text } : { type: 'text_delta', text } } as RawMessageStreamEvent;
        const out: SseEvent[] = [];
        stage.push(ev, out);
        expect(stage.deltaEvent!(thinking, index, JSON.stringify(text))).toBe(encodeOneLineEvent(out[0]!));
      }
    }
  });

  test('other events are serialised whole', () => {
    const ev = { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'sig' } } as RawMessageStreamEvent;
    const out: SseEvent[] = [];
    anthropicFormat.streamFromHub({} as never).push(ev, out);
    expect(out).toEqual([{ event: 'content_block_delta', data: JSON.stringify(ev) }]);
  });
});
