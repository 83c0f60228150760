/**
 * pipeline/tools-memo: a large request's tools translated once and reused give exactly the bytes, the dropped
 * items and the errors of an ordinary translation, in both directions, the first time and every time after; tools
 * that differ by one byte are not mistaken for each other; tools that do not translate on their own leave the
 * request to the ordinary path.
 */
import { describe, expect, spyOn, test } from 'bun:test';
import { FORMATS } from '../../../src/formats/index.ts';
import type { FormatId, TranslateContext } from '../../../src/formats/types.ts';
import type { Channel } from '../../../src/channels/types.ts';
import { resolveQuirks } from '../../../src/channels/openai/presets.ts';
import { readInbound } from '../../../src/pipeline/inbound.ts';
import { translateRequest } from '../../../src/pipeline/translate.ts';
import { MAX_TOOLS_BYTES, MIN_TOOLS_BYTES, hubTools, toolsMemoBytes, toolsMemoSize } from '../../../src/pipeline/tools-memo.ts';
import { GatewayError } from '../../../src/errors.ts';
import { valuePlaceholder, splice } from '../../../src/util/json-skeleton.ts';
import { knownToolsOf } from '../../../src/util/json.ts';
import { requestBody } from '../../../bench/payloads.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

const channel = (nativeFormat: FormatId, provider = 'openai'): Channel => ({
  name: `test-${nativeFormat}-${provider}`, kind: nativeFormat === 'anthropic' ? 'anthropic' : 'openai', nativeFormat,
  config: {} as Channel['config'],
  secrets: [],
  quirks: nativeFormat === 'openai-chat' ? resolveQuirks(provider, undefined) : undefined,
  countsTokens: nativeFormat === 'anthropic',
  send: () => { throw new Error('not sent in these tests'); },
});
const toOpenai = channel('openai-chat');
const toGemini = channel('openai-chat', 'gemini'); // strict schema clean-up
const toAnthropic = channel('anthropic');

/** The ordinary path: the whole body parsed, converted, serialised. */
function ordinary(from: FormatId, ch: Channel, body: string): { body: string; dropped: string[]; toolNames: TranslateContext['toolNames'] } {
  const ctx: TranslateContext = { requestedModel: 'm', upstreamModel: 'up', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 4096, thinkingStyle: 'adaptive' };
  const out = JSON.stringify(FORMATS[ch.nativeFormat].requestFromHub(FORMATS[from].requestToHub(JSON.parse(body), ctx), ctx, ch.quirks as never));
  return { body: out, dropped: ctx.dropped, toolNames: ctx.toolNames };
}

/** The pipeline's path for a fresh request with these bytes. */
function viaPipeline(from: FormatId, ch: Channel, body: string) {
  const inbound = readInbound(enc.encode(body), from, from === 'anthropic' ? 'messages' : 'chat_completions');
  const skeleton = inbound.skeleton();
  const { ctx, body: out, estimate } = translateRequest(inbound, ch, 'up', 4096);
  estimate?.(); // as the pipeline does once the request is sent
  return { body: typeof out === 'string' ? out : dec.decode(out), dropped: ctx.dropped, prepared: skeleton?.tools != null, channelForm: ctx.tools?.upstream != null, estimate: ctx.estimatedInputTokens, toolNames: ctx.toolNames };
}

// a body past the size below which requests are parsed in full (pipeline/inbound.ts: 64 KB)
const filler = (tag: string) => `${tag} ${'lorem ipsum dolor sit amet '.repeat(3000)}`;
const schema = (extra: Record<string, unknown> = {}) => ({
  $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', additionalProperties: false,
  properties: { file_path: { type: 'string', description: 'The absolute path' }, limit: { type: ['integer', 'null'], exclusiveMinimum: 0 }, mode: { const: 'fast' } },
  required: ['file_path'], ...extra,
});
const claudeTools = () => [
  { name: 'Read', description: 'Reads a file from the local filesystem. '.repeat(12), input_schema: schema() },
  { name: 'Bash', description: 'Runs a shell command "quoted" \\ with \u00e9 ✓ 中文'.repeat(4), input_schema: schema({ $defs: { x: { type: 'string' } } }), cache_control: { type: 'ephemeral' } },
  { name: 'ToolSearch', description: 'Finds deferred tools', input_schema: { type: 'object', properties: { query: { type: 'string' } } } },
  { name: 'DeferredToolPlaceholder', description: 'never call this tool', input_schema: { type: 'object' }, defer_loading: true },
  { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
];

function anthropicBody(over: Record<string, unknown> = {}, tools: unknown[] = claudeTools()): string {
  return JSON.stringify({
    model: 'claude-sonnet-5-5', max_tokens: 128000,
    messages: [
      { role: 'user', content: [{ type: 'text', text: filler('question') }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/a' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: filler('file') }] },
    ],
    system: [{ type: 'text', text: filler('system'), cache_control: { type: 'ephemeral' } }],
    tools, metadata: { user_id: '{"device_id":"d"}' }, thinking: { type: 'adaptive', display: 'omitted' }, output_config: { effort: 'medium' }, stream: true,
    ...over,
  });
}

const LONG_NAME = 'mcp__claude_ai_Atlassian_Rovo__getConfluencePageDescendantsByPathAndSpaceKey';

const chatTools = () => [
  { type: 'function', function: { name: 'shell', description: 'Runs a command. '.repeat(30), parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } }, required: ['command'] } } },
  { type: 'function', function: { name: 'apply_patch', description: 'Applies a patch "quoted" \\ é 中文. '.repeat(20), parameters: { properties: { patch: { type: 'string' } } }, strict: true } },
  { type: 'function', function: { name: 'noop', parameters: {} } },
];

function chatBody(over: Record<string, unknown> = {}, tools: unknown[] = chatTools()): string {
  return JSON.stringify({
    model: 'gpt-5', stream: true,
    messages: [
      { role: 'system', content: filler('system') },
      { role: 'user', content: filler('question') },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shell', arguments: '{"command":["ls"]}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: filler('result') },
    ],
    tools, ...over,
  });
}

const cases: Array<[string, FormatId, Channel, string]> = [
  ['Claude Code shape → openai', 'anthropic', toOpenai, anthropicBody()],
  ['Claude Code shape → gemini (strict schemas)', 'anthropic', toGemini, anthropicBody()],
  ['named tool_choice, no parallel calls → openai', 'anthropic', toOpenai, anthropicBody({ tool_choice: { type: 'tool', name: 'Bash', disable_parallel_tool_use: true } })],
  ['tool_choice any, not streamed → openai', 'anthropic', toOpenai, anthropicBody({ tool_choice: { type: 'any' }, stream: false })],
  ['only tools a provider cannot take, tool_choice any → openai', 'anthropic', toOpenai, anthropicBody({ tool_choice: { type: 'any' } }, [...claudeTools().slice(3), { type: 'bash_20250124', name: 'bash', note: 'x'.repeat(MIN_TOOLS_BYTES) }])],
  ['bench conversation → openai', 'anthropic', toOpenai, requestBody('anthropic', 'conversation', 'm', true)],
  // an MCP tool's name longer than OpenAI takes (formats/openai-chat/tool-names.ts), chosen by tool_choice
  ['a tool name past 64 characters, named by tool_choice → openai', 'anthropic', toOpenai, anthropicBody({ tool_choice: { type: 'tool', name: LONG_NAME } }, [...claudeTools(), { name: LONG_NAME, description: 'Descendants of a page', input_schema: schema() }])],
  ['Codex shape → anthropic', 'openai-chat', toAnthropic, chatBody()],
  ['tool_choice function, parallel_tool_calls false → anthropic', 'openai-chat', toAnthropic, chatBody({ tool_choice: { type: 'function', function: { name: 'apply_patch' } }, parallel_tool_calls: false })],
  ['allowed_tools (a filtered list) → anthropic', 'openai-chat', toAnthropic, chatBody({ tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'noop' } }] } } })],
  ['tool_choice none → anthropic', 'openai-chat', toAnthropic, chatBody({ tool_choice: 'none' })],
  ['bench conversation → anthropic', 'openai-chat', toAnthropic, requestBody('openai', 'conversation', 'm', false)],
];

describe('tools translated once give the bytes of an ordinary translation', () => {
  for (const [name, from, ch, body] of cases) {
    test(name, () => {
      const want = ordinary(from, ch, body);
      const first = viaPipeline(from, ch, body);
      const again = viaPipeline(from, ch, body);
      expect(first.prepared).toBe(true);
      expect(first.channelForm).toBe(true);
      expect(JSON.parse(first.body)).toEqual(JSON.parse(want.body));
      expect(first.body).toBe(want.body);
      expect(first.dropped).toEqual(want.dropped);
      expect(again.body).toBe(want.body);
      expect(again.dropped).toEqual(want.dropped);
      expect(again.estimate).toBe(first.estimate);
      // the aliases of tool names the provider would refuse, which the answer's calls are given back under
      expect(first.toolNames).toEqual(want.toolNames);
      expect(again.toolNames).toEqual(want.toolNames);
      // message_start's estimate: made for a stream whose upstream reports input tokens only at the end (Chat
      // Completions), not for an Anthropic upstream, whose message_start carries them
      const streamed = (JSON.parse(body) as { stream?: boolean }).stream === true;
      if (streamed && ch.nativeFormat === 'openai-chat') expect(first.estimate).toBeGreaterThan(100);
      else expect(first.estimate).toBe(0);
    });
  }

  test('a request whose tools differ by one byte gets its own translation, and both stay right', () => {
    const a = claudeTools();
    const b = claudeTools();
    const d = b[0] as { description: string };
    d.description = `${d.description.slice(0, -1)}!`; // same length: only the bytes tell them apart
    for (const tools of [a, b, a, b]) {
      const body = anthropicBody({}, tools);
      expect(viaPipeline('anthropic', toOpenai, body).body).toBe(ordinary('anthropic', toOpenai, body).body);
    }
  });

  test('the same tools are kept once, frozen, for every channel', () => {
    const body = anthropicBody({}, [...claudeTools(), { name: 'Unique', description: 'only in this test', input_schema: { type: 'object' } }]);
    const before = toolsMemoSize();
    for (const ch of [toOpenai, toGemini, toOpenai]) viaPipeline('anthropic', ch, body);
    expect(toolsMemoSize()).toBe(before + 1);
    const span = JSON.stringify(JSON.parse(body).tools);
    const entry = hubTools('anthropic', enc.encode(span))!;
    expect(Object.isFrozen(entry.hub[0]!.input_schema)).toBe(true);
    expect(() => { (entry.hub[0] as { name: string }).name = 'changed'; }).toThrow();
  });
});

describe('tools the body scan found remembered', () => {
  test('get their entry from the scan\'s copy: no hash, no second comparison, no second copy of the bytes', () => {
    const tools = [...claudeTools(), { name: 'OnlyHere', description: 'a tool set of this test alone. '.repeat(40), input_schema: { type: 'object' } }];
    const first = enc.encode(anthropicBody({}, tools));
    const second = enc.encode(anthropicBody({ max_tokens: 77 }, tools)); // another buffer, other bytes around them
    readInbound(first, 'anthropic', 'messages').skeleton();
    const known = knownToolsOf(first)!;
    expect(known).not.toBeNull();
    const entry = hubTools('anthropic', known, known)!;
    expect(entry.bytes).toBe(known);
    const hash = spyOn(Bun, 'hash');
    try {
      const inbound = readInbound(second, 'anthropic', 'messages');
      expect(knownToolsOf(second)).toBe(known);
      expect(inbound.skeleton()!.tools).toBe(entry);
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
    // the same bytes sent by the other API are another entry (another format's hub form)
    expect(hubTools('openai-chat', known, known)).not.toBe(entry);
    // and the translation is the ordinary one
    expect(viaPipeline('anthropic', toOpenai, anthropicBody({ max_tokens: 77 }, tools)).body).toBe(ordinary('anthropic', toOpenai, anthropicBody({ max_tokens: 77 }, tools)).body);
  });
});

describe('tools that do not translate on their own are left to the ordinary path', () => {
  const errorOf = (from: FormatId, ch: Channel, body: string) => {
    try { viaPipeline(from, ch, body); } catch (e) { return e as GatewayError; }
    throw new Error('no error');
  };

  test('a tool without a name: the 400 names the field, as for any request', () => {
    const tools: unknown[] = claudeTools();
    tools.splice(2, 0, { description: 'x'.repeat(50), input_schema: { type: 'object' } });
    const err = errorOf('anthropic', toOpenai, anthropicBody({}, tools));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(400);
    expect(err.message).toContain('tools.2.name');
  });

  test('a custom (free-form) tool from a Chat client: refused as before', () => {
    const err = errorOf('openai-chat', toAnthropic, chatBody({}, [...chatTools(), { type: 'custom', custom: { name: 'grammar' } }]));
    expect(err.status).toBe(400);
    expect(err.message).toContain('Custom (free-form) tools are not supported');
  });

  test('a named tool_choice for a deferred tool: the same 400 as the ordinary path', () => {
    const body = anthropicBody({ tool_choice: { type: 'tool', name: 'DeferredToolPlaceholder' } });
    const err = errorOf('anthropic', toOpenai, body);
    expect(() => ordinary('anthropic', toOpenai, body)).toThrow(err.message);
    expect(err.message).toContain('is not among the tools');
  });

  test('a small tools array is translated with the request', () => {
    const body = anthropicBody({}, [{ name: 'Tiny', input_schema: { type: 'object' } }]);
    const r = viaPipeline('anthropic', toOpenai, body);
    expect(r.prepared).toBe(false);
    expect(r.body).toBe(ordinary('anthropic', toOpenai, body).body);
  });

  test('tools past MAX_TOOLS_BYTES are translated with the request and never kept; what is kept stays within its budget', () => {
    // a client with a key could otherwise make the gateway hold ~10 times its tools' bytes for every distinct set it
    // sends (64 sets of 30 MB: gigabytes), for as long as the process runs
    const huge = (tag: string) => [{ name: 'Huge', description: tag + 'x'.repeat(MAX_TOOLS_BYTES), input_schema: { type: 'object' } }];
    const before = toolsMemoSize();
    const body = anthropicBody({}, huge('a'));
    const r = viaPipeline('anthropic', toOpenai, body);
    expect(r.prepared).toBe(false);
    expect(r.body).toBe(ordinary('anthropic', toOpenai, body).body);
    expect(toolsMemoSize()).toBe(before);
    // sets just under the limit: kept, the oldest dropped once their bytes add up past the budget
    const under = (i: number) => [{ name: 'Big', description: `${i}`.padEnd(MAX_TOOLS_BYTES - 200, 'y'), input_schema: { type: 'object' } }];
    for (let i = 0; i < 20; i++) expect(viaPipeline('anthropic', toOpenai, anthropicBody({}, under(i))).prepared).toBe(true);
    expect(toolsMemoBytes()).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(toolsMemoBytes()).toBeGreaterThan(4 * 1024 * 1024);
  });
});

describe('splice: a value placeholder', () => {
  const span = enc.encode('[{"a":"é \\"q\\""},1]');
  test('replaces the whole string, quotes included', () => {
    const json = JSON.stringify({ x: valuePlaceholder(0), y: 2 });
    expect(dec.decode(splice(json, [span])!)).toBe('{"x":[{"a":"é \\"q\\""},1],"y":2}');
  });
  test('inside a longer string, or serialised twice, it is refused (the ordinary path then runs)', () => {
    expect(splice(JSON.stringify({ x: `a${valuePlaceholder(0)}` }), [span])).toBeNull();
    expect(splice(JSON.stringify({ x: JSON.stringify({ y: valuePlaceholder(0) }) }), [span])).toBeNull();
    expect(splice(JSON.stringify({ x: valuePlaceholder(1) }), [span])).toBeNull();
  });
});

test('a tool name past 64 characters goes under its alias on the memoised path too, and the alias is noted for the answer', () => {
  const body = anthropicBody({}, [...claudeTools(), { name: LONG_NAME, description: 'Descendants of a page', input_schema: schema() }]);
  for (const run of [viaPipeline('anthropic', toOpenai, body), viaPipeline('anthropic', toOpenai, body)]) {
    expect(run.channelForm).toBe(true);
    const names = JSON.parse(run.body).tools.map((t: { function: { name: string } }) => t.function.name);
    expect(names.slice(0, 3)).toEqual(['Read', 'Bash', 'ToolSearch']);
    const alias = names[3];
    expect(alias).toMatch(/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/);
    expect([...run.toolNames!]).toEqual([[alias, LONG_NAME]]);
  }
});
