import { describe, expect, test } from 'bun:test';
import { findTopLevelModel, rewriteModel } from '../../../src/util/json.ts';

describe('findTopLevelModel / rewriteModel', () => {
  const cases: Array<[string, string, string | null]> = [
    ['first key', '{"model":"a","x":1}', '{"model":"B","x":1}'],
    ['spaces', '{ "model" :  "a" }', '{ "model" :  "B" }'],
    ['after nested model keys', '{"metadata":{"model":"a"},"messages":[{"model":"a"}],"model":"a"}', '{"metadata":{"model":"a"},"messages":[{"model":"a"}],"model":"B"}'],
    ['model text inside a string value', '{"x":"\\"model\\":\\"a\\"","model":"a"}', '{"x":"\\"model\\":\\"a\\"","model":"B"}'],
    ['escaped quotes in the value', '{"model":"a\\"b","y":2}', '{"model":"B","y":2}'],
    ['backslash before closing quote', '{"s":"c:\\\\","model":"a"}', '{"s":"c:\\\\","model":"B"}'],
    ['a value equal to "model"', '{"k":"model","model":"a"}', '{"k":"model","model":"B"}'],
    ['no model', '{"x":1}', null],
    ['model not a string', '{"model":5}', null],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const out = rewriteModel(new TextEncoder().encode(input), input, 'B');
      if (expected === null) {
        expect(findTopLevelModel(input)).toBeNull();
        expect(out).toBeInstanceOf(Uint8Array);
      } else {
        expect(out).toBe(expected);
        expect(JSON.parse(out as string).model).toBe('B');
      }
    });
  }
  test('new name is JSON-escaped', () => {
    expect(rewriteModel(new Uint8Array(), '{"model":"a"}', 'x"y')).toBe('{"model":"x\\"y"}');
  });
});
