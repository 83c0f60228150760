/**
 * @module test/e2e/long-tool-names
 * Anthropic SDK client → gateway (real HTTP) → `openai` channel → a mock OpenAI that ENFORCES OpenAI's rule for
 * function names (at most 64 characters of `[a-zA-Z0-9_-]`, answered as OpenAI answers a longer one: 400
 * "Invalid 'tools[0].function.name': string too long…", code `string_above_max_length`), and calls back the tool the
 * test names, streamed and not. Claude Code names an MCP server's tools `mcp__<server>__<tool>`, which often pass 64
 * characters (Anthropic takes 128): the client must see only its own names, and a second turn with that call in the
 * history must be accepted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

const KEY = 'sk-gw-long-tool-names-1';

// two real-world shapes (Atlassian's remote MCP server through claude.ai, a plugin's MCP server), and one that shares
// the first's first 64 characters
const LONG = 'mcp__claude_ai_Atlassian_Rovo__getConfluencePageDescendantsByPathAndSpaceKey';
const LONG_TWIN = 'mcp__claude_ai_Atlassian_Rovo__getConfluencePageDescendantsByPathAndSpaceId';
const PLUGIN = 'mcp__plugin_everything-claude-code_playwright__browser_console_messages';
const tool = (name: string, description: string): Anthropic.Tool => ({ name, description, input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } });
const TOOLS: Anthropic.Tool[] = [
  tool('Read', 'Reads a file'),
  tool(LONG, 'Descendants of a Confluence page, by space key'),
  tool(LONG_TWIN, 'Descendants of a Confluence page, by space id'),
  tool(PLUGIN, 'Console messages of the browser page'),
];

/** OpenAI's 400 for a function name it refuses (as api.openai.com answers, e.g. ravitemer/mcphub.nvim#243), or null. */
function openaiNameRefusal(body: any): Response | null {
  const refuse = (param: string, name: string) => json({
    error: {
      message: name.length > 64
        ? `Invalid '${param}': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.`
        : `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
      type: 'invalid_request_error', param, code: name.length > 64 ? 'string_above_max_length' : 'invalid_value',
    },
  }, 400);
  const bad = (name: unknown) => typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name);
  for (const [i, t] of (body.tools ?? []).entries()) if (bad(t.function?.name)) return refuse(`tools[${i}].function.name`, t.function.name);
  for (const [i, m] of (body.messages ?? []).entries()) {
    for (const [j, c] of (m.tool_calls ?? []).entries()) if (bad(c.function?.name)) return refuse(`messages[${i}].tool_calls[${j}].function.name`, c.function.name);
  }
  const chosen = body.tool_choice?.function?.name;
  if (chosen !== undefined && bad(chosen)) return refuse('tool_choice.function.name', chosen);
  return null;
}

/** The test's wish: which of the offered functions the mock calls (by its description, the name being the gateway's). */
let callDescription = '';

/**
 * Gemini's 400 for a function name its OpenAI-compatible endpoint refuses (google-gemini/gemini-cli#6704: a letter or
 * an underscore first, at most 64), or null.
 */
function geminiNameRefusal(body: any): Response | null {
  const i = (body.tools ?? []).findIndex((t: any) => !/^[a-zA-Z_][a-zA-Z0-9_.-]{0,63}$/.test(t.function?.name));
  if (i < 0) return null;
  const message = `* GenerateContentRequest.tools[0].function_declarations[${i}].name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.) or dashes (-), with a maximum length of 64.\n`;
  return Response.json([{ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }], { status: 400 });
}

function answer(r: RecordedRequest): Response {
  const refused = r.path.startsWith('/gemini') ? geminiNameRefusal(r.json) : openaiNameRefusal(r.json);
  if (refused) return refused;
  const body = r.json;
  const created = 1764300000;
  const done = body.messages.at(-1).role === 'tool';
  const fn = (body.tools ?? []).find((t: any) => t.function.description === callDescription)?.function;
  if (done || !fn) {
    const msg = { role: 'assistant', content: 'Done.' };
    if (!body.stream) return json({ id: 'chatcmpl-1', object: 'chat.completion', created, model: body.model, choices: [{ index: 0, message: msg, finish_reason: 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 } });
    const chunk = (delta: unknown, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    return sse([chunk({ role: 'assistant', content: 'Done.' }, null), chunk({}, 'stop'), 'data: [DONE]\n\n']);
  }
  const args = '{"path":"/spaces/ENG/pages/42"}';
  if (!body.stream) {
    return json({
      id: 'chatcmpl-2', object: 'chat.completion', created, model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: fn.name, arguments: args } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
    });
  }
  // as OpenAI streams a call: id and name in its first delta, the arguments in fragments after
  const chunk = (delta: unknown, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return sse([
    chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_abc', type: 'function', function: { name: fn.name, arguments: '' } }] }, null),
    chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 10) } }] }, null),
    chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(10) } }] }, null),
    chunk({}, 'tool_calls'),
    'data: [DONE]\n\n',
  ]);
}

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream(answer);
  gw = startGateway({
    keys: [{ key: KEY, name: 'names' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': 'gpt-4.1' } },
      { name: 'gemini', type: 'openai', provider: 'gemini', base_url: `${upstream.url}/gemini`, api_key: 'sk-up', models: { 'claude-haiku-5-5': 'gemini-2.5-flash' } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const sentNames = (body: any): string[] => body.tools.map((t: any) => t.function.name);

for (const streamed of [false, true]) {
  describe(streamed ? 'streamed' : 'not streamed', () => {
    const ask = (params: { tools: Anthropic.Tool[]; messages: Anthropic.MessageParam[] }): Promise<Anthropic.Message> => {
      const p = { model: 'claude-sonnet-5-5', max_tokens: 256, ...params } as Anthropic.MessageCreateParams;
      return streamed ? client.messages.stream(p as Anthropic.MessageStreamParams).finalMessage() : client.messages.create({ ...p, stream: false });
    };

    for (const [name, description] of [[LONG, 'Descendants of a Confluence page, by space key'], [LONG_TWIN, 'Descendants of a Confluence page, by space id'], [PLUGIN, 'Console messages of the browser page']] as const) {
      test(`the model calls ${name.slice(0, 40)}… (${name.length} characters): the client gets its own name, and the next turn with that call in its history is answered`, async () => {
        callDescription = description;
        const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'List the pages under /spaces/ENG.' }];
        const first = await ask({ tools: TOOLS, messages });
        const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
        expect(call).toMatchObject({ type: 'tool_use', name, input: { path: '/spaces/ENG/pages/42' } });
        expect(first.stop_reason).toBe('tool_use');

        const sent = upstream.requests.at(-1)!.json;
        const names = sentNames(sent);
        expect(names[0]).toBe('Read'); // a name that fits goes as it is
        for (const n of names) expect(n).toMatch(/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/);
        expect(new Set(names).size).toBe(names.length); // the twins, alike for 64 characters, are told apart

        const second = await ask({
          tools: TOOLS,
          messages: [...messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call!.id, content: 'page 43, page 44' }] }],
        });
        expect(second.content).toMatchObject([{ type: 'text', text: 'Done.' }]);
        expect(second.content).toHaveLength(1);
        const history = upstream.requests.at(-1)!.json;
        // the history's call goes by the name that function is offered under in this request
        expect(history.messages.find((m: any) => m.tool_calls)?.tool_calls[0].function.name).toBe(names[TOOLS.findIndex((t) => t.name === name)]);
      });
    }
  });
}

test('the same long name is sent under the same alias in every request, whatever else the request holds', async () => {
  callDescription = '';
  await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 16, tools: TOOLS, messages: [{ role: 'user', content: 'a' }] });
  const a = sentNames(upstream.requests.at(-1)!.json);
  await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 16, tools: [TOOLS[3]!, TOOLS[1]!], messages: [{ role: 'user', content: 'b' }] });
  const b = sentNames(upstream.requests.at(-1)!.json);
  expect(b).toEqual([a[3], a[1]]);
});

test('tool_choice naming a long-named tool is sent with its alias, and the forced call comes back under the client\'s name', async () => {
  callDescription = 'Console messages of the browser page';
  const res = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 64, tools: TOOLS, tool_choice: { type: 'tool', name: PLUGIN }, messages: [{ role: 'user', content: 'Any errors in the console?' }] });
  expect(res.content[0]).toMatchObject({ type: 'tool_use', name: PLUGIN });
  const sent = upstream.requests.at(-1)!.json;
  expect(sent.tool_choice).toEqual({ type: 'function', function: { name: sentNames(sent)[3] } });
});

test('a deferred long-named tool that tool search found is offered, and the tool message names it as the model can call it', async () => {
  callDescription = 'Descendants of a Confluence page, by space key';
  const tools = [TOOLS[0]!, { ...TOOLS[1]!, defer_loading: true }] as Anthropic.Tool[];
  const res = await client.messages.create({
    model: 'claude-sonnet-5-5', max_tokens: 64, tools,
    messages: [
      { role: 'user', content: 'List the pages under /spaces/ENG.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_search', name: 'Read', input: { path: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_search', content: [{ type: 'tool_reference', tool_name: LONG }] } as never, { type: 'text', text: 'go on' }] },
    ],
  });
  expect(res.content[0]).toMatchObject({ type: 'tool_use', name: LONG });
  const sent = upstream.requests.at(-1)!.json;
  const alias = sentNames(sent)[1];
  expect(sent.messages.find((m: any) => m.role === 'tool').content).toBe(`Tool ${alias} is now available to call.`);
});

test('Gemini: a name that starts with a digit (Anthropic takes it, Gemini does not) is sent under an alias that starts with a letter or an underscore', async () => {
  callDescription = 'Renders a 3D scene';
  const tools = [tool('3d_render', 'Renders a 3D scene'), tool(LONG, 'Descendants of a Confluence page, by space key')];
  const res = await client.messages.create({ model: 'claude-haiku-5-5', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Render it.' }] });
  expect(res.content[0]).toMatchObject({ type: 'tool_use', name: '3d_render' });
  const names = sentNames(upstream.requests.at(-1)!.json);
  for (const n of names) expect(n).toMatch(/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/);
});

test('a name the model makes up (neither an alias nor a tool) reaches the client as the model wrote it', async () => {
  const mock = startMockUpstream(() => json({
    id: 'chatcmpl-3', object: 'chat.completion', created: 1, model: 'gpt-4.1',
    choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'mcp__claude_ai_Atlassian_Rovo__getConfl_0123456789_made_up', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
  }));
  const g = startGateway({ keys: [{ key: KEY, name: 'k' }], channels: [{ name: 'o', type: 'openai', provider: 'openai', base_url: mock.url, api_key: 'sk-up', models: ['gpt-4.1'] }] });
  try {
    const c = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const res = await c.messages.create({ model: 'gpt-4.1', max_tokens: 16, tools: TOOLS, messages: [{ role: 'user', content: 'x' }] });
    expect(res.content[0]).toMatchObject({ type: 'tool_use', name: 'mcp__claude_ai_Atlassian_Rovo__getConfl_0123456789_made_up' });
  } finally {
    await g.stop();
    await mock.stop();
  }
});
