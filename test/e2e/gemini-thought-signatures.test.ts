/**
 * @module test/e2e/gemini-thought-signatures
 * Anthropic SDK client → gateway (real HTTP) → a `gemini` channel → a mock of Gemini 3's OpenAI-compatible endpoint
 * that gives every function call turn a thought signature (on the call, as Gemini 3 does) and refuses, with Gemini's
 * 400, a later request whose history lacks one (test/helpers/gemini-rules.ts). An agent loop of three streamed turns:
 * before the gateway carried signatures, the second request was refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { startMockUpstream, json, type MockUpstream } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { READ_FILE_TOOLS, readFileResults } from '../helpers/tool-loop.ts';
import { chatChunk, chatUsageChunk } from '../helpers/claude-code.ts';
import { GEMINI_DUMMY_SIGNATURE, geminiSignatureProblem, type GivenSignatures } from '../helpers/gemini-rules.ts';

const KEY = 'sk-gw-gemini-signatures-1';
const MODEL = 'gemini-3-pro-preview';
/** Gemini's signatures are base64 of a few hundred bytes to a few KB. */
const SIG_1 = randomBytes(2400).toString('base64');
const SIG_2 = randomBytes(900).toString('base64');
const google = (thought_signature: string) => ({ google: { thought_signature } });

const given: GivenSignatures = new Map([['function-call-1', SIG_1], ['function-call-2', SIG_2]]);
const refusals: string[] = [];

const sse = (events: string[]) => new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } });
const end = (finish: string) => [chatChunk({}, { finish, model: MODEL }), chatUsageChunk({ prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 }, { model: MODEL }), 'data: [DONE]\n\n'];

/** Turn 1: one call, index-bearing fragments, its signature on the first (as Gemini 3 streams it). */
const turn1 = () => sse([
  chatChunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'function-call-1', type: 'function', extra_content: google(SIG_1), function: { name: 'read_file', arguments: '{"path":' } }] }, { model: MODEL }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"a.txt"}' } }] }, { model: MODEL }),
  ...end('tool_calls'),
]);
/** Turn 2: two parallel calls without index; the signature (the first call's only) in a fragment of its own after it. */
const turn2 = () => sse([
  chatChunk({ role: 'assistant', tool_calls: [{ id: 'function-call-2', type: 'function', function: { name: 'read_file', arguments: '{"path":"b.txt"}' } }] }, { model: MODEL }),
  chatChunk({ tool_calls: [{ extra_content: google(SIG_2) }] }, { model: MODEL }),
  chatChunk({ tool_calls: [{ id: 'function-call-3', type: 'function', function: { name: 'read_file', arguments: '{"path":"c.txt"}' } }] }, { model: MODEL }),
  ...end('stop'), // Gemini says `stop` after tool calls
]);
const turn3 = () => sse([chatChunk({ role: 'assistant', content: 'All three files read.' }, { model: MODEL }), ...end('stop')]);

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r) => {
    const problem = geminiSignatureProblem(r.json, given);
    if (problem) {
      refusals.push(problem);
      return json({ error: { code: 400, message: problem, status: 'INVALID_ARGUMENT' } }, 400);
    }
    const tools = r.json.messages.filter((m: any) => m.role === 'tool').length;
    if (r.json.stream !== true) {
      // non-streamed: one call with its signature, then text
      const message = tools === 0
        ? { role: 'assistant', content: null, tool_calls: [{ id: 'function-call-1', type: 'function', extra_content: google(SIG_1), function: { name: 'read_file', arguments: '{"path":"a.txt"}' } }] }
        : { role: 'assistant', content: 'Read.' };
      return json({ id: 'x', object: 'chat.completion', created: 1, model: MODEL, choices: [{ index: 0, message, finish_reason: tools === 0 ? 'tool_calls' : 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } });
    }
    return tools === 0 ? turn1() : tools === 1 ? turn2() : turn3();
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'gemini-signatures' }],
    routing: { circuit_failures: 1000 },
    channels: [{ name: 'gemini', type: 'openai', provider: 'gemini', base_url: `${upstream.url}/v1beta/openai`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': MODEL } }],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });



describe('Gemini 3 thought signatures through an Anthropic client', () => {
  test('a streamed 3-turn tool loop: each call goes back with the id and signature Gemini gave it; the third request, over 64 KB, too', async () => {
    refusals.length = 0;
    const before = upstream.requests.length;
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Read a.txt, then b.txt and c.txt.' }];
    const params = { model: 'claude-sonnet-5-5', max_tokens: 1000, tools: READ_FILE_TOOLS };

    const first = await client.messages.stream({ ...params, messages }).finalMessage();
    const call1 = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(first.stop_reason).toBe('tool_use');
    expect(call1.input).toEqual({ path: 'a.txt' });
    expect(call1.id).toMatch(/^[a-zA-Z0-9_-]+$/); // Anthropic's id pattern, whatever its length
    expect(call1.id.length).toBeGreaterThan(SIG_1.length);
    messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: readFileResults(first) });

    const second = await client.messages.stream({ ...params, messages }).finalMessage();
    expect(refusals).toEqual([]);
    const calls2 = second.content.filter((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock[];
    expect(second.stop_reason).toBe('tool_use');
    expect(calls2.map((c) => c.input)).toEqual([{ path: 'b.txt' }, { path: 'c.txt' }]);
    expect(calls2[1]!.id).toBe('function-call-3'); // a parallel call after the first has no signature: its id as given
    // the last request is over 64 KB: translated from its skeleton (util/json-skeleton.ts)
    messages.push({ role: 'assistant', content: second.content }, { role: 'user', content: readFileResults(second, 40_000) });

    const third = await client.messages.stream({ ...params, messages }).finalMessage();
    expect(refusals).toEqual([]);
    expect(third.content as unknown[]).toEqual([{ type: 'text', text: 'All three files read.' }]);

    const sent = upstream.requests.slice(before).map((r) => r.json);
    expect(sent.length).toBe(3);
    expect(upstream.requests.at(-1)!.body.length).toBeGreaterThan(64 * 1024);
    const history = sent[2].messages;
    const assistants = history.filter((m: any) => m.role === 'assistant');
    expect(assistants.map((m: any) => m.tool_calls.map((c: any) => [c.id, c.extra_content?.google?.thought_signature]))).toEqual([
      [['function-call-1', SIG_1]],
      [['function-call-2', SIG_2], ['function-call-3', undefined]],
    ]);
    expect(history.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id)).toEqual(['function-call-1', 'function-call-2', 'function-call-3']);
    // no signature-carrying id reaches Gemini
    expect(upstream.requests.at(-1)!.text).not.toContain('tsig_');
  });

  test('non-streamed: the call comes back with its signature', async () => {
    refusals.length = 0;
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Read a.txt.' }];
    const first = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: READ_FILE_TOOLS, messages });
    messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: readFileResults(first) });
    const second = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: READ_FILE_TOOLS, messages });
    expect(refusals).toEqual([]);
    expect(second.content as unknown[]).toEqual([{ type: 'text', text: 'Read.' }]);
    const call = upstream.requests.at(-1)!.json.messages.find((m: any) => m.role === 'assistant').tool_calls[0];
    expect(call).toMatchObject({ id: 'function-call-1', extra_content: { google: { thought_signature: SIG_1 } } });
  });

  test('a history Gemini did not write (ids without a signature): the first call of each turn gets the documented dummy', async () => {
    refusals.length = 0;
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'Read x and y.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'read_file', input: { path: 'x' } }, { type: 'tool_use', id: 'toolu_01B', name: 'read_file', input: { path: 'y' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: 'x' }, { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'y' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'And z.' }, { type: 'tool_use', id: 'toolu_01C', name: 'read_file', input: { path: 'z' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01C', content: 'z' }] },
    ];
    const answer = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: READ_FILE_TOOLS, messages }).finalMessage();
    expect(refusals).toEqual([]);
    expect(answer.content as unknown[]).toEqual([{ type: 'text', text: 'All three files read.' }]);
    const sent = upstream.requests.at(-1)!.json.messages.filter((m: any) => m.role === 'assistant');
    expect(sent.map((m: any) => m.tool_calls.map((c: any) => [c.id, c.extra_content?.google?.thought_signature]))).toEqual([
      [['toolu_01A', GEMINI_DUMMY_SIGNATURE], ['toolu_01B', undefined]],
      [['toolu_01C', GEMINI_DUMMY_SIGNATURE]],
    ]);
  });
});
