import { describe, expect, test } from 'bun:test';
import { forgetKnownValues, kindAt, knownToolsOf, knownValueHits, rewriteModel, scanTopLevel, valueAt } from '../../../src/util/json.ts';

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

describe('scanTopLevel: tools seen before are not walked again', () => {
  const tools = Array.from({ length: 12 }, (_, i) => ({ name: `tool_${i}`, description: `does "${i}" {[` + 'x'.repeat(i * 20), input_schema: { type: 'object', properties: { a: { type: 'string', enum: ['x]', 'y}'] } }, required: ['a'] } }));
  const body = (before: Record<string, unknown>, after: Record<string, unknown> = {}) => enc.encode(JSON.stringify({ ...before, tools, ...after }));
  const entries = (k: Map<string, [number, number]> | null) => (k ? [...k.entries()] : null);
  /** The scan with nothing remembered, then with `primer`'s tools remembered. */
  const both = (b: Uint8Array, primer: Uint8Array) => {
    forgetKnownValues();
    const fresh = entries(scanTopLevel(b));
    forgetKnownValues();
    scanTopLevel(primer);
    return { fresh, remembered: entries(scanTopLevel(b)) };
  };

  test('the same tools at another offset, with other keys around them', () => {
    const primer = body({ model: 'a', messages: [] });
    const b = body({ model: 'a-much-longer-name', messages: [{ role: 'user', content: 'hi' }], system: 's' }, { stream: true, max_tokens: 3 });
    const { fresh, remembered } = both(b, primer);
    expect(remembered).toEqual(fresh);
    const hits = knownValueHits();
    expect(valueAt(b, scanTopLevel(b)!.get('tools'))).toEqual(tools);
    expect(knownValueHits()).toBe(hits + 1);
    expect(valueAt(b, scanTopLevel(b)!.get('stream'))).toBe(true);
  });

  test('knownToolsOf: the remembered copy of the last scanned body\'s (last) tools, for that body only', () => {
    forgetKnownValues();
    const b = body({ model: 'a', messages: [] });
    scanTopLevel(b);
    const copy = knownToolsOf(b)!;
    expect(dec.decode(copy)).toBe(JSON.stringify(tools));
    const again = body({ model: 'b', messages: [1] });
    scanTopLevel(again);
    expect(knownToolsOf(again)).toBe(copy); // found, not copied again
    expect(knownToolsOf(b)).toBeNull(); // not the last body scanned
    // a later `tools` key wins, as in the keys: a small one is not remembered
    const twice = enc.encode(`{"tools":${JSON.stringify(tools)},"model":"m","tools":[1]}`);
    scanTopLevel(twice);
    expect(knownToolsOf(twice)).toBeNull();
  });

  test('a value remembered is a copy: the body it came from changing in place does not fool the next scan', () => {
    const b = body({ model: 'a', messages: [] }, { stream: false });
    forgetKnownValues();
    const [at, end] = scanTopLevel(b)!.get('tools')!;
    // the tools' bytes rewritten in place, same length, another structure: a short array, then a key of its own
    const replacement = `[1],"x":"${'z'.repeat(end - at - 10)}"`;
    expect(replacement.length).toBe(end - at);
    b.set(enc.encode(replacement), at);
    const keys = scanTopLevel(b)!;
    expect(valueAt(b, keys.get('tools'))).toEqual([1]);
    expect(valueAt(b, keys.get('x'))).toBe('z'.repeat(end - at - 10));
    expect(valueAt(b, keys.get('stream'))).toBe(false);
  });

  test('3,000 random edits of a body agree with a scan that remembers nothing', () => {
    const primer = body({ model: 'm', messages: [{ role: 'user', content: 'q' }] }, { stream: true });
    const base = dec.decode(primer);
    const toolsAt = base.indexOf('"tools":') + 8;
    const pieces = ['[', ']', '{', '}', '"', '\\', ',', ':', ' ', 'x', '1', '"a":', '},{'];
    let seed = 7;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    let hits = 0;
    const skippedBefore = knownValueHits();
    for (let n = 0; n < 3000; n++) {
      let s = base;
      // most edits land after the tools (the remembered value then matches), some inside or just before them
      const where = rand(4) === 0 ? toolsAt - 2 + rand(base.length - toolsAt) : toolsAt + JSON.stringify(tools).length + rand(base.length - toolsAt - JSON.stringify(tools).length);
      const edit = rand(3);
      if (edit === 0) s = s.slice(0, where) + pieces[rand(pieces.length)] + s.slice(where);
      else if (edit === 1) s = s.slice(0, where) + s.slice(where + 1 + rand(3));
      else s = s.slice(0, where) + pieces[rand(pieces.length)] + s.slice(where + 1);
      const { fresh, remembered } = both(enc.encode(s), primer);
      expect(remembered).toEqual(fresh);
      if (fresh) hits++;
    }
    expect(hits).toBeGreaterThan(300); // enough of the edits leave one object to compare spans, not only nulls
    // and the remembered tools were used (every edit after them), not walked again
    expect(knownValueHits() - skippedBefore).toBeGreaterThan(1500);
  });
});
