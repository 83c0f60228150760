import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { stringOrArray, variantByKey } from '../../../src/util/validate.ts';
import { MessageCreateParamsSchema } from '../../../src/hub/schema.ts';
import { ChatCompletionCreateParamsSchema } from '../../../src/formats/openai-chat/request-to-hub.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { parseOrThrow } from '../../../src/util/validate.ts';
import type { GatewayError } from '../../../src/errors.ts';

/** What a parse tells a client: success and output, or the first issue's message and dot path. */
function outcome(schema: v.GenericSchema, input: unknown) {
  const res = v.safeParse(schema, input, { abortEarly: true });
  if (res.success) return { output: res.output };
  const first = res.issues[0];
  return { message: first.message, path: v.getDotPath(first), type: first.type, nested: first.issues?.map((i) => i.message) };
}

const Block = v.looseObject({ type: v.pipe(v.string(), v.minLength(1)) });
const Text = v.looseObject({ type: v.literal('text'), text: v.string() });
const Image = v.looseObject({ type: v.literal('image_url'), image_url: v.looseObject({ url: v.string() }) });
const Refusal = v.looseObject({ type: v.literal('refusal'), refusal: v.string() });

const inputs: unknown[] = [
  'text', '', 5, null, undefined, true, {}, [], [{}], [{ type: '' }], [{ type: 'text' }], [{ type: 'text', text: 'a' }],
  [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'u' } }], [{ type: 'image_url' }],
  [{ type: 'refusal', refusal: 1 }], [{ type: 'bogus' }], [{ type: 5 }], [null], ['x'], { type: 'text', text: 'a' },
  { type: 'image_url', image_url: { url: 'u' }, extra: [1] }, { type: 'refusal' }, { type: 'nope' }, { type: null },
  { text: 'no type' }, [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }], ['a', 'b'],
];

describe('stringOrArray and variantByKey: the same answers as the union and variant they stand for', () => {
  const pairs: Array<[string, v.GenericSchema, v.GenericSchema]> = [
    ['string | array of blocks', v.union([v.string(), v.array(Block)], 'Invalid type: Expected string or array'), stringOrArray(v.string(), v.array(Block), 'Invalid type: Expected string or array')],
    ['variant by type', v.variant('type', [Text, Image, Refusal]), variantByKey('type', [Text, Image, Refusal])],
    ['string | array of variant parts',
      v.union([v.string(), v.array(v.variant('type', [Text, Image]))], 'Invalid type: Expected string or array'),
      stringOrArray(v.string(), v.array(variantByKey('type', [Text, Image])), 'Invalid type: Expected string or array')],
  ];
  for (const [name, plain, fast] of pairs) {
    test(name, () => {
      let failures = 0;
      for (const input of inputs) {
        const want = outcome(plain, input);
        const got = outcome(fast, input);
        if (want.type === 'union' && (typeof input === 'string' || Array.isArray(input))) {
          // the union gives up with its own message when its option failed untyped (a missing key inside); the
          // picked option reports that failure itself, at its own path: the union's sub-issue, not the summary
          expect(want.nested).toContain(got.message);
          expect(got.path).not.toBeNull();
        } else {
          expect(got).toEqual(want);
        }
        if (!('output' in want)) failures++;
      }
      expect(failures).toBeGreaterThan(10); // the inputs exercise the error paths, not only the happy ones
    });
  }
});

test('the same answers on 2,000 random inputs (seeded)', () => {
  let seed = 0x5eed;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const value = (depth: number): unknown => {
    const r = rand();
    if (depth > 2 || r < 0.25) return pick<unknown>(['x', '', 0, 7, null, true, undefined]);
    if (r < 0.6) {
      const o: Record<string, unknown> = {};
      if (rand() < 0.85) o.type = pick<unknown>(['text', 'image_url', 'refusal', 'nope', '', 3, null]);
      if (rand() < 0.6) o.text = value(depth + 1);
      if (rand() < 0.4) o.image_url = rand() < 0.5 ? { url: value(depth + 1) } : value(depth + 1);
      if (rand() < 0.3) o.refusal = value(depth + 1);
      return o;
    }
    return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
  };
  const plain = v.union([v.string(), v.array(v.variant('type', [Text, Image, Refusal]))], 'Invalid type: Expected string or array');
  const fast = stringOrArray(v.string(), v.array(variantByKey('type', [Text, Image, Refusal])), 'Invalid type: Expected string or array');
  let valid = 0;
  for (let i = 0; i < 2000; i++) {
    const input = value(0);
    const want = outcome(plain, input);
    const got = outcome(fast, input);
    if ('output' in want) valid++;
    if (want.type === 'union' && (typeof input === 'string' || Array.isArray(input))) expect(want.nested).toContain(got.message);
    else expect(got).toEqual(want);
  }
  expect(valid).toBeGreaterThan(100); // both valid and invalid inputs are exercised
  expect(valid).toBeLessThan(1900);
});

test('variantByKey refuses two options with the same discriminator value (a lookup would find only one)', () => {
  expect(() => variantByKey('type', [Text, v.looseObject({ type: v.literal('text'), other: v.string() })])).toThrow('share a value of "type"');
});

describe('request schemas built with them', () => {
  test('a bad content block in a Messages request is named by its path', () => {
    const r = outcome(MessageCreateParamsSchema, { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: '' }] }] });
    expect(r.path).toBe('messages.1.content.0.type');
  });

  test('a block missing its type is named at the block, not as "string or array"', () => {
    let err: GatewayError | undefined;
    try { parseOrThrow(MessageCreateParamsSchema, { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }); } catch (e) { err = e as GatewayError; }
    expect(err?.message).toBe('messages.0.content.0.type: Field required');
  });

  test('Chat Completions errors inside content are named as before', () => {
    const ctx = { requestedModel: 'm', upstreamModel: 'm', dropped: [], estimatedInputTokens: 0, defaultMaxTokens: 9, thinkingStyle: 'none' as const };
    const messageOf = (body: unknown) => { try { FORMATS['openai-chat'].requestToHub(body, ctx); return 'ok'; } catch (e) { return (e as Error).message; } };
    expect(messageOf({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text' }] }] })).toBe('messages.0.content.0.text: Field required');
    expect(messageOf({ model: 'm', messages: [{ role: 'user', content: [{ text: 'x' }] }] })).toBe('messages.0.content.0.type: Field required');
    expect(messageOf({ model: 'm', messages: [{ role: 'user', content: 7 }] })).toBe('messages.0.content: Invalid type: Expected string or array');
  });

  test('content of the wrong type keeps the union message', () => {
    const r = outcome(MessageCreateParamsSchema, { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 5 }] });
    expect(r).toMatchObject({ path: 'messages.0.content', message: 'Invalid type: Expected string or array of content blocks' });
  });

  test('an unknown Chat Completions role keeps the variant message', () => {
    const r = outcome(ChatCompletionCreateParamsSchema, { model: 'm', messages: [{ role: 'robot', content: 'x' }] });
    expect(r.path).toBe('messages.0.role');
    expect(r.message).toContain('"system"');
  });

  test('a valid Chat Completions conversation comes out as it went in', () => {
    const body = {
      model: 'm',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 't1', content: [{ type: 'text', text: 'done' }] },
      ],
    };
    expect(outcome(ChatCompletionCreateParamsSchema, body)).toEqual({ output: body });
  });
});
