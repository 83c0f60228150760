/**
 * formats/anthropic streamToHub reads text deltas by their bytes (util/event-template.ts): what it gives must be
 * exactly what parsing every event gives (the oracle below), for every recorded Anthropic stream and for the shapes
 * a template must refuse.
 */
import { describe, expect, test } from 'bun:test';
import { anthropicFormat } from '../../../../src/formats/anthropic/index.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import { SseParser } from '../../../../src/sse/decode.ts';
import { fixtureSseBody, listFixtures } from '../../../helpers/fixtures.ts';

const ctx = { requestedModel: 'claude-requested', upstreamModel: 'up', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 1, thinkingStyle: 'none' } as TranslateContext;
const HUB_TYPES = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error'];

/** Every event parsed, the model renamed, newer event types left out: the stage's contract. */
function oracle(body: string): unknown[] {
  const parser = new SseParser();
  return parser.push(body).concat(parser.end()).filter((e) => e.data).flatMap((e) => {
    const ev = JSON.parse(e.data) as RawMessageStreamEvent;
    if (!HUB_TYPES.includes(ev.type)) return [];
    return [ev.type === 'message_start' ? { ...ev, message: { ...ev.message, model: ctx.requestedModel } } : ev];
  });
}

/** The stage, and how many times it called JSON.parse. */
function stage(body: string): { events: unknown[]; parses: number } {
  const real = JSON.parse;
  let parses = 0;
  JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => { parses++; return real(text, reviver); }) as typeof JSON.parse;
  try {
    const s = anthropicFormat.streamToHub(ctx, undefined as never);
    const out: RawMessageStreamEvent[] = [];
    const parser = new SseParser();
    for (const ev of parser.push(body)) s.push(ev, out);
    for (const ev of parser.end()) s.push(ev, out);
    s.end(out);
    return { events: out, parses };
  } finally {
    JSON.parse = real;
  }
}

const STREAMS = listFixtures('anthropic').filter((f) => /\/stream-[^/]+\.(sse|chunks\.jsonl)$/.test(f));
const delta = (index: number, text: string, raw?: string) =>
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${raw ?? JSON.stringify(text)}}}\n\n`;

describe('anthropic streamToHub', () => {
  test('there are recordings to replay', () => expect(STREAMS.length).toBeGreaterThanOrEqual(10));

  test.each(STREAMS)('%s: the same events as parsing every one', (file) => {
    const body = fixtureSseBody(file);
    expect(stage(body).events).toEqual(oracle(body));
  });

  test('text deltas after the first of a block are read without JSON.parse, block after block', () => {
    const plain = Array.from({ length: 20 }, (_, i) => ` word${i} é中文 😀`);
    const texts = ['Hello', ...plain.slice(0, 10), ' "quoted"', '\n', ' a\\b', ...plain.slice(10)];
    let body = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"up","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n';
    for (const index of [0, 2]) {
      body += `event: content_block_start\ndata: {"type":"content_block_start","index":${index},"content_block":{"type":"text","text":""}}\n\n`;
      for (const t of texts) body += delta(index, t);
      body += delta(index, 'A', '"\\u0041"'); // escapes JSON.stringify would not write: still read right
      body += `event: content_block_stop\ndata: {"type":"content_block_stop","index":${index}}\n\n`;
      if (index === 0) body += 'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n';
    }
    body += 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
    const r = stage(body);
    expect(r.events).toEqual(oracle(body));
    // 10 events besides text deltas; per text block its first delta and the probe, and the 4 escaped literals
    // (' "quoted"', '\n', ' a\\b', '\u0041') each parsed on its own: 10 + 2 × (2 + 4), of 10 + 2 × 25 events
    expect(r.parses).toBe(22);
    expect(oracle(body).length).toBe(60);
  });

  test('a text delta with anything more (a field newer than this gateway) is never read as a plain one', () => {
    const extra = (index: number, text: string) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(text)},"citations":[]}}\n\n`;
    const extraTop = (index: number, text: string) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(text)}},"x":1}\n\n`;
    for (const make of [extra, extraTop]) {
      const body = delta(0, 'a') + delta(0, 'b') + make(0, 'c') + make(0, 'd') + make(0, 'e') + delta(0, 'f') + delta(0, 'g');
      expect(stage(body).events).toEqual(oracle(body));
    }
  });
});
