/**
 * @module test/helpers/anthropic-rules
 * Anthropic's rules for thinking blocks in a Messages request's history, as the API enforces them, in its words:
 * - a `thinking` block whose signature Anthropic did not write for this model: 400 "messages.N.content.M: Invalid
 *   `signature` in `thinking` block" (signatures are opaque and per model: one from another model, from another
 *   provider's reasoning, or empty, is refused);
 * - thinking on (`enabled`, `adaptive`) and a tool loop under way (the last user turn holds `tool_result` blocks) whose
 *   last assistant turn does not start with a thinking block: 400 "messages.N.content.0.type: Expected `thinking` or
 *   `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start
 *   with a thinking block …";
 * - thinking off with Claude Code's `clear_thinking_20251015` context edit: 400 "`clear_thinking_20251015` strategy
 *   requires `thinking` to be enabled";
 * - an assistant turn with no content anywhere but last: 400 "messages.N: all messages must have non-empty content
 *   except for the optional final assistant message";
 * and, apart (anthropicBlankTextRefusal), a text block of whitespace alone: 400 "messages: text content blocks must
 * contain non-whitespace text"; (anthropicEmptyTurnRefusal) a turn of either role with no content (`[]` or `""`)
 * anywhere but as the final assistant turn, the empty-turn 400 above.
 */

/** The signatures a mock "wrote", by upstream model. */
export type ValidSignatures = Record<string, Set<string>>;

export const SIGNATURE_REFUSAL = (i: number, j: number) => `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`;

export const THINKING_FIRST_REFUSAL = (i: number, found: string) =>
  `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`;

const isThinking = (b: any) => b?.type === 'thinking' || b?.type === 'redacted_thinking';

/** What Anthropic would refuse in this request body, in its words; null when nothing. */
export function anthropicHistoryProblem(body: any, valid: ValidSignatures): string | null {
  const messages: any[] = body?.messages ?? [];
  const signatures = valid[body?.model] ?? new Set<string>();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== 'assistant') continue;
    if (Array.isArray(m.content) && m.content.length === 0 && i < messages.length - 1) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    if (!Array.isArray(m.content)) continue;
    for (let j = 0; j < m.content.length; j++) {
      const b = m.content[j];
      if (b?.type === 'thinking' && !signatures.has(b.signature)) return SIGNATURE_REFUSAL(i, j);
    }
  }
  const type = body?.thinking?.type;
  if (type === 'enabled' || type === 'adaptive') {
    const u = messages.findLastIndex((m) => m.role === 'user');
    const loop = u > 0 && Array.isArray(messages[u].content) && messages[u].content.some((b: any) => b?.type === 'tool_result');
    const a = loop ? messages.findLastIndex((m, k) => k < u && m.role === 'assistant') : -1;
    if (a >= 0 && Array.isArray(messages[a].content) && !isThinking(messages[a].content[0])) return THINKING_FIRST_REFUSAL(a, messages[a].content[0]?.type ?? 'nothing');
  } else if ((body?.context_management?.edits ?? []).some((e: any) => e?.type === 'clear_thinking_20251015')) {
    return '`clear_thinking_20251015` strategy requires `thinking` to be enabled';
  }
  return null;
}

/** Anthropic's 400 for a body that breaks one of the rules, or null. */
export function anthropicHistoryRefusal(body: any, valid: ValidSignatures): Response | null {
  const message = anthropicHistoryProblem(body, valid);
  if (message === null) return null;
  return Response.json({ type: 'error', error: { type: 'invalid_request_error', message }, request_id: 'req_011CWkB65DcNzK2MiofhXx8b' }, { status: 400 });
}

/** Anthropic's words for a text block of whitespace alone anywhere in `messages` (anthropics/claude-code#23440). */
export const BLANK_TEXT_REFUSAL = 'messages: text content blocks must contain non-whitespace text';

const isBlankText = (b: any) => b?.type === 'text' && typeof b.text === 'string' && b.text.trim() === '';

/**
 * Anthropic's 400 for a request with a text block of whitespace alone in a turn (or in a tool result's content), as
 * the API sends it (request_id and all); null when there is none.
 */
export function anthropicBlankTextRefusal(body: any): Response | null {
  const blank = (body?.messages ?? []).some((m: any) => Array.isArray(m?.content) && m.content.some((b: any) =>
    isBlankText(b) || (b?.type === 'tool_result' && Array.isArray(b.content) && b.content.some(isBlankText))));
  if (!blank) return null;
  return Response.json({ type: 'error', error: { type: 'invalid_request_error', message: BLANK_TEXT_REFUSAL }, request_id: 'req_011CXqXVfVqMJd8rzkVKPZDM' }, { status: 400 });
}

/** Anthropic's words for a turn with no content anywhere but as the final assistant turn (anthropics/claude-code#3196). */
export const EMPTY_TURN_REFUSAL = (i: number) => `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;

/** Anthropic's 400 for the first turn, of either role, with no content (`[]` or `""`) but a final assistant turn; null when none. */
export function anthropicEmptyTurnRefusal(body: any): Response | null {
  const messages: any[] = body?.messages ?? [];
  const i = messages.findIndex((m, k) => (m?.content === '' || (Array.isArray(m?.content) && m.content.length === 0)) && !(k === messages.length - 1 && m.role === 'assistant'));
  if (i < 0) return null;
  return Response.json({ type: 'error', error: { type: 'invalid_request_error', message: EMPTY_TURN_REFUSAL(i) }, request_id: 'req_011CSarLLj2ZRbTy4cWexMjs' }, { status: 400 });
}

/**
 * Anthropic's structured outputs compile `output_config.format.schema` into a grammar and refuse an object schema
 * that does not close itself: 400 "output_config.format.schema: For 'object' type, 'additionalProperties' must be
 * explicitly set to false" (https://platform.claude.com/docs/en/build-with-claude/structured-outputs, "JSON Schema
 * limitations"). Null when the body has no such schema, or a closed one.
 */
export function anthropicSchemaRefusal(body: any): Response | null {
  const schemas: Array<[string, any]> = [['output_config.format.schema', body?.output_config?.format?.schema]];
  (body?.tools ?? []).forEach((t: any, i: number) => { if (t?.strict === true) schemas.push([`tools.${i}.custom.input_schema`, t.input_schema]); });
  for (const [at, schema] of schemas) {
    if (schema === undefined) continue;
    const problem = hasOpenObject(schema) ? "For 'object' type, 'additionalProperties' must be explicitly set to false" : unsupportedKeyword(schema);
    if (problem) {
      return Response.json({ type: 'error', error: { type: 'invalid_request_error', message: `${at}: ${problem}` }, request_id: 'req_011CWkB65DcNzK2MiofhXx8c' }, { status: 400 });
    }
  }
  return null;
}

/** Constraints Anthropic's constrained decoding does not compile, by type (its 400: "For 'integer' type, property 'minimum' is not supported"). */
const UNSUPPORTED: Record<string, string[]> = {
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  string: ['minLength', 'maxLength'],
  array: ['maxItems', 'uniqueItems'],
};

function unsupportedKeyword(node: any): string | null {
  if (node === null || typeof node !== 'object') return null;
  if (Array.isArray(node)) {
    for (const n of node) { const p = unsupportedKeyword(n); if (p) return p; }
    return null;
  }
  for (const type of Array.isArray(node.type) ? node.type : [node.type]) {
    for (const k of UNSUPPORTED[type] ?? []) if (k in node) return `For '${type}' type, property '${k}' is not supported`;
    if (type === 'array' && typeof node.minItems === 'number' && node.minItems > 1) return "For 'array' type, 'minItems' values other than 0 or 1 are not supported";
  }
  // "JSON Schema limitations", not supported: complex types within enums (strings, numbers, bools and nulls only)
  const literals = [...(Array.isArray(node.enum) ? node.enum : []), ...('const' in node ? [node.const] : [])];
  if (literals.some((x) => x !== null && typeof x === 'object')) return 'enum and const values must be strings, numbers, booleans or null';
  for (const v of Object.values(node)) { const p = unsupportedKeyword(v); if (p) return p; }
  return null;
}

function hasOpenObject(node: any): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some(hasOpenObject);
  const isObject = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object'));
  if (isObject && node.additionalProperties !== false) return true;
  return Object.values(node).some(hasOpenObject);
}

/** Anthropic's pattern for a `tool_use` block's id and a `tool_result` block's `tool_use_id`. */
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * Anthropic's 400 for the first `tool_use` id or `tool_result` `tool_use_id` outside `^[a-zA-Z0-9_-]+$`, in its words
 * ("messages.92.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'", BlockRunAI/ClawRouter#17);
 * null when there is none.
 */
export function anthropicToolIdRefusal(body: any): Response | null {
  const messages: any[] = body?.messages ?? [];
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i]?.content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) {
      const b = content[j];
      const at = b?.type === 'tool_use' && !TOOL_ID.test(b.id) ? 'tool_use.id' : b?.type === 'tool_result' && !TOOL_ID.test(b.tool_use_id) ? 'tool_result.tool_use_id' : null;
      if (at) return Response.json({ type: 'error', error: { type: 'invalid_request_error', message: `messages.${i}.content.${j}.${at}: String should match pattern '^[a-zA-Z0-9_-]+$'` }, request_id: 'req_011CXzyBavZTx2LemQWEXiSt' }, { status: 400 });
    }
  }
  return null;
}
