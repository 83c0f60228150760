/**
 * @module test/unit/formats/openai-chat/thought-signatures
 * Gemini's thought signatures (quirks.thought_signatures): carried in the tool_use id the client sees
 * (formats/openai-chat/thought-signature.ts), read from non-streamed and streamed answers, and put back on the calls
 * of the history; every other preset's requests and ids unchanged.
 */
import { describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import type { MessageCreateParams, RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { PRESETS, resolveQuirks } from '../../../../src/channels/openai/presets.ts';
import { hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';
import { chatResponseToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { ChatStreamTranslator, MAX_TOOL_ARGS } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { SKIP_THOUGHT_SIGNATURE, readSignedToolId, signedToolId } from '../../../../src/formats/openai-chat/thought-signature.ts';
import { SseParser } from '../../../../src/sse/decode.ts';
import { readFixture } from '../../../helpers/fixtures.ts';

const ID = /^[a-zA-Z0-9_-]+$/; // Anthropic's tool_use id pattern
const SIG = randomBytes(1500).toString('base64');
const google = (thought_signature: string) => ({ google: { thought_signature } });
const ctx = (): TranslateContext => ({ requestedModel: 'claude-sonnet-5-5', upstreamModel: 'gemini-3-pro-preview', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 4096, thinkingStyle: 'none' });
const gemini = resolveQuirks('gemini', undefined);
const OTHERS = Object.keys(PRESETS).filter((p) => p !== 'gemini');

describe('the id that carries a signature', () => {
  test('reads back into the signature and the provider id, exactly, within Anthropic\'s id pattern', () => {
    for (const sig of [SIG, 'c2ln', 'sig', 'not base64: ü / +', 'a'.repeat(20_000)]) {
      for (const upstream of ['function-call-1', 'toolu_01ABC', 'x', 'call_a-b_c']) {
        const id = signedToolId(sig, upstream);
        expect(id).toMatch(ID);
        expect(readSignedToolId(id)).toEqual({ id: upstream, signature: sig });
      }
    }
    // canonical base64 (what Gemini sends) is carried as its bytes: shorter than the signature itself
    expect(signedToolId(SIG, 'f').length).toBeLessThan(SIG.length + 20);
  });

  test('any other id is not taken for one', () => {
    for (const id of ['toolu_01A', 'tsig_', 'tsig_b4_abcd', 'tsig_b0_x', 'tsig_x4_abcdef', 'tsig_u4_YQ==f', 'tsig_u3_YQFf', 'call:1', 'tsig_u99_YQ']) {
      expect(readSignedToolId(id)).toBeNull();
    }
  });
});

describe('non-streamed answers', () => {
  const completion = (message: Record<string, unknown>) => ({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message, finish_reason: 'tool_calls' }] });
  const call = (id: string, name: string, extra?: unknown) => ({ id, type: 'function', function: { name, arguments: '{}' }, ...(extra ? { extra_content: extra } : {}) });

  test('Gemini 3: the first of parallel calls carries the signature in its id; the second keeps its own', () => {
    const m = chatResponseToHub(completion({ role: 'assistant', content: null, tool_calls: [call('fc-1', 'a', google(SIG)), call('fc-2', 'b')] }), ctx(), gemini);
    const ids = m.content.map((b) => (b as { id: string }).id);
    expect(readSignedToolId(ids[0]!)).toEqual({ id: 'fc-1', signature: SIG });
    expect(ids[1]).toBe('fc-2');
  });

  test('Gemini 2.5 (recorded): the signature on the message stands for its first call, whose id was empty', () => {
    const body = JSON.parse(readFixture('openai-compatible/gemini/response-tool-calls-without-id.json'));
    const m = chatResponseToHub(body, ctx(), gemini);
    const tool = m.content.find((b) => b.type === 'tool_use')! as { id: string };
    const read = readSignedToolId(tool.id)!;
    expect(read.signature).toBe(body.choices[0].message.extra_content.google.thought_signature);
    expect(read.id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
  });

  test('every other preset: the ids as the provider gave them', () => {
    for (const p of OTHERS) {
      const m = chatResponseToHub(completion({ role: 'assistant', content: null, extra_content: google(SIG), tool_calls: [call('fc-1', 'a', google(SIG))] }), ctx(), resolveQuirks(p, undefined));
      expect((m.content[0] as { id: string }).id).toBe('fc-1');
    }
  });
});

describe('streamed answers', () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  function run(chunks: string[], q: ChatQuirks = gemini): RawMessageStreamEvent[] {
    const parser = new SseParser();
    const t = new ChatStreamTranslator(ctx(), q, MAX_TOOL_ARGS, true);
    const out: RawMessageStreamEvent[] = [];
    for (const c of [...chunks, chunk({}, 'tool_calls'), 'data: [DONE]\n\n']) for (const ev of parser.push(c)) t.event(ev, out);
    t.end(out);
    return out;
  }
  /** The tool_use blocks' ids, as their blocks start. */
  function calls(events: RawMessageStreamEvent[]): Array<[string, unknown]> {
    const blocks: Array<[string, unknown]> = [];
    for (const e of events) if (e.type === 'content_block_start' && e.content_block.type === 'tool_use') blocks.push([(e.content_block as { id: string }).id, null]);
    return blocks;
  }
  const ids = (events: RawMessageStreamEvent[]) => calls(events).map(([id]) => readSignedToolId(id) ?? id);

  test('index-bearing: the signature on the call\'s first fragment', () => {
    const ev = run([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'fc-1', type: 'function', extra_content: google(SIG), function: { name: 'f', arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'fc-2', type: 'function', function: { name: 'g', arguments: '{}' } }] }),
    ]);
    expect(ids(ev)).toEqual([{ id: 'fc-1', signature: SIG }, 'fc-2']);
  });

  test('index-less, the signature in a fragment of its own before the call', () => {
    const ev = run([
      chunk({ tool_calls: [{ extra_content: google(SIG) }] }),
      chunk({ tool_calls: [{ id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{"q":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '"a"}' } }] }),
      chunk({ tool_calls: [{ id: 'fc-2', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
    ]);
    expect(ids(ev)).toEqual([{ id: 'fc-1', signature: SIG }, 'fc-2']);
  });

  test('the signature in a fragment of its own after the call (index-less, and by index): the call waits for it', () => {
    const late = run([
      chunk({ tool_calls: [{ id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ extra_content: google(SIG) }] }),
      chunk({ tool_calls: [{ id: 'fc-2', type: 'function', function: { name: 'g', arguments: '{}' } }] }),
    ]);
    expect(ids(late)).toEqual([{ id: 'fc-1', signature: SIG }, 'fc-2']);
    const byIndex = run([
      chunk({ tool_calls: [{ index: 0, id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }),
      chunk({ tool_calls: [{ index: 0, extra_content: google(SIG) }] }),
    ]);
    expect(ids(byIndex)).toEqual([{ id: 'fc-1', signature: SIG }]);
    // its arguments are all there, after its start
    expect(byIndex.filter((e) => e.type === 'content_block_delta').map((e) => (e as any).delta.partial_json).join('')).toBe('{"a":1}');
  });

  test('a signature on the delta itself (Gemini 2.5 put it on the message) goes to the first call', () => {
    const ev = run([
      chunk({ role: 'assistant', extra_content: google(SIG) }),
      chunk({ tool_calls: [{ index: 0, id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
    ]);
    expect(ids(ev)).toEqual([{ id: 'fc-1', signature: SIG }]);
  });

  test('a call that never gets a signature starts when text follows it, or at the end, with its own id', () => {
    const text = run([
      chunk({ tool_calls: [{ index: 0, id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      chunk({ content: 'then text' }),
    ]);
    expect(text.filter((e) => e.type === 'content_block_start').map((e) => (e as any).content_block.type)).toEqual(['tool_use', 'text']);
    expect(ids(text)).toEqual(['fc-1']);
    expect(ids(run([chunk({ tool_calls: [{ index: 0, id: 'fc-1', type: 'function', function: { name: 'f', arguments: '{}' } }] })]))).toEqual(['fc-1']);
  });

  test('every other preset: the ids as the provider gave them, signature fragments or not', () => {
    for (const p of OTHERS) {
      const ev = run([
        chunk({ tool_calls: [{ extra_content: google(SIG) }] }),
        chunk({ tool_calls: [{ index: 0, id: 'fc-1', type: 'function', extra_content: google(SIG), function: { name: 'f', arguments: '{}' } }] }),
      ], resolveQuirks(p, undefined));
      expect(calls(ev).map(([id]) => id)).toEqual(['fc-1']);
    }
  });
});

describe('requests: the history\'s calls', () => {
  const history = (first: string, second: string, third: string): MessageCreateParams => ({
    model: 'claude-sonnet-5-5', max_tokens: 100,
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: first, name: 'f', input: { a: 1 } }, { type: 'tool_use', id: second, name: 'g', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: first, content: 'one' }, { type: 'tool_result', tool_use_id: second, content: 'two' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'more' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: third, name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: third, content: 'three' }] },
    ],
  } as MessageCreateParams);
  const signed = history(signedToolId(SIG, 'fc-1'), 'fc-2', signedToolId('c2ln', 'fc-3'));
  const calls = (body: any) => body.messages.filter((m: any) => m.role === 'assistant').map((m: any) => m.tool_calls.map((c: any) => [c.id, c.extra_content?.google?.thought_signature]));
  const answered = (body: any) => body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id);

  test('each call goes back with its own id and signature, and its tool message with the id; a parallel call with none', () => {
    const body = hubRequestToChat(signed, ctx(), gemini);
    expect(calls(body)).toEqual([[['fc-1', SIG], ['fc-2', undefined]], [['fc-3', 'c2ln']]]);
    expect(answered(body)).toEqual(['fc-1', 'fc-2', 'fc-3']);
    expect(JSON.stringify(body)).not.toContain('tsig_');
  });

  test('a history without signatures (another model\'s): the first call of each assistant turn gets the documented dummy', () => {
    const body = hubRequestToChat(history('toolu_1', 'toolu_2', 'toolu_3'), ctx(), gemini);
    expect(calls(body)).toEqual([[['toolu_1', SKIP_THOUGHT_SIGNATURE], ['toolu_2', undefined]], [['toolu_3', SKIP_THOUGHT_SIGNATURE]]]);
  });

  test('with Mistral\'s id rule as well, the provider id is what is mapped, the same in the call and its answer', () => {
    const body = hubRequestToChat(signed, ctx(), { ...gemini, tool_call_id: 'alnum9' });
    const [[first]] = calls(body);
    expect(first[0]).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(first[1]).toBe(SIG);
    expect(hubRequestToChat(history('fc-1', 'x', 'y'), ctx(), { ...gemini, tool_call_id: 'alnum9' }).messages[2]).toMatchObject({ tool_call_id: first[0] });
  });

  test('every other preset: the request is what it was, ids as the client sent them, no extra_content', () => {
    for (const p of OTHERS) {
      const q = resolveQuirks(p, undefined);
      const body = hubRequestToChat(signed, ctx(), q);
      const text = JSON.stringify(body);
      expect(text).not.toContain('extra_content');
      // the same translation as with the quirk unset (the code before it), byte for byte
      const { thought_signatures: _ts, ...without } = q;
      expect(text).toBe(JSON.stringify(hubRequestToChat(signed, ctx(), without as ChatQuirks)));
      if (q.tool_call_id === 'keep') expect(answered(body)).toEqual([signedToolId(SIG, 'fc-1'), 'fc-2', signedToolId('c2ln', 'fc-3')]);
    }
  });
});
