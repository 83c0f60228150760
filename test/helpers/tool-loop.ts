/**
 * @module test/helpers/tool-loop
 * A client's side of a tool loop in the Anthropic SDK's types: one `read_file` tool, and the results it sends back.
 */
import type Anthropic from '@anthropic-ai/sdk';

export const READ_FILE_TOOLS: Anthropic.Tool[] = [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }];

/** Tool results for every tool_use of an answer; `big` makes each one that many characters longer. */
export function readFileResults(message: Anthropic.Message, big = 0): Anthropic.ToolResultBlockParam[] {
  return message.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use').map((b) => ({
    type: 'tool_result', tool_use_id: b.id, content: `contents of ${(b.input as { path: string }).path}\n${'x'.repeat(big)}`,
  }));
}
