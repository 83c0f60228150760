/**
 * The plain check of Chat Completions messages accepts exactly the messages that the request schema accepts and
 * gives back unchanged (so they can be kept as they are), on fixed and on 3,000 seeded random inputs built by
 * mutating a Codex-like conversation; a request whose messages are plain translates exactly as before.
 */
import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { ChatCompletionCreateParamsSchema, arePlainMessages } from '../../../../src/formats/openai-chat/request-to-hub.ts';

const conversation = () => [
  { role: 'system', content: 'You are Codex.', name: null },
  { role: 'developer', content: [{ type: 'text', text: 'sandbox: workspace-write', cache_control: { type: 'ephemeral' } }] },
  { role: 'user', content: [
    { type: 'text', text: 'fix the test' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'high' } },
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
        if (!Array.isArray(o)) for (const k of ['name', 'content', 'cache_control', 'type', 'refusal']) out.push([o, k]);
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
