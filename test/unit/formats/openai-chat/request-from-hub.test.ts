/**
 * @module test/unit/formats/openai-chat/request-from-hub
 * Anthropic Messages request (hub) → Chat Completions request, one table per rule, plus the request
 * shapes Claude Code sends (docs: /work/shared/claude-code-traffic.md).
 */
import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { GatewayError } from '../../../../src/errors.ts';
import type { MessageCreateParams } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { capEffort, cleanSchema, effortFromBudget, fitUser, hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';

function makeCtx(over: Partial<TranslateContext> = {}): TranslateContext {
  return {
    requestedModel: 'claude-sonnet-5-5', upstreamModel: 'gpt-up', dropped: [], estimatedInputTokens: 10,
    defaultMaxTokens: 4096, thinkingStyle: 'none', ...over,
  };
}
const quirks = (over: Partial<ChatQuirks> = {}): ChatQuirks => ({ ...DEFAULT_CHAT_QUIRKS, ...over });
const hub = (over: Record<string, unknown> = {}): MessageCreateParams =>
  ({ model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], ...over }) as MessageCreateParams;
const toChat = (h: MessageCreateParams, q: Partial<ChatQuirks> = {}, ctx = makeCtx()) => hubRequestToChat(h, ctx, quirks(q));
const msgs = (messages: unknown[], q: Partial<ChatQuirks> = {}, ctx = makeCtx()) => toChat(hub({ messages }), q, ctx).messages;

function thrown(fn: () => unknown): GatewayError {
  try { fn(); } catch (e) { if (e instanceof GatewayError) return e; throw e; }
  throw new Error('did not throw');
}

const IMG_B64 = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
const IMG_PART = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };

describe('system', () => {
  test.each([
    ['string', 'Be brief.', [{ role: 'system', content: 'Be brief.' }]],
    ['text blocks with cache_control, joined', [{ type: 'text', text: 'billing' }, { type: 'text', text: 'A', cache_control: { type: 'ephemeral' } }, { type: 'text', text: '' }], [{ role: 'system', content: 'billing\n\nA' }]],
    ['empty string: no system message', '', []],
    ['absent', undefined, []],
  ] as const)('%s', (_name, system, want) => {
    const out = toChat(hub({ system })).messages;
    expect(out.slice(0, -1)).toEqual(want as never);
    expect(out.at(-1)).toEqual({ role: 'user', content: 'hi' });
  });

  test('a non-text system block is an error naming its path', () => {
    expect(thrown(() => toChat(hub({ system: [{ type: 'text', text: 'a' }, IMG_B64] }))).message)
      .toBe('system.1.type: block type "image" cannot be sent to an OpenAI-compatible provider');
  });

  test.each([
    ['leading: merged into the system message', false, [{ role: 'system', content: 'S2' }, { role: 'user', content: 'u' }], [{ role: 'system', content: 'S\n\nS2' }, { role: 'user', content: 'u' }]],
    ['later, provider rejects non-leading system: a user message', false, [{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'system', content: 'late' }], [{ role: 'system', content: 'S' }, { role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'user', content: 'late' }]],
    ['later, provider takes it (system_anywhere)', true, [{ role: 'user', content: 'u' }, { role: 'system', content: [{ type: 'text', text: 'late' }] }], [{ role: 'system', content: 'S' }, { role: 'user', content: 'u' }, { role: 'system', content: 'late' }]],
  ] as const)('system content inside messages, %s', (_name, anywhere, messages, want) => {
    expect(toChat(hub({ system: 'S', messages }), { system_anywhere: anywhere }).messages).toEqual(want as never);
  });

  test('an unknown role is an error', () => {
    expect(thrown(() => msgs([{ role: 'tool', content: 'x' }])).message).toBe('messages.0.role: role "tool" cannot be sent to an OpenAI-compatible provider');
  });
});

describe('user content', () => {
  test.each([
    ['string', 'hello', [{ role: 'user', content: 'hello' }]],
    ['empty string: no message', '', []],
    ['text blocks → one string, empty blocks never sent, cache_control stripped', [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }, { type: 'text', text: '' }, { type: 'text', text: 'b' }], [{ role: 'user', content: 'a\n\nb' }]],
    ['image base64 → data URL part', [{ type: 'text', text: 'see' }, IMG_B64], [{ role: 'user', content: [{ type: 'text', text: 'see' }, IMG_PART] }]],
    ['image url → image_url url', [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }], [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }]],
    ['text document (title + context) → text', [{ type: 'document', title: 'T', context: 'C', source: { type: 'text', media_type: 'text/plain', data: 'body' } }], [{ role: 'user', content: 'T\nC\n\nbody' }]],
    ['content document → its text', [{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'p1' }, { type: 'text', text: 'p2' }] } }], [{ role: 'user', content: 'p1\n\np2' }]],
    ['search_result → text', [{ type: 'search_result', source: 'https://s', title: 'Doc', content: [{ type: 'text', text: 'snippet' }] }], [{ role: 'user', content: 'Doc\nhttps://s\n\nsnippet' }]],
  ] as const)('%s', (_name, content, want) => {
    expect(msgs([{ role: 'user', content }])).toEqual(want as never);
  });

  test.each([
    ['PDF with quirks.pdf → file part', true, [{ role: 'user', content: [{ type: 'file', file: { filename: 'Report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }] }], []],
    ['PDF without quirks.pdf → placeholder, reported', false, [{ role: 'user', content: '[PDF document "Report" omitted: this provider does not accept PDF input]' }], ['messages.0.content.0 (PDF document: the provider takes no PDF input)']],
  ] as const)('%s', (_name, pdf, want, dropped) => {
    const ctx = makeCtx();
    const out = msgs([{ role: 'user', content: [{ type: 'document', title: 'Report', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] }], { pdf }, ctx);
    expect(out).toEqual(want as never);
    expect(ctx.dropped).toEqual([...dropped]);
  });

  test('document by URL: the model is told where it is, and it is reported', () => {
    const ctx = makeCtx();
    expect(msgs([{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x/a.pdf' } }] }], {}, ctx))
      .toEqual([{ role: 'user', content: '[Document at https://x/a.pdf: not attached, this provider cannot fetch documents]' }]);
    expect(ctx.dropped).toEqual(['messages.0.content.0 (document URL: the provider cannot fetch it)']);
  });

  test.each([
    ['unknown block type', [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'foo' }] }], 'messages.2.content.1.type: block type "foo" cannot be sent to an OpenAI-compatible provider'],
    ['an image of a type Anthropic and OpenAI refuse', [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'Qk0=' } }] }], "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"],
    ['an image in a tool result of a type they refuse', [{ role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'shot', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/svg+xml', data: 'PHN2Zz4=' } }] }] }], "messages.1.content.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"],
    ['image from the Files API', [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }], 'messages.0.content.0.source.type: image source type "file" cannot be sent to an OpenAI-compatible provider'],
    ['tool_use in a user turn', [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }], 'messages.0.content.0.type: block type "tool_use" cannot be sent to an OpenAI-compatible provider'],
    ['server tool block in assistant history', [{ role: 'assistant', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }] }], 'messages.0.content.0.type: block type "server_tool_use" cannot be sent to an OpenAI-compatible provider'],
    ['unknown block inside a tool_result', [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'ok' }, { type: 'bar' }] }] }], 'messages.0.content.0.content.1.type: block type "bar" cannot be sent to an OpenAI-compatible provider'],
  ] as const)('never silent loss: %s → 400 naming the path', (_name, messages, message) => {
    const err = thrown(() => msgs([...messages]));
    expect([err.status, err.type, err.message]).toEqual([400, 'invalid_request_error', message]);
  });
});

describe('text blocks without text', () => {
  test('a text block whose text is missing or not a string is a 400 naming it (it was dropped without a word; Anthropic refuses it)', () => {
    const bad = [{ type: 'text' }, { type: 'text', text: 5 }, { type: 'text', text: { a: 1 } }];
    for (const block of bad) {
      expect(thrown(() => msgs([{ role: 'user', content: [{ type: 'text', text: 'a' }, block] }])).message).toBe('messages.0.content.1.text: must be a string');
      expect(thrown(() => msgs([{ role: 'user', content: 'q' }, { role: 'assistant', content: [block] }])).message).toBe('messages.1.content.0.text: must be a string');
      const result = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ok' }, block] }] };
      const call = { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] };
      expect(thrown(() => msgs([{ role: 'user', content: 'q' }, call, result])).message).toBe('messages.2.content.0.content.1.text: must be a string');
      expect(thrown(() => toChat(hub({ system: [block] }))).message).toBe('system.0.text: must be a string');
    }
    // an empty text is no text: left out, as before
    expect(msgs([{ role: 'user', content: [{ type: 'text', text: '' }, { type: 'text', text: 'a' }] }])).toEqual([{ role: 'user', content: 'a' }]);
  });
});

describe('assistant turns and tools in history', () => {
  test('tool_use → tool_calls with the same ids; [text, tool_use, text] keeps all text', () => {
    expect(msgs([{
      role: 'assistant',
      content: [{ type: 'text', text: 'Before.' }, { type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/a' }, cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'After.' }],
    }])).toEqual([{
      role: 'assistant', content: 'Before.\n\nAfter.',
      tool_calls: [{ id: 'toolu_01', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/a"}' } }],
    }]);
  });

  test('consecutive turns of one role are one turn, as Anthropic joins them: tool calls then their tool messages, in order', () => {
    const call = (id: string) => ({ type: 'tool_use', id, name: 'f', input: { id } });
    const result = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: `r-${id}` });
    const out = msgs([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'text', text: 'First.' }, call('toolu_1')] },
      { role: 'assistant', content: [call('toolu_2')] },
      { role: 'user', content: [result('toolu_1'), { type: 'text', text: 'and' }] },
      { role: 'user', content: [result('toolu_2'), { type: 'text', text: 'more' }] },
      { role: 'user', content: 'last words' },
    ]);
    expect(out.map((m) => [m.role, (m as any).tool_calls?.map((c: any) => c.id) ?? (m as any).tool_call_id ?? m.content])).toEqual([
      ['user', 'go'],
      ['assistant', ['toolu_1', 'toolu_2']],
      ['tool', 'toolu_1'],
      ['tool', 'toolu_2'],
      ['user', 'and\n\nmore\n\nlast words'],
    ]);
    expect((out[1] as any).content).toBe('First.');
    // reasoning kept for DeepSeek is joined too
    const ds = msgs([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'a', signature: '' }, call('t1')] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'b', signature: '' }, call('t2')] },
    ], { reasoning_content_in_history: true });
    expect(ds[1]).toMatchObject({ role: 'assistant', content: null, reasoning_content: 'a\n\nb' });
  });

  test('only tool calls: content null', () => {
    expect(msgs([{ role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] }])[0]).toEqual({
      role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
  });

  test.each([
    ['dropped by default', false, [{ role: 'assistant', content: 'answer' }]],
    ['sent as reasoning_content (quirks.reasoning_content_in_history)', true, [{ role: 'assistant', content: 'answer', reasoning_content: 'let me think' }]],
  ] as const)('thinking and redacted_thinking in history: %s', (_name, inHistory, want) => {
    expect(msgs([{
      role: 'assistant',
      content: [{ type: 'thinking', thinking: 'let me think', signature: 'sig' }, { type: 'redacted_thinking', data: 'opaque' }, { type: 'text', text: 'answer' }],
    }], { reasoning_content_in_history: inHistory })).toEqual(want as never);
  });

  test('reasoning_content_in_history: a tool-calling turn always carries reasoning_content (DeepSeek requires it)', () => {
    expect(msgs([{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }], { reasoning_content_in_history: true })[0])
      .toMatchObject({ reasoning_content: '' });
  });

  test('an assistant turn with only thinking (dropped) is not sent', () => {
    expect(msgs([{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }] }])).toEqual([{ role: 'user', content: 'q' }]);
  });

  test('tool_result → tool messages in order, before the rest of the user turn; is_error marked; string content kept', () => {
    expect(msgs([{
      role: 'user',
      content: [
        { type: 'text', text: 'here you go' },
        { type: 'tool_result', tool_use_id: 'toolu_a', content: '1\tline one\n2\tline two', cache_control: { type: 'ephemeral' } },
        { type: 'tool_result', tool_use_id: 'toolu_b', is_error: true, content: [{ type: 'text', text: 'File not found' }, { type: 'text', text: '' }, { type: 'text', text: 'try again' }] },
        { type: 'tool_result', tool_use_id: 'toolu_c' },
      ],
    }])).toEqual([
      { role: 'tool', tool_call_id: 'toolu_a', content: '1\tline one\n2\tline two' },
      { role: 'tool', tool_call_id: 'toolu_b', content: 'Error: File not found\n\ntry again' },
      { role: 'tool', tool_call_id: 'toolu_c', content: '' },
      { role: 'user', content: 'here you go' },
    ]);
  });

  test('tool_result images: image parts where the provider takes them', () => {
    expect(msgs([{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'shot' }, IMG_B64] }] }], { tool_result_images: true }))
      .toEqual([{ role: 'tool', tool_call_id: 't', content: [{ type: 'text', text: 'shot' }, IMG_PART] }] as never);
  });

  test('tool_result images elsewhere: a placeholder, and the image in the user message after the tool messages', () => {
    expect(msgs([{
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'shot' }, IMG_B64] },
        { type: 'tool_result', tool_use_id: 't2', content: 'plain' },
        { type: 'text', text: 'next' },
      ],
    }])).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'shot\n\n[image attached in the next user message]' },
      { role: 'tool', tool_call_id: 't2', content: 'plain' },
      { role: 'user', content: [{ type: 'text', text: '[image from the result of tool call t1]' }, IMG_PART, { type: 'text', text: 'next' }] },
    ] as never);
  });

  test('tool_call_id: alnum9 (Mistral) maps history ids the same way in tool_calls and tool messages', () => {
    const out = msgs([
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ABC', name: 'f', input: {} }, { type: 'tool_use', id: 'abcDEF123', name: 'g', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01ABC', content: 'r1' }, { type: 'tool_result', tool_use_id: 'abcDEF123', content: 'r2' }] },
    ], { tool_call_id: 'alnum9' });
    const calls = (out[0] as { tool_calls: Array<{ id: string }> }).tool_calls.map((c) => c.id);
    expect(calls[0]).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(calls[1]).toBe('abcDEF123'); // already valid: unchanged
    expect(out.slice(1).map((m) => (m as { tool_call_id: string }).tool_call_id)).toEqual(calls);
    // deterministic across requests: the next turn maps the same history id the same way
    const again = msgs([{ role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ABC', name: 'f', input: {} }] }], { tool_call_id: 'alnum9' });
    expect((again[0] as { tool_calls: Array<{ id: string }> }).tool_calls[0]!.id).toBe(calls[0]!);
  });

  test('the ids of the history\'s calls are noted for the answer (historyToolIds), as the client sent them; none without calls', () => {
    const ctx = makeCtx();
    msgs([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'call_0', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_0', content: 'r1' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ABC', name: 'g', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01ABC', content: 'r2' }] },
    ], { tool_call_id: 'alnum9' }, ctx);
    expect([...ctx.historyToolIds!]).toEqual(['call_0', 'toolu_01ABC']);
    const none = makeCtx();
    msgs([{ role: 'user', content: 'hi' }], {}, none);
    expect(none.historyToolIds).toBeUndefined();
  });
});

describe('user_after_tool: no user message straight after tool messages (Mistral)', () => {
  const call = { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Read', input: {} }, { type: 'tool_use', id: 't2', name: 'Read', input: {} }] };
  const results = [{ type: 'tool_result', tool_use_id: 't1', content: 'one' }, { type: 'tool_result', tool_use_id: 't2', content: 'two' }];
  const reminder = { type: 'text', text: '<system-reminder>\nTodos are empty.\n</system-reminder>' };
  const calls = { role: 'assistant', content: null, tool_calls: [
    { id: 't1', type: 'function', function: { name: 'Read', arguments: '{}' } }, { id: 't2', type: 'function', function: { name: 'Read', arguments: '{}' } },
  ] };
  const roles = (out: Array<{ role: string }>) => out.map((m) => m.role);

  test('keep (the default): tool, tool, user, as before', () => {
    expect(msgs([call, { role: 'user', content: [...results, reminder] }]).slice(1)).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'one' },
      { role: 'tool', tool_call_id: 't2', content: 'two' },
      { role: 'user', content: reminder.text },
    ] as never);
  });

  test('fold: the text beside the results goes in the last tool message, and the conversation ends in the tool results', () => {
    expect(msgs([call, { role: 'user', content: [...results, reminder, { type: 'text', text: 'and then?' }] }], { user_after_tool: 'fold' })).toEqual([
      calls,
      { role: 'tool', tool_call_id: 't1', content: 'one' },
      { role: 'tool', tool_call_id: 't2', content: `two\n\n${reminder.text}\n\nand then?` },
    ] as never);
  });

  test.each([
    ['an error result with no content', { type: 'tool_result', tool_use_id: 't1', is_error: true }, 'Error\n\nnote'],
    ['an empty result', { type: 'tool_result', tool_use_id: 't1', content: '' }, 'note'],
  ])('fold: %s', (_name, result, want) => {
    const out = msgs([{ role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Read', input: {} }] }, { role: 'user', content: [result, { type: 'text', text: 'note' }] }], { user_after_tool: 'fold' });
    expect(out.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: want });
  });

  test('fold: later history keeps its order (tool → assistant is allowed), and a later system message sent as user text is folded too', () => {
    const out = msgs([
      { role: 'user', content: 'go' }, call, { role: 'user', content: [...results, reminder] },
      { role: 'assistant', content: 'Read both.' }, { role: 'user', content: 'thanks' },
      call, { role: 'user', content: results }, { role: 'system', content: 'Environment changed.' },
    ], { user_after_tool: 'fold' });
    expect(roles(out)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant', 'user', 'assistant', 'tool', 'tool']);
    expect(out[3]).toEqual({ role: 'tool', tool_call_id: 't2', content: `two\n\n${reminder.text}` });
    expect(out.at(-1)).toEqual({ role: 'tool', tool_call_id: 't2', content: 'two\n\nEnvironment changed.' });
  });

  test('fold: an image (from a tool result or the user) cannot go in a tool message: a bridging assistant message goes first', () => {
    const out = msgs([call, { role: 'user', content: [results[0], { type: 'tool_result', tool_use_id: 't2', content: [IMG_B64] }, reminder] }], { user_after_tool: 'fold' });
    expect(out.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 't2', content: '[image attached in the next user message]' },
      { role: 'assistant', content: 'Tool results received.' },
      { role: 'user', content: [{ type: 'text', text: '[image from the result of tool call t2]' }, IMG_PART, { type: 'text', text: reminder.text }] },
    ] as never);
  });

  test('bridge: always a bridging assistant message, the user text left as it is', () => {
    const out = msgs([call, { role: 'user', content: [...results, reminder] }], { user_after_tool: 'bridge' });
    expect(out.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 't2', content: 'two' },
      { role: 'assistant', content: 'Tool results received.' },
      { role: 'user', content: reminder.text },
    ] as never);
  });

  test('fold with images allowed in tool messages: the text is added as a part', () => {
    const out = msgs([call, { role: 'user', content: [results[0], { type: 'tool_result', tool_use_id: 't2', content: [IMG_B64] }, reminder] }], { user_after_tool: 'fold', tool_result_images: true });
    expect(out.at(-1)).toEqual({ role: 'tool', tool_call_id: 't2', content: [IMG_PART, { type: 'text', text: reminder.text }] } as never);
  });
});

describe('tools', () => {
  test('tool_choice {type: "tool"} without a name: a 400 saying the name is required', () => {
    const e = thrown(() => toChat(hub({ tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool' } })));
    expect([e.status, e.param, e.message]).toEqual([400, 'tool_choice.name', 'tool_choice.name: required: the name of the tool to use']);
  });

  const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'], additionalProperties: false };

  test('Anthropic tools → functions; server tools and deferred tools removed and reported; cache_control stripped', () => {
    const ctx = makeCtx();
    const out = toChat(hub({
      tools: [
        { name: 'Read', description: 'Read a file', input_schema: schema, cache_control: { type: 'ephemeral' } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 5 },
        { type: 'code_execution_20250825', name: 'code_execution' },
        { name: 'DeferredToolPlaceholder', description: 'never call this tool', input_schema: { type: 'object' }, defer_loading: true },
        { name: 'NoDescription', input_schema: { type: 'object', properties: {} } },
      ],
    }), {}, ctx);
    expect(out.tools).toEqual([
      { type: 'function', function: { name: 'Read', description: 'Read a file', parameters: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'], additionalProperties: false } } },
      { type: 'function', function: { name: 'NoDescription', parameters: { type: 'object', properties: {} } } },
    ]);
    expect(ctx.dropped).toEqual([
      'tools.web_search (web_search_20250305: Anthropic-only tool)',
      'tools.code_execution (code_execution_20250825: Anthropic-only tool)',
      'tools.DeferredToolPlaceholder (defer_loading)',
    ]);
  });

  test('tool search: a deferred tool a tool_reference names is offered as a function, the reference goes as text, other deferred tools stay out', () => {
    const ctx = makeCtx();
    const out = toChat(hub({
      tools: [
        { name: 'ToolSearch', input_schema: { type: 'object', properties: { query: { type: 'string' } } } },
        { name: 'CronList', description: 'List cron jobs', input_schema: { type: 'object', properties: {} }, defer_loading: true },
        { name: 'DeferredToolPlaceholder', input_schema: { type: 'object' }, defer_loading: true },
      ],
      messages: [
        { role: 'user', content: 'List my jobs.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'ToolSearch', input: { query: 'select:CronList' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'tool_reference', tool_name: 'CronList' }] }, { type: 'text', text: 'Tool loaded.' }] },
      ],
    }), {}, ctx);
    expect(out.tools!.map((t: any) => t.function.name)).toEqual(['ToolSearch', 'CronList']);
    expect(out.tools![1]).toEqual({ type: 'function', function: { name: 'CronList', description: 'List cron jobs', parameters: { type: 'object', properties: {} } } });
    expect(out.messages.slice(-2)).toEqual([
      { role: 'tool', tool_call_id: expect.any(String), content: 'Tool CronList is now available to call.' },
      { role: 'user', content: 'Tool loaded.' },
    ]);
    expect(ctx.dropped).toEqual(['tools.DeferredToolPlaceholder (defer_loading)']);
    const bad = thrown(() => msgs([{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'tool_reference' }] }] }]));
    expect(bad.message).toContain('messages.0.content.0.content.0.tool_name');
  });

  test('strict and input_examples on a tool: the function is sent without them, and both are reported', () => {
    const ctx = makeCtx();
    const out = toChat(hub({ tools: [{ name: 'Read', input_schema: schema, strict: true, input_examples: [{ file_path: '/a' }] }] }), {}, ctx);
    expect(out.tools).toEqual([{ type: 'function', function: { name: 'Read', parameters: cleanSchema(schema, 'basic') } }]);
    expect(ctx.dropped).toEqual(['tools.Read.strict (the provider does not guarantee schema-valid input)', 'tools.Read.input_examples']);
  });

  test('any other key a tool carries (a newer API\'s) is reported; the ones a translation reads or reports itself are not', () => {
    const ctx = makeCtx();
    const tools = [
      { name: 'Read', description: 'Read a file', input_schema: schema, cache_control: { type: 'ephemeral' }, type: 'custom' },
      { name: 'Write', input_schema: schema, eager_input_streaming: true, allowed_callers: ['code_execution_20250825'] },
    ];
    const out = toChat(hub({ tools }), {}, ctx);
    expect(out.tools!.map((t: any) => t.function.name)).toEqual(['Read', 'Write']);
    expect(ctx.dropped).toEqual(['tools.Write.eager_input_streaming', 'tools.Write.allowed_callers']);
  });

  test('output_config: effort and format are read; any other key is reported', () => {
    const ctx = makeCtx();
    toChat(hub({ output_config: { effort: 'low', task_budget: { type: 'tokens', total: 5000 } } }), {}, ctx);
    expect(ctx.dropped).toContain('output_config.task_budget');
    expect(ctx.dropped.filter((d) => d.startsWith('output_config'))).toEqual(['output_config.task_budget']);
  });

  test.each([
    [{ type: 'auto' }, 'auto'],
    [{ type: 'any' }, 'required'],
    [{ type: 'none' }, 'none'],
    [{ type: 'tool', name: 'Read' }, { type: 'function', function: { name: 'Read' } }],
  ] as const)('tool_choice %p → %p', (choice, want) => {
    expect(toChat(hub({ tools: [{ name: 'Read', input_schema: schema }], tool_choice: choice })).tool_choice).toEqual(want as never);
  });

  test.each([
    ['provider takes parallel_tool_calls', true, { parallel_tool_calls: false }, []],
    ['provider does not', false, {}, ['tool_choice.disable_parallel_tool_use']],
  ] as const)('disable_parallel_tool_use: %s', (_name, parallel, want, dropped) => {
    const ctx = makeCtx();
    const out = toChat(hub({ tools: [{ name: 'Read', input_schema: schema }], tool_choice: { type: 'auto', disable_parallel_tool_use: true } }), { parallel_tool_calls: parallel }, ctx);
    expect({ parallel_tool_calls: out.parallel_tool_calls }).toEqual({ parallel_tool_calls: (want as { parallel_tool_calls?: boolean }).parallel_tool_calls });
    expect(ctx.dropped).toEqual([...dropped]);
  });

  test('all tools removed: neither tools nor tool_choice is sent', () => {
    const ctx = makeCtx();
    const out = toChat(hub({ tools: [{ type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'any' } }), {}, ctx);
    expect('tools' in out || 'tool_choice' in out || 'parallel_tool_calls' in out).toBe(false);
    expect(ctx.dropped).toContain('tool_choice (no tool left to call)');
  });

  test('a tool_choice type it does not know is a 400 naming tool_choice.type, with tools or without (it was ignored without a word when no tool was given)', () => {
    for (const tools of [undefined, [{ name: 'Read', input_schema: schema }], [{ type: 'web_search_20250305', name: 'web_search' }]]) {
      const e = thrown(() => toChat(hub({ ...(tools ? { tools } : {}), tool_choice: { type: 'bogus' } })));
      expect([e.status, e.param]).toEqual([400, 'tool_choice.type']);
    }
    // a known type with no tool left to call is reported, as before
    const ctx = makeCtx();
    toChat(hub({ tools: [{ type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'tool', name: 'web_search' } }), {}, ctx);
    expect(ctx.dropped).toContain('tool_choice (no tool left to call)');
  });

  test('tool_choice naming a removed tool is an error', () => {
    expect(thrown(() => toChat(hub({ tools: [{ name: 'Read', input_schema: schema }, { type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'tool', name: 'web_search' } }))).message)
      .toBe('tool_choice.name: tool "web_search" is not among the tools this provider can be given');
  });

  describe('schema clean-up', () => {
    const nested = {
      $schema: 'x', type: 'object', additionalProperties: false,
      properties: {
        format: { type: 'string', format: 'uri', description: 'a property named "format"' },
        when: { type: 'string', format: 'date-time' },
        mode: { const: 'fast' },
        count: { type: ['integer', 'null'], exclusiveMinimum: 0 },
        tags: { type: 'array', items: { $ref: '#/$defs/Tag' } },
        choice: { oneOf: [{ type: 'string' }, { type: 'number' }] },
        map: { type: 'object', propertyNames: { pattern: '^a' }, additionalProperties: { type: 'string' } },
        node: { $ref: '#/$defs/Node' },
      },
      required: ['format', 'ghost'],
      $defs: {
        Tag: { type: 'object', properties: { name: { type: 'string', examples: ['x'] } }, additionalProperties: false },
        Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } },
      },
    };

    test.each([
      ['keep', { a: 1, $schema: 'x' }, { a: 1, $schema: 'x' }],
      ['basic drops $schema everywhere, keeps the rest', { $schema: 'x', type: 'object', properties: { $schema: { type: 'string' }, p: { type: 'object', $schema: 'y', additionalProperties: false } } }, { type: 'object', properties: { $schema: { type: 'string' }, p: { type: 'object', additionalProperties: false } } }],
      ['strict (Gemini subset)', nested, {
        type: 'object',
        properties: {
          format: { type: 'string', description: 'a property named "format" (format: uri)' },
          when: { type: 'string', format: 'date-time' },
          mode: { enum: ['fast'] },
          count: { type: 'integer', nullable: true, minimum: 0 },
          tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
          choice: { anyOf: [{ type: 'string' }, { type: 'number' }] },
          map: { type: 'object' },
          node: { type: 'object', properties: { child: { type: 'object', description: 'see Node' } } },
        },
        required: ['format'],
      }],
    ] as const)('%s', (mode, input, want) => {
      const m = mode.split(' ')[0] as ChatQuirks['schema'];
      expect(cleanSchema(structuredClone(input) as Record<string, unknown>, m)).toEqual(want as never);
    });

    test('basic: $schema dropped in lists and single subschemas too; what holds none is not copied; the input is untouched', () => {
      const untouched = { type: 'object', properties: { q: { type: 'string' } } };
      const input = {
        type: 'object',
        properties: { a: { anyOf: [{ type: 'string', $schema: 'x' }, untouched] }, b: { type: 'array', items: { $schema: 'y', type: 'number' } }, c: untouched },
        $schema: 'z',
      };
      const before = structuredClone(input);
      const out = cleanSchema(input, 'basic') as any;
      expect(out).toEqual({
        type: 'object',
        properties: { a: { anyOf: [{ type: 'string' }, untouched] }, b: { type: 'array', items: { type: 'number' } }, c: untouched },
      });
      expect(out.properties.c).toBe(untouched); // returned as it is, not copied
      expect(out.properties.a.anyOf[1]).toBe(untouched);
      expect(input).toEqual(before);
      const none = { type: 'object', properties: { x: { type: 'string' } } };
      expect(cleanSchema(none, 'basic')).toBe(none);
    });

    test('strict: allOf merged, multi-type → anyOf', () => {
      expect(cleanSchema({ allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: ['string', 'number'] } }, required: ['b'] }] }, 'strict'))
        .toEqual({ type: 'object', properties: { a: { type: 'string' }, b: { anyOf: [{ type: 'string' }, { type: 'number' }] } }, required: ['a', 'b'] });
    });

    test('the quirk is applied to every tool', () => {
      const out = toChat(hub({ tools: [{ name: 'Read', input_schema: schema }] }), { schema: 'strict' });
      expect(out.tools![0]!.function.parameters).toEqual({ type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] });
    });
  });
});

describe('sampling, limits and identity', () => {
  test('more stop sequences than the provider takes (OpenAI: 4) is a 400 naming stop_sequences; up to it, all are sent', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const e = thrown(() => toChat(hub({ stop_sequences: five }), { max_stop_sequences: 4 }));
    expect([e.status, e.param, e.message]).toEqual([400, 'stop_sequences', 'stop_sequences: this provider takes at most 4 stop sequences (got 5)']);
    expect(toChat(hub({ stop_sequences: five.slice(0, 4) }), { max_stop_sequences: 4 }).stop).toEqual(five.slice(0, 4));
    expect(toChat(hub({ stop_sequences: five })).stop).toEqual(five); // no limit by default
  });

  test.each([
    ['max_tokens field', { max_tokens_field: 'max_tokens' }, 'gpt-up', 128000, { max_tokens: 128000 }],
    ['max_completion_tokens field', { max_tokens_field: 'max_completion_tokens' }, 'gpt-up', 500, { max_completion_tokens: 500 }],
    ['clamped to the model ceiling', { max_output_tokens: { 'gpt-up': 8192, '*': 4096 } }, 'gpt-up', 128000, { max_tokens: 8192 }],
    ['clamped to the "*" ceiling', { max_output_tokens: { other: 100, '*': 4096 } }, 'gpt-up', 128000, { max_tokens: 4096 }],
    ['below the ceiling: unchanged', { max_output_tokens: { '*': 4096 } }, 'gpt-up', 1000, { max_tokens: 1000 }],
    // README quirks table: exact names win, then the longest matching pattern, then `*`
    ['the longest matching pattern wins', { max_output_tokens: { 'gpt-*': 1000, 'gpt-4.1-mini*': 3000, 'gpt-4.1*': 2000, '*': 500 } }, 'gpt-4.1-mini-2025', 128000, { max_tokens: 3000 }],
    ['an exact name beats any pattern', { max_output_tokens: { 'gpt-4.1-mini*': 3000, 'gpt-4.1-mini': 100 } }, 'gpt-4.1-mini', 128000, { max_tokens: 100 }],
  ] as const)('%s', (_name, q, model, max, want) => {
    const out = toChat(hub({ max_tokens: max }), q as Partial<ChatQuirks>, makeCtx({ upstreamModel: model }));
    expect({ max_tokens: out.max_tokens, max_completion_tokens: out.max_completion_tokens }).toEqual({ max_tokens: undefined, max_completion_tokens: undefined, ...want });
  });

  test('model is the upstream name', () => {
    expect(toChat(hub(), {}, makeCtx({ upstreamModel: 'deepseek-chat' })).model).toBe('deepseek-chat');
  });

  test.each([
    ['stop_sequences → stop', { stop_sequences: ['END', '###'] }, {}, { stop: ['END', '###'] }, []],
    ['empty stop_sequences: nothing', { stop_sequences: [] }, {}, {}, []],
    ['temperature and top_p passed', { temperature: 0.2, top_p: 0.9 }, {}, { temperature: 0.2, top_p: 0.9 }, []],
    ['top_k where taken', { top_k: 40 }, { top_k: true }, { top_k: 40 }, []],
    ['top_k elsewhere: dropped and reported', { top_k: 40 }, {}, {}, ['top_k']],
    ['OpenAI-style extras pass through', { n: 2, stop: 'x', presence_penalty: 0.1, frequency_penalty: 0.2, logit_bias: { 50256: -100 }, response_format: { type: 'json_object' }, seed: 7 }, {},
      { n: 2, stop: 'x', presence_penalty: 0.1, frequency_penalty: 0.2, logit_bias: { 50256: -100 }, response_format: { type: 'json_object' }, seed: 7 }, []],
    ['output_config.format → response_format json_schema', { output_config: { format: { type: 'json_schema', schema: { type: 'object', $schema: 'x' } } } }, {},
      { response_format: { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object' } } } }, ['output_config.format (sent without strict: schema-valid output is not guaranteed)']],
    ['output_format (the beta\'s) → response_format json_schema, reported alike', { output_format: { type: 'json_schema', schema: { type: 'object' } } }, {},
      { response_format: { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object' } } } }, ['output_format (sent without strict: schema-valid output is not guaranteed)']],
    ['an output_config.format this translation cannot send: reported, not silently nothing', { output_config: { format: { type: 'regex', pattern: 'a+' } } }, {}, {}, ['output_config.format (type "regex" cannot be sent)']],
    ['a response_format of the client\'s own wins, and the format is reported as not sent', { response_format: { type: 'json_object' }, output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } }, {},
      { response_format: { type: 'json_object' } }, ['output_config.format (response_format given)']],
  ] as const)('%s', (_name, extra, q, want, dropped) => {
    const ctx = makeCtx();
    const out = toChat(hub(extra), q as Partial<ChatQuirks>, ctx);
    const { model: _m, messages: _ms, max_tokens: _mt, ...rest } = out;
    expect(rest).toEqual(want as never);
    expect(ctx.dropped).toEqual([...dropped]);
  });

  const CC_USER_ID = JSON.stringify({ device_id: 'a'.repeat(64), account_uuid: '', session_id: '3f0c9a2e-1b2c-4d5e-8f90-123456789abc' });
  test.each([
    ['short user_id kept', { metadata: { user_id: 'u-1' } }, 64, 'u-1'],
    ["Claude Code's JSON user_id → sha256 hex, cut to the limit", { metadata: { user_id: CC_USER_ID } }, 64, createHash('sha256').update(CC_USER_ID).digest('hex')],
    ['shorter limit', { metadata: { user_id: CC_USER_ID } }, 32, createHash('sha256').update(CC_USER_ID).digest('hex').slice(0, 32)],
    ['limit 0: no user', { metadata: { user_id: 'u-1' } }, 0, undefined],
    ['OpenAI-style user wins over metadata', { user: 'openai-user', metadata: { user_id: 'meta' } }, 64, 'openai-user'],
    ['no id', {}, 64, undefined],
  ] as const)('user: %s', (_name, extra, max, want) => {
    expect(toChat(hub(extra), { user_max_length: max }).user).toBe(want);
  });

  test('fitUser is deterministic', () => {
    expect(fitUser('x'.repeat(100), 10)).toBe(fitUser('x'.repeat(100), 10));
    expect(fitUser('x'.repeat(100), 10)).toHaveLength(10);
  });

  test.each([
    ['stream with usage', true, true, { stream: true, stream_options: { include_usage: true } }],
    ['stream, provider without stream_options', true, false, { stream: true }],
    ['not streaming', false, true, {}],
  ] as const)('%s', (_name, stream, usage, want) => {
    const out = toChat(hub({ stream }), { stream_usage: usage });
    expect({ stream: out.stream, stream_options: out.stream_options }).toEqual({ stream: undefined, stream_options: undefined, ...want });
  });
});

describe('Anthropic-only fields', () => {
  test('never sent upstream; only meaningful ones reported', () => {
    const ctx = makeCtx();
    const out = toChat(hub({
      system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral' } }],
      thinking: { type: 'adaptive', display: 'omitted' },
      output_config: { effort: 'medium' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      metadata: { user_id: 'u' },
      cache_control: { type: 'ephemeral' },
      service_tier: 'auto',
      container: 'container_1',
      mcp_servers: [{ type: 'url', url: 'https://mcp', name: 'm' }],
      anthropic_beta: ['x'],
      some_future_field: 1,
      stream: true,
    }), {}, ctx);
    const allowed = ['model', 'messages', 'max_tokens', 'stream', 'stream_options', 'user', 'reasoning_effort'];
    expect(Object.keys(out).sort()).toEqual(allowed.sort());
    expect(JSON.stringify(out)).not.toMatch(/cache_control|context_management|output_config|metadata|defer_loading|service_tier|container|mcp_servers|anthropic/);
    expect(ctx.dropped).toEqual(['container', 'mcp_servers', 'some_future_field']);
  });
});

describe('thinking → reasoning control', () => {
  test('a thinking type it does not know (a typo, a newer one) is a 400 naming thinking.type, not silently nothing', () => {
    for (const type of ['enabeld', 'auto']) {
      const e = thrown(() => toChat(hub({ thinking: { type, budget_tokens: 2048 } })));
      expect([e.status, e.param]).toEqual([400, 'thinking.type']);
      expect(e.message).toContain(`"${type}"`);
    }
  });

  const cases: Array<[string, Record<string, unknown>, Partial<ChatQuirks>, Record<string, unknown>, string[]?]> = [
    ['budget 1024 → low', { thinking: { type: 'enabled', budget_tokens: 1024 } }, {}, { reasoning_effort: 'low' }],
    ['budget 8000 → medium', { thinking: { type: 'enabled', budget_tokens: 8000 } }, {}, { reasoning_effort: 'medium' }],
    ['budget 31999 (Claude Code) → high', { thinking: { type: 'enabled', budget_tokens: 31999, display: 'omitted' } }, {}, { reasoning_effort: 'high' }],
    ['adaptive without effort → high (Anthropic default)', { thinking: { type: 'adaptive' } }, {}, { reasoning_effort: 'high' }],
    ['adaptive + effort medium (Claude Code)', { thinking: { type: 'adaptive', display: 'omitted' }, output_config: { effort: 'medium' } }, {}, { reasoning_effort: 'medium' }],
    ['xhigh capped to the provider top', { thinking: { type: 'adaptive' }, output_config: { effort: 'xhigh' } }, {}, { reasoning_effort: 'high' }, ['output_config.effort=xhigh (capped to high)']],
    ['max capped to the provider top', { thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }, { reasoning_efforts: ['minimal', 'low', 'medium', 'high', 'xhigh'] }, { reasoning_effort: 'xhigh' }, ['output_config.effort=max (capped to xhigh)']],
    ['medium on a low|high provider (xAI) → low', { thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } }, { reasoning_efforts: ['low', 'high'] }, { reasoning_effort: 'low' }, ['output_config.effort=medium (capped to low)']],
    ['low on a high-only provider → high', { thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }, { reasoning_efforts: ['high'] }, { reasoning_effort: 'high' }, ['output_config.effort=low (raised to high)']],
    ['effort without thinking', { output_config: { effort: 'low' } }, {}, { reasoning_effort: 'low' }],
    ['no thinking: nothing', {}, {}, {}],
    ['disabled: nothing where there is no off switch', { thinking: { type: 'disabled' } }, {}, {}],
    ['disabled: none where the provider offers it', { thinking: { type: 'disabled' } }, { reasoning_efforts: ['none', 'low', 'medium', 'high'] }, { reasoning_effort: 'none' }],
    ['OpenRouter: budget as reasoning.max_tokens', { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 } }, { reasoning: 'reasoning' }, { reasoning: { max_tokens: 2048 } }],
    ['OpenRouter: budget kept below the clamped max_tokens, display omitted → exclude', { max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 31999, display: 'omitted' } }, { reasoning: 'reasoning', max_output_tokens: { '*': 16000 } }, { reasoning: { max_tokens: 15999, exclude: true } }],
    ['OpenRouter: adaptive effort', { thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }, { reasoning: 'reasoning', reasoning_efforts: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] }, { reasoning: { effort: 'max' } }],
    ['OpenRouter: disabled → effort none', { thinking: { type: 'disabled' } }, { reasoning: 'reasoning', reasoning_efforts: ['none', 'low', 'high'] }, { reasoning: { effort: 'none' } }],
    ['DeepSeek: toggle plus effort', { thinking: { type: 'enabled', budget_tokens: 31999 } }, { reasoning: 'thinking', reasoning_efforts: ['low', 'high', 'max'] }, { thinking: { type: 'enabled' }, reasoning_effort: 'high' }],
    ['DeepSeek: medium → low (highest not above)', { thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } }, { reasoning: 'thinking', reasoning_efforts: ['low', 'high', 'max'] }, { thinking: { type: 'enabled' }, reasoning_effort: 'low' }, ['output_config.effort=medium (capped to low)']],
    ['Z.ai: toggle only', { thinking: { type: 'adaptive' } }, { reasoning: 'thinking', reasoning_efforts: [] }, { thinking: { type: 'enabled' } }],
    ['Z.ai: toggle only, a named effort reported', { thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }, { reasoning: 'thinking', reasoning_efforts: [] }, { thinking: { type: 'enabled' } }, ['output_config.effort=low (the provider takes no effort level)']],
    ['an effort the translation derived (a budget) is not reported', { thinking: { type: 'enabled', budget_tokens: 8000 } }, { reasoning_efforts: ['low', 'high'] }, { reasoning_effort: 'low' }, []],
    ['thinking style: disabled → explicit off', { thinking: { type: 'disabled' } }, { reasoning: 'thinking' }, { thinking: { type: 'disabled' } }],
    ['no reasoning control: nothing, reported', { thinking: { type: 'adaptive' } }, { reasoning: 'none' }, {}, ['thinking (the provider has no reasoning control)']],
    ['no reasoning control, disabled: nothing, silent', { thinking: { type: 'disabled' } }, { reasoning: 'none' }, {}, []],
    // Anthropic's effort governs the whole answer, thinking or not; a provider's effort is its reasoning's, which is off
    ['disabled + effort: the off switch, the effort reported', { thinking: { type: 'disabled' }, output_config: { effort: 'low' } }, { reasoning_efforts: ['none', 'low', 'high'] }, { reasoning_effort: 'none' }, ['output_config.effort=low (thinking disabled: the provider\'s effort level is its reasoning\'s)']],
    ['disabled + effort, no reasoning control: reported alike', { thinking: { type: 'disabled' }, output_config: { effort: 'high' } }, { reasoning: 'none' }, {}, ['output_config.effort=high (thinking disabled: the provider\'s effort level is its reasoning\'s)']],
    ['effort without thinking, no reasoning control: the effort is what is named', { output_config: { effort: 'low' } }, { reasoning: 'none' }, {}, ['output_config.effort (the provider has no reasoning control)']],
  ];

  test.each(cases)('%s', (_name, extra, q, want, dropped = []) => {
    const ctx = makeCtx();
    const out = toChat(hub(extra), q, ctx);
    const picked = Object.fromEntries(['reasoning_effort', 'reasoning', 'thinking'].filter((k) => k in out).map((k) => [k, out[k]]));
    expect(picked).toEqual(want);
    expect(ctx.dropped).toEqual(dropped);
  });

  test.each([[0, 'low'], [4095, 'low'], [4096, 'medium'], [16383, 'medium'], [16384, 'high'], [100000, 'high']] as const)('effortFromBudget(%i) = %s', (budget, want) => {
    expect(effortFromBudget(budget)).toBe(want);
  });

  test.each([
    ['high', ['low', 'medium', 'high'], 'high'],
    ['max', ['low', 'medium', 'high'], 'high'],
    ['minimal', ['low', 'medium', 'high'], 'low'],
    ['medium', ['none', 'low', 'high'], 'low'],
    ['ultra', ['low', 'high'], 'high'],
    ['high', [], undefined],
    ['high', ['default'], 'default'],
  ] as const)('capEffort(%s, %p) = %p', (level, offered, want) => {
    expect(capEffort(level, offered)).toBe(want);
  });
});

describe('a Claude Code request', () => {
  test('current-model shape translates whole', () => {
    const ctx = makeCtx({ upstreamModel: 'deepseek-chat' });
    const cc = hub({
      model: 'claude-sonnet-5-5', max_tokens: 128000, stream: true,
      system: [
        { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;' },
        { type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Agent prompt.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>env</system-reminder>' }, { type: 'text', text: 'Read a.txt', cache_control: { type: 'ephemeral' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: 'EqQB' }, { type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/a.txt' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '1\thello\n2\t', cache_control: { type: 'ephemeral' } }] },
      ],
      tools: [
        { name: 'Read', description: 'Reads a file', input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'], additionalProperties: false } },
        { name: 'ToolSearch', description: 'Search deferred tools', input_schema: { type: 'object', properties: { query: { type: 'string' } } } },
        { name: 'DeferredToolPlaceholder', description: 'never call this tool', input_schema: { type: 'object' }, defer_loading: true },
      ],
      metadata: { user_id: JSON.stringify({ device_id: 'f'.repeat(64), account_uuid: '', session_id: 'abc' }) },
      thinking: { type: 'adaptive', display: 'omitted' },
      output_config: { effort: 'medium' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    });
    const out = toChat(cc, {
      reasoning: 'thinking', reasoning_efforts: ['low', 'high', 'max'], reasoning_content_in_history: true,
      max_output_tokens: { 'deepseek-chat': 8192 }, user_max_length: 0, parallel_tool_calls: false,
    }, ctx);
    expect(out).toEqual({
      model: 'deepseek-chat',
      messages: [
        { role: 'system', content: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;\n\nYou are Claude Code.\n\nAgent prompt.' },
        { role: 'user', content: '<system-reminder>env</system-reminder>\n\nRead a.txt' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/a.txt"}' } }], reasoning_content: '' },
        { role: 'tool', tool_call_id: 'toolu_01', content: '1\thello\n2\t' },
      ],
      max_tokens: 8192,
      tools: [
        { type: 'function', function: { name: 'Read', description: 'Reads a file', parameters: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'], additionalProperties: false } } },
        { type: 'function', function: { name: 'ToolSearch', description: 'Search deferred tools', parameters: { type: 'object', properties: { query: { type: 'string' } } } } },
      ],
      thinking: { type: 'enabled' },
      reasoning_effort: 'low',
      stream: true,
      stream_options: { include_usage: true },
    });
    // DeepSeek's levels are low, high and max: Claude Code's medium goes as low, and the client is told
    expect(ctx.dropped).toEqual(['tools.DeferredToolPlaceholder (defer_loading)', 'output_config.effort=medium (capped to low)']);
  });
});
