/**
 * formats/anthropic streamFromHub writes text deltas without JSON.stringify of the event: the bytes must be the same.
 */
import { describe, expect, test } from 'bun:test';
import { anthropicFormat } from '../../../../src/formats/anthropic/index.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { SseEvent } from '../../../../src/sse/types.ts';

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

  test('other events are serialised whole', () => {
    const ev = { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'sig' } } as RawMessageStreamEvent;
    const out: SseEvent[] = [];
    anthropicFormat.streamFromHub({} as never).push(ev, out);
    expect(out).toEqual([{ event: 'content_block_delta', data: JSON.stringify(ev) }]);
  });
});
