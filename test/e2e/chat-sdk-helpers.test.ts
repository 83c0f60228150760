/**
 * @module test/e2e/chat-sdk-helpers
 * The openai SDK's higher-level Chat Completions helpers (stream events, runTools, parse, standard-schema tools)
 * against an `anthropic` channel, with a mock Anthropic upstream that answers from what it is asked.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import OpenAI from 'openai';
import { startMockUpstream, json, sse, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import * as v from 'valibot';
import { standardFunction, standardResponseFormat } from 'openai/helpers/standard-schema';
import { anthropicHistoryRefusal, anthropicSchemaRefusal } from '../helpers/anthropic-rules.ts';

const KEY = 'sk-gw-sdk-helpers';
let upstream: MockUpstream;
let gw: TestGateway;
let oa: OpenAI;

/** An Anthropic Message as SSE events, the way Anthropic streams one. */
function messageSse(msg: any): string[] {
  const ev = (type: string, data: any) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const out = [ev('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } })];
  msg.content.forEach((b: any, index: number) => {
    if (b.type === 'text') {
      out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (let i = 0; i < b.text.length; i += 7) out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: b.text.slice(i, i + 7) } }));
    } else if (b.type === 'thinking') {
      out.push(ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      for (let i = 0; i < b.thinking.length; i += 7) out.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: b.thinking.slice(i, i + 7) } }));
      out.push(ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } }));
    } else if (b.type === 'tool_use') {
      out.push(ev('content_block_start', { index, content_block: { ...b, input: {} } }));
      const args = JSON.stringify(b.input);
      for (let i = 0; i < args.length; i += 5) out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: args.slice(i, i + 5) } }));
    }
    out.push(ev('content_block_stop', { index }));
  });
  out.push(ev('message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: msg.stop_sequence ?? null }, usage: { output_tokens: msg.usage.output_tokens } }));
  out.push(ev('message_stop', {}));
  return out;
}

let nextId = 0;
const message = (content: any[], stop_reason: string, extra: any = {}) => ({
  id: `msg_${++nextId}`, type: 'message', role: 'assistant', model: 'claude-opus-5-5', content, stop_reason, stop_sequence: null,
  usage: { input_tokens: 20, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }, ...extra,
});

/** Answers as the mock model would: `answer(body)` gives the Message; streamed when asked. */
function answering(answer: (body: any) => any) {
  return (r: RecordedRequest) => {
    const refusal = anthropicHistoryRefusal(r.json, {}) ?? anthropicSchemaRefusal(r.json);
    if (refusal) return refusal;
    const msg = answer(r.json);
    return r.json.stream ? sse(messageSse(msg), { signal: r.signal }) : json(msg);
  };
}

beforeAll(() => {
  upstream = startMockUpstream(() => json({}));
  gw = startGateway({
    keys: [{ key: KEY, name: 'sdk' }],
    default_max_tokens: 4000,
    channels: [{ name: 'claude', type: 'anthropic', base_url: upstream.url, api_key: 'sk-ant-x', models: ['claude-opus-5-5', 'claude-sonnet-4-5'] }],
  });
  oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const hi: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Biggest French city?' }];
const cityJson = '{"city":"Paris","population":2100000}';

describe('runTools: several tools, parallel calls, the loop driven by the SDK', () => {
  // the model calls both tools at once, then answers from their results
  const weatherAndTime = answering((b) => {
    const last = b.messages.at(-1);
    const results = Array.isArray(last.content) ? last.content.filter((x: any) => x.type === 'tool_result') : [];
    if (results.length) return message([{ type: 'text', text: results.map((x: any) => x.content).join(' | ') }], 'end_turn');
    return message([
      ...(b.thinking ? [{ type: 'thinking', thinking: 'Both tools, at once.', signature: 'sig-1' }] : []),
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: { tz: 'Europe/Paris' } },
    ], 'tool_use');
  });

  for (const stream of [false, true]) {
    test(`${stream ? 'streamed' : 'not streamed'}, with reasoning_effort: every call runs with its arguments, the results go back in order, the answer is final`, async () => {
      upstream.handler = weatherAndTime;
      const before = upstream.requests.length;
      const calls: unknown[] = [];
      const runner = oa.chat.completions.runTools({
        model: 'claude-opus-5-5', stream, reasoning_effort: 'high',
        messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Weather and time in Paris?' }],
        tools: [
          { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, parse: JSON.parse, function: (a: { city: string }) => { calls.push(a); return `18C in ${a.city}`; } } },
          { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } }, parse: JSON.parse, function: (a: { tz: string }) => { calls.push(a); return `14:05 ${a.tz}`; } } },
        ],
      } as any);
      expect(await runner.finalContent()).toBe('18C in Paris | 14:05 Europe/Paris');
      expect(calls).toEqual([{ city: 'Paris' }, { tz: 'Europe/Paris' }]);
      expect((await runner.finalChatCompletion()).choices[0]!.finish_reason).toBe('stop');

      const sent = upstream.requests.slice(before).map((r) => r.json);
      expect(sent).toHaveLength(2);
      expect(sent[0]).toMatchObject({ system: 'Be brief.', thinking: { type: 'adaptive' }, tool_choice: { type: 'auto' } });
      // the second round cannot send back the signed thinking: thinking is left off, not refused by Anthropic
      expect(sent[1].thinking).toBeUndefined();
      expect(sent[1].messages.at(-1).content).toEqual([
        { type: 'tool_result', tool_use_id: 'toolu_a', content: '18C in Paris' },
        { type: 'tool_result', tool_use_id: 'toolu_b', content: '14:05 Europe/Paris' },
      ]);
    });
  }
});

describe('parse() and stream() with auto-parsed formats and strict tools (openai/helpers/standard-schema over valibot)', () => {
  const City = v.object({ city: v.string(), population: v.number() });
  const citySchema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'number' } }, required: ['city', 'population'], additionalProperties: false };
  const Lookup = v.object({ q: v.string() });
  const lookupSchema = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false };

  test('a response_format: message.parsed, and the stream\'s content.done carries it too', async () => {
    upstream.handler = answering(() => message([{ type: 'text', text: cityJson }], 'end_turn'));
    const format = standardResponseFormat(City, 'City', { schema: citySchema });
    const c = await oa.chat.completions.parse({ model: 'claude-opus-5-5', messages: hi, response_format: format });
    expect(c.choices[0]!.message.parsed).toEqual({ city: 'Paris', population: 2100000 });
    expect(upstream.requests.at(-1)!.json.output_config).toEqual({ format: { type: 'json_schema', schema: citySchema } });

    const s = oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, response_format: format, stream_options: { include_usage: true } });
    const done: unknown[] = [];
    s.on('content.done', (e) => done.push(e.parsed));
    const f = await s.finalChatCompletion();
    expect(done).toEqual([{ city: 'Paris', population: 2100000 }]);
    expect(f.choices[0]!.message.parsed).toEqual({ city: 'Paris', population: 2100000 });
    expect(f.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 10 });
  });

  test('a strict tool: sent as Anthropic strict tool use, its call\'s parsed_arguments read, streamed or not', async () => {
    upstream.handler = answering(() => message([{ type: 'tool_use', id: 'toolu_q', name: 'lookup', input: { q: 'x' } }], 'tool_use'));
    const tool = standardFunction({ name: 'lookup', parameters: Lookup, schema: lookupSchema });
    const c = await oa.chat.completions.parse({ model: 'claude-opus-5-5', messages: hi, tools: [tool] });
    // openai 7 types a parsed tool call as a function or a custom one: matched, not read through .function
    expect(c.choices[0]!.message.tool_calls![0]!).toMatchObject({ type: 'function', function: { parsed_arguments: { q: 'x' } } });
    expect(upstream.requests.at(-1)!.json.tools).toEqual([{ name: 'lookup', input_schema: lookupSchema, strict: true }]);

    const s = oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, tools: [tool] });
    const done: unknown[] = [];
    s.on('tool_calls.function.arguments.done', (e) => done.push(e.parsed_arguments));
    expect((await s.finalChatCompletion()).choices[0]!.finish_reason).toBe('tool_calls');
    expect(done).toEqual([{ q: 'x' }]);
  });

  test('a json_schema that is not strict and leaves objects open (OpenAI takes it): answered, the schema closed for Anthropic', async () => {
    // OpenAI's non-strict json_schema takes any schema; Anthropic's structured outputs refuse an object schema without
    // additionalProperties: false, with a 400 naming output_config, a field the client never sent
    upstream.handler = answering(() => message([{ type: 'text', text: '{"city":"Paris","where":{"country":"France"}}' }], 'end_turn'));
    const schema = { type: 'object', properties: { city: { type: 'string' }, where: { type: 'object', properties: { country: { type: 'string' } } } } };
    for (const strict of [false, undefined]) {
      const c = await oa.chat.completions.parse({
        model: 'claude-opus-5-5', messages: hi,
        response_format: { type: 'json_schema', json_schema: { name: 'Place', schema, ...(strict === undefined ? {} : { strict }) } },
      });
      expect(c.choices[0]!.message.parsed as unknown).toEqual({ city: 'Paris', where: { country: 'France' } });
      expect(upstream.requests.at(-1)!.json.output_config.format.schema).toEqual({
        type: 'object', additionalProperties: false,
        properties: { city: { type: 'string' }, where: { type: 'object', additionalProperties: false, properties: { country: { type: 'string' } } } },
      });
    }
    expect(schema.properties.where).toEqual({ type: 'object', properties: { country: { type: 'string' } } }); // the client's object untouched
  });

  test('constraints Anthropic does not compile (a zod .min(1), an email, a range): answered, moved into descriptions and named; the client still validates', async () => {
    // Anthropic's 400 for each: "For 'string' type, property 'minLength' is not supported", and so on
    const schema = {
      type: 'object', additionalProperties: false, required: ['name', 'age', 'tags', 'contact'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 40, description: 'Full name' },
        age: { type: 'integer', minimum: 0, maximum: 150 },
        tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' }, minItems: 1, maxItems: 5, uniqueItems: true },
        contact: { oneOf: [{ type: 'string', format: 'email' }, { type: 'null' }] },
      },
    };
    upstream.handler = answering(() => message([{ type: 'text', text: '{"name":"Ada","age":36,"tags":["math"],"contact":null}' }], 'end_turn'));
    const { data, response } = await oa.chat.completions.parse({
      model: 'claude-opus-5-5', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'Person', schema, strict: true } },
    }).withResponse();
    expect(data.choices[0]!.message.parsed as unknown).toEqual({ name: 'Ada', age: 36, tags: ['math'], contact: null });
    const sent = upstream.requests.at(-1)!.json.output_config.format.schema;
    expect(sent.properties.name).toEqual({ type: 'string', description: 'Full name\n\nAlso: minLength: 1, maxLength: 40' });
    expect(sent.properties.age).toEqual({ type: 'integer', description: 'Also: minimum: 0, maximum: 150' });
    expect(sent.properties.tags).toEqual({ type: 'array', items: { type: 'string', description: 'Also: pattern: "^[a-z]+$"' }, minItems: 1, description: 'Also: maxItems: 5, uniqueItems: true' });
    expect(sent.properties.contact).toEqual({ anyOf: [{ type: 'string', format: 'email' }, { type: 'null' }] });
    expect(response.headers.get('x-switchboard-dropped')).toBe('response_format.json_schema minLength, maxLength, minimum, maximum, pattern, maxItems, uniqueItems (not enforced by Anthropic: written into the schema\'s descriptions)');
    expect(schema.properties.name.minLength).toBe(1); // the client's schema untouched

    // a strict tool's parameters likewise (Anthropic strict tool use compiles the same subset)
    upstream.handler = answering(() => message([{ type: 'tool_use', id: 'toolu_p', name: 'save', input: { name: 'Ada', age: 36, tags: ['math'], contact: null } }], 'tool_use'));
    const c = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, tools: [{ type: 'function', function: { name: 'save', parameters: schema, strict: true } }] });
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
    expect(upstream.requests.at(-1)!.json.tools[0].input_schema.properties.age).toEqual({ type: 'integer', description: 'Also: minimum: 0, maximum: 150' });
  });

  test('an enum or a const of objects or arrays (Anthropic compiles only primitive ones): answered, moved into the description and named', async () => {
    const schema = {
      type: 'object', additionalProperties: false, required: ['size', 'origin', 'unit'],
      properties: {
        size: { enum: [[1, 1], [2, 2]] },
        origin: { const: { x: 0, y: 0 } },
        unit: { type: 'string', enum: ['cm', 'in'] },
      },
    };
    upstream.handler = answering(() => message([{ type: 'text', text: '{"size":[1,1],"origin":{"x":0,"y":0},"unit":"cm"}' }], 'end_turn'));
    const { data, response } = await oa.chat.completions.parse({
      model: 'claude-opus-5-5', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'Box', schema, strict: true } },
    }).withResponse();
    expect(data.choices[0]!.message.parsed as unknown).toEqual({ size: [1, 1], origin: { x: 0, y: 0 }, unit: 'cm' });
    const sent = upstream.requests.at(-1)!.json.output_config.format.schema;
    expect(sent.properties.size).toEqual({ description: 'Also: enum: [[1,1],[2,2]]' });
    expect(sent.properties.origin).toEqual({ description: 'Also: const: {"x":0,"y":0}' });
    expect(sent.properties.unit).toEqual({ type: 'string', enum: ['cm', 'in'] }); // primitive: kept, type and all
    expect(response.headers.get('x-switchboard-dropped')).toBe('response_format.json_schema enum, const (not enforced by Anthropic: written into the schema\'s descriptions)');
  });

  test('nullable: true (the openai SDK\'s zodResponseFormat writes it for a zod 3 .nullable() string, number or boolean): sent as a type with null, so null can be answered', async () => {
    const schema = {
      type: 'object', additionalProperties: false, required: ['first', 'middle', 'size'],
      properties: {
        first: { type: 'string' },
        middle: { type: 'string', nullable: true },
        size: { type: 'string', enum: ['s', 'm'], nullable: true },
      },
    };
    upstream.handler = answering(() => message([{ type: 'text', text: '{"first":"Ada","middle":null,"size":null}' }], 'end_turn'));
    const { data, response } = await oa.chat.completions.parse({
      model: 'claude-opus-5-5', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'Name', schema, strict: true } },
    }).withResponse();
    expect(data.choices[0]!.message.parsed as unknown).toEqual({ first: 'Ada', middle: null, size: null });
    const sent = upstream.requests.at(-1)!.json.output_config.format.schema;
    expect(sent.properties.middle).toEqual({ type: ['string', 'null'] });
    expect(sent.properties.size).toEqual({ type: ['string', 'null'], enum: ['s', 'm', null] });
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
  });

  test('an object open to more properties (a zod .record()): closed, as Anthropic requires, and what it allowed written into its description and named', async () => {
    const schema = {
      type: 'object', additionalProperties: false, required: ['scores'],
      properties: { scores: { type: 'object', additionalProperties: { type: 'number' } } },
    };
    upstream.handler = answering(() => message([{ type: 'text', text: '{"scores":{}}' }], 'end_turn'));
    const { data, response } = await oa.chat.completions.parse({
      model: 'claude-opus-5-5', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'Scores', schema, strict: true } },
    }).withResponse();
    expect(data.choices[0]!.message.parsed as unknown).toEqual({ scores: {} });
    const sent = upstream.requests.at(-1)!.json.output_config.format.schema;
    expect(sent.properties.scores).toEqual({ type: 'object', additionalProperties: false, description: 'Also: additionalProperties: {"type":"number"}' });
    expect(sent.additionalProperties).toBe(false);
    expect(response.headers.get('x-switchboard-dropped')).toBe('response_format.json_schema additionalProperties (not enforced by Anthropic: written into the schema\'s descriptions)');
  });
});

describe('knobs with no Anthropic form: answered, and named in x-switchboard-dropped', () => {
  test('logprobs, top_logprobs, seed, a whitespace-only stop string (Anthropic refuses one)', async () => {
    upstream.handler = answering(() => message([{ type: 'text', text: 'ok' }], 'end_turn'));
    const { data, response } = await oa.chat.completions.create({
      model: 'claude-opus-5-5', messages: hi, logprobs: true, top_logprobs: 2, seed: 7, stop: ['\n', 'END'], max_completion_tokens: 50,
    }).withResponse();
    expect(data.choices[0]!.logprobs).toBeNull();
    expect(response.headers.get('x-switchboard-dropped')).toBe('stop (whitespace-only sequences), logprobs, top_logprobs, seed');
    expect(upstream.requests.at(-1)!.json).toMatchObject({ max_tokens: 50, stop_sequences: ['END'] });
  });

  test('moderation that only scores (openai 7.59): answered without the scores (completion.moderation absent, which the SDK types allow), named; moderation: null is nothing to name', async () => {
    upstream.handler = answering(() => message([{ type: 'text', text: 'ok' }], 'end_turn'));
    const scored = await oa.chat.completions.create({
      model: 'claude-opus-5-5', messages: hi, moderation: { model: 'omni-moderation-latest', policy: { input: { mode: 'score' }, output: { mode: 'score' } } },
    }).withResponse();
    expect(scored.data.moderation).toBeUndefined();
    expect(scored.response.headers.get('x-switchboard-dropped')).toBe('moderation (no moderation scores: Anthropic runs none)');
    expect(upstream.requests.at(-1)!.json.moderation).toBeUndefined();
    const none = await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, moderation: null }).withResponse();
    expect(none.response.headers.get('x-switchboard-dropped')).toBeNull();
  });
});

describe('the end of a stream, as the installed openai SDK reads it', () => {
  test('an upstream that closes its connection a while after message_stop: the answer read whole, logged ok (openai 7 cancels the body at [DONE])', async () => {
    // Anthropic's last event, then the connection held 300 ms before it closes: 6.x reads on until then, 7.x stops at [DONE]
    upstream.handler = (r) => new Response(new ReadableStream({
      async start(c) {
        c.enqueue(new TextEncoder().encode(messageSse(message([{ type: 'text', text: 'Paris.' }], 'end_turn')).join('')));
        await Bun.sleep(300);
        if (!r.signal.aborted) c.close();
      },
    }), { headers: { 'content-type': 'text/event-stream' } });
    for (const run of [
      async () => { let t = ''; for await (const c of await oa.chat.completions.create({ model: 'claude-opus-5-5', messages: hi, stream: true })) t += c.choices[0]?.delta.content ?? ''; return t; },
      async () => (await oa.chat.completions.stream({ model: 'claude-opus-5-5', messages: hi, stream_options: { include_usage: true } }).finalChatCompletion()).choices[0]!.message.content,
    ]) {
      const before = gw.requestLogs().length;
      expect(await run()).toBe('Paris.');
      await until(() => gw.requestLogs().length > before);
      expect(gw.requestLogs()[before]).toMatchObject({ status: 200, outcome: 'ok', stop_reason: 'end_turn', output_tokens: 10 });
    }
  });
});
