import { describe, expect, test } from 'bun:test';
import { kindAt, rewriteModel, scanTopLevel, valueAt } from '../../../src/util/json.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const rw = (s: string, m = 'B') => dec.decode(rewriteModel(enc.encode(s), m));

describe('rewriteModel', () => {
  const cases: Array<[string, string, string]> = [
    ['first key', '{"model":"a","x":1}', '{"model":"B","x":1}'],
    ['spaces', '{ "model" :  "a" }', '{ "model" :  "B" }'],
    ['after nested model keys', '{"metadata":{"model":"a"},"messages":[{"model":"a"}],"model":"a"}', '{"metadata":{"model":"a"},"messages":[{"model":"a"}],"model":"B"}'],
    ['model text inside a string value', '{"x":"\\"model\\":\\"a\\"","model":"a"}', '{"x":"\\"model\\":\\"a\\"","model":"B"}'],
    ['escaped quotes in the value', '{"model":"a\\"b","y":2}', '{"model":"B","y":2}'],
    ['backslash before closing quote', '{"s":"c:\\\\","model":"a"}', '{"s":"c:\\\\","model":"B"}'],
    ['a value equal to "model"', '{"k":"model","model":"a"}', '{"k":"model","model":"B"}'],
    ['multi-byte text around it', '{"t":"héllo ✓ 😀","model":"a","u":"ü"}', '{"t":"héllo ✓ 😀","model":"B","u":"ü"}'],
    ['no model: unchanged', '{"x":1}', '{"x":1}'],
    ['model not a string: unchanged', '{"model":5}', '{"model":5}'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      expect(rw(input)).toBe(expected);
      if (expected.includes('"model":"B"')) expect(JSON.parse(rw(input)).model).toBe('B');
    });
  }
  test('the new name is JSON-escaped', () => expect(rw('{"model":"a"}', 'x"y')).toBe('{"model":"x\\"y"}'));
});

describe('scanTopLevel', () => {
  test('keys, spans and kinds', () => {
    const b = enc.encode(' {"model" : "m", "max_tokens":5, "stream":true, "messages":[{"role":"user","content":"a]}"}], "n":null, "s":{"a":[1,{"b":"}"}]}} ');
    const keys = scanTopLevel(b)!;
    expect([...keys.keys()]).toEqual(['model', 'max_tokens', 'stream', 'messages', 'n', 's']);
    expect(valueAt(b, keys.get('model'))).toBe('m');
    expect(valueAt(b, keys.get('max_tokens'))).toBe(5);
    expect(valueAt(b, keys.get('stream'))).toBe(true);
    expect(kindAt(b, keys.get('messages'))).toBe('[');
    expect(valueAt(b, keys.get('messages'))).toEqual([{ role: 'user', content: 'a]}' }]);
    expect(valueAt(b, keys.get('s'))).toEqual({ a: [1, { b: '}' }] });
  });
  test('escaped keys and duplicate keys (the last wins)', () => {
    const b = enc.encode('{"mo\\u0064el":"x","model":"y"}');
    expect(valueAt(b, scanTopLevel(b)!.get('model'))).toBe('y');
  });
  test.each([['[]'], ['"x"'], ['{'], ['{"a":1'], ['{"a":1}x'], ['{"a" 1}'], ['{"a":"unterminated}'], ['{"a":[1,2}'], ['{,}'], ['']])('not one object: %p', (s) => {
    expect(scanTopLevel(enc.encode(s))).toBeNull();
  });
  test('agrees with JSON.parse on real bodies', () => {
    const body = { model: 'claude-sonnet-5-5', max_tokens: 128000, stream: true, system: [{ type: 'text', text: 'you are "x" \\ {[' }], messages: Array.from({ length: 50 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: [{ type: 'text', text: `turn ${i} }]\\"` }] })), tools: [{ name: 't', input_schema: { type: 'object' } }] };
    const b = enc.encode(JSON.stringify(body, null, 2));
    const keys = scanTopLevel(enc.encode(JSON.stringify(body)))!;
    for (const [k, v] of Object.entries(body)) expect(valueAt(enc.encode(JSON.stringify(body)), keys.get(k))).toEqual(v);
    expect(b.length).toBeGreaterThan(0);
  });
});
