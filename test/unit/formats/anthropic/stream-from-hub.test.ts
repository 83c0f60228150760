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

  test('deltaEvent: a text, thinking or input_json delta given as its literal is written as push() and the encoding write it', () => {
    const stage = anthropicFormat.streamFromHub({} as never);
    // blocks one after another, and back: the text around the literal follows the block and its kind
    for (const [kind, index] of [['text', 0], ['text', 0], ['thinking', 1], ['text', 1], ['thinking', 1], ['json', 1], ['text', 12], ['json', 0], ['text', 0]] as const) {
      for (const text of ['plain', 'é ✓ 中文 🎉', '', '{"a": "b\\n"}']) {
        const delta = kind === 'text' ? { type: 'text_delta', text } : kind === 'thinking' ? { type: 'thinking_delta', thinking: text } : { type: 'input_json_delta', partial_json: text };
        const ev = { type: 'content_block_delta', index, delta } as RawMessageStreamEvent;
        const out: SseEvent[] = [];
        stage.push(ev, out);
        expect(stage.deltaEvent!(kind, index, JSON.stringify(text))).toBe(encodeOneLineEvent(out[0]!));
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
