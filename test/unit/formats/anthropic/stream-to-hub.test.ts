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

  test('text, thinking and input_json deltas after the first of a block are read without JSON.parse, block after block', () => {
    const words = Array.from({ length: 20 }, (_, i) => ` word${i} é中文 😀`);
    const texts = ['Hello', ...words.slice(0, 10), ' "quoted"', '\n', ' a\\b', ...words.slice(10)];
    const fragments = ['{"', 'path', '":"', 'a.txt', '","', 'lines', '":[', '1,2', ']}'];
    const deltaOf = (index: number, type: string, field: string, value: string, raw?: string) =>
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"${type}","${field}":${raw ?? JSON.stringify(value)}}}\n\n`;
    const event = (data: string) => `event: ${(JSON.parse(data) as { type: string }).type}\ndata: ${data}\n\n`;
    let body = event('{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"up","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}');
    let others = 1;
    let expected = 1;
    const block = (index: number, start: string, type: string, field: string, values: string[], extra = '') => {
      body += event(`{"type":"content_block_start","index":${index},"content_block":${start}}`);
      for (const v of values) body += deltaOf(index, type, field, v);
      body += deltaOf(index, type, field, 'A', '"\\u0041"'); // escapes JSON.stringify would not write: still read right
      body += extra;
      body += event(`{"type":"content_block_stop","index":${index}}`);
      const escaped = values.slice(1).filter((v) => JSON.stringify(v).includes('\\')).length + 1;
      others += 2 + (extra ? 1 : 0);
      expected += 2 + (extra ? 1 : 0) + 2 + escaped; // start, stop, [signature]; the first delta, the probe, escaped ones
    };
    block(0, '{"type":"thinking","thinking":"","signature":""}', 'thinking_delta', 'thinking', texts,
      event('{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}'));
    block(1, '{"type":"text","text":""}', 'text_delta', 'text', texts);
    block(2, '{"type":"tool_use","id":"toolu_1","name":"f","input":{}}', 'input_json_delta', 'partial_json', fragments);
    block(3, '{"type":"text","text":""}', 'text_delta', 'text', texts);
    body += event('{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}');
    body += event('{"type":"message_stop"}');
    others += 2;
    expected += 2;
    const r = stage(body);
    expect(r.events).toEqual(oracle(body));
    expect(r.parses).toBe(expected);
    const all = oracle(body).length;
    expect(all).toBe(others + 3 * (texts.length + 1) + fragments.length + 1);
    expect(r.parses).toBeLessThan(all / 2);
  });

  test.each([
    ['text_delta', 'text'], ['thinking_delta', 'thinking'], ['input_json_delta', 'partial_json'],
  ])('a %s with anything more (a field newer than this gateway), or of another type, is never read as a plain one', (type, field) => {
    const plain = (index: number, v: string) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"${type}","${field}":${JSON.stringify(v)}}}\n\n`;
    const variants = [
      (index: number, v: string) => plain(index, v).replace('}}\n', ',"citations":[]}}\n'),
      (index: number, v: string) => plain(index, v).replace('}}\n', '},"x":1}\n'),
      (index: number, v: string) => plain(index, v).replace(`"type":"${type}"`, '"type":"future_delta"'),
      (index: number, v: string) => plain(index, v).replace('"type":"content_block_delta"', '"type":"content_block_future"'),
    ];
    for (const make of variants) {
      const body = plain(0, 'a') + plain(0, 'b') + make(0, 'c') + make(0, 'd') + make(0, 'e') + plain(0, 'f') + plain(0, 'g');
      expect(stage(body).events).toEqual(oracle(body));
    }
  });
});
