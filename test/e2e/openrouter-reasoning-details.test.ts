/**
 * @module test/e2e/openrouter-reasoning-details
 * Anthropic SDK client → gateway (real HTTP) → an `openrouter` channel → a mock of OpenRouter that answers with
 * reasoning_details (the recorded Claude stream's reasoning, then o3-style encrypted reasoning with details after the
 * call) and refuses with a 400, as OpenRouter's rule asks, a later request whose history gives an assistant turn back
 * without its reasoning_details or with them changed (test/helpers/openrouter-rules.ts). An agent loop of three
 * streamed turns, the last request over 64 KB; before the gateway carried the details, the second request was refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { READ_FILE_TOOLS, readFileResults } from '../helpers/tool-loop.ts';
import { chatChunk, chatUsageChunk } from '../helpers/claude-code.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { reasoningDetailsProblem, type GivenDetails } from '../helpers/openrouter-rules.ts';

const KEY = 'sk-gw-openrouter-details-1';
const MODEL = 'anthropic/claude-sonnet-4.5';
const RECORDED = readFixture('openai-compatible/openrouter/stream-reasoning-claude.sse');
/** The recorded chunks that carry reasoning (text fragments, then the signature in a fragment of its own). */
const reasoningChunks = RECORDED.split('\n\n').filter((e) => e.includes('"reasoning_details":[{')).map((e) => `${e}\n\n`);
const CLAUDE_SIG = /"signature":"([^"]{20,})"/.exec(RECORDED)![1]!;
const ENCRYPTED = { type: 'reasoning.encrypted', data: randomBytes(3000).toString('base64'), id: 'rs_0aa4f2c4', format: 'openai-responses-v1', index: 0 };
const LATE = { type: 'reasoning.encrypted', data: randomBytes(600).toString('base64'), id: 'call-2', format: 'google-gemini-v1', index: 1 };

const given: GivenDetails = new Map<string, unknown[]>([
  ['call-1', [{ type: 'reasoning.text', text: 'This is a simple arithmetic question. 2+2 equals 4.', signature: CLAUDE_SIG, format: 'anthropic-claude-v1', index: 0 }]],
  ['call-2', [ENCRYPTED, LATE]],
]);
const refusals: string[] = [];

const sse = (events: string[]) => new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } });
const end = (finish: string) => [chatChunk({}, { finish, model: MODEL }), chatUsageChunk({ prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 }, { model: MODEL }), 'data: [DONE]\n\n'];
const call = (id: string, path: string) => ({ index: 0, id, type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ path }) } });

/** Turn 1: Claude's reasoning as recorded (text, then its signature), then a call. */
const turn1 = () => sse([...reasoningChunks, chatChunk({ role: 'assistant', content: '', tool_calls: [call('call-1', 'a.txt')] }, { model: MODEL }), ...end('tool_calls')]);
/** Turn 2: encrypted reasoning before the call, and more in the chunk after it (as Gemini 3's signatures come). */
const turn2 = () => sse([
  chatChunk({ role: 'assistant', content: '', reasoning: null, reasoning_details: [ENCRYPTED] }, { model: MODEL }),
  chatChunk({ tool_calls: [call('call-2', 'b.txt')] }, { model: MODEL }),
  chatChunk({ reasoning_details: [LATE] }, { model: MODEL }),
  ...end('tool_calls'),
]);
const turn3 = () => sse([chatChunk({ role: 'assistant', content: 'Both files read.' }, { model: MODEL }), ...end('stop')]);

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r) => {
    const problem = reasoningDetailsProblem(r.json, given);
    if (problem) {
      refusals.push(problem);
      return json({ error: { code: 400, message: problem } }, 400);
    }
    const tools = r.json.messages.filter((m: any) => m.role === 'tool').length;
    return tools === 0 ? turn1() : tools === 1 ? turn2() : turn3();
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'openrouter-details' }],
    routing: { circuit_failures: 1000 },
    channels: [{ name: 'openrouter', type: 'openai', provider: 'openrouter', base_url: `${upstream.url}/api/v1`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': MODEL } }],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });



describe('OpenRouter reasoning_details through an Anthropic client', () => {
  for (const display of ['summarized', 'omitted'] as const) {
    test(`a streamed 3-turn tool loop (thinking display ${display}): each assistant turn goes back with its reasoning_details as received; the third request, over 64 KB, too`, async () => {
      refusals.length = 0;
      const before = upstream.requests.length;
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Read a.txt, then b.txt.' }];
      const params = { model: 'claude-sonnet-5-5', max_tokens: 4000, tools: READ_FILE_TOOLS, thinking: { type: 'enabled', budget_tokens: 2000, display } } as unknown as Anthropic.MessageCreateParams;

      const first = await client.messages.stream({ ...params, messages } as Anthropic.MessageStreamParams).finalMessage();
      expect(first.stop_reason).toBe('tool_use');
      expect(first.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
      expect((first.content[0] as Anthropic.ThinkingBlock).thinking).toBe(display === 'omitted' ? '' : 'This is a simple arithmetic question. 2+2 equals 4.');
      messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: readFileResults(first) });

      const second = await client.messages.stream({ ...params, messages } as Anthropic.MessageStreamParams).finalMessage();
      expect(refusals).toEqual([]);
      expect(second.content.map((b) => b.type)).toEqual(['thinking', 'tool_use', 'thinking']);
      messages.push({ role: 'assistant', content: second.content }, { role: 'user', content: readFileResults(second, 70_000) });

      const third = await client.messages.stream({ ...params, messages } as Anthropic.MessageStreamParams).finalMessage();
      expect(refusals).toEqual([]);
      expect(third.content as unknown[]).toEqual([{ type: 'text', text: 'Both files read.' }]);

      const sent = upstream.requests.slice(before);
      expect(sent.length).toBe(3);
      expect(sent[2]!.body.length).toBeGreaterThan(64 * 1024);
      // reasoning is asked for, never excluded: the details must come to be carried back
      for (const r of sent) expect(r.json.reasoning).toEqual({ max_tokens: 2000 });
      const assistants = sent[2]!.json.messages.filter((m: any) => m.role === 'assistant');
      expect(assistants.map((m: any) => m.reasoning_details)).toEqual([given.get('call-1'), given.get('call-2')]);
      expect(sent[2]!.text).not.toContain('switchboard-reasoning-details-v1');
    });
  }

  test('a history with a turn changed by the client is refused by the provider, as the rule says', async () => {
    refusals.length = 0;
    const first = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 4000, tools: READ_FILE_TOOLS, messages: [{ role: 'user', content: 'Read a.txt.' }] }).finalMessage();
    const content = first.content.filter((b) => b.type !== 'thinking');
    const refused = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: READ_FILE_TOOLS, messages: [
      { role: 'user', content: 'Read a.txt.' }, { role: 'assistant', content }, { role: 'user', content: readFileResults(first) },
    ] }).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String(refused)).toContain('comes back without them');
  });
});
