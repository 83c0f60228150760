import { describe, expect, test } from 'bun:test';
import { refusedHistory, repairHistory } from '../../../src/pipeline/foreign-thinking.ts';
import { BLANK_TEXT_REFUSAL, EMPTY_TURN_REFUSAL, SIGNATURE_REFUSAL, THINKING_FIRST_REFUSAL } from '../../helpers/anthropic-rules.ts';

const BLANK_DROPPED = 'text blocks of whitespace alone (Anthropic refuses them)';

describe('refusedHistory', () => {
  test('Anthropic\'s two refusals, as it words them and as a proxy quotes them; nothing else', () => {
    expect(refusedHistory(SIGNATURE_REFUSAL(1, 0))).toBe('signature');
    expect(refusedHistory('messages.1.content.0: Invalid `signature` in `thinking` block. The block is bound to a different conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to "drop_block".')).toBe('signature');
    expect(refusedHistory(`{"type":"error","error":{"type":"invalid_request_error","message":"${SIGNATURE_REFUSAL(5, 0)}"}}`)).toBe('signature');
    for (const found of ['tool_use', 'text']) expect(refusedHistory(THINKING_FIRST_REFUSAL(3, found))).toBe('thinking-first');
    expect(refusedHistory('messages.0.content.1: unexpected `tool_use_id` found in `tool_result` blocks')).toBeNull();
    expect(refusedHistory('messages.1.content.0: When thinking is disabled, an `assistant` message in the final position cannot contain `thinking`.')).toBeNull();
    expect(refusedHistory('')).toBeNull();
  });
});

describe('repairHistory', () => {
  const tool = (id: string) => ({ type: 'tool_use', id, name: 'Read', input: {} });
  const result = (id: string) => ({ role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'x' }] });

  test('nothing to change (no thinking block, thinking off or no tool loop): null, the refusal is the answer', () => {
    const body = { model: 'm', thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'text', text: 'yo' }] }, { role: 'user', content: 'ok' }] };
    expect(repairHistory(structuredClone(body), 'signature')).toBeNull();
    const loop = { model: 'm', thinking: { type: 'disabled' }, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [tool('t1')] }, result('t1')] };
    expect(repairHistory(structuredClone(loop), 'thinking-first')).toBeNull();
    expect(repairHistory({ model: 'm', messages: 'not an array' }, 'signature')).toBeNull();
  });

  test('a tool loop is read from the last user turn, past Claude Code\'s trailing system turn; string contents and other roles stay', () => {
    const body: any = {
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'a plain string turn' },
        { role: 'user', content: 'read it' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: '' }, tool('t1')] },
        result('t1'),
        { role: 'system', content: [{ type: 'text', text: '# Environment' }] },
      ],
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }], other: true },
    };
    const fixed = repairHistory(body, 'signature')!;
    expect(fixed.body.thinking).toEqual({ type: 'disabled' });
    expect((fixed.body.messages as any[])[1]).toEqual({ role: 'assistant', content: 'a plain string turn' });
    expect((fixed.body.messages as any[])[3]).toEqual({ role: 'assistant', content: [tool('t1')] });
    expect((fixed.body.messages as any[])[5].role).toBe('system');
    expect(fixed.body.context_management).toEqual({ edits: [], other: true }); // its other keys kept
    expect(fixed.dropped).toHaveLength(3);
  });

  test('a new user turn after the loop: thinking stays on, only the blocks go', () => {
    const body: any = {
      thinking: { type: 'adaptive' },
      messages: [{ role: 'user', content: 'read' }, { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'x' }, tool('t1')] }, result('t1'), { role: 'assistant', content: [{ type: 'text', text: 'done' }] }, { role: 'user', content: 'thanks' }],
    };
    const fixed = repairHistory(body, 'signature')!;
    expect(fixed.body.thinking).toEqual({ type: 'adaptive' });
    expect(fixed.dropped).toEqual(['thinking blocks of earlier turns (Anthropic refused a signature it did not write for this model)']);
  });
});

describe('text blocks of whitespace alone (Anthropic: "text content blocks must contain non-whitespace text")', () => {
  const call = { type: 'tool_use', id: 'call_1', name: 'Read', input: { file_path: 'a.txt' } };

  test('the refusal is told apart, as Anthropic words it and as a proxy quotes it; the prefill\'s trailing whitespace is another rule', () => {
    expect(refusedHistory(BLANK_TEXT_REFUSAL)).toBe('blank-text');
    expect(refusedHistory('system: text content blocks must contain non-whitespace text')).toBe('blank-text');
    expect(refusedHistory(`{"error":{"message":"${BLANK_TEXT_REFUSAL}"}}`)).toBe('blank-text');
    expect(refusedHistory('final assistant content cannot end with trailing whitespace')).toBeNull();
  });

  test('left out of every turn; an assistant turn of nothing else left out whole; nothing else changes', () => {
    const body: any = {
      model: 'm', thinking: { type: 'adaptive' },
      system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: '\n' }],
      messages: [
        { role: 'user', content: 'Read a.txt' },
        { role: 'assistant', content: [{ type: 'text', text: '\n\n' }, call] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'hello' }, { type: 'text', text: ' ' }] }, { type: 'text', text: '\t' }, { type: 'text', text: 'go on' }] },
        { role: 'assistant', content: [{ type: 'text', text: ' \n ' }] },
        { role: 'user', content: 'and b.txt?' },
        { role: 'assistant', content: [{ type: 'text', text: '\nSure:\n' }, { type: 'text', text: '\n\n' }] },
      ],
    };
    const fixed = repairHistory(body, 'blank-text')!;
    expect(fixed.body).toEqual({
      model: 'm', thinking: { type: 'adaptive' },
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [
        { role: 'user', content: 'Read a.txt' },
        { role: 'assistant', content: [call] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'hello' }] }, { type: 'text', text: 'go on' }] },
        { role: 'user', content: 'and b.txt?' },
        { role: 'assistant', content: [{ type: 'text', text: '\nSure:\n' }] },
      ],
    });
    expect(fixed.dropped).toEqual([BLANK_DROPPED, 'messages.3 (an assistant turn of whitespace alone)']);
  });

  test('an assistant turn given as a string of whitespace alone is left out whole', () => {
    const body: any = { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '\n\n' }, { role: 'user', content: 'well?' }] };
    const fixed = repairHistory(body, 'blank-text')!;
    expect(fixed.body.messages).toEqual([{ role: 'user', content: 'hi' }, { role: 'user', content: 'well?' }]);
    expect(fixed.dropped).toEqual([BLANK_DROPPED, 'messages.1 (an assistant turn of whitespace alone)']);
  });

  test('a user turn of whitespace alone is the client\'s own: no retry, the refusal is the answer (as for nothing to leave out)', () => {
    expect(repairHistory({ messages: [{ role: 'user', content: [{ type: 'text', text: '\n' }] }] }, 'blank-text')).toBeNull();
    expect(repairHistory({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'text', text: '\n' }, call] }, { role: 'user', content: ' ' }] }, 'blank-text')).toBeNull();
    expect(repairHistory({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'text', text: 'yo' }] }] }, 'blank-text')).toBeNull();
    expect(repairHistory({ messages: 'not an array' }, 'blank-text')).toBeNull();
  });
});

describe('assistant turns with no content (Anthropic: "all messages must have non-empty content except for the optional final assistant message")', () => {
  const dropped = (i: number) => `messages.${i} (an empty assistant turn: Anthropic refuses one anywhere but last)`;

  test('the refusal is told apart, as Anthropic words it and as a proxy quotes it', () => {
    expect(refusedHistory(EMPTY_TURN_REFUSAL(3))).toBe('empty-turn');
    expect(refusedHistory(`upstream said: {"error":{"message":"${EMPTY_TURN_REFUSAL(0)}"}}`)).toBe('empty-turn');
    expect(refusedHistory('messages.3: all messages must have non-empty content')).toBeNull();
  });

  test('left out whole, [] and "" alike, named by their place in the client\'s request; a final one (a prefill) stays', () => {
    const body: any = {
      model: 'm',
      messages: [
        { role: 'user', content: 'hi' }, { role: 'assistant', content: [] }, { role: 'user', content: 'well?' },
        { role: 'assistant', content: '' }, { role: 'user', content: [{ type: 'text', text: 'hello?' }] }, { role: 'assistant', content: [] },
      ],
    };
    const fixed = repairHistory(body, 'empty-turn')!;
    expect(fixed.body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }, { role: 'user', content: 'well?' }, { role: 'user', content: [{ type: 'text', text: 'hello?' }] }, { role: 'assistant', content: [] }] });
    expect(fixed.dropped).toEqual([dropped(1), dropped(3)]);
  });

  test('an empty user turn is the client\'s own, and nothing to leave out is no retry', () => {
    expect(repairHistory({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [] }, { role: 'user', content: '' }] }, 'empty-turn')).toBeNull();
    expect(repairHistory({ messages: [{ role: 'user', content: [] }, { role: 'assistant', content: 'yo' }, { role: 'user', content: 'hi' }] }, 'empty-turn')).toBeNull();
    expect(repairHistory({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [] }] }, 'empty-turn')).toBeNull();
    expect(repairHistory({ messages: 'not an array' }, 'empty-turn')).toBeNull();
  });
});
