/**
 * @module test/unit/formats/openai-chat/reasoning-details
 * OpenRouter's reasoning_details (quirks.reasoning_details): carried in the thinking block's signature
 * (formats/openai-chat/reasoning-details.ts), read from OpenRouter's recorded streamed and non-streamed answers,
 * and put back, as received, on the assistant messages of the history; every other preset byte-identical.
 */
import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import type { ContentBlock, MessageCreateParams, RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { PRESETS, resolveQuirks } from '../../../../src/channels/openai/presets.ts';
import { hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';
import { chatResponseToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { ChatStreamTranslator, MAX_TOOL_ARGS } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { detailsInSignature, detailsSignature, mergeDetailFragments } from '../../../../src/formats/openai-chat/reasoning-details.ts';
import { SseParser } from '../../../../src/sse/decode.ts';
import { fixtureSseBody, listFixtures, readFixture } from '../../../helpers/fixtures.ts';

const ctx = (omitThinking = false): TranslateContext => ({
  requestedModel: 'claude-sonnet-5-5', upstreamModel: 'anthropic/claude-sonnet-4.5', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 4096, thinkingStyle: 'none', omitThinking,
} as TranslateContext);
const openrouter = resolveQuirks('openrouter', undefined);
const OR = 'openai-compatible/openrouter';

/** Every reasoning_details fragment of a recorded stream, in order. */
function fragmentsOf(body: string): unknown[] {
  const out: unknown[] = [];
  for (const ev of new SseParser().push(body)) {
    if (!ev.data.startsWith('{')) continue;
    for (const c of JSON.parse(ev.data).choices ?? []) out.push(...(c.delta?.reasoning_details ?? []));
  }
  return out;
}

function stream(body: string, q: ChatQuirks = openrouter, omit = false): RawMessageStreamEvent[] {
  const t = new ChatStreamTranslator(ctx(omit), q, MAX_TOOL_ARGS, true);
  const out: RawMessageStreamEvent[] = [];
  for (const ev of new SseParser().push(body)) t.event(ev, out);
  t.end(out);
  return out;
}

/** The blocks a client's accumulator makes of the events. */
function blocksOf(events: RawMessageStreamEvent[]): any[] {
  const blocks: any[] = [];
  for (const e of events) {
    if (e.type === 'content_block_start') blocks[e.index] = structuredClone(e.content_block);
    else if (e.type === 'content_block_delta') {
      const b = blocks[e.index]; const d = e.delta as any;
      if (d.type === 'text_delta') b.text += d.text;
      else if (d.type === 'thinking_delta') b.thinking += d.thinking;
      else if (d.type === 'signature_delta') b.signature += d.signature;
      else if (d.type === 'input_json_delta') b.json = (b.json ?? '') + d.partial_json;
    }
  }
  return blocks;
}

const CLAUDE_SIG = fragmentsOf(readFixture(`${OR}/stream-reasoning-claude.sse`)).map((f: any) => f.signature).find((s) => s);
/** The recorded Claude stream's details, joined as OpenRouter documents streamed deltas are. */
const CLAUDE_DETAILS = [{ type: 'reasoning.text', text: 'This is a simple arithmetic question. 2+2 equals 4.', signature: CLAUDE_SIG, format: 'anthropic-claude-v1', index: 0 }];

describe('the signature that carries reasoning_details', () => {
  test('reads back exactly; any other signature is not taken for one', () => {
    const details = [...CLAUDE_DETAILS, { type: 'reasoning.encrypted', data: 'gAAA/+==', id: 'rs_1', format: 'openai-responses-v1', index: 1 }, { type: 'reasoning.summary', summary: 'ü ✓ "q"', index: 2, format: null }];
    const sig = detailsSignature(details);
    expect(sig.startsWith('switchboard-reasoning-details-v1:')).toBe(true);
    expect(detailsInSignature(sig)).toEqual(details);
    for (const other of [CLAUDE_SIG, '', 'switchboard-reasoning-v1:aGk=', 'switchboard-reasoning-details-v1:!!', 'switchboard-reasoning-details-v1:' + Buffer.from('{"a":1}').toString('base64url'), undefined, 3]) {
      expect(detailsInSignature(other)).toBeNull();
    }
  });

  test('streamed fragments of one item are joined: text concatenated, the signature from its own fragment', () => {
    expect(mergeDetailFragments([], fragmentsOf(readFixture(`${OR}/stream-reasoning-claude.sse`)))).toEqual(CLAUDE_DETAILS);
    // distinct items (another index or type) stay apart; fragments without an index are never joined
    expect(mergeDetailFragments([], [
      { type: 'reasoning.summary', summary: 'a', index: 0 }, { type: 'reasoning.summary', summary: 'b', index: 0 },
      { type: 'reasoning.encrypted', data: 'x', index: 0 }, { type: 'reasoning.text', text: 'u' }, { type: 'reasoning.text', text: 'v' },
    ])).toEqual([{ type: 'reasoning.summary', summary: 'ab', index: 0 }, { type: 'reasoning.encrypted', data: 'x', index: 0 }, { type: 'reasoning.text', text: 'u' }, { type: 'reasoning.text', text: 'v' }]);
  });
});

describe('streamed answers (recorded OpenRouter streams)', () => {
  test('Claude with thinking: the thinking block as before, its signature the details (the provider\'s own among them)', () => {
    for (const omit of [false, true]) {
      const blocks = blocksOf(stream(readFixture(`${OR}/stream-reasoning-claude.sse`), openrouter, omit));
      expect(blocks.map((b) => b.type)).toEqual(['thinking', 'text']);
      expect(blocks[0].thinking).toBe(omit ? '' : CLAUDE_DETAILS[0]!.text);
      expect(detailsInSignature(blocks[0].signature)).toEqual(CLAUDE_DETAILS);
    }
  });

  test('o3, encrypted reasoning without text: a thinking block with no text carries it, before the answer', () => {
    const body = readFixture(`${OR}/stream-reasoning-o3-encrypted.sse`);
    const blocks = blocksOf(stream(body));
    expect(blocks.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(blocks[0].thinking).toBe('');
    expect(detailsInSignature(blocks[0].signature)).toEqual(fragmentsOf(body) as any);
    expect((fragmentsOf(body)[0] as any).type).toBe('reasoning.encrypted');
  });

  test('reasoning then a tool call, and details that come after the call: all carried, in order, and read back as one list', () => {
    const rec = readFixture(`${OR}/stream-reasoning-claude.sse`).split('\n\n').filter((e) => e.includes('reasoning_details":[{')).map((e) => `${e}\n\n`);
    const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'g', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const late = { type: 'reasoning.encrypted', data: 'CiQB0e2Kb', id: 'tool_read_1', format: 'google-gemini-v1', index: 1 };
    const body = [
      ...rec,
      chunk({ tool_calls: [{ index: 0, id: 'tool_read_1', type: 'function', function: { name: 'Read', arguments: '{"file_path":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"/a"}' } }], reasoning_details: [late] }),
      chunk({}, 'tool_calls'), 'data: [DONE]\n\n',
    ].join('');
    const blocks = blocksOf(stream(body));
    expect(blocks.map((b) => b.type)).toEqual(['thinking', 'tool_use', 'thinking']);
    expect(blocks[1].json).toBe('{"file_path":"/a"}');
    expect(blocks[2].thinking).toBe('');
    const hub: MessageCreateParams = {
      model: 'x', max_tokens: 100, messages: [
        { role: 'user', content: 'read' },
        { role: 'assistant', content: blocks.map(({ json, ...b }) => (b.type === 'tool_use' ? { ...b, input: JSON.parse(json) } : b)) as ContentBlock[] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tool_read_1', content: 'x' }] },
      ],
    } as MessageCreateParams;
    const sent = hubRequestToChat(hub, ctx(), openrouter).messages[1] as any;
    expect(sent.reasoning_details).toEqual([...CLAUDE_DETAILS, late]);
    expect(sent.tool_calls[0].id).toBe('tool_read_1');
  });

  test('an item whose fragments straddle two blocks is joined again when read back', () => {
    const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'g', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const body = [
      chunk({ reasoning: 'Think', reasoning_details: [{ type: 'reasoning.text', text: 'Think', format: 'anthropic-claude-v1', index: 0 }] }),
      chunk({ content: 'Hi' }),
      chunk({ reasoning_details: [{ type: 'reasoning.text', signature: 'SIG', format: 'anthropic-claude-v1', index: 0 }] }),
      chunk({}, 'stop'), 'data: [DONE]\n\n',
    ].join('');
    const blocks = blocksOf(stream(body));
    expect(blocks.map((b) => b.type)).toEqual(['thinking', 'text', 'thinking']);
    const hub = { model: 'x', max_tokens: 10, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: blocks }, { role: 'user', content: 'more' }] } as MessageCreateParams;
    expect((hubRequestToChat(hub, ctx(), openrouter).messages[1] as any).reasoning_details).toEqual([{ type: 'reasoning.text', text: 'Think', format: 'anthropic-claude-v1', index: 0, signature: 'SIG' }]);
  });
});

  test('details held for a signature are bounded as a tool call\'s arguments are: past the limit the stream ends in an error', () => {
    // behind text (or a call) they are held until the end: an upstream that never stops sending them must not make
    // the gateway hold them all; one giant item and a flood of tiny ones alike
    const chunk = (delta: object) => ({ data: JSON.stringify({ id: 'g', choices: [{ index: 0, delta }] }) });
    const floods = [
      (i: number) => chunk({ reasoning_details: [{ type: 'reasoning.encrypted', data: 'A'.repeat(100), index: 0, n: i }] }),
      (i: number) => chunk({ reasoning_details: [{ type: 'reasoning.text', text: 'x', index: i }] }),
    ];
    for (const flood of floods) {
      const t = new ChatStreamTranslator(ctx(), openrouter, 1000, true);
      const out: RawMessageStreamEvent[] = [];
      t.event(chunk({ content: 'Hi' }), out);
      let i = 0;
      for (; i < 10_000 && out.at(-1)?.type !== 'error'; i++) t.event(flood(i), out);
      expect(out.at(-1)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect((out.at(-1) as any).error.message).toContain('reasoning_details longer than 1000 characters');
      expect(i).toBeLessThan(100);
      expect(t.end([])).toEqual([]);
    }
    // within the limit: carried as before
    const t = new ChatStreamTranslator(ctx(), openrouter, 1000, true);
    const out: RawMessageStreamEvent[] = [];
    for (const d of [{ content: 'Hi' }, { reasoning_details: [{ type: 'reasoning.encrypted', data: 'A'.repeat(800), index: 0 }] }]) t.event(chunk(d), out);
    t.event({ data: JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) }, out);
    t.end(out);
    expect(out.at(-1)!.type).toBe('message_stop');
    expect(detailsInSignature(blocksOf(out)[1].signature)).toEqual([{ type: 'reasoning.encrypted', data: 'A'.repeat(800), index: 0 }]);
  });

describe('non-streamed answers', () => {
  test('the recorded OpenRouter answer: its details, as received, in the thinking block\'s signature', () => {
    const body = JSON.parse(readFixture(`${OR}/response-reasoning.json`));
    for (const omit of [false, true]) {
      const m = chatResponseToHub(body, ctx(omit), openrouter);
      const thinking = m.content[0] as any;
      expect(thinking.type).toBe('thinking');
      expect(thinking.thinking).toBe(omit ? '' : body.choices[0].message.reasoning);
      expect(detailsInSignature(thinking.signature)).toEqual(body.choices[0].message.reasoning_details);
    }
  });

  test('encrypted reasoning with a tool call: a thinking block with no text, then the call; the request sends them back', () => {
    const details = [{ type: 'reasoning.encrypted', data: 'gAAAAABp', id: 'rs_1', format: 'openai-responses-v1', index: 0 }];
    const m = chatResponseToHub({ id: 'x', object: 'chat.completion', created: 1, model: 'openai/o3', choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, reasoning: null, reasoning_details: details, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Read', arguments: '{}' } }] } }] }, ctx(), openrouter);
    expect(m.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    const hub = { model: 'x', max_tokens: 10, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: m.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'r' }] }] } as MessageCreateParams;
    const sent = hubRequestToChat(hub, ctx(), openrouter);
    expect(sent.messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Read', arguments: '{}' } }], reasoning_details: details as any });
  });
});

describe('requests', () => {
  test('display omitted: reasoning is asked for without `exclude` (it must come to be carried back)', () => {
    const hub = { model: 'x', max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 31999, display: 'omitted' }, messages: [{ role: 'user', content: 'q' }] } as unknown as MessageCreateParams;
    expect(hubRequestToChat(hub, ctx(true), openrouter).reasoning).toEqual({ max_tokens: 31999 });
    expect(hubRequestToChat(hub, ctx(true), { ...openrouter, reasoning_details: 'off' }).reasoning).toEqual({ max_tokens: 31999, exclude: true });
  });

  test('consecutive assistant turns joined: their details one after the other', () => {
    const a = detailsSignature([{ type: 'reasoning.text', text: 'a', index: 0 }]);
    const b = detailsSignature([{ type: 'reasoning.encrypted', data: 'b', index: 1 }]);
    const hub = { model: 'x', max_tokens: 10, messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'a', signature: a }, { type: 'text', text: 'x' }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: b }, { type: 'text', text: 'y' }] },
      { role: 'user', content: 'more' },
    ] } as MessageCreateParams;
    expect((hubRequestToChat(hub, ctx(), openrouter).messages[1] as any).reasoning_details).toEqual([{ type: 'reasoning.text', text: 'a', index: 0 }, { type: 'reasoning.encrypted', data: 'b', index: 1 }]);
  });
});

/**
 * Every other preset (and none): what every recorded OpenAI-compatible answer, streamed and not, and a set of requests
 * with thinking blocks (carriers among them) translate to, hashed with random ids masked. The value is what the
 * translation gave before reasoning_details were carried (computed on the commit before it).
 */
describe('every other provider', () => {
  test('byte-identical answers and requests', () => {
    // the presets there were then (dashscope and moonshot came later, pinned by their own tests)
    const presets: Array<string | undefined> = [undefined, ...Object.keys(PRESETS).filter((p) => !['openrouter', 'dashscope', 'moonshot'].includes(p))];
    const files = [...listFixtures('openai-compatible'), ...listFixtures('openai-chat')].filter((f) => !/\/error-/.test(f));
    const carrier = detailsSignature(CLAUDE_DETAILS);
    const requests = [
      { model: 'x', max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 31999, display: 'omitted' }, messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: carrier }, { type: 'tool_use', id: 'call_1', name: 'Read', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'r' }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'seen', signature: CLAUDE_SIG }, { type: 'text', text: 'ok' }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: carrier }] },
        { role: 'user', content: 'more' },
      ] },
      { model: 'x', max_tokens: 100, thinking: { type: 'adaptive' }, stream: true, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: carrier }, { type: 'text', text: 'a' }] }] },
    ] as unknown as MessageCreateParams[];
    const hash = createHash('sha256');
    const mask = (s: string) => s.replace(/(msg|toolu)_[A-Za-z0-9]{24}(?![A-Za-z0-9])/g, '$1_*');
    for (const p of presets) {
      // vllm's thinking switch came later (chat_template_kwargs, pinned in reasoning-models.test.ts): the rest of it is as then
      const q = resolveQuirks(p, p === 'vllm' ? { reasoning: 'none' } : undefined);
      expect(q.reasoning_details).toBe('off');
      for (const f of files) {
        for (const omit of [false, true]) {
          let out: unknown;
          try {
            out = f.endsWith('.json') ? chatResponseToHub(JSON.parse(readFixture(f)), ctx(omit), q) : stream(fixtureSseBody(f), q, omit);
          } catch (e) { out = String(e); }
          hash.update(`${p} ${f} ${omit}\n${mask(JSON.stringify(out))}\n`);
        }
      }
      for (const r of requests) {
        let out: unknown;
        try { out = hubRequestToChat(structuredClone(r), ctx(true), q); } catch (e) { out = String(e); }
        hash.update(`${p} request\n${JSON.stringify(out)}\n`);
      }
    }
    expect(hash.digest('hex')).toBe(BEFORE);
  });
});

// changed once since: OpenAI's `refusal` answers end with stop_reason "refusal" (formats/openai-chat/stop-reason.ts)
const BEFORE = '56ca1a4e9e874acdd392eec836c56e337136598148714ab9fffe69f3fb4752de';
