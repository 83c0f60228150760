import { describe, expect, test } from 'bun:test';
import { dropMembers, forgetKnownValues, useWalkMemo, kindAt, knownToolsOf, knownValueHits, resumedMessageWalks, rewriteModel, scanTopLevel, stringsOf, valueAt } from '../../../src/util/json.ts';

/** A seeded pseudo-random source: `rand(n)` in [0, n). */
const seeded = (seed: number) => (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
/** `s` with one random edit at `where`: a piece inserted, 1-3 characters deleted, or one replaced by a piece. */
const editAt = (s: string, where: number, rand: (n: number) => number, pieces: string[]) => {
  const edit = rand(3);
  if (edit === 0) return s.slice(0, where) + pieces[rand(pieces.length)] + s.slice(where);
  if (edit === 1) return s.slice(0, where) + s.slice(where + 1 + rand(3));
  return s.slice(0, where) + pieces[rand(pieces.length)] + s.slice(where + 1);
};

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

describe('dropMembers', () => {
  const drop = (s: string, names: string[], model?: string) => {
    const b = enc.encode(s);
    const r = dropMembers(b, names, scanTopLevel(b)!, model);
    return { text: dec.decode(r.bytes), removed: r.removed, same: r.bytes === b };
  };
  const cases: Array<[string, string, string[], string]> = [
    ['first member', '{"a":1,"model":"m","b":2}', ['a'], '{"model":"m","b":2}'],
    ['middle member', '{"model":"m","a":1,"b":2}', ['a'], '{"model":"m","b":2}'],
    ['last member', '{"model":"m","b":2,"a":1}', ['a'], '{"model":"m","b":2}'],
    ['the only member', '{"a":{"x":[1]}}', ['a'], '{}'],
    ['every member', '{ "a" : 1 , "b" : [2] }', ['b', 'a'], '{  }'],
    ['the last two, adjacent', '{"model":"m","a":1,"b":{"c":"}"}}', ['a', 'b'], '{"model":"m"}'],
    ['first and last', '{"a":1,"model":"m","b":2}', ['a', 'b'], '{"model":"m"}'],
    ['pretty-printed: the line goes with it', '{\n  "model": "m",\n  "a": {\n    "x": 1\n  },\n  "b": 2\n}', ['a'], '{\n  "model": "m",\n  "b": 2\n}'],
    ['pretty-printed, last member', '{\n  "model": "m",\n  "a": 1\n}', ['a'], '{\n  "model": "m"\n}'],
    ['the same key nested stays', '{"metadata":{"metadata":1},"messages":[{"metadata":"x"}],"x":"\\"metadata\\":1"}', ['metadata'], '{"messages":[{"metadata":"x"}],"x":"\\"metadata\\":1"}'],
    ['a key written with escapes', '{"m\\u0065tadata":1,"b":"\\"","c":2}', ['metadata'], '{"b":"\\"","c":2}'],
    ['a key holding an escaped quote before it', '{"k\\"":"v\\\\","a":1}', ['a'], '{"k\\"":"v\\\\"}'],
    ['written twice: both go (JSON.parse would read the first once the last is gone)', '{"a":1,"b":2,"a":3}', ['a'], '{"b":2}'],
    ['not there: the same bytes', '{"b":2}', ['a'], '{"b":2}'],
  ];
  for (const [name, input, names, expected] of cases) {
    test(name, () => {
      const r = drop(input, names);
      expect(r.text).toBe(expected);
      JSON.parse(r.text);
    });
  }
  test('removed: the names that were there, once each; nothing there: the very same buffer', () => {
    expect(drop('{"a":1,"b":2,"a":3}', ['c', 'b', 'a']).removed).toEqual(['b', 'a']);
    expect(drop('{"b":2}', ['a'])).toMatchObject({ removed: [], same: true });
  });
  test('with a model: replaced in the same copy, before or after what is removed', () => {
    expect(drop('{"a":1,"model":"m","b":2}', ['a', 'b'], 'x"y').text).toBe('{"model":"x\\"y"}');
    expect(drop('{"model":"m","b":2}', ['a'], 'B').text).toBe('{"model":"B","b":2}');
    expect(drop('{"model":5,"a":1}', ['a'], 'B').text).toBe('{"model":5}'); // as rewriteModel: not a string, left alone
  });

  test('agrees with JSON.parse on random objects: the named members gone, every other value equal, the rest byte for byte', () => {
    const rand = seeded(20261126);
    const NAMES = ['model', 'messages', 'max_tokens', 'context_management', 'output_config', 'thinking', 'metadata', 'container', 'mcp_servers', 'service_tier', 'stream'];
    const ws = () => [' ', '', '', '\n  ', '\t', ' \r\n'][rand(6)]!;
    const scalar = (): string => [() => String(rand(1000) - 500), () => JSON.stringify(['x', 'é"\\', '}]', '"metadata":1', '\u2028😀'][rand(5)]), () => 'true', () => 'null', () => '1.5e3'][rand(5)]!();
    /** A JSON value as text, in random spacing, its objects often holding the top-level names too. */
    const value = (depth: number): string => {
      if (depth > 3 || rand(3) === 0) return scalar();
      if (rand(2) === 0) return `[${ws()}${Array.from({ length: rand(4) }, () => value(depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
      const keys = Array.from({ length: rand(4) }, () => NAMES[rand(NAMES.length)]!);
      return `{${ws()}${[...new Set(keys)].map((k) => `"${k}"${ws()}:${ws()}${value(depth + 1)}`).join(`${ws()},${ws()}`)}${ws()}}`;
    };
    for (let n = 0; n < 3000; n++) {
      // now and then a name written twice at the top level (JSON.parse keeps the last)
      const drawn = Array.from({ length: 1 + rand(9) }, () => NAMES[rand(NAMES.length)]!);
      const keys = rand(8) === 0 ? drawn : [...new Set(drawn)];
      const text = `${ws()}{${ws()}${keys.map((k) => `"${k}"${ws()}:${ws()}${value(0)}`).join(`${ws()},${ws()}`)}${ws()}}${ws()}`;
      const names = NAMES.filter(() => rand(3) === 0);
      const model = rand(2) ? 'up-model' : undefined;
      const b = enc.encode(text);
      const { bytes, removed } = dropMembers(b, names, scanTopLevel(b)!, model);
      const out = dec.decode(bytes);
      const before = JSON.parse(text);
      const after = JSON.parse(out);
      const expected = Object.fromEntries(Object.entries(before).filter(([k]) => !names.includes(k)));
      if (model !== undefined && typeof expected.model === 'string') expected.model = model;
      expect(after).toEqual(expected);
      expect(Object.keys(after)).toEqual(Object.keys(expected)); // the order as sent
      expect(removed).toEqual(names.filter((k) => k in before));
      // byte for byte: each member kept is the very text it was (its key, spacing and value)
      for (const k of Object.keys(after)) {
        if (k === 'model' && model !== undefined) continue;
        const span = scanTopLevel(b)!.get(k)!;
        expect(out).toContain(dec.decode(b.subarray(span[0], span[1])));
      }
      // and nothing else changed: without a model, what is left is the input with some of its bytes taken out
      if (model === undefined) {
        let i = 0;
        for (const c of bytes) { while (i < b.length && b[i] !== c) i++; i++; }
        expect(i).toBeLessThanOrEqual(b.length);
      }
    }
  });
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
    const rand = seeded(7);
    let hits = 0;
    const skippedBefore = knownValueHits();
    for (let n = 0; n < 3000; n++) {
      // most edits land after the tools (the remembered value then matches), some inside or just before them
      const where = rand(4) === 0 ? toolsAt - 2 + rand(base.length - toolsAt) : toolsAt + JSON.stringify(tools).length + rand(base.length - toolsAt - JSON.stringify(tools).length);
      const s = editAt(base, where, rand, pieces);
      const { fresh, remembered } = both(enc.encode(s), primer);
      expect(remembered).toEqual(fresh);
      if (fresh) hits++;
    }
    expect(hits).toBeGreaterThan(300); // enough of the edits leave one object to compare spans, not only nulls
    // and the remembered tools were used (every edit after them), not walked again
    expect(knownValueHits() - skippedBefore).toBeGreaterThan(1500);
  });
});

describe('scanTopLevel: a conversation sent again is walked from where it changed', () => {
  // a Claude Code-like conversation: long turns with everything a walk must get right inside strings
  const turn = (i: number) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: [{ type: 'text', text: `turn ${i}: "quoted" {[braces]} back\\slash\\\\ ,: ${'x'.repeat(300 + (i % 7) * 40)}` }, ...(i % 3 === 0 ? [{ type: 'tool_result', tool_use_id: `t${i}`, content: `[${i}]` }] : [])],
  });
  const conversation = (n: number, cacheAt = n - 1) => {
    const messages = Array.from({ length: n }, (_, i) => turn(i)) as Array<Record<string, unknown>>;
    (messages[cacheAt]!.content as Array<Record<string, unknown>>)[0]!.cache_control = { type: 'ephemeral' };
    return { model: 'm', max_tokens: 9, system: 'be brief', messages, stream: true };
  };
  const notesOf = (b: Uint8Array) => { const s = stringsOf(b); return s ? [...s.pairs.subarray(0, s.length)] : null; };
  /** Keys and noted strings: with the tools remembered but no walk of messages, and after `primers` were scanned. */
  const both = (b: Uint8Array, primers: Uint8Array[]) => {
    forgetKnownValues();
    for (const p of primers) scanTopLevel(p);
    useWalkMemo(false);
    const freshKeys = scanTopLevel(b);
    useWalkMemo(true);
    const fresh = { keys: freshKeys && [...freshKeys.entries()], notes: notesOf(b) };
    forgetKnownValues();
    for (const p of primers) scanTopLevel(p);
    const keys = scanTopLevel(b);
    return { fresh, remembered: { keys: keys && [...keys.entries()], notes: notesOf(b) } };
  };

  test('grown by turns, its cache marker moved, sent again as it was: the same keys and strings as a full walk', () => {
    const first = enc.encode(JSON.stringify(conversation(60)));
    const resumed = resumedMessageWalks();
    for (const next of [conversation(62), conversation(61, 30), conversation(60), conversation(80, 10), conversation(59)]) {
      const b = enc.encode(JSON.stringify(next));
      const { fresh, remembered } = both(b, [first]);
      expect(fresh.keys).not.toBeNull();
      expect(remembered).toEqual(fresh);
    }
    // each took the remembered walk (the last two share only a prefix: the marker's move, a turn fewer)
    expect(resumedMessageWalks() - resumed).toBe(5);
    // the messages span is the real one: the value parses to the conversation
    const b = enc.encode(JSON.stringify(conversation(62)));
    scanTopLevel(enc.encode(JSON.stringify(conversation(61))));
    expect(valueAt(b, scanTopLevel(b)!.get('messages'))).toEqual(conversation(62).messages);
  });

  test('a session of 2,000 requests, each the last one changed, agrees with a full walk at every step', () => {
    // the memo is kept from step to step (its entries rewritten in place as the conversation changes): grown by a
    // turn, its cache marker moved, cut back (a compaction), a random byte edit (kept only while it stays an object)
    forgetKnownValues();
    const rand = seeded(5);
    let turns = 40;
    let cacheAt = 39;
    let s = JSON.stringify(conversation(turns, cacheAt));
    const pieces = ['[', ']', '{', '}', '"', '\\', ',', 'x', '},{', '"model":"z",'];
    const resumed = resumedMessageWalks();
    for (let n = 0; n < 2000; n++) {
      const step = rand(10);
      if (step < 4) s = JSON.stringify(conversation(++turns, cacheAt = turns - 1));
      else if (step < 6) s = JSON.stringify(conversation(turns, cacheAt = rand(turns)));
      else if (step === 6) s = JSON.stringify(conversation(turns = 30 + rand(20), cacheAt = turns - 1));
      else {
        const at = s.indexOf('"messages":') + rand(s.length - 40);
        const edited = editAt(s, at, rand, pieces);
        if (rand(2) === 0) s = edited; // else only this request is the edited one
        const b = enc.encode(edited);
        useWalkMemo(false);
        const fresh = scanTopLevel(b);
        const freshNotes = notesOf(b);
        useWalkMemo(true);
        const keys = scanTopLevel(b);
        expect(keys && [...keys.entries()]).toEqual(fresh && [...fresh.entries()]);
        expect(notesOf(b)).toEqual(freshNotes);
        continue;
      }
      const b = enc.encode(s);
      useWalkMemo(false);
      const fresh = scanTopLevel(b)!;
      const freshNotes = notesOf(b);
      useWalkMemo(true);
      const keys = scanTopLevel(b)!;
      expect([...keys.entries()]).toEqual([...fresh.entries()]);
      expect(notesOf(b)).toEqual(freshNotes);
    }
    expect(resumedMessageWalks() - resumed).toBeGreaterThan(1000);
  });

  test('messages of few strings (an image) are not kept: their walk costs less than a copy', () => {
    forgetKnownValues();
    const image = (n: number) => enc.encode(JSON.stringify({ model: 'm', messages: [
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(300_000) } }, { type: 'text', text: 'what is it?' }] },
      { role: 'assistant', content: 'a cat' }, { role: 'user', content: `q${n}` },
    ] }));
    scanTopLevel(image(1));
    const resumed = resumedMessageWalks();
    expect(valueAt(image(2), scanTopLevel(image(2))!.get('model'))).toBe('m');
    expect(resumedMessageWalks()).toBe(resumed);
    // a conversation of many strings is
    scanTopLevel(enc.encode(JSON.stringify(conversation(40))));
    scanTopLevel(enc.encode(JSON.stringify(conversation(41))));
    expect(resumedMessageWalks()).toBe(resumed + 1);
  });

  test('3,000 random edits of a conversation agree with a full walk', () => {
    const primer = enc.encode(JSON.stringify(conversation(50)));
    const base = dec.decode(primer);
    const at = base.indexOf('"messages":') + 11;
    const end = base.lastIndexOf(',"stream"');
    const pieces = ['[', ']', '{', '}', '"', '\\', ',', ':', ' ', 'x', '1', '"a":', '},{', '"messages":[', '"model":"z",'];
    const rand = seeded(11);
    let objects = 0;
    const resumed = resumedMessageWalks();
    for (let n = 0; n < 3000; n++) {
      const s = editAt(base, at - 2 + rand(end - at + 4), rand, pieces);
      // a second primer now and then: an edited copy that shares the conversation up to turn 3 (another remembered walk to choose from)
      const { fresh, remembered } = both(enc.encode(s), n % 5 === 0 ? [primer, enc.encode(s.replace('turn 3:', 'turn 3;'))] : [primer]);
      expect(remembered).toEqual(fresh);
      if (fresh.keys) objects++;
    }
    expect(objects).toBeGreaterThan(300);
    expect(resumedMessageWalks() - resumed).toBeGreaterThan(1500);
  });
});
