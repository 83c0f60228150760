/**
 * The real CLI (`claude -p`) with an MCP server whose tool Claude Code names past 64 characters
 * (`mcp__<server>__<tool>`), through an `openai` channel whose mock ENFORCES OpenAI's function-name rule (400 "string
 * too long… maximum length 64", as api.openai.com answers). The provider must get an alias it takes, the model's call
 * to that alias must reach the CLI under the CLI's own name (the CLI then runs the MCP tool), and the next turn, with
 * that call in its history, must be served.
 *
 * Claude Code defers MCP tools (tool search) for the current model names: the model finds the tool with ToolSearch
 * first, and from then on every request offers it. Before: from that request on, every request was the provider's
 * 400, and `claude -p` printed "API Error: 400 Invalid 'tools[21].function.name': string too long…".
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, json, sse } from '../helpers/upstream.ts';
import { startGateway, until } from '../helpers/gateway.ts';
import { chatTextStream, chatToolCallStream, claudeForFile, tempDirs, chatToolNames, describeRun, runClaude } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-mcp-names-1';
const CLI = claudeForFile('test/e2e/claude-code-mcp-long-names.test.ts');
const freshDir = tempDirs();

const SERVER = 'claude_ai_Atlassian_Rovo';
const TOOL = 'getConfluencePageDescendantsByPathAndSpaceKey';
const CLIENT_NAME = `mcp__${SERVER}__${TOOL}`; // 76 characters
const MARKER = 'Lists the descendants of a Confluence page (marker 7f3a).';

/** A minimal MCP server over stdio (newline-delimited JSON-RPC): one tool; a call writes its arguments to `calledFile`. */
const mcpServer = (calledFile: string) => `
const tool = { name: ${JSON.stringify(TOOL)}, description: ${JSON.stringify(MARKER)}, inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } };
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i).trim(); buf = buf.slice(i + 1);
    if (!line) continue;
    const m = JSON.parse(line);
    if (m.id === undefined) continue;
    if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'rovo', version: '1.0.0' } } });
    else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [tool] } });
    else if (m.method === 'tools/call') { require('fs').writeFileSync(${JSON.stringify(calledFile)}, JSON.stringify(m.params)); send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'page 43, page 44' }] } }); }
    else send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'method not found' } });
  }
});
`;

/** OpenAI's 400 for a function name past 64 characters, anywhere a request carries one; null when there is none. */
function tooLong(body: any): Response | null {
  const names: Array<[string, string]> = [];
  (body.tools ?? []).forEach((t: any, i: number) => names.push([`tools[${i}].function.name`, t.function?.name]));
  (body.messages ?? []).forEach((m: any, i: number) => (m.tool_calls ?? []).forEach((c: any, j: number) => names.push([`messages[${i}].tool_calls[${j}].function.name`, c.function?.name])));
  const bad = names.find(([, n]) => typeof n === 'string' && n.length > 64);
  if (!bad) return null;
  return json({ error: { message: `Invalid '${bad[0]}': string too long. Expected a string with maximum length 64, but got a string with length ${bad[1].length} instead.`, type: 'invalid_request_error', param: bad[0], code: 'string_above_max_length' } }, 400);
}

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: an MCP tool named past 64 characters, through an openai channel`, () => {
  test('the provider gets an alias, the CLI runs its own MCP tool from the model\'s call, and the next turn is served', async () => {
    const dir = freshDir('sb-ccmcp-cwd-');
    const called = join(dir, 'called.json');
    writeFileSync(join(dir, 'server.js'), mcpServer(called));
    writeFileSync(join(dir, 'mcp.json'), JSON.stringify({ mcpServers: { [SERVER]: { type: 'stdio', command: process.execPath, args: [join(dir, 'server.js')] } } }));

    const upstream = startMockUpstream((r) => {
      const refused = tooLong(r.json);
      if (refused) return refused;
      const messages: any[] = r.json?.messages ?? [];
      const done = messages.some((m) => m.role === 'tool' && JSON.stringify(m.content).includes('page 43'));
      if (done) return sse(chatTextStream('Two pages: 43 and 44.'), { signal: r.signal });
      const fn = (r.json.tools ?? []).find((t: any) => t.function.description?.includes('marker 7f3a'))?.function;
      // deferred (tool search on): the model searches for it first, as Claude Code's ToolSearch expects
      if (!fn) {
        if (messages.some((m) => m.role === 'tool')) return sse(chatTextStream('The tool was not found.'), { signal: r.signal });
        return sse(chatToolCallStream('call_search_1', 'ToolSearch', { query: `select:${CLIENT_NAME}` }), { signal: r.signal });
      }
      return sse(chatToolCallStream('call_rovo_2', fn.name, { path: '/spaces/ENG' }), { signal: r.signal });
    });
    const gw = startGateway({
      keys: [{ key: KEY, name: 'claude-code' }],
      channels: [{ name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': 'gpt-5' } }],
    });
    try {
      const run = await runClaude(['-p', 'List the pages under /spaces/ENG.', '--model', 'claude-sonnet-5-5', '--output-format', 'json', '--mcp-config', join(dir, 'mcp.json'), '--strict-mcp-config', '--allowedTools', CLIENT_NAME], {
        baseUrl: gw.url, token: KEY, home: freshDir('sb-ccmcp-home-'), cwd: dir, timeoutMs: 75_000,
      });
      if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
      const result = JSON.parse(run.stdout);
      expect(result.is_error, describeRun(run)).toBe(false);
      expect(result.result).toBe('Two pages: 43 and 44.');

      // the CLI ran its MCP tool with the model's arguments: it got the call under its own name
      expect(existsSync(called), describeRun(run)).toBe(true);
      expect(JSON.parse(readFileSync(called, 'utf8'))).toMatchObject({ name: TOOL, arguments: { path: '/spaces/ENG' } });

      await until(() => gw.requestLogs().length >= upstream.requests.length, 3000);
      expect(gw.requestLogs().every((l: any) => l.status === 200)).toBe(true);
      const last = upstream.requests.at(-1)!.json;
      const alias = chatToolNames(last).find((n) => n.startsWith('mcp__claude_ai_'))!;
      expect(alias.length).toBeLessThanOrEqual(64);
      const call = last.messages.flatMap((m: any) => m.tool_calls ?? []).find((c: any) => c.id === 'call_rovo_2');
      expect(call.function.name).toBe(alias);
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  }, 90_000);
});
