/**
 * @module test/e2e/foreign-tool-ids
 * Anthropic SDK client → gateway (real HTTP) → an `openai` channel whose server names its calls outside Anthropic's
 * id pattern, as Kimi K2 through vLLM or SGLang does (`functions.Read:0`), then the same conversation to an
 * `anthropic` channel (a /model switch) whose mock enforces the pattern with Anthropic's 400
 * (test/helpers/anthropic-rules.ts). The client is given ids within the pattern (formats/openai-chat/foreign-tool-id.ts);
 * the next turn reaches Kimi with its own ids, and Anthropic takes the history on the first try. Before, the client
 * kept `functions.Read:0`, and every turn on Anthropic was refused once and sent again (pipeline/tool-ids.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, sse, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { READ_FILE_TOOLS, readFileResults } from '../helpers/tool-loop.ts';
import { chatTextStream, chatToolCallStream } from '../helpers/claude-code.ts';
import { anthropicToolIdRefusal } from '../helpers/anthropic-rules.ts';
import { TOOL_IDS_REWRITTEN } from '../../src/pipeline/tool-ids.ts';

const KEY = 'sk-gw-foreign-tool-ids-1';
const KIMI_ID = 'functions.read_file:0';
const ID = /^[a-zA-Z0-9_-]+$/; // Anthropic's tool_use id pattern

let kimi: MockUpstream;
let anthropic: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  kimi = startMockUpstream((r) => {
    const answered = r.json.messages.some((m: any) => m.role === 'tool');
    if (r.json.stream === true) return sse(answered ? chatTextStream('It says hello.') : chatToolCallStream(KIMI_ID, 'read_file', { path: 'a.txt' }));
    const message = answered
      ? { role: 'assistant', content: 'It says hello.' }
      : { role: 'assistant', content: null, tool_calls: [{ id: KIMI_ID, type: 'function', function: { name: 'read_file', arguments: '{"path":"a.txt"}' } }] };
    return json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'kimi-k2', choices: [{ index: 0, message, finish_reason: answered ? 'stop' : 'tool_calls' }], usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 } });
  });
  anthropic = startMockUpstream((r) => anthropicToolIdRefusal(r.json) ?? json({
    id: 'msg_01', type: 'message', role: 'assistant', model: r.json.model, content: [{ type: 'text', text: 'Claude: it says hello.' }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 30, output_tokens: 6 },
  }));
  gw = startGateway({
    keys: [{ key: KEY, name: 'foreign-tool-ids' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'kimi', type: 'openai', base_url: `${kimi.url}/v1`, api_key: 'sk-kimi-up', models: { 'claude-sonnet-5-5': 'kimi-k2' } },
      { name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-up', models: ['claude-opus-5-5'] },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await kimi.stop(); await anthropic.stop(); });

describe('Kimi\'s functions.read_file:0 through an Anthropic client', () => {
  for (const stream of [true, false]) {
    test(`${stream ? 'streamed' : 'not streamed'}: the client's id within the pattern; Kimi gets its own id back in both places; Anthropic takes the history at once`, async () => {
      const params = { model: 'claude-sonnet-5-5', max_tokens: 200, tools: READ_FILE_TOOLS };
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Read a.txt.' }];
      const ask = (p: Anthropic.MessageCreateParamsNonStreaming) => (stream ? client.messages.stream(p).finalMessage() : client.messages.create(p));

      const first = await ask({ ...params, messages });
      expect(first.stop_reason).toBe('tool_use');
      const call = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
      expect(call.input).toEqual({ path: 'a.txt' });
      expect(call.id).toMatch(ID);
      messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: readFileResults(first) });

      const kimiBefore = kimi.requests.length;
      const second = await ask({ ...params, messages });
      expect(second.content as unknown[]).toEqual([{ type: 'text', text: 'It says hello.' }]);
      expect(kimi.requests.length).toBe(kimiBefore + 1);
      const sent = kimi.requests.at(-1)!.json;
      expect(sent.messages.find((m: any) => m.role === 'assistant').tool_calls.map((c: any) => c.id)).toEqual([KIMI_ID]);
      expect(sent.messages.find((m: any) => m.role === 'tool').tool_call_id).toBe(KIMI_ID);

      // a /model switch: the same history to Anthropic, taken on the first try
      messages.push({ role: 'assistant', content: second.content }, { role: 'user', content: 'And on Claude?' });
      const anthropicBefore = anthropic.requests.length;
      const logsBefore = gw.requestLogs().length;
      const third = await ask({ ...params, model: 'claude-opus-5-5', messages });
      expect(third.content as unknown[]).toEqual([{ type: 'text', text: 'Claude: it says hello.' }]);
      expect(anthropic.requests.length).toBe(anthropicBefore + 1);
      expect(JSON.stringify(anthropic.requests.at(-1)!.json.messages)).toContain(`"tool_use_id":"${call.id}"`);
      await until(() => gw.requestLogs().length > logsBefore, 3000);
      expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 1, channel: 'claude' });
      expect(gw.requestLogs().at(-1).dropped ?? []).toEqual([]);
    });
  }

  test('a history from before the gateway gave such ids (functions.read_file:0 kept by the client): still refused once and sent again within the pattern', async () => {
    const before = anthropic.requests.length;
    const logsBefore = gw.requestLogs().length;
    const { data, response } = await client.messages.create({
      model: 'claude-opus-5-5', max_tokens: 200, tools: READ_FILE_TOOLS,
      messages: [
        { role: 'user', content: 'Read a.txt.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: KIMI_ID, name: 'read_file', input: { path: 'a.txt' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: KIMI_ID, content: 'hello' }] },
      ],
    }).withResponse();
    expect(data.content as unknown[]).toEqual([{ type: 'text', text: 'Claude: it says hello.' }]);
    expect(anthropic.requests.length).toBe(before + 2);
    expect(JSON.stringify(anthropic.requests.at(-1)!.json.messages)).toContain('"tool_use_id":"functions_read_file_0"');
    expect(response.headers.get('x-switchboard-dropped')).toBe(TOOL_IDS_REWRITTEN);
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, attempts: 2, channel: 'claude', dropped: [TOOL_IDS_REWRITTEN] });
  });
});
