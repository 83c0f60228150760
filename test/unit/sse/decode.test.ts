import { describe, expect, test } from 'bun:test';
import { SseParser, sseDecoder } from '../../../src/sse/decode.ts';
import { encodeSseEvent } from '../../../src/sse/encode.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';
import type { SseEvent } from '../../../src/sse/types.ts';

const enc = new TextEncoder();
function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) p.push(c, out);
  p.end(out);
  return out;
}

describe('SseParser', () => {
  test.each([
    ['LF', 'event: a\ndata: 1\n\n', [{ event: 'a', data: '1' }]],
    ['CRLF', 'event: a\r\ndata: 1\r\n\r\n', [{ event: 'a', data: '1' }]],
    ['CR', 'event: a\rdata: 1\r\r', [{ event: 'a', data: '1' }]],
    ['multi-line data', 'data: a\ndata: b\n\n', [{ data: 'a\nb' }]],
    ['comment lines skipped', ': OPENROUTER PROCESSING\n\ndata: x\n\n', [{ data: 'x' }]],
    ['no space after colon', 'data:x\n\n', [{ data: 'x' }]],
    ['only first space stripped', 'data:  x\n\n', [{ data: ' x' }]],
    ['id and unknown fields', 'id: 7\nretry: 5\nfoo: bar\ndata: y\n\n', [{ data: 'y', id: '7' }]],
    ['final event without blank line', 'data: tail', [{ data: 'tail' }]],
    ['empty data field', 'data\n\n', [{ data: '' }]],
  ] as const)('%s', (_name, input, expected) => {
    expect(parseChunks([enc.encode(input)])).toEqual(expected as unknown as SseEvent[]);
  });

  test('multi-byte UTF-8 split inside a character', () => {
    const bytes = enc.encode('data: {"t":"héllo ✓ 😀"}\n\n');
    for (let i = 1; i < bytes.length; i++) {
      expect(parseChunks([bytes.slice(0, i), bytes.slice(i)])).toEqual([{ data: '{"t":"héllo ✓ 😀"}' }]);
    }
  });

  test('CR LF split across chunks is one line break', () => {
    expect(parseChunks([enc.encode('data: a\r'), enc.encode('\n\r'), enc.encode('\ndata: b\r\n\r\n')])).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  const fixtures = listFixtures('').filter((f) => f.endsWith('.sse') || f.endsWith('.chunks.jsonl'));
  test('fixtures exist', () => expect(fixtures.length).toBeGreaterThan(20));
  for (const f of fixtures) {
    test(`every-byte split gives the same events: ${f}`, () => {
      const bytes = enc.encode(fixtureSseBody(f));
      const whole = parseChunks([bytes]);
      expect(whole.length).toBeGreaterThan(0);
      // every split point for small fixtures; big ones get ~1500 evenly spread points (an odd stride, so the
      // points land at every offset within lines), and the one-byte-per-chunk pass below splits at every byte
      const step = bytes.length > 4000 ? (Math.ceil(bytes.length / 1500) | 1) : 1;
      for (let i = 1; i < bytes.length; i += step) {
        expect(parseChunks([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
      }
      // and one byte per chunk
      expect(parseChunks(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(whole);
    });
  }
});

describe('sseDecoder / encoder round trip', () => {
  test('encode → decode is identity', async () => {
    const events: SseEvent[] = [{ event: 'message_start', data: '{"a":1}' }, { data: 'multi\nline' }, { data: '[DONE]' }];
    const text = events.map(encodeSseEvent).join('');
    const out: SseEvent[] = [];
    await new Response(text).body!.pipeThrough(sseDecoder()).pipeTo(new WritableStream({ write: (e) => void out.push(e) }));
    expect(out).toEqual(events);
  });
});
