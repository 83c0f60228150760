/**
 * Property: a relayed stream's error event that echoes the channel's credentials reaches the client with them masked
 * wherever the upstream (or a proxy) cut its writes, the credential itself cut included; a stream that succeeds goes
 * out byte for byte, and its reads are never searched for credentials (the masking stays idle). Every recorded stream,
 * and each with an error event echoing the credentials appended (Anthropic's, OpenRouter's, vLLM's, TGI's), cut at every byte
 * into two reads and at random places into three, through the usage tap and the masking as the relay runs them
 * (pipeline/passthrough.ts).
 */
import { describe, expect, test } from 'bun:test';
import { UsageSniffer } from '../../../src/accounting/usage-tap.ts';
import { ErrorEventMasking } from '../../../src/pipeline/passthrough.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';

type Fmt = 'anthropic' | 'openai-chat';
const enc = new TextEncoder();
const dec = new TextDecoder();
const SECRETS = ['proxy-cred-7Hq2XvLp9Wd', 'corp-tok-Zx81Qm4LwRt'];
const said = `invalid credentials ${SECRETS[0]} (x-corp-token ${SECRETS[1]})`;
const masked = 'invalid credentials [redacted] (x-corp-token [redacted])';

/**
 * The relay's map for each read, then its flush: what the client is sent (the reads themselves while the masking is
 * idle: decoded only when it was not), and how many reads were searched.
 */
function relay(format: Fmt, chunks: Uint8Array[]) {
  const sniffer = new UsageSniffer(format, true);
  const masking = new ErrorEventMasking(sniffer, SECRETS);
  const out: Uint8Array[] = [];
  let searched = 0;
  for (const c of chunks) {
    sniffer.push(c);
    if (masking.idle()) { out.push(c); continue; }
    searched++;
    const o = masking.relay(c);
    if (o) out.push(o);
  }
  const rest = masking.rest();
  if (rest) out.push(rest);
  return { out: Buffer.concat(out), searched };
}

function rng(seed: number) {
  let x = seed | 0 || 1;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32; };
}

/**
 * Two reads cut at every position of the last `tail` bytes (the error event and what comes just before it) and at every
 * `step`th before them (some 500 cuts there), then `threes` cuts into three reads at random.
 */
function* cuts(bytes: Uint8Array, step: number, tail: number, threes: number): Generator<Uint8Array[]> {
  for (let i = 1; i < bytes.length; i += i < bytes.length - tail ? step : 1) yield [bytes.subarray(0, i), bytes.subarray(i)];
  const r = rng(bytes.length);
  for (let n = 0; n < threes; n++) {
    const a = 1 + Math.floor(r() * (bytes.length - 2));
    const b = a + 1 + Math.floor(r() * (bytes.length - a - 1));
    yield [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
  }
}

const antError = (m: string) => `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: m } })}\n\n`;
const openRouterError = (m: string) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', provider: 'Some', error: { code: 502, message: m }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] })}\n\n`;
const vllmError = (m: string) => `data: ${JSON.stringify({ object: 'error', message: m, type: 'BadRequestError', param: null, code: 400 })}\n\n`;
const tgiError = (m: string) => `data: ${JSON.stringify({ error: m, error_type: 'generation' })}\n\n`;

const streams = (dir: string) => listFixtures(dir).filter((f) => /\/stream-[^/]*\.(sse|chunks\.jsonl)$/.test(f));
/** [name, format, what the upstream sent, what the client must get] */
const cases: [string, Fmt, string, string][] = [];
for (const f of streams('anthropic')) {
  const body = fixtureSseBody(f);
  cases.push([f, 'anthropic', body, body]);
  const cut = body.replace(/event: message_stop[\s\S]*$/, '');
  cases.push([`${f} + error event`, 'anthropic', cut + antError(said), cut + antError(masked)]);
}
for (const f of [...streams('openai-chat'), ...streams('openai-compatible')]) {
  const body = fixtureSseBody(f);
  cases.push([f, 'openai-chat', body, body]);
  const cut = body.replace(/data: \[DONE\][\s\S]*$/, '');
  cases.push([`${f} + OpenRouter's error chunk`, 'openai-chat', cut + openRouterError(said), cut + openRouterError(masked)]);
  cases.push([`${f} + vLLM's error chunk`, 'openai-chat', cut + vllmError(said), cut + vllmError(masked)]);
  cases.push([`${f} + TGI's error chunk (a string)`, 'openai-chat', cut + tgiError(said), cut + tgiError(masked)]);
}

describe('ErrorEventMasking: credentials masked in an error event wherever the reads are cut; a success untouched', () => {
  test.each(cases)('%s', (name, format, body, expected) => {
    const bytes = enc.encode(body);
    const want = Buffer.from(expected);
    const failing = name.includes('error');
    expect(dec.decode(relay(format, [bytes]).out)).toBe(expected);
    for (const chunks of cuts(bytes, Math.max(1, Math.ceil((bytes.length - 1_000) / 500)), 1_000, 300)) {
      const got = relay(format, chunks);
      if (!got.out.equals(want) || (!failing && got.searched > 0)) {
        // name the cut: a failure points at the bytes either side of it
        expect({ cut: chunks.map((c) => c.length), out: dec.decode(got.out), searched: got.searched })
          .toEqual({ cut: chunks.map((c) => c.length), out: expected, searched: failing ? got.searched : 0 });
      }
    }
  });
});
