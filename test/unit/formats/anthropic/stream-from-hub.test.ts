/**
 * formats/anthropic streamFromHub writes text deltas without JSON.stringify of the event: the bytes must be the same.
 */
import { describe, expect, test } from 'bun:test';
import { anthropicFormat } from '../../../../src/formats/anthropic/index.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { SseEvent } from '../../../../src/sse/types.ts';

describe('anthropic streamFromHub', () => {
  test('a text delta is serialised exactly as JSON.stringify would', () => {
    for (const text of ['', 'plain', 'quote " backslash \\ newline \n tab \t', 'é ✓ 中文 🎉 \u0000 \u2028 \ud800', '</script>']) {
      for (const index of [0, 7, 123]) {
        const ev = { type: 'content_block_delta', index, delta: { type: 'text_delta', text } } as RawMessageStreamEvent;
        const out: SseEvent[] = [];
        anthropicFormat.streamFromHub({} as never).push(ev, out);
        expect(out).toEqual([{ event: 'content_block_delta', data: JSON.stringify(ev) }]);
      }
    }
  });

  test('other events are serialised whole', () => {
    const ev = { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } } as RawMessageStreamEvent;
    const out: SseEvent[] = [];
    anthropicFormat.streamFromHub({} as never).push(ev, out);
    expect(out).toEqual([{ event: 'content_block_delta', data: JSON.stringify(ev) }]);
  });
});
