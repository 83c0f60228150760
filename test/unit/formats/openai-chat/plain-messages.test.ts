/**
 * The plain checks of Chat Completions bodies, held to valibot's verdict on fixed and on seeded random inputs: the
 * messages check accepts exactly the messages that the request schema accepts and gives back unchanged (so they can be
 * kept as they are), on 3,000 mutations of a Codex-like conversation; the whole-request check accepts exactly the
 * requests the schema accepts and gives back unchanged but for the fields it leaves to valibot; the routing check
 * accepts exactly what the routing schema accepts, with the same model, stream and include_usage.
 */
import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import {
  ChatCompletionCreateParamsSchema, ChatRoutingFieldsSchema, arePlainMessages, hasPlainRoutingFields, isPlainChatRequest, parseChatRequest,
} from '../../../../src/formats/openai-chat/request-to-hub.ts';

const conversation = () => [
  { role: 'system', content: 'You are Codex.', name: null },
  { role: 'developer', content: [{ type: 'text', text: 'sandbox: workspace-write', cache_control: { type: 'ephemeral' } }] },
  { role: 'user', content: [
    { type: 'text', text: 'fix the test', prompt_cache_breakpoint: { mode: 'explicit', ttl: '12h' } },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'high' }, prompt_cache_breakpoint: { mode: 'explicit' } },
    { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
    { type: 'file', file: { file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' } },
  ], name: 'dev' },
  { role: 'assistant', content: null, refusal: null, tool_calls: [
    { id: 'call_1', type: 'function', function: { name: 'shell', arguments: '{"command":["ls"]}' } },
    { id: 'call_2', type: 'custom', custom: { name: 'patch', input: '*** Begin Patch' } },
  ] },
  { role: 'tool', tool_call_id: 'call_1', content: 'a.ts\nb.ts' },
  { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'ok' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Done.' }, { type: 'refusal', refusal: 'no' }], function_call: { name: 'f', arguments: '{}' }, audio: { id: 'a' } },
  { role: 'function', name: 'f', content: null },
  { role: 'user', content: 'thanks' },
];

/** What the schema says of these messages: accepted and given back unchanged. */
function schemaKeepsThem(messages: unknown): boolean {
  const res = v.safeParse(ChatCompletionCreateParamsSchema, { model: 'm', messages });
  return res.success && Bun.deepEquals(res.output.messages, messages);
}

describe('arePlainMessages', () => {
  test('every role and part a Chat client sends is plain', () => {
    expect(arePlainMessages(conversation())).toBe(true);
    expect(schemaKeepsThem(conversation())).toBe(true);
  });

  test('what the schema refuses or would change is not', () => {
    const cases: Array<(m: any[]) => void> = [
      (m) => (m[0].role = 'robot'), (m) => (m[0].content = 5), (m) => (m[0].name = 1), (m) => (m[1].content[0].type = 'image_url'),
      (m) => (m[2].content[1].image_url = 'x'), (m) => (m[2].content[2].input_audio.format = 1), (m) => (m[2].content[3].file.file_id = 3),
      (m) => (m[2].content[0] = ['text']), (m) => (m[3].tool_calls[0].type = 'tool'), (m) => delete m[3].tool_calls[0].id,
      (m) => (m[3].tool_calls[1].custom.input = {}), (m) => (m[4].tool_call_id = null), (m) => delete m[7].content,
      (m) => (m[6].content[1].type = 'audio'), (m) => (m[6].audio = []), (m) => (m[6].function_call = { name: 'f' }),
      (m) => (m[0] = { ...m[0], ...JSON.parse('{"__proto__":{"a":1}}') }), (m) => (m[1].content[0].cache_control = { type: 1 }),
      (m) => (m[2].content[0].prompt_cache_breakpoint = { ttl: 12 }), (m) => (m[2].content[1].prompt_cache_breakpoint = 'explicit'),
    ];
    for (const breakIt of cases) {
      const m = conversation() as any[];
      breakIt(m);
      expect({ plain: arePlainMessages(m), case: breakIt.toString() }).toEqual({ plain: false, case: breakIt.toString() });
      expect(schemaKeepsThem(m)).toBe(false);
    }
  });

  test('3,000 seeded random mutations: plain exactly when the schema accepts the messages and gives them back unchanged', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const values = () => pick<unknown>([null, undefined, 0, 1, '', 'x', 'text', 'user', 'assistant', 'tool', 'function', 'refusal', 'image_url', 'file', 'custom', true, [], {}, [{}], [{ type: 'text', text: 't' }], { type: 'x' }, { url: 'u' }, { name: 'n', arguments: '{}' }]);
    const slots = (m: any[]): Array<[any, string | number]> => {
      const out: Array<[any, string | number]> = [];
      const walk = (o: any, depth: number) => {
        if (!o || typeof o !== 'object' || depth > 4) return;
        for (const k of Object.keys(o)) { out.push([o, k]); walk(o[k], depth + 1); }
        if (!Array.isArray(o)) for (const k of ['name', 'content', 'cache_control', 'prompt_cache_breakpoint', 'type', 'refusal']) out.push([o, k]);
      };
      walk(m, 0);
      return out;
    };
    let plain = 0, not = 0;
    for (let n = 0; n < 3000; n++) {
      const m = conversation() as any[];
      const edits = Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++) {
        const [o, k] = pick(slots(m));
        if (rnd() < 0.2 && !Array.isArray(o)) delete o[k]; else o[k] = values();
      }
      const isPlain = arePlainMessages(m);
      expect({ n, isPlain }).toEqual({ n, isPlain: schemaKeepsThem(m) });
      if (isPlain) plain++; else not++;
    }
    expect(plain).toBeGreaterThan(300);
    expect(not).toBeGreaterThan(300);
  });
});

/** A request setting every field the whole-request check reads, each to a value the schema accepts as it is. */
const request = (): Record<string, any> => ({
  model: 'gpt-5', messages: conversation(), max_tokens: 100, max_completion_tokens: 200, n: 1, stop: ['END'],
  temperature: 1.5, top_p: 0.9, stream: true, stream_options: { include_usage: true, include_obfuscation: false },
  tools: [{ type: 'function', function: { name: 'shell', description: 'run', parameters: { type: 'object', properties: { constructor: {} } }, strict: false } }],
  tool_choice: { type: 'function', function: { name: 'shell' } }, parallel_tool_calls: false, reasoning_effort: 'high',
  user: 'u', safety_identifier: 's', logprobs: false, top_logprobs: 0, presence_penalty: -2, frequency_penalty: 2, seed: -7,
  modalities: ['text'], audio: { voice: 'x' }, prediction: { type: 'content' }, verbosity: 'low', service_tier: 'auto',
  web_search_options: {}, store: false, metadata: { a: 'b' }, prompt_cache_key: 'k', prompt_cache_retention: '24h', prompt_cache_options: { mode: 'explicit', ttl: '30m' }, moderation: { model: 'omni-moderation-latest', policy: { input: { mode: 'score' } } },
  functions: null, function_call: null, response_format: null, logit_bias: null, unknown_field: { kept: [1] },
});
/** Set to a value the schema accepts, they make the whole-request check leave the body to valibot. */
const NOT_PLAIN = ['functions', 'function_call', 'response_format', 'logit_bias'];

/** What the schema says of a request: accepted and given back unchanged (key order aside). */
function schemaKeepsRequest(body: unknown): boolean {
  const res = v.safeParse(ChatCompletionCreateParamsSchema, body);
  return res.success && Bun.deepEquals(res.output, body);
}

describe('isPlainChatRequest', () => {
  test('a request with every field it checks set is plain, and one with only model and messages', () => {
    expect(isPlainChatRequest(request())).toBe(true);
    expect(schemaKeepsRequest(request())).toBe(true);
    expect(isPlainChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toBe(true);
  });

  test('every field of the schema is read: a wrong type in any of them makes the request not plain', () => {
    for (const key of Object.keys(ChatCompletionCreateParamsSchema.entries)) {
      for (const bad of [{ x: 1 }, 'x', 3.5, -1, [1], true]) {
        const body = request();
        body[key] = bad;
        if (schemaKeepsRequest(body)) continue; // the value suits this field
        expect({ key, bad, plain: isPlainChatRequest(body) }).toEqual({ key, bad, plain: false });
      }
    }
    // and what the schema would copy rather than keep
    for (const edit of [(b: any) => (b.metadata = ['a']), (b: any) => (b.tools[0].function.parameters = JSON.parse('{"constructor":1}')),
      (b: any) => (b.tool_choice.function = []), (b: any) => (b.stream_options = [])]) {
      const body = request();
      edit(body);
      expect(isPlainChatRequest(body)).toBe(false);
    }
  });

  test('3,000 seeded random mutations: plain exactly when the schema keeps the request and no field left to valibot is set', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const values = () => pick<unknown>([null, undefined, 0, 1, -1, 2, 2.5, 1e9, '', 'x', 'auto', 'none', 'required', 'function', 'high', 'max',
      true, false, [], {}, ['a'], [1], [{}], { type: 'text' }, { type: 'function', function: { name: 'f' } }, { name: 'f' }, { include_usage: 1 },
      [{ type: 'function', function: { name: 'f', parameters: {} } }], [{ type: 'function', function: { name: '' } }]]);
    const keys = Object.keys(request());
    let plain = 0, not = 0;
    for (let n = 0; n < 3000; n++) {
      const body = request();
      const edits = 1 + Math.floor(rnd() * 2);
      for (let e = 0; e < edits; e++) {
        const key = pick(keys);
        if (rnd() < 0.5) body[key] = values();
        else if (rnd() < 0.5) delete body[key];
        else if (body[key] && typeof body[key] === 'object') {
          const inner = body[key];
          const k = pick(Object.keys(inner).concat(['type', 'name', 'function']));
          inner[k] = values();
        }
      }
      const isPlain = isPlainChatRequest(body);
      const expected = schemaKeepsRequest(body) && NOT_PLAIN.every((k) => body[k] == null);
      expect({ n, body, isPlain }).toEqual({ n, body, isPlain: expected });
      if (isPlain) plain++; else not++;
    }
    expect(plain).toBeGreaterThan(300);
    expect(not).toBeGreaterThan(300);
  });
});

describe('hasPlainRoutingFields', () => {
  test('3,000 seeded random bodies: plain exactly when the routing schema accepts them, with the same fields read', () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const values = () => pick<unknown>([null, undefined, 0, 1, '', 'm', 'x'.repeat(256), 'x'.repeat(257), true, false, [], {}, [{}],
      [{ role: 'user' }], [{ role: 1 }], [null], [[]], { include_usage: true }, { include_usage: 'yes' }, { include_usage: null }]);
    let plain = 0, not = 0;
    for (let n = 0; n < 3000; n++) {
      const body: Record<string, unknown> = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } };
      for (const key of ['model', 'messages', 'stream', 'stream_options']) {
        const r = rnd();
        if (r < 0.25) body[key] = values();
        else if (r < 0.35) delete body[key];
      }
      const res = v.safeParse(ChatRoutingFieldsSchema, body);
      expect({ n, body, plain: hasPlainRoutingFields(body) }).toEqual({ n, body, plain: res.success });
      if (res.success) {
        plain++;
        const out = res.output;
        expect(parseChatRequest(body)).toEqual({ model: out.model, stream: out.stream === true, includeUsage: out.stream_options?.include_usage === true });
      } else not++;
    }
    expect(hasPlainRoutingFields(null)).toBe(false);
    expect(hasPlainRoutingFields([])).toBe(false);
    expect(plain).toBeGreaterThan(300);
    expect(not).toBeGreaterThan(300);
  });
});
