/**
 * Property: a relayed stream's usage, stop reason and failure read by the usage tap do not depend on where the
 * upstream (or a proxy) cut its writes. Every recorded stream, and each with an error event appended (one holding
 * usage too, as OpenRouter's mid-stream error may), is cut at every byte into two reads and at random places into
 * three; the sniffer's answer must be the unsplit one's.
 */
import { describe, expect, test } from 'bun:test';
import { UsageSniffer } from '../../../src/accounting/usage-tap.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';

type Fmt = 'anthropic' | 'openai-chat';
const enc = new TextEncoder();

function read(format: Fmt, chunks: Uint8Array[]) {
  const s = new UsageSniffer(format, true);
  for (const c of chunks) s.push(c);
  const usage = { ...s.finish() };
  return { usage, stop: s.stopReason, failure: s.failure && { type: s.failure.type, message: s.failure.message } };
}

/** A small seeded generator (xorshift32): the same cuts on every run. */
function rng(seed: number) {
  let x = seed | 0 || 1;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32; };
}

/** Two reads cut at every position (every `step`th of a long body), then `threes` cuts into three reads at random. */
function* cuts(bytes: Uint8Array, step: number, threes: number): Generator<Uint8Array[]> {
  for (let i = 1; i < bytes.length; i += step) yield [bytes.subarray(0, i), bytes.subarray(i)];
  const r = rng(bytes.length);
  for (let n = 0; n < threes; n++) {
    const a = 1 + Math.floor(r() * (bytes.length - 2));
    const b = a + 1 + Math.floor(r() * (bytes.length - a - 1));
    yield [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
  }
}

const ANTHROPIC_ERROR = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
/** OpenRouter's mid-stream error chunk, here with the usage of what was generated before it on the same line. */
const CHAT_ERROR_WITH_USAGE = 'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}],'
  + '"error":{"code":502,"message":"Provider disconnected"},"usage":{"prompt_tokens":31,"completion_tokens":4,"total_tokens":35}}\n\n';

const streams = (dir: string) => listFixtures(dir).filter((f) => /\/stream-[^/]*\.(sse|chunks\.jsonl)$/.test(f));
const cases: [string, Fmt, string][] = [];
for (const f of streams('anthropic')) {
  const body = fixtureSseBody(f);
  cases.push([f, 'anthropic', body]);
  cases.push([`${f} + error event`, 'anthropic', body.replace(/event: message_stop[\s\S]*$/, '') + ANTHROPIC_ERROR]);
}
for (const f of [...streams('openai-chat'), ...streams('openai-compatible')]) {
  const body = fixtureSseBody(f);
  cases.push([f, 'openai-chat', body]);
  cases.push([`${f} + error chunk holding usage`, 'openai-chat', body.replace(/data: \[DONE\][\s\S]*$/, '') + CHAT_ERROR_WITH_USAGE]);
}

describe('UsageSniffer: the same usage, stop reason and failure wherever the reads are cut', () => {
  test.each(cases)('%s', (_name, format, body) => {
    const bytes = enc.encode(body);
    const whole = read(format, [bytes]);
    // the recording's own answer is there to compare with (a test that cannot fail is none)
    if (format === 'anthropic' && !_name.includes('error')) expect(whole.usage.output_tokens).toBeGreaterThan(0);
    if (_name.includes('error')) expect(whole.failure).not.toBeNull();
    const step = bytes.length > 20_000 ? 13 : 1;
    for (const chunks of cuts(bytes, step, 300)) {
      const got = read(format, chunks);
      if (JSON.stringify(got) !== JSON.stringify(whole)) {
        // name the cut: a failure points at the bytes either side of it
        expect({ cut: chunks.map((c) => c.length), ...got }).toEqual({ cut: chunks.map((c) => c.length), ...whole });
      }
    }
  });
});
