/**
 * @module test/unit/formats/openai-chat/foreign-tool-ids
 * A provider's tool-call id outside Anthropic's pattern (Kimi K2's `functions.Read:0`) given to a Messages client
 * within it (formats/openai-chat/foreign-tool-id.ts), read from non-streamed and streamed answers, and read back into
 * the provider's own id in the history's `tool_calls` and `tool_call_id`; with a thought signature and with Mistral's
 * id rule too. Ids within the pattern, and a Chat client's relayed answer, unchanged.
 */
import { describe, expect, test } from 'bun:test';
import type { MessageCreateParams, RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { PRESETS, resolveQuirks } from '../../../../src/channels/openai/presets.ts';
import { clientToolId, readClientToolId } from '../../../../src/formats/openai-chat/foreign-tool-id.ts';
import { readSignedToolId, signedToolId } from '../../../../src/formats/openai-chat/thought-signature.ts';
import { hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';
import { chatResponseToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { ChatStreamTranslator, MAX_TOOL_ARGS } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { relayedChatResponseToHub, relayedChatStreamToHub } from '../../../../src/formats/openai-chat/relayed-response-to-hub.ts';
import { SseParser } from '../../../../src/sse/decode.ts';

const ID = /^[a-zA-Z0-9_-]+$/; // Anthropic's tool_use id pattern
const KIMI = 'functions.Read:0';
const ctx = (): TranslateContext => ({ requestedModel: 'claude-sonnet-5-5', upstreamModel: 'kimi-k2', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 4096, thinkingStyle: 'none' });
const gemini = resolveQuirks('gemini', undefined);

/** mulberry32: the same strings every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** A well-formed string: ASCII (the pattern's characters and others), controls, Latin, CJK, emoji and other astral code points. */
function randomString(r: () => number, length: number): string {
  const ranges: Array<[number, number]> = [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x20, 0x7e], [0x00, 0x1f], [0x80, 0x7ff], [0x4e00, 0x9fff], [0xe000, 0xfffd], [0x1f300, 0x1faff], [0x10000, 0x10ffff]];
  let s = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)]!;
    s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
  }
  return s;
}

describe('the id the client sees', () => {
  test('round trip: any id outside the pattern comes back exactly from an id within it; one within it is the id itself', () => {
    const r = random(20261128);
    const samples = [KIMI, 'functions.mcp__github__search:12', ' ', '.', ':', '\u0000', '\uFEFF', '😀', 'a b', 'x'.repeat(100_000) + '.', '🧪'.repeat(5000), 'tid_', 'tid_.', 'toolu_01A', 'call_a-b', 'a', '_', '-'];
    for (let i = 0; i < 3000; i++) samples.push(randomString(r, i % 50 === 0 ? 2000 + Math.floor(r() * 20_000) : Math.floor(r() * 12)));
    let encoded = 0;
    for (const s of samples) {
      const id = clientToolId(s);
      if (ID.test(s) || s === '') {
        expect(id).toBe(s);
        continue;
      }
      encoded++;
      expect(id).toMatch(ID);
      expect(id.startsWith('tid_')).toBe(true);
      expect(readClientToolId(id)).toBe(s);
    }
    expect(encoded).toBeGreaterThan(2000);
  });

  test('an id that only looks like one (another client\'s, a pattern-valid decode, not canonical, not UTF-8) is left alone', () => {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    const lookAlikes = [
      'tid_', 'tid_a', 'tid_abc', `tid_${b64('foo')}`, `tid_${b64('toolu_01')}`, // decodes within the pattern: never written so
      'tid_Lh', 'tid_Zm9vLh', // '.' and 'foo.' with non-zero trailing bits: not canonical
      `tid_${b64(KIMI)}=`, `tid_${b64(KIMI)}.`, 'tid_gA', 'tid_7aCA', // padding, a character outside, bytes that are no UTF-8
      `tsig_u4_YWJj${b64(KIMI)}`, 'toolu_01ABC', 'call_tid_Lg', `Tid_${b64(KIMI)}`, KIMI,
    ];
    for (const id of lookAlikes) expect(readClientToolId(id), id).toBeNull();
    expect(readClientToolId('tid_Lg')).toBe('.');
  });

  test('an id with a lone surrogate (no UTF-8 to carry) goes as it is', () => {
    for (const s of ['\uD800', 'a\uDC00b', 'functions.\uD83D:0']) expect(clientToolId(s)).toBe(s);
  });

  test('with a thought signature: the whole id within the pattern, the signature and the provider id both come back', () => {
    for (const sig of ['c2ln', 'not base64: ü / +', Buffer.alloc(900, 7).toString('base64')]) {
      const id = signedToolId(sig, clientToolId(KIMI));
      expect(id).toMatch(ID);
      const read = readSignedToolId(id)!;
      expect(read.signature).toBe(sig);
      expect(readClientToolId(read.id)).toBe(KIMI);
    }
  });
});

describe('answers: the ids the client is given', () => {
  const completion = (ids: string[]) => ({
    id: 'x', object: 'chat.completion', created: 1, model: 'kimi-k2',
    choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: ids.map((id, i) => ({ id, type: 'function', function: { name: `f${i}`, arguments: '{}' } })) }, finish_reason: 'tool_calls' }],
  });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const streamed = (ids: string[]) => [
    ...ids.map((id, index) => chunk({ tool_calls: [{ index, id, type: 'function', function: { name: `f${index}`, arguments: '{"a":' } }] })),
    ...ids.map((_, index) => chunk({ tool_calls: [{ index, function: { arguments: '1}' } }] })),
    chunk({}, 'tool_calls'), 'data: [DONE]\n\n',
  ];
  function run(chunks: string[], q: ChatQuirks = DEFAULT_CHAT_QUIRKS): RawMessageStreamEvent[] {
    const parser = new SseParser();
    const t = new ChatStreamTranslator(ctx(), q, MAX_TOOL_ARGS, true);
    const out: RawMessageStreamEvent[] = [];
    for (const c of chunks) for (const ev of parser.push(c)) t.event(ev, out);
    t.end(out);
    return out;
  }
  const started = (events: RawMessageStreamEvent[]) => events.flatMap((e) => (e.type === 'content_block_start' && e.content_block.type === 'tool_use' ? [(e.content_block as { id: string }).id] : []));

  test('non-streamed: Kimi\'s ids within the pattern, reversibly; ids already within it byte for byte', () => {
    const m = chatResponseToHub(completion([KIMI, 'call_a-b_1', 'functions.Edit:1']), ctx(), DEFAULT_CHAT_QUIRKS);
    const ids = m.content.map((b) => (b as { id: string }).id);
    expect(ids.every((id) => ID.test(id))).toBe(true);
    expect(ids.map((id) => readClientToolId(id) ?? id)).toEqual([KIMI, 'call_a-b_1', 'functions.Edit:1']);
    expect(ids[1]).toBe('call_a-b_1');
  });

  test('streamed: the id in content_block_start within the pattern, reversibly; ids already within it byte for byte', () => {
    const ids = started(run(streamed([KIMI, 'call_a-b_1', 'functions.Edit:1'])));
    expect(ids.every((id) => ID.test(id))).toBe(true);
    expect(ids.map((id) => readClientToolId(id) ?? id)).toEqual([KIMI, 'call_a-b_1', 'functions.Edit:1']);
    expect(ids[1]).toBe('call_a-b_1');
  });

  test('Gemini\'s signature and an id outside the pattern: both carried, the whole id within it', () => {
    const ids = started(run([chunk({ tool_calls: [{ index: 0, id: KIMI, type: 'function', extra_content: { google: { thought_signature: 'c2ln' } }, function: { name: 'f', arguments: '{}' } }] }), chunk({}, 'tool_calls'), 'data: [DONE]\n\n'], gemini));
    expect(ids[0]).toMatch(ID);
    const read = readSignedToolId(ids[0]!)!;
    expect(read.signature).toBe('c2ln');
    expect(readClientToolId(read.id)).toBe(KIMI);
  });

  test('a Chat client\'s relayed answer (a Chat client gets it back as Chat): the ids as they came', () => {
    const m = relayedChatResponseToHub(completion([KIMI]), ctx());
    expect((m.content[0] as { id: string }).id).toBe(KIMI);
    const stage = relayedChatStreamToHub(ctx());
    const parser = new SseParser();
    const out: RawMessageStreamEvent[] = [];
    for (const c of streamed([KIMI])) for (const ev of parser.push(c)) stage.push(ev, out);
    stage.end?.(out);
    expect(started(out)).toEqual([KIMI]);
  });
});

describe('the history sent to an openai channel', () => {
  const history = (first: string, second: string): MessageCreateParams => ({
    model: 'claude-sonnet-5-5', max_tokens: 100,
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: first, name: 'f', input: { a: 1 } }, { type: 'tool_use', id: second, name: 'g', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: first, content: 'one' }, { type: 'tool_result', tool_use_id: second, content: 'two' }] },
    ],
  } as MessageCreateParams);
  const calls = (body: any) => body.messages.filter((m: any) => m.role === 'assistant').flatMap((m: any) => m.tool_calls.map((c: any) => c.id));
  const answered = (body: any) => body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id);

  test('every preset: the provider\'s own ids, in tool_calls and tool_call_id alike, as if the client had kept them', () => {
    for (const preset of Object.keys(PRESETS)) {
      const q = resolveQuirks(preset, undefined);
      const encoded = JSON.stringify(hubRequestToChat(history(clientToolId(KIMI), clientToolId('functions.Edit:1')), ctx(), q));
      expect(encoded, preset).toBe(JSON.stringify(hubRequestToChat(history(KIMI, 'functions.Edit:1'), ctx(), q)));
      if (q.tool_call_id === 'keep') expect(answered(JSON.parse(encoded))).toEqual([KIMI, 'functions.Edit:1']);
    }
  });

  test('an image in a tool result, moved to the user message that follows (tool messages take text): named by the id the provider has', () => {
    const withImage = (id: string): MessageCreateParams => ({
      model: 'claude-sonnet-5-5', max_tokens: 100,
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'tool_use', id, name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }] },
      ],
    } as MessageCreateParams);
    for (const preset of Object.keys(PRESETS)) {
      const q = { ...resolveQuirks(preset, undefined), tool_result_images: false };
      const body = hubRequestToChat(withImage(clientToolId(KIMI)), ctx(), q) as any;
      expect(JSON.stringify(body), preset).toBe(JSON.stringify(hubRequestToChat(withImage(KIMI), ctx(), q)));
      const label = body.messages.at(-1).content.find((p: any) => p.type === 'text' && p.text.includes('from the result of tool call')).text;
      expect(label, preset).toBe(`[image from the result of tool call ${body.messages.find((m: any) => m.role === 'tool').tool_call_id}]`);
    }
  });

  test('exactly Kimi\'s ids; and Mistral\'s rule maps the provider id, the same in the call and its result', () => {
    const body = hubRequestToChat(history(clientToolId(KIMI), 'toolu_01B'), ctx(), DEFAULT_CHAT_QUIRKS);
    expect(calls(body)).toEqual([KIMI, 'toolu_01B']);
    expect(answered(body)).toEqual([KIMI, 'toolu_01B']);
    const mistral = hubRequestToChat(history(clientToolId(KIMI), 'toolu_01B'), ctx(), { ...DEFAULT_CHAT_QUIRKS, tool_call_id: 'alnum9' });
    expect(calls(mistral)[0]).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(answered(mistral)).toEqual(calls(mistral));
    expect(calls(mistral)).toEqual(calls(hubRequestToChat(history(KIMI, 'toolu_01B'), ctx(), { ...DEFAULT_CHAT_QUIRKS, tool_call_id: 'alnum9' })));
  });

  test('signed and encoded: Gemini gets the provider id and its signature back', () => {
    const id = signedToolId('c2ln', clientToolId(KIMI));
    const body = hubRequestToChat(history(id, 'toolu_01B'), ctx(), gemini) as any;
    expect(body.messages[1].tool_calls[0]).toMatchObject({ id: KIMI, extra_content: { google: { thought_signature: 'c2ln' } } });
    expect(answered(body)).toEqual([KIMI, 'toolu_01B']);
  });

  test('an id that only looks like one goes as the client sent it', () => {
    const body = hubRequestToChat(history('tid_Zm9v', 'tid_Zm9vLh'), ctx(), DEFAULT_CHAT_QUIRKS);
    expect(calls(body)).toEqual(['tid_Zm9v', 'tid_Zm9vLh']);
    expect(answered(body)).toEqual(['tid_Zm9v', 'tid_Zm9vLh']);
  });

  test('the provider\'s new call that repeats a history id is still told apart (historyToolIds holds the provider\'s ids)', () => {
    const c = ctx();
    hubRequestToChat(history(clientToolId(KIMI), 'toolu_01B'), c, DEFAULT_CHAT_QUIRKS);
    expect(c.historyToolIds).toEqual([KIMI, 'toolu_01B']);
  });
});
