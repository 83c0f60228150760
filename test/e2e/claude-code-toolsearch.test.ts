/**
 * Claude Code's tool search through an `openai` channel, with the real CLI (`claude -p`). For the current model
 * names Claude Code offers a few tools in full and the rest as deferred (named in a `<system-reminder>`, held back by
 * `defer_loading`). The model calls `ToolSearch` ("select:CronList"); the CLI runs it locally and sends the next turn
 * with the found tool added to `tools` (still `defer_loading: true`) and a tool_result holding
 * `{type: "tool_reference", tool_name: "CronList"}`: on Anthropic's API that block is what makes the tool callable.
 * Through the gateway the provider must then get CronList as a function (and no other deferred tool), the reference
 * as text in the tool message, and the model's CronList call must run in the CLI.
 *
 * Before: the gateway refused the tool_reference block with a 400; Claude Code sent the turn 3 times, then turned tool
 * search off for the session (every deferred tool declared in full, ToolSearch gone, the tool result replaced by
 * "[Tool references removed - tool search not enabled]").
 */
import { describe, expect, test } from 'bun:test';
import { startMockUpstream, sse } from '../helpers/upstream.ts';
import { startGateway, until } from '../helpers/gateway.ts';
import { chatTextStream, chatToolCallStream, claudeForFile, tempDirs, chatText, chatToolNames, describeRun, runClaude } from '../helpers/claude-code.ts';

const KEY = 'sk-gw-claude-code-toolsearch-1';
const UPSTREAM_KEY = 'sk-openai-upstream-secret-ts';
const CLI = claudeForFile('test/e2e/claude-code-toolsearch.test.ts');

const freshDir = tempDirs();

const text = chatText;
const toolNames = chatToolNames;

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version}: tool search through an openai channel`, () => {
  test('ToolSearch finds CronList, the provider is then offered it as a function, the CLI runs the call, the answer is printed', async () => {
    const answer = 'There are no scheduled jobs.';
    const upstream = startMockUpstream((r) => {
      const messages: any[] = r.json?.messages ?? [];
      const results = messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
      if (results.length === 0) return sse(chatToolCallStream('call_search_1', 'ToolSearch', { query: 'select:CronList' }), { signal: r.signal });
      if (results.length === 1) return sse(chatToolCallStream('call_cron_2', 'CronList', {}), { signal: r.signal });
      return sse(chatTextStream(answer), { signal: r.signal });
    });
    const gw = startGateway({
      keys: [{ key: KEY, name: 'claude-code' }],
      channels: [{ name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/v1`, api_key: UPSTREAM_KEY, models: { 'claude-sonnet-5-5': 'gpt-5' } }],
    });
    try {
      const run = await runClaude(['-p', 'List my scheduled jobs.', '--model', 'claude-sonnet-5-5', '--output-format', 'json'], {
        baseUrl: gw.url, token: KEY, home: freshDir('sb-cts-home-'), cwd: freshDir('sb-cts-cwd-'), timeoutMs: 75_000,
      });
      if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
      const result = JSON.parse(run.stdout);
      expect(result.is_error, describeRun(run)).toBe(false);
      expect(result.result).toBe(answer);
      expect(result.num_turns).toBe(3);

      // every request the CLI made was served: none refused and sent again
      await until(() => gw.requestLogs().length >= 3, 3000);
      expect(gw.requestLogs().map((l: any) => l.status)).toEqual([200, 200, 200]);
      expect(upstream.requests.length).toBe(3);
      const [first, second, third] = upstream.requests.map((r) => r.json);

      // turn 1: the deferred tools are not offered, ToolSearch is
      expect(toolNames(first)).toContain('ToolSearch');
      for (const name of ['CronList', 'WebFetch', 'DeferredToolPlaceholder']) expect(toolNames(first)).not.toContain(name);

      // turn 2: CronList, found by the search, is offered as a function, and no other deferred tool; tool search is
      // still on (ToolSearch offered, not replaced by the CLI's fallback)
      const names2 = toolNames(second);
      expect(names2).toContain('CronList');
      expect(names2).toContain('ToolSearch');
      for (const name of ['WebFetch', 'WebSearch', 'CronCreate', 'DeferredToolPlaceholder']) expect(names2).not.toContain(name);
      expect(second.tools.length).toBe(first.tools.length + 1);
      const cron = second.tools.find((t: any) => t.function.name === 'CronList').function;
      expect(cron.parameters.type).toBe('object');
      expect(JSON.stringify(second)).not.toMatch(/defer_loading|tool_reference|\$schema/);
      const msgs2: any[] = second.messages;
      const search = msgs2.find((m) => m.role === 'tool');
      expect(search.tool_call_id).toBe('call_search_1');
      expect(text(search)).toContain('CronList');
      expect(text(search)).not.toContain('Tool references removed');
      expect(msgs2.some((m) => text(m).includes('ToolSearch is no longer available'))).toBe(false);

      // turn 3: the CLI ran CronList; its result goes back, CronList still offered
      expect(toolNames(third)).toContain('CronList');
      const msgs3: any[] = third.messages;
      const ti = msgs3.findIndex((m) => m.role === 'tool' && m.tool_call_id === 'call_cron_2');
      expect(ti).toBeGreaterThan(0);
      expect(msgs3[ti - 1].tool_calls[0]).toMatchObject({ id: 'call_cron_2', function: { name: 'CronList' } });
      expect(text(msgs3[ti])).toContain('No scheduled jobs');
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  }, 90_000);
});
