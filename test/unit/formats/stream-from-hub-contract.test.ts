/**
 * The contract the pipeline relies on when it writes a format's stream events (Format.streamFromHub): every event's
 * data is one line, so it is written without being searched for line breaks. Driven by every recorded Anthropic
 * stream (texts, thinking and tool input full of newlines) plus an error, through every format.
 */
import { describe, expect, test } from 'bun:test';
import { FORMATS } from '../../../src/formats/index.ts';
import type { FormatId, TranslateContext } from '../../../src/formats/types.ts';
import type { RawMessageStreamEvent } from '../../../src/hub/types.ts';
import type { SseEvent } from '../../../src/sse/types.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';

const streams = listFixtures('anthropic').filter((f) => /\/stream-[^/]*\.(sse|chunks\.jsonl)$/.test(f));
const ctx = (): TranslateContext => ({
  requestedModel: 'm', upstreamModel: 'm', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 1000, thinkingStyle: 'none', streamUsage: true,
});

describe('streamFromHub writes one-line data', () => {
  test('the recordings hold line breaks to carry', () => {
    expect(streams.length).toBeGreaterThan(5);
    expect(streams.some((f) => fixtureSseBody(f).includes('\\n'))).toBe(true);
  });
  for (const id of Object.keys(FORMATS) as FormatId[]) {
    test(id, () => {
      for (const f of streams) {
        const hub = fixtureSseBody(f).split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)) as RawMessageStreamEvent);
        hub.push({ type: 'error', error: { type: 'api_error', message: 'line one\nline two' } } as RawMessageStreamEvent);
        const stage = FORMATS[id].streamFromHub(ctx());
        const out: SseEvent[] = [];
        for (const ev of hub) stage.push(ev, out);
        stage.end(out);
        expect(out.length).toBeGreaterThan(0);
        for (const ev of out) expect(ev.data.includes('\n') || ev.data.includes('\r')).toBe(false);
      }
    });
  }
});
