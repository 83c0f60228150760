/**
 * @module test/e2e/fuzz-carriers
 * Randomised robustness, with fixed seeds, of what the gateway carries through the client for a provider: Gemini's
 * thought signatures in tool_use ids (thought-signature.ts), OpenRouter's reasoning_details in thinking signatures
 * (reasoning-details.ts), and Mistral's tool-call ids and `user_after_tool`. Hostile streams from the upstream reach
 * the real Anthropic SDK as a message it accumulates or an APIError, split at every byte as at none; crafted ids and
 * signatures from the client are a 200 or a 400, never an internal error; the channel without quirks is unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { resolveQuirks } from '../../src/channels/openai/presets.ts';
import { ChatStreamTranslator } from '../../src/formats/openai-chat/stream-to-hub.ts';
import { SseParser } from '../../src/sse/decode.ts';
import { readSignedToolId } from '../../src/formats/openai-chat/thought-signature.ts';
import { detailsInSignature } from '../../src/formats/openai-chat/reasoning-details.ts';
import type { RawMessageStreamEvent } from '../../src/hub/types.ts';
import type { TranslateContext } from '../../src/formats/types.ts';

/** mulberry32: every bit random (an LCG's low bits repeat with a short period). */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}
const pick = <T,>(r: (n: number) => number, xs: readonly T[]): T => xs[r(xs.length)]!;

const SIGS = ['AAAA', 'c2lnbmF0dXJl', 'not base64!', '', 'é🙂', 'A'.repeat(500)];
const DETAILS = [
  { type: 'reasoning.text', text: 'th', index: 0 }, { type: 'reasoning.text', text: 'more', index: 1 }, { type: 'reasoning.text', signature: 'S1', index: 0 },
  { type: 'reasoning.encrypted', data: 'D'.repeat(40), index: 2, id: 'rs' }, { type: 'reasoning.summary', summary: 'sum', index: 0 },
  null, 5, 'str', [], [{}], { index: 'x', type: 5, text: {} }, { type: 'reasoning.text', text: null, index: 0 }, { __proto__: { text: 'p' }, index: 0, type: 'reasoning.text' },
];

/** A Chat Completions stream made of what the carriers read, well-formed or not, in any order. */
function hostileStream(r: (n: number) => number): string {
  const ev: string[] = [];
  const d = (o: unknown) => ev.push(`data: ${JSON.stringify(o)}\n\n`);
  const ch = (delta: unknown, extra: object = {}) => d({ id: 'c', choices: [{ index: 0, delta, ...extra }] });
  const extra = () => pick(r, [undefined, { google: { thought_signature: pick(r, SIGS) } }, 'x', [], { google: 5 }, { google: { thought_signature: 5 } }, null, { google: null }]);
  const detail = () => JSON.parse(JSON.stringify(pick(r, DETAILS)));
  for (let i = 1 + r(14); i > 0; i--) {
    switch (r(16)) {
      case 0: ch({ content: pick(r, ['hi', '', 'é🙂', null]) }); break;
      case 1: ch({ reasoning: 'r' }); break;
      case 2: ch({ reasoning_details: Array.from({ length: r(4) }, detail) }); break;
      case 3: ch({ reasoning_details: pick(r, [null, 'x', {}, 5, [[]]]) }); break;
      case 4: {
        const tc: Record<string, unknown> = { index: r(3), function: { name: pick(r, ['f', '', undefined]), arguments: pick(r, ['{"a":', '1}', '', '{}', 'bad', undefined]) } };
        if (r(2)) tc.id = pick(r, ['call_1', 'call_2', 'c.3', '']);
        const x = extra();
        if (x !== undefined) tc.extra_content = x;
        ch({ tool_calls: [tc] });
        break;
      }
      case 5: ch({ tool_calls: [{ extra_content: extra() }] }); break; // a signature fragment naming no call
      case 6: ch({ extra_content: extra(), content: pick(r, [undefined, 'c']) }); break;
      case 7: ch({ tool_calls: [{ index: r(2), function: { arguments: `{"k":"${'v'.repeat(r(30))}"}` } }] }); break;
      case 8: d(pick(r, [{ error: { message: 'boom' } }, { error: null, choices: [] }, { error: 'str' }, { choices: [{ index: 0, error: { message: 'x' }, delta: {} }] }, { choices: [{ index: 0, delta: { error: {} } }] }])); break;
      case 9: ch({}, { finish_reason: pick(r, ['stop', 'tool_calls', 'length', 'error', 5, '']) }); break;
      case 10: d({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } }); break;
      case 11: ev.push('data: [DONE]\n\n'); break;
      case 12: ch({ tool_calls: [{ index: r(3), id: `call_${r(3)}`, extra_content: extra() }] }); break; // a call that never gets a name
      case 13: ch({ reasoning_details: [{ type: 'reasoning.encrypted', data: 'E', index: i }] }); break; // index churn
      case 14: ch({ role: 'assistant', content: '', reasoning_details: [detail()], tool_calls: [{ index: 0, id: 'call_9', function: { name: 'g', arguments: '{}' }, extra_content: extra() }] }); break;
      default:
        // a first call, its signature maybe never following; or one as Gemini signs it
        if (r(2)) ch({ tool_calls: [{ index: 0, id: 'call_0', function: { name: 'f' } }] });
        else ch({ tool_calls: [{ index: 0, id: '', function: { name: 'f', arguments: '{}' }, extra_content: { google: { thought_signature: pick(r, SIGS.slice(0, 3)) } } }] });
    }
  }
  if (r(3)) ev.push(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n');
  return ev.join('');
}

const ctx = (omitThinking: boolean): TranslateContext => ({
  requestedModel: 'm', upstreamModel: 'u', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 4096, thinkingStyle: 'none', omitThinking,
} as unknown as TranslateContext);
const QUIRKS = { gemini: resolveQuirks('gemini', undefined), openrouter: resolveQuirks('openrouter', undefined), mistral: resolveQuirks('mistral', undefined), plain: resolveQuirks(undefined, undefined) };

function translate(chunks: Array<string | Uint8Array>, quirks: (typeof QUIRKS)[keyof typeof QUIRKS], omit = false, templates = true): RawMessageStreamEvent[] {
  const t = new ChatStreamTranslator(ctx(omit), quirks, undefined, templates);
  const p = new SseParser();
  const out: RawMessageStreamEvent[] = [];
  for (const c of chunks) for (const ev of p.push(c)) t.event(ev, out);
  for (const ev of p.push('\n\n')) t.event(ev, out);
  t.end(out);
  return out;
}
/** Events without what is random per run (message and generated tool ids). */
const norm = (evs: unknown[]) => JSON.stringify(evs).replace(/msg_[A-Za-z0-9]+/g, 'MSG').replace(/toolu_[A-Za-z0-9]+/g, 'TU');

/** A valid Anthropic event sequence: blocks one at a time, in order, deltas of their kind, and one end. */
function expectValidSequence(events: RawMessageStreamEvent[], what: string): void {
  const kinds: Record<string, string> = { text_delta: 'text', thinking_delta: 'thinking', signature_delta: 'thinking', input_json_delta: 'tool_use' };
  let open: { index: number; type: string } | null = null;
  let next = 0;
  events.forEach((e, i) => {
    const fail = (why: string) => { throw new Error(`${what}: event ${i} ${why}: ${JSON.stringify(e).slice(0, 200)}`); };
    if (i === 0 && e.type !== 'message_start' && e.type !== 'error') fail('first');
    if (i === events.length - 1 ? e.type !== 'message_stop' && e.type !== 'error' : e.type === 'message_stop' || e.type === 'error') fail('end');
    if (e.type === 'content_block_start') { if (open || e.index !== next++) fail('start'); open = { index: e.index, type: e.content_block.type }; }
    if (e.type === 'content_block_delta' && (open?.index !== e.index || kinds[e.delta.type] !== open.type)) fail('delta');
    if (e.type === 'content_block_stop') { if (open?.index !== e.index) fail('stop'); open = null; }
    if (e.type === 'message_delta' && open) fail('message_delta with a block open');
  });
}

describe('hostile upstream streams, translator', () => {
  test('2,000 streams × four channels × thinking shown or omitted: a valid sequence, templates or not; without quirks extra_content changes nothing', () => {
    const r = rng(20260301);
    for (let i = 0; i < 2000; i++) {
      const body = hostileStream(r);
      for (const [name, q] of Object.entries(QUIRKS)) {
        for (const omit of [false, true]) {
          const events = translate([body], q, omit);
          expectValidSequence(events, `#${i} ${name} omit=${omit}\n${body}`);
          expect(norm(translate([body], q, omit, false))).toBe(norm(events));
        }
      }
      const stripped = body.split('\n\n').map((e) => {
        if (!e.startsWith('data: {')) return e;
        const o = JSON.parse(e.slice(6));
        for (const c of Array.isArray(o.choices) ? o.choices : []) {
          if (!c?.delta) continue;
          delete c.delta.extra_content;
          for (const tc of Array.isArray(c.delta.tool_calls) ? c.delta.tool_calls : []) if (tc) delete tc.extra_content;
        }
        return `data: ${JSON.stringify(o)}`;
      }).join('\n\n');
      expect(norm(translate([stripped], QUIRKS.plain))).toBe(norm(translate([body], QUIRKS.plain)));
    }
  });

  test('split at every byte, and in two at random points: the same events', () => {
    const r = rng(7);
    for (let i = 0; i < 30; i++) {
      const bytes = new TextEncoder().encode(hostileStream(r));
      for (const q of [QUIRKS.gemini, QUIRKS.openrouter]) {
        const whole = norm(translate([bytes], q));
        expect(norm(translate(Array.from(bytes, (_, k) => bytes.subarray(k, k + 1)), q))).toBe(whole);
        for (let k = 1; k < bytes.length; k += 1 + r(13)) expect(norm(translate([bytes.subarray(0, k), bytes.subarray(k)], q))).toBe(whole);
      }
    }
  });
});

let up: MockUpstream;
let gw: TestGateway;
let client: Anthropic;
const TEXT_ANSWER = { id: 'x', object: 'chat.completion', model: 'u', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };

beforeAll(() => {
  up = startMockUpstream(() => json(TEXT_ANSWER));
  gw = startGateway({ channels: [
    { name: 'g', type: 'openai', provider: 'gemini', base_url: `${up.url}/v1`, models: ['to-g'] },
    { name: 'r', type: 'openai', provider: 'openrouter', base_url: `${up.url}/v1`, models: ['to-r'] },
    { name: 'm', type: 'openai', provider: 'mistral', base_url: `${up.url}/v1`, models: ['to-m'] },
    { name: 'o', type: 'openai', base_url: `${up.url}/v1`, models: ['to-o'] },
  ] });
  client = new Anthropic({ baseURL: gw.url, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await up.stop(); });

const unhandled = () => gw.logs.filter((l) => l.msg === 'unhandled error').length;

describe('hostile upstream streams, Anthropic SDK', () => {
  test('each is a message the SDK accumulates, or an APIError; signed ids and carried details come back readable', async () => {
    const r = rng(424242);
    const before = unhandled();
    const counts = { signed: 0, details: 0, errors: 0 };
    for (let i = 0; i < 300; i++) {
      const body = hostileStream(r);
      up.handler = () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      const model = pick(r, ['to-g', 'to-r', 'to-m', 'to-o']);
      try {
        const msg = await client.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
        for (const b of msg.content) if (b.type === 'tool_use') expect(typeof b.input).toBe('object');
        // the turn goes back as history: a 200 (the upstream answers text now)
        up.handler = () => json(TEXT_ANSWER);
        const content = msg.content.filter((b) => b.type !== 'tool_use' || b.name) as Anthropic.ContentBlockParam[];
        if (content.length > 0) {
          const toolUses = content.filter((b): b is Anthropic.ToolUseBlockParam => b.type === 'tool_use');
          const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'hi' }, { role: 'assistant', content }];
          if (toolUses.length > 0) messages.push({ role: 'user', content: toolUses.map((t) => ({ type: 'tool_result' as const, tool_use_id: t.id, content: 'ok' })) });
          else messages.push({ role: 'user', content: 'more' });
          // the gateway takes back what it gave: no APIError here
          const again = await client.messages.create({ model, max_tokens: 50, messages }).catch((e) => { throw new Error(`#${i} ${model} follow-up: ${e}\n${body}`); });
          expect(again.content).toMatchObject([{ type: 'text', text: 'hi' }]);
          const sent = up.requests.at(-1)!.json.messages[1];
          if (model === 'to-g') {
            // every signed id goes back as the provider's id with its signature
            toolUses.forEach((t, k) => {
              const signed = readSignedToolId(t.id);
              if (signed) { counts.signed++; expect(sent.tool_calls[k]).toMatchObject({ id: signed.id, extra_content: { google: { thought_signature: signed.signature } } }); }
            });
          }
          if (model === 'to-r') {
            const carried = content.flatMap((b) => (b.type === 'thinking' ? detailsInSignature(b.signature) ?? [] : []));
            if (carried.length > 0) { counts.details++; expect(sent.reasoning_details.length).toBeGreaterThan(0); }
          }
        }
      } catch (e) {
        if (!(e instanceof Anthropic.APIError)) throw new Error(`#${i} ${model}: ${e}\n${body}`);
        counts.errors++;
      }
    }
    expect(unhandled()).toBe(before);
    // the properties above were put to the test, not passed by vacuity
    expect(counts.signed).toBeGreaterThan(2);
    expect(counts.details).toBeGreaterThan(10);
    expect(counts.errors).toBeLessThan(200);
  }, 30_000);
});

const P = 'switchboard-reasoning-details-v1:';
const b64 = (s: string) => Buffer.from(s).toString('base64url');
const CRAFTED_IDS = [
  'tsig_b999999_x', 'tsig_u1_', 'tsig_u1_Q', 'tsig_b4_AAAA', 'tsig_b4_AAAAcall1', 'tsig_b4_!!!!x', 'tsig_u9999999_' + 'A'.repeat(100), 'tsig_b1234567_',
  `tsig_u${b64('x'.repeat(3000)).length}_${b64('x'.repeat(3000))}c`, 'x'.repeat(20_000), 'tsig_', 'toolu_01', `tsig_b8_${'_'.repeat(8)}id`,
];
const CRAFTED_SIGS = [
  P, `${P}!!!`, P + b64('{}'), P + b64('[1,2]'), P + b64('[null]'), P + b64('"x"'), P + b64(`[${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}]`),
  P + b64(`[${'['.repeat(20_000)}${']'.repeat(20_000)}]`), P + b64(JSON.stringify([{ type: 'reasoning.encrypted', data: 'A'.repeat(2_000_000), index: 0 }])),
  P + b64('[{"index":0,"type":"t","text":"a"},{"index":0,"type":"t","text":5,"__proto__":{"x":1}}]'), 'plain-signature',
];

describe('crafted ids and signatures from the client', () => {
  test('a 200 or a 400 through every channel, streamed and not, whatever the ids and signatures say', async () => {
    up.handler = () => json(TEXT_ANSWER);
    const r = rng(31337);
    const before = unhandled();
    for (let i = 0; i < 160; i++) {
      const id = pick(r, CRAFTED_IDS);
      const assistant = [
        { type: 'thinking', thinking: pick(r, ['', 't']), signature: pick(r, CRAFTED_SIGS) },
        ...(r(2) ? [{ type: 'thinking', thinking: '', signature: pick(r, CRAFTED_SIGS) }] : []),
        { type: 'tool_use', id, name: 'f', input: {} },
      ];
      const results = [{ type: 'tool_result', tool_use_id: r(3) ? id : pick(r, CRAFTED_IDS), content: 'r' }, ...(r(2) ? [{ type: 'text', text: '<system-reminder>x</system-reminder>' }] : [])];
      const body = { model: pick(r, ['to-g', 'to-r', 'to-m', 'to-o']), max_tokens: 10, stream: r(2) === 1, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: assistant }, { role: 'user', content: results }] };
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', body: JSON.stringify(body) });
      const text = await res.text();
      if (res.status !== 200 && res.status !== 400) throw new Error(`#${i}: ${res.status} ${text.slice(0, 300)}`);
      if (res.status === 400) expect(JSON.parse(text).type).toBe('error');
    }
    expect(unhandled()).toBe(before);
  }, 30_000);
});
