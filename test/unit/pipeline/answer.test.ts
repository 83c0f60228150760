/**
 * @module test/unit/pipeline/answer
 * opensWithComments: whether a stream's first read holds only SSE comments (OpenRouter's processing lines), so that
 * the first read goes on to the first event. SSE ends a line with \n, \r\n or a lone \r
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 */
import { describe, expect, test } from 'bun:test';
import { opensWithComments } from '../../../src/pipeline/answer.ts';
import type { Channel } from '../../../src/channels/types.ts';
import type { ReadAhead } from '../../../src/pipeline/streams.ts';

const enc = new TextEncoder();
const openai = { nativeFormat: 'openai-chat' } as Channel;
const first = (text: string): ReadAhead<Uint8Array> => ({
  reader: { read: async () => ({ done: true }), cancel: async () => {} },
  head: [enc.encode(text)],
  pending: null,
  whole: false,
});

describe('opensWithComments', () => {
  test.each([
    [': OPENROUTER PROCESSING\n\n', true],
    [': OPENROUTER PROCESSING\r\n\r\n', true],
    [': OPENROUTER PROCESSING\r\r', true],
    [': OPENROUTER PROC', true], // a comment cut short by the read
    [': OPENROUTER PROCESSING\n\ndata: {"error":{"message":"busy","code":502}}\n\n', false],
    [': OPENROUTER PROCESSING\r\n\r\ndata: {"error":{"message":"busy","code":502}}\r\n\r\n', false],
    // lone CRs end lines too: an event follows the comment, and the read holds it
    [': OPENROUTER PROCESSING\r\rdata: {"error":{"message":"busy","code":502}}\r\r', false],
    ['data: {"choices":[]}\n\n', false],
  ])('%j: %p', (text, comments) => {
    expect(opensWithComments(openai, first(text))).toBe(comments);
  });
});
