/**
 * hub/schema: the plain check accepts exactly the bodies that MessageCreateParamsSchema accepts and gives back
 * unchanged (so they can serve as the hub as they are), on fixed and on 3,000 seeded random inputs built by mutating
 * valid bodies.
 */
import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { MessageCreateParamsSchema, isPlainMessageCreateParams } from '../../../src/hub/schema.ts';

const valid = () => ({
  model: 'claude-sonnet-5-5', max_tokens: 128000, stream: true,
  system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '/a', __proto__x: 1 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
    { role: 'system', content: 'mid-conversation system turn' },
  ],
  tools: [{ name: 'Read', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
  tool_choice: { type: 'auto' }, thinking: { type: 'adaptive', display: 'omitted' }, output_config: { effort: 'medium' },
  stop_sequences: ['END'], temperature: 0.5, top_p: 0.9, top_k: 40, metadata: { user_id: '{"device_id":"d"}' },
  context_management: { edits: [] },
});

const valibotAccepts = (x: unknown) => v.safeParse(MessageCreateParamsSchema, x).success;

describe('isPlainMessageCreateParams', () => {
  test('a full Claude Code body, a minimal one, and string content are plain', () => {
    expect(isPlainMessageCreateParams(valid())).toBe(true);
    expect(isPlainMessageCreateParams({ model: 'm', max_tokens: 1, messages: [] })).toBe(true);
    expect(isPlainMessageCreateParams({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], system: 's', metadata: { user_id: null } })).toBe(true);
  });

  test('a typed tool may have no name (toolsets: mcp_toolset, browser_toolset_…); a client tool may not', () => {
    for (const tool of [{ type: 'mcp_toolset', mcp_server_name: 'x' }, { type: 'browser_toolset_20260801' }]) {
      const b = { ...valid(), tools: [tool] };
      expect(isPlainMessageCreateParams(b)).toBe(true);
      expect(valibotAccepts(b)).toBe(true);
    }
    for (const tool of [{ input_schema: { type: 'object' } }, { type: 'custom', input_schema: { type: 'object' } }, { type: 5 }]) {
      const b = { ...valid(), tools: [tool] };
      expect(isPlainMessageCreateParams(b)).toBe(false);
      const res = v.safeParse(MessageCreateParamsSchema, b);
      expect(res.success).toBe(false);
      expect(v.getDotPath(res.issues![0])).toBe('tools.0.name');
    }
  });

  const broken: Array<[string, (b: Record<string, any>) => void]> = [
    ['no model', (b) => delete b.model], ['empty model', (b) => (b.model = '')], ['model too long', (b) => (b.model = 'm'.repeat(257))],
    ['max_tokens 0', (b) => (b.max_tokens = 0)], ['max_tokens 1.5', (b) => (b.max_tokens = 1.5)], ['max_tokens string', (b) => (b.max_tokens = '5')],
    ['messages null', (b) => (b.messages = null)], ['role tool', (b) => (b.messages[0].role = 'tool')], ['content number', (b) => (b.messages[0].content = 5)],
    ['block without type', (b) => delete b.messages[0].content[0].type], ['block type empty', (b) => (b.messages[0].content[0].type = '')],
    ['system number', (b) => (b.system = 1)], ['system block type missing', (b) => delete b.system[0].type],
    ['tools object', (b) => (b.tools = {})], ['tool without name', (b) => delete b.tools[0].name], ['tool_choice string', (b) => (b.tool_choice = 'auto')],
    ['thinking without type', (b) => (b.thinking = {})], ['stream string', (b) => (b.stream = 'true')], ['stop_sequences string', (b) => (b.stop_sequences = 'END')],
    ['stop sequence number', (b) => (b.stop_sequences = [1])], ['temperature null', (b) => (b.temperature = null)], ['top_k 1.5', (b) => (b.top_k = 1.5)],
    ['top_p NaN', (b) => (b.top_p = NaN)], ['metadata array of user_id 5', (b) => (b.metadata = { user_id: 5 })], ['tools null', (b) => (b.tools = null)],
  ];
  for (const [name, breakIt] of broken) {
    test(`not plain, and refused by valibot: ${name}`, () => {
      const b = valid() as Record<string, any>;
      breakIt(b);
      expect(isPlainMessageCreateParams(b)).toBe(false);
      expect(valibotAccepts(b)).toBe(false);
    });
  }

  test('what valibot would change is left to valibot: a key it leaves out of its copy, an array for an object', () => {
    for (const json of ['{"__proto__":{"x":1}}', '{"constructor":1}', '{"prototype":1}']) {
      const top = { ...valid(), ...JSON.parse(json) };
      expect(isPlainMessageCreateParams(top)).toBe(false);
      expect(valibotAccepts(top)).toBe(true);
      const block = valid() as Record<string, any>;
      block.messages[0].content[0] = { ...block.messages[0].content[0], ...JSON.parse(json) };
      expect(isPlainMessageCreateParams(block)).toBe(false);
    }
    const arrayMeta = { ...valid(), metadata: [{ user_id: 'u' }] };
    expect(valibotAccepts(arrayMeta)).toBe(true);
    expect(isPlainMessageCreateParams(arrayMeta)).toBe(false);
  });

  test('3,000 seeded random mutations: plain exactly when valibot accepts the body and gives it back unchanged', () => {
    let seed = 20261126;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const values = () => pick<unknown>([null, 0, -1, 1, 1.5, 128000, '', 'x', 'user', 'assistant', 'system', 'tool', 'm'.repeat(256), 'm'.repeat(257), true, false, [], {}, [{}], [{ type: '' }], [{ type: 't' }], [{ name: 'n' }], ['s'], [1], { type: 'auto' }, { user_id: null }, { user_id: 3 }, NaN, Infinity]);
    const paths = (b: Record<string, any>): Array<[Record<string, any> | unknown[], string | number]> => {
      const out: Array<[any, string | number]> = [];
      for (const k of [...Object.keys(b), 'model', 'max_tokens', 'stream', 'tools', 'system', 'metadata', 'top_k']) out.push([b, k]);
      if (Array.isArray(b.messages)) b.messages.forEach((m: any, i: number) => {
        out.push([b.messages, i]);
        if (m && typeof m === 'object') { out.push([m, 'role'], [m, 'content']); if (Array.isArray(m.content)) m.content.forEach((c: any, j: number) => { out.push([m.content, j]); if (c && typeof c === 'object') out.push([c, 'type']); }); }
      });
      if (Array.isArray(b.tools)) b.tools.forEach((t: any, i: number) => { out.push([b.tools, i]); if (t && typeof t === 'object') out.push([t, 'name'], [t, 'type']); });
      if (Array.isArray(b.system)) b.system.forEach((s: any) => { if (s && typeof s === 'object') out.push([s, 'type']); });
      if (b.metadata && typeof b.metadata === 'object') out.push([b.metadata, 'user_id']);
      return out;
    };
    let plain = 0, refused = 0;
    for (let n = 0; n < 3000; n++) {
      const b = valid() as Record<string, any>;
      const edits = Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++) {
        const [obj, key] = pick(paths(b));
        if (rnd() < 0.2) delete (obj as any)[key]; else (obj as any)[key] = values();
      }
      const res = v.safeParse(MessageCreateParamsSchema, b);
      const unchanged = res.success && Bun.deepEquals(res.output, b);
      const isPlain = isPlainMessageCreateParams(b);
      expect({ n, isPlain }).toEqual({ n, isPlain: unchanged });
      if (isPlain) plain++; else refused++;
    }
    // both verdicts were exercised
    expect(plain).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});
