import { describe, expect, test } from 'bun:test';
import { refusedHistory, repairHistory } from '../../../src/pipeline/foreign-thinking.ts';
import { TOOL_IDS_REWRITTEN } from '../../../src/pipeline/tool-ids.ts';

const use = (id: unknown) => ({ type: 'tool_use', id, name: 'Read', input: {} });
const result = (id: unknown) => ({ type: 'tool_result', tool_use_id: id, content: 'ok' });

describe('tool-call ids outside Anthropic\'s pattern', () => {
  test('Anthropic\'s words for a tool_use id and a tool_result id, quoted by a proxy too; not a tool name\'s', () => {
    expect(refusedHistory("messages.92.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")).toBe('tool-id');
    expect(refusedHistory("messages.2.content.0.tool_result.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")).toBe('tool-id');
    expect(refusedHistory(`{"message":"Provider returned error","metadata":{"raw":"messages.5.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"}}`)).toBe('tool-id');
    expect(refusedHistory("tools.7.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")).toBeNull();
    expect(refusedHistory("messages.1.content.0.server_tool_use.id: String should match pattern '^srvtoolu_[a-zA-Z0-9_]+$'")).toBeNull();
  });

  test('each id rewritten the same in its call and its result, clear of the ids the conversation has; the rest untouched', () => {
    const body = {
      model: 'claude-sonnet-5-5',
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'text', text: 'Reading.' }, use('functions.Read:0'), use('functions.Read/0'), use('functions_Read_0_2')] },
        { role: 'user', content: [result('functions.Read:0'), result('functions.Read/0'), result('functions_Read_0_2')] },
        { role: 'assistant', content: [use('functions_Read_0'), use('::')] },
        { role: 'user', content: [result('functions_Read_0'), result('::')] },
      ],
    };
    const repaired = repairHistory(structuredClone(body), 'tool-id')!;
    expect(repaired.dropped).toEqual([TOOL_IDS_REWRITTEN]);
    const m = repaired.body.messages as any[];
    // functions_Read_0 and functions_Read_0_2 are the conversation's own: the rewritten ids go around them
    expect(m[1].content.slice(1).map((b: any) => b.id)).toEqual(['functions_Read_0_3', 'functions_Read_0_4', 'functions_Read_0_2']);
    expect(m[2].content.map((b: any) => b.tool_use_id)).toEqual(['functions_Read_0_3', 'functions_Read_0_4', 'functions_Read_0_2']);
    expect(m[3].content.map((b: any) => b.id)).toEqual(['functions_Read_0', '__']);
    expect(m[4].content.map((b: any) => b.tool_use_id)).toEqual(['functions_Read_0', '__']);
    expect(m[1].content[0]).toEqual({ type: 'text', text: 'Reading.' });
    expect(repaired.body.model).toBe('claude-sonnet-5-5');
  });

  test('nothing to rewrite (or an id that is no string, which Anthropic names otherwise): null, the refusal is the answer', () => {
    expect(repairHistory({ messages: [{ role: 'assistant', content: [use('toolu_01A')] }, { role: 'user', content: [result('toolu_01A')] }] }, 'tool-id')).toBeNull();
    expect(repairHistory({ messages: [{ role: 'assistant', content: [use(7)] }] }, 'tool-id')).toBeNull();
    expect(repairHistory({ messages: 'x' }, 'tool-id')).toBeNull();
  });
});
