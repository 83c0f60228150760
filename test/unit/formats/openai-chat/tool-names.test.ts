/**
 * @module test/unit/formats/openai-chat/tool-names
 * Tool names an OpenAI-compatible provider refuses (longer than 64, a character outside [a-zA-Z0-9_-], a digit or a
 * hyphen first): sent under an alias that every provider takes, the same alias every time, distinct for distinct
 * names; names that fit go as they are; the answer's calls come back under the client's name, in both directions of
 * the translation (non-streamed and streamed).
 */
import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import type { MessageCreateParams } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import { DEFAULT_CHAT_QUIRKS } from '../../../../src/formats/openai-chat/quirks.ts';
import { hubRequestToChat } from '../../../../src/formats/openai-chat/request-from-hub.ts';
import { chatResponseToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { chatChunksToHubEvents } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { toolNameAlias, upstreamToolName } from '../../../../src/formats/openai-chat/tool-names.ts';
import { GatewayError } from '../../../../src/errors.ts';

const FITS_EVERY_PROVIDER = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;
const LONG = 'mcp__claude_ai_Atlassian_Rovo__getConfluencePageDescendantsByPathAndSpaceKey';
const ctx = (): TranslateContext => ({ requestedModel: 'claude-sonnet-5-5', upstreamModel: 'gpt-4.1', dropped: [], estimatedInputTokens: 10, defaultMaxTokens: 4096, thinkingStyle: 'none' });

describe('upstreamToolName', () => {
  test.each([
    'Read', 'mcp__github__create_pull_request', '_private', 'a', 'x'.repeat(64), 'kebab-case-name', 'A1_b2-C3',
  ])('%s fits: sent as it is', (name) => {
    expect(upstreamToolName(name)).toBe(name);
  });

  test.each([
    ['65 characters', 'x'.repeat(65)],
    ['128 characters (Anthropic\'s longest)', 'mcp__' + 'y'.repeat(123)],
    ['Claude Code\'s MCP name for a claude.ai connector', LONG],
    ['a digit first (Gemini and Kimi refuse it)', '3d_render'],
    ['a hyphen first (Kimi refuses it)', '-dash'],
    ['a dot (OpenAI refuses it)', 'server.tool'],
    ['a space and non-ASCII', 'read fïle'],
    ['empty', ''],
  ])('%s: an alias every provider takes, the same every time', (_what, name) => {
    const alias = upstreamToolName(name);
    expect(alias).not.toBe(name);
    expect(alias).toMatch(FITS_EVERY_PROVIDER);
    expect(upstreamToolName(name)).toBe(alias);
    expect(toolNameAlias(name)).toBe(alias);
    // an alias fits, so it is never aliased again
    expect(upstreamToolName(alias)).toBe(alias);
  });

  test('a long name keeps its beginning and its end (the server\'s name, the tool\'s), around a hash of the whole name', () => {
    const alias = upstreamToolName(LONG);
    expect(alias).toHaveLength(64);
    expect(alias.startsWith('mcp__claude_ai_')).toBe(true);
    expect(alias.endsWith('DescendantsByPathAndSpaceKey')).toBe(true);
  });

  test('the alias is a pure function of the name: pinned, so that it is the same in every process and release', () => {
    const hash = createHash('sha256').update(LONG).digest('hex').slice(0, 10);
    expect(hash).toBe('b006c320fe');
    expect(toolNameAlias(LONG)).toBe(`mcp__claude_ai_Atlas_${hash}_PageDescendantsByPathAndSpaceKey`);
  });

  test('names alike for their first 64 characters, or their last 32, or both, get different aliases', () => {
    const names = [
      `${LONG}A`, `${LONG}B`, `${LONG}AB`,
      `A${LONG}`, `B${LONG}`,
      `${'m'.repeat(40)}_same_middle_${'z'.repeat(40)}`, `${'m'.repeat(40)}_other_middl_${'z'.repeat(40)}`,
      ...Array.from({ length: 500 }, (_, i) => `mcp__server_${'s'.repeat(60)}__tool_${i}`),
    ];
    const aliases = names.map(upstreamToolName);
    expect(new Set(aliases).size).toBe(names.length);
    for (const a of aliases) expect(a).toMatch(FITS_EVERY_PROVIDER);
  });
});

describe('a request and its answer', () => {
  const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object', properties: {} } });
  const hub = (over: Record<string, unknown> = {}): MessageCreateParams => ({
    model: 'claude-sonnet-5-5', max_tokens: 100, tools: [tool('Read'), tool(LONG)],
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: LONG, input: { a: 1 } }, { type: 'tool_use', id: 'toolu_2', name: 'Read', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }, { type: 'tool_result', tool_use_id: 'toolu_2', content: 'ok' }] },
    ],
    ...over,
  }) as MessageCreateParams;

  test('every place a name goes up carries the alias: tools, tool_choice, history calls; names that fit are untouched', () => {
    const c = ctx();
    const body = hubRequestToChat(hub({ tool_choice: { type: 'tool', name: LONG } }), c, DEFAULT_CHAT_QUIRKS);
    const alias = upstreamToolName(LONG);
    expect(body.tools!.map((t) => t.function.name)).toEqual(['Read', alias]);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: alias } });
    expect((body.messages[1] as { tool_calls: Array<{ function: { name: string } }> }).tool_calls.map((t) => t.function.name)).toEqual([alias, 'Read']);
    expect([...c.toolNames!]).toEqual([[alias, LONG]]);
  });

  test('names that all fit leave the context without a map (nothing to look up in the answer)', () => {
    const c = ctx();
    hubRequestToChat(hub({ tools: [tool('Read')], messages: [{ role: 'user', content: 'go' }] }), c, DEFAULT_CHAT_QUIRKS);
    expect(c.toolNames).toBeUndefined();
  });

  test('a tool with an empty name is the client\'s 400 naming it (Anthropic refuses one too), not sent under an alias', () => {
    let err: unknown;
    try { hubRequestToChat(hub({ tools: [tool('Read'), tool('')] }), ctx(), DEFAULT_CHAT_QUIRKS); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).message).toBe('tools.1.name: must be a non-empty string');
  });

  test('tool_choice naming a long tool that is not offered is still the client\'s 400, naming its own name', () => {
    let err: unknown;
    try { hubRequestToChat(hub({ tools: [tool('Read')], tool_choice: { type: 'tool', name: LONG } }), ctx(), DEFAULT_CHAT_QUIRKS); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).message).toBe(`tool_choice.name: tool "${LONG}" is not among the tools this provider can be given`);
  });

  test('an answer\'s call to the alias comes back under the client\'s name, not streamed and streamed; an unknown name as it came', async () => {
    const c = ctx();
    hubRequestToChat(hub(), c, DEFAULT_CHAT_QUIRKS);
    const alias = upstreamToolName(LONG);
    const calls = [
      { id: 'call_1', type: 'function', function: { name: alias, arguments: '{}' } },
      { id: 'call_2', type: 'function', function: { name: 'Read', arguments: '{}' } },
      { id: 'call_3', type: 'function', function: { name: 'made_up_tool', arguments: '{}' } },
    ];
    const message = chatResponseToHub({ id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4.1', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: calls }, finish_reason: 'tool_calls' }] }, c, DEFAULT_CHAT_QUIRKS);
    expect(message.content.map((b) => (b as { name: string }).name)).toEqual([LONG, 'Read', 'made_up_tool']);

    const chunks = calls.flatMap((call, index) => [
      { choices: [{ index: 0, delta: { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: '{}' } }] }, finish_reason: null }] },
    ]);
    chunks.push({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] } as never);
    const events: any[] = [];
    const stream = new ReadableStream({
      start(ctl) { for (const ch of chunks) ctl.enqueue({ data: JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1', ...ch }) }); ctl.enqueue({ data: '[DONE]' }); ctl.close(); },
    }).pipeThrough(chatChunksToHubEvents(c, DEFAULT_CHAT_QUIRKS));
    for await (const e of stream) events.push(e);
    expect(events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.name)).toEqual([LONG, 'Read', 'made_up_tool']);
  });

  test('a server that repeats the alias on every fragment of one call, without ids (every call at index 0), makes one call of it', async () => {
    const c = ctx();
    hubRequestToChat(hub(), c, DEFAULT_CHAT_QUIRKS);
    const alias = upstreamToolName(LONG);
    const fragment = (args: string) => ({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: alias, arguments: args } }] }, finish_reason: null }] });
    const chunks: object[] = [fragment('{"pa'), fragment('th":"/a"}'), { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }];
    const events: any[] = [];
    const stream = new ReadableStream({
      start(ctl) { for (const ch of chunks) ctl.enqueue({ data: JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1', ...ch }) }); ctl.enqueue({ data: '[DONE]' }); ctl.close(); },
    }).pipeThrough(chatChunksToHubEvents(c, DEFAULT_CHAT_QUIRKS));
    for await (const e of stream) events.push(e);
    const starts = events.filter((e) => e.type === 'content_block_start');
    expect(starts.map((e) => e.content_block.name)).toEqual([LONG]);
    const args = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    expect(JSON.parse(args)).toEqual({ path: '/a' });
  });
});
