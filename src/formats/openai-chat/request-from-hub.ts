/**
 * @module formats/openai-chat/request-from-hub
 * Upstream role, request side: an Anthropic Messages request (the hub) → a Chat Completions request.
 *
 * The body is built from the fields we understand, never copied from the hub: Anthropic-only fields
 * (`thinking`, `output_config`, `metadata`, `context_management`, `cache_control`, `defer_loading`, …)
 * must not reach an OpenAI-compatible provider, which would reject or misread them. What cannot be carried
 * across is either an error naming its path (content that would otherwise silently vanish) or an entry in
 * `ctx.dropped` (a request option the provider cannot honour). Decisions:
 * - text-only content is sent as one string (blocks joined by a blank line), the form every provider takes;
 *   content parts are used only when there is an image or a file;
 * - `tool_result` blocks become `role: "tool"` messages placed before the rest of their user turn, because
 *   tool messages must directly follow the assistant message that made the calls;
 * - thinking `budget_tokens` → effort: < 4096 low, < 16384 medium, else high (`BUDGET_EFFORT`);
 *   `thinking: {type: "disabled"}` sends the provider's explicit off switch where it has one, else nothing.
 * Quirk by quirk (formats/openai-chat/quirks.ts), provider presets live in channels/openai/presets.ts.
 */
import { realString } from '../../util/json-skeleton.ts';
import { GatewayError, invalidRequest } from '../../errors.ts';
import { globMatch } from '../../util/glob.ts';
import { assertNever } from '../../util/never.ts';
import type {
  DocumentBlockParam, ImageBlockParam, MessageCreateParams, MessageParam, OtherBlockParam,
  TextBlockParam, Tool, ToolChoice, ToolResultBlockParam,
} from '../../hub/types.ts';
import type { TranslateContext } from '../types.ts';
import type { ChatQuirks } from './quirks.ts';
import { reasoningKeptIn } from './response-to-hub.ts';
import { appendCarried, detailsInSignature } from './reasoning-details.ts';
import { SKIP_THOUGHT_SIGNATURE, readSignedToolId } from './thought-signature.ts';
import { readClientToolId } from './foreign-tool-id.ts';
import { toolNameUp, upstreamToolName } from './tool-names.ts';
import type {
  ChatCompletionAssistantMessageParam, ChatCompletionContentPart, ChatCompletionCreateParams,
  ChatCompletionMessageParam, ChatCompletionMessageToolCall, ChatCompletionTool, ChatCompletionToolChoiceOption,
  ChatCompletionToolMessageParam, ChatCompletionUserMessageParam, ReasoningDetail, ReasoningEffort,
} from './types.ts';

/** Thinking budget → effort thresholds (exclusive upper bounds). Claude Code's 31999 reads as `high`. */
export const BUDGET_EFFORT: ReadonlyArray<readonly [number, ReasoningEffort]> = [[4096, 'low'], [16384, 'medium']];

/** Effort levels from least to most; provider lists are compared by this order. */
const EFFORT_RANK: readonly string[] = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'];

/** OpenAI-style fields some clients send to /v1/messages; forwarded unchanged. */
const PASSTHROUGH_FIELDS = ['n', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'response_format', 'seed'] as const;

/** Top-level hub fields read by this converter. */
const HANDLED_FIELDS = new Set<string>([
  'model', 'messages', 'max_tokens', 'system', 'tools', 'tool_choice', 'thinking', 'output_config',
  'stop_sequences', 'stop', 'temperature', 'top_p', 'top_k', 'metadata', 'user', 'stream', 'output_format', ...PASSTHROUGH_FIELDS,
]);

/**
 * Anthropic fields dropped without a note because dropping them changes nothing the client can observe:
 * `context_management` edits history server-side (the provider simply sees the full history),
 * `service_tier`/`inference_geo` pick Anthropic capacity, top-level `cache_control` asks for automatic
 * prompt caching (OpenAI-compatible caching is automatic), `anthropic_*` are Bedrock/Vertex envelope fields.
 * Any other unknown field is dropped and reported in ctx.dropped.
 */
const SILENT_FIELDS = new Set<string>([
  'context_management', 'service_tier', 'inference_geo', 'cache_control', 'anthropic_version', 'anthropic_beta',
]);

export function hubRequestToChat(hub: MessageCreateParams, ctx: TranslateContext, quirks: ChatQuirks): ChatCompletionCreateParams {
  const body: ChatCompletionCreateParams = { model: ctx.upstreamModel, messages: messagesFromHub(hub, ctx, quirks) };

  const maxTokens = clampMaxTokens(hub.max_tokens, ctx.upstreamModel, quirks, ctx.maxTokensCap);
  if (maxTokens !== undefined) body[quirks.max_tokens_field] = ctx.maxTokensSent = maxTokens;

  if (typeof hub.temperature === 'number' || typeof hub.top_p === 'number') applySampling(body, hub, ctx, quirks);
  if (typeof hub.top_k === 'number') {
    if (hub.top_k < 0) throw invalidRequest('Input should be greater than or equal to 0', 'top_k');
    if (quirks.top_k) body.top_k = hub.top_k;
    else noteDropped(ctx, 'top_k');
  }

  if (Array.isArray(hub.stop_sequences) && hub.stop_sequences.length > 0) {
    // an OpenAI-style `stop` beside them (a client sending both) stops the answer too: one list, not one left out
    const withStop = hub.stop !== undefined && hub.stop !== null;
    // Anthropic refuses a stop sequence with nothing but whitespace in it; an OpenAI-compatible provider would stop
    // at the first line break (or never, for "")
    for (let i = 0; i < hub.stop_sequences.length; i++) {
      if (hub.stop_sequences[i]!.trim() === '') throw invalidRequest('a stop sequence must contain non-whitespace characters', `stop_sequences.${i}`);
    }
    const all = withStop ? stopsWith(hub.stop_sequences, hub.stop) : [...hub.stop_sequences];
    // more than the provider takes would be refused by it, and fewer would change the answer
    const most = quirks.max_stop_sequences;
    if (most > 0 && all.length > most) throw invalidRequest(`this provider takes at most ${most} stop sequences (got ${all.length}${withStop ? ', with stop' : ''})`, 'stop_sequences');
    body.stop = all;
  }
  else if (hub.stop !== undefined && hub.stop !== null) body.stop = hub.stop as string | string[];

  applyTools(body, hub, ctx, quirks);
  // a client that knows the server's template variables (vLLM, SGLang, llama.cpp) may send its own; the thinking switch
  // joins them (applyReasoning)
  if (quirks.reasoning === 'chat_template_kwargs' && hub.chat_template_kwargs !== undefined && hub.chat_template_kwargs !== null) {
    if (!isRecord(hub.chat_template_kwargs)) throw invalidRequest('must be an object of chat template variables', 'chat_template_kwargs');
    body.chat_template_kwargs = { ...hub.chat_template_kwargs };
  }
  applyReasoning(body, hub, ctx, quirks, maxTokens);

  const user = typeof hub.user === 'string' ? hub.user : hub.metadata?.user_id;
  if (typeof user === 'string' && user !== '' && quirks.user_max_length > 0) body.user = fitUser(user, quirks.user_max_length);

  if (hub.stream === true) {
    body.stream = true;
    if (quirks.stream_usage) body.stream_options = { include_usage: true };
  }

  for (const k of PASSTHROUGH_FIELDS) if (hub[k] !== undefined && hub[k] !== null) (body as Record<string, unknown>)[k] = hub[k];
  // `output_format`: the structured-outputs beta's first shape, still sent by clients that predate `output_config.format`
  const fromConfig = hub.output_config?.format;
  const format = fromConfig ?? hub.output_format;
  if (format !== undefined && format !== null) {
    const name = fromConfig !== undefined && fromConfig !== null ? 'output_config.format' : 'output_format';
    if (body.response_format !== undefined) noteDropped(ctx, `${name} (response_format given)`);
    else if (isRecord(format) && format.type === 'json_schema' && isRecord(format.schema)) {
      const schema = cleanSchema(format.schema, quirks.schema);
      if (quirks.json_schema) {
        body.response_format = { type: 'json_schema', json_schema: { name: 'output', schema } };
        // Anthropic's structured outputs always hold to the schema; OpenAI's `strict` refuses schemas Anthropic takes
        // (optional properties), as for a tool's, so it is not sent, and the client is told the guarantee is gone
        noteDropped(ctx, `${name} (sent without strict: schema-valid output is not guaranteed)`);
      } else {
        // JSON mode, which holds the answer to JSON but to no schema: the schema goes where the model reads it
        body.response_format = { type: 'json_object' };
        appendSystem(body.messages, `${JSON_SCHEMA_INSTRUCTION}\n${JSON.stringify(schema)}`);
        noteDropped(ctx, `${name} (sent as JSON mode with the schema in the system prompt: schema-valid output is not guaranteed)`);
      }
    } else noteDropped(ctx, `${name} (type ${JSON.stringify(isRecord(format) ? format.type : format)?.slice(0, 40)} cannot be sent)`);
  }

  // output_config's effort and format are read above and in the reasoning; a newer key (a task budget…) is reported
  if (isRecord(hub.output_config)) for (const k in hub.output_config) if (k !== 'effort' && k !== 'format') noteDropped(ctx, `output_config.${k}`);
  for (const k of Object.keys(hub)) {
    if (!HANDLED_FIELDS.has(k) && !SILENT_FIELDS.has(k) && hub[k] !== undefined) {
      if (k === 'chat_template_kwargs' && quirks.reasoning === 'chat_template_kwargs') continue; // carried, above
      if (k === 'thread' && hub.thread !== null) throw threadUnsupported();
      noteDropped(ctx, k);
    }
  }
  return body;
}

/** Asks for an answer in the schema where the provider has JSON mode only (`quirks.json_schema: false`). */
const JSON_SCHEMA_INSTRUCTION = 'Respond with a single valid JSON object and nothing else (no text or Markdown code fences before or after it), matching this JSON schema:';

/** Text added to the leading system message, or as one when there is none. */
function appendSystem(messages: ChatCompletionMessageParam[], text: string) {
  const first = messages[0];
  if (first?.role !== 'system') messages.unshift({ role: 'system', content: text });
  else if (typeof first.content === 'string') first.content = first.content ? `${first.content}\n\n${text}` : text;
  else first.content = [...first.content, { type: 'text', text }];
}

/**
 * A message thread (`thread: {type: "create" | "continue"}`, the Anthropic SDK's tool runner sends one by default) is
 * a conversation Anthropic's API holds between turns: a `continue` sends only the new messages, without `system` or
 * `tools`. No OpenAI-compatible provider holds one, so the provider would get a conversation with its start cut off.
 * Anthropic's own refusal, `thread_unsupported_request`, makes the SDK send the turn again as a whole conversation.
 */
function threadUnsupported(): GatewayError {
  return new GatewayError(400, 'invalid_request_error', 'thread: message threads are held by Anthropic\'s API only, and this model is served by a channel that cannot hold one; send the full conversation without `thread`', {
    param: 'thread', details: { error_code: 'thread_unsupported_request' },
  });
}

// ---------- messages ----------

function messagesFromHub(hub: MessageCreateParams, ctx: TranslateContext, quirks: ChatQuirks): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  const system = systemText(hub.system, 'system');
  if (system) out.push({ role: 'system', content: system });
  const toolIds = new ToolIdMap(quirks.tool_call_id, quirks.thought_signatures === 'keep');

  if (!Array.isArray(hub.messages)) throw invalidRequest('must be an array', 'messages');
  // Anthropic's 400; an OpenAI-compatible provider would answer the system prompt alone
  if (hub.messages.length === 0) throw invalidRequest('at least one message is required', 'messages');
  // consecutive turns of one role are one turn to Anthropic (it joins them): joined here too, or an assistant turn's
  // tool calls would be followed by another assistant message instead of their tool messages
  let previous = '';
  hub.messages.forEach((m, i) => {
    const path = `messages.${i}`;
    const role = (m as { role: string }).role;
    switch (role) {
      case 'user': {
        const turn = userTurn(m, path, ctx, quirks, toolIds);
        const last = out.at(-1);
        if (previous === 'user' && last?.role === 'user' && turn.length > 0) {
          // the earlier turn's text after this turn's tool messages, joined with this turn's own
          out.pop();
          const text = turn.at(-1)?.role === 'user' ? (turn.pop() as ChatCompletionUserMessageParam) : undefined;
          out.push(...turn, text ? { role: 'user', content: joinContent(last.content, text.content) } : last);
        } else out.push(...turn);
        break;
      }
      case 'assistant': {
        const a = assistantTurn(m, path, ctx, quirks, toolIds);
        const last = out.at(-1);
        if (a && previous === 'assistant' && last?.role === 'assistant') out[out.length - 1] = joinAssistant(last, a);
        else if (a) out.push(a);
        break;
      }
      case 'system': case 'developer': laterSystem(out, systemText(m.content as string | TextBlockParam[], `${path}.content`), quirks); break;
      default: throw invalidRequest(`role "${role}" cannot be sent to an OpenAI-compatible provider`, `${path}.role`);
    }
    previous = role;
  });
  if (quirks.user_after_tool !== 'keep') separateUserFromTools(out, quirks.user_after_tool);
  if (quirks.assistant_prefix && previous === 'assistant') {
    // a prefill: Mistral continues the last message only when it says so, and refuses it otherwise
    const last = out.at(-1);
    if (last?.role === 'assistant' && !last.tool_calls) last.prefix = true;
  }
  if (toolIds.signatures) signFirstCalls(out);
  ctx.historyToolIds = toolIds.calls;
  return out;
}

/**
 * Gemini 3 refuses a function call in the history without a thought signature: the first call of each assistant turn
 * that carries none (a conversation begun on another model, or a client that rewrote the ids) gets the dummy Google
 * documents for such histories; a parallel call after the first carries none, as Gemini gives it
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). After turns are joined, so that it is one per turn.
 */
function signFirstCalls(out: ChatCompletionMessageParam[]): void {
  for (const m of out) {
    const first = m.role === 'assistant' ? m.tool_calls?.[0] : undefined;
    if (first && first.extra_content === undefined) first.extra_content = { google: { thought_signature: SKIP_THOUGHT_SIGNATURE } };
  }
}

/** What a bridging assistant message says (quirks.user_after_tool): the model reads it as its own words. */
export const TOOL_BRIDGE_TEXT = 'Tool results received.';

/**
 * No user message straight after a tool message (quirks.user_after_tool): Mistral lets only an assistant or tool
 * message follow one ("Unexpected role 'user' after role 'tool'"). Such a user message comes from a turn that held
 * tool results and more (Claude Code's `<system-reminder>` text, images a tool message cannot carry), or from later
 * system text sent as user text. `fold`: a text-only one joins the last tool message, so the conversation ends in the
 * tool results as the Anthropic turn did and nothing is put in the model's mouth; otherwise (`bridge`, or an image or
 * file) a short assistant message goes between (not an empty one: mistral-common's validator refuses an assistant
 * message with neither content nor tool calls before its V5).
 */
function separateUserFromTools(out: ChatCompletionMessageParam[], mode: 'fold' | 'bridge'): void {
  for (let i = 1; i < out.length; i++) {
    const tool = out[i - 1]!;
    const user = out[i]!;
    if (user.role !== 'user' || tool.role !== 'tool') continue;
    const text = mode === 'fold' ? textOnly(user.content) : undefined;
    if (text === undefined) {
      out.splice(i, 0, { role: 'assistant', content: TOOL_BRIDGE_TEXT });
      i++;
    } else {
      if (typeof tool.content === 'string') tool.content = tool.content ? `${tool.content}\n\n${text}` : text;
      else tool.content = [...tool.content, { type: 'text', text }];
      out.splice(i, 1);
      i--; // the tool message may be followed by another user message (later system text)
    }
  }
}

/** A user message's content as one text, or undefined when it holds an image or a file. */
function textOnly(content: ChatCompletionUserMessageParam['content']): string | undefined {
  if (typeof content === 'string') return content;
  if (!content.every((p) => p.type === 'text')) return undefined;
  return content.map((p) => (p as { text: string }).text).join('\n\n');
}

/** Two user messages' content as one: texts joined, or their parts one after the other. */
function joinContent(a: ChatCompletionUserMessageParam['content'], b: ChatCompletionUserMessageParam['content']): ChatCompletionUserMessageParam['content'] {
  if (typeof a === 'string' && typeof b === 'string') return `${a}\n\n${b}`;
  const parts = (c: typeof a): ChatCompletionContentPart[] => (typeof c === 'string' ? [{ type: 'text', text: c }] : c);
  return [...parts(a), ...parts(b)];
}

/** Two assistant messages as one: texts and reasoning joined, tool calls one after the other. */
function joinAssistant(a: ChatCompletionAssistantMessageParam, b: ChatCompletionAssistantMessageParam): ChatCompletionAssistantMessageParam {
  const texts = [a.content, b.content].filter((t): t is string => typeof t === 'string' && t !== '');
  const calls = [...(a.tool_calls ?? []), ...(b.tool_calls ?? [])];
  const msg: ChatCompletionAssistantMessageParam = { role: 'assistant', content: texts.length > 0 ? texts.join('\n\n') : calls.length > 0 ? null : '' };
  if (calls.length > 0) msg.tool_calls = calls;
  if (a.reasoning_content !== undefined || b.reasoning_content !== undefined) msg.reasoning_content = [a.reasoning_content, b.reasoning_content].filter((r) => r).join('\n\n');
  if (a.reasoning_details !== undefined || b.reasoning_details !== undefined) {
    const details = [...(a.reasoning_details ?? [])];
    appendCarried(details, b.reasoning_details ?? []);
    msg.reasoning_details = details;
  }
  return msg;
}

/**
 * System content that arrives inside `messages` (from a lenient client or a translated Chat request).
 * Before any turn it joins the leading system message; later, it stays a system message only where the
 * provider takes one mid-conversation (quirks.system_anywhere), else it is sent as user text.
 */
function laterSystem(out: ChatCompletionMessageParam[], text: string, quirks: ChatQuirks): void {
  if (!text) return;
  if (out.every((m) => m.role === 'system')) {
    const first = out[0];
    if (first?.role === 'system' && typeof first.content === 'string') first.content = `${first.content}\n\n${text}`;
    else out.unshift({ role: 'system', content: text });
    return;
  }
  out.push(quirks.system_anywhere ? { role: 'system', content: text } : { role: 'user', content: text });
}

function systemText(system: string | TextBlockParam[] | undefined, path: string): string {
  if (system === undefined || system === null) return '';
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) throw invalidRequest('must be a string or an array of text blocks', path);
  const texts: string[] = [];
  system.forEach((b, i) => {
    if (b?.type !== 'text') throw unsupportedBlock(b, `${path}.${i}`);
    if (textOf(b, `${path}.${i}`) !== '') texts.push(b.text);
  });
  return texts.join('\n\n');
}

function userTurn(m: MessageParam, path: string, ctx: TranslateContext, quirks: ChatQuirks, toolIds: ToolIdMap): ChatCompletionMessageParam[] {
  if (typeof m.content === 'string') return m.content === '' ? [] : [{ role: 'user', content: m.content }];
  if (!Array.isArray(m.content)) throw invalidRequest('must be a string or an array of content blocks', `${path}.content`);
  const tools: ChatCompletionToolMessageParam[] = [];
  const moved: ChatCompletionContentPart[] = []; // tool-result images/files the tool message cannot carry
  const parts: ChatCompletionContentPart[] = [];
  m.content.forEach((b, j) => {
    const p = `${path}.content.${j}`;
    if (b?.type === 'tool_result') tools.push(toolMessage(b as ToolResultBlockParam, p, moved, ctx, quirks, toolIds));
    else parts.push(...userParts(b, p, ctx, quirks));
  });
  const out: ChatCompletionMessageParam[] = [...tools];
  const rest = [...moved, ...parts];
  if (rest.length > 0) out.push({ role: 'user', content: simplify(rest) });
  return out;
}

function userParts(b: OtherBlockParam, p: string, ctx: TranslateContext, quirks: ChatQuirks): ChatCompletionContentPart[] {
  switch (b?.type) {
    case 'text': return textPart(textOf(b as TextBlockParam, p));
    case 'image': return [imagePart(b as ImageBlockParam, p)];
    case 'document': return documentParts(b as DocumentBlockParam, p, ctx, quirks);
    case 'search_result': noteCitations(b, p, ctx); return textPart(searchResultText(b, p));
    default: throw unsupportedBlock(b, p);
  }
}

function assistantTurn(m: MessageParam, path: string, ctx: TranslateContext, quirks: ChatQuirks, toolIds: ToolIdMap): ChatCompletionAssistantMessageParam | undefined {
  if (typeof m.content === 'string') return m.content === '' ? undefined : { role: 'assistant', content: m.content };
  if (!Array.isArray(m.content)) throw invalidRequest('must be a string or an array of content blocks', `${path}.content`);
  const texts: string[] = [];
  const calls: ChatCompletionMessageToolCall[] = [];
  const reasoning: string[] = [];
  let details: ReasoningDetail[] | undefined;
  m.content.forEach((b, j) => {
    const p = `${path}.content.${j}`;
    switch (b?.type) {
      case 'text': { const t = textOf(b as TextBlockParam, p); if (t !== '') texts.push(t); break; }
      case 'tool_use': {
        const { id, name, input } = b as { id: unknown; name: unknown; input: unknown };
        if (typeof id !== 'string') throw invalidRequest('must be a string', `${p}.id`);
        if (typeof name !== 'string') throw invalidRequest('must be a string', `${p}.name`);
        // the arguments of a function call are a JSON object; Anthropic refuses any other input too
        if (input !== undefined && input !== null && !isRecord(input)) throw invalidRequest('must be an object', `${p}.input`);
        // under the name its tool is offered by (tool-names.ts: one the provider would refuse goes as an alias)
        const call: ChatCompletionMessageToolCall = { id: toolIds.call(id), type: 'function', function: { name: toolNameUp(name, ctx), arguments: JSON.stringify(input ?? {}) } };
        if (toolIds.signatures) {
          // the signature the provider gave this call, carried in its id (quirks.thought_signatures)
          const signature = toolIds.signatureOf(id);
          if (signature) call.extra_content = { google: { thought_signature: signature } };
        }
        calls.push(call);
        break;
      }
      case 'thinking': {
        if (quirks.reasoning_details === 'keep') {
          // OpenRouter's reasoning_details of this turn, carried in the signature (reasoning-details.ts)
          const signature = (b as { signature?: unknown }).signature;
          const carried = typeof signature === 'string' ? detailsInSignature(realString(signature)) : null;
          if (carried) appendCarried((details ??= []), carried);
        }
        if (!quirks.reasoning_content_in_history) break;
        // its text, or (shown to the client as omitted) the text its signature carries (response-to-hub: keptReasoning)
        const { thinking: t, signature } = b as { thinking?: unknown; signature?: unknown };
        const text = typeof t === 'string' && t !== '' ? t : reasoningKeptIn(signature);
        if (text) reasoning.push(text);
        break;
      }
      case 'redacted_thinking': break; // encrypted for Anthropic only: no other provider can read it
      default: throw unsupportedBlock(b, p);
    }
  });
  if (texts.length === 0 && calls.length === 0 && reasoning.length === 0 && details === undefined) return undefined;
  const msg: ChatCompletionAssistantMessageParam = { role: 'assistant', content: texts.length > 0 ? texts.join('\n\n') : null };
  if (calls.length > 0) msg.tool_calls = calls;
  // OpenRouter: "exactly as received" (quirks.reasoning_details)
  if (details !== undefined) msg.reasoning_details = details;
  // DeepSeek thinking mode rejects a tool-calling assistant turn without reasoning_content
  if (quirks.reasoning_content_in_history && (reasoning.length > 0 || calls.length > 0)) msg.reasoning_content = reasoning.join('\n\n');
  if (msg.content === null && calls.length === 0) msg.content = '';
  return msg;
}

function toolMessage(
  b: ToolResultBlockParam, p: string, moved: ChatCompletionContentPart[], ctx: TranslateContext, quirks: ChatQuirks, toolIds: ToolIdMap,
): ChatCompletionToolMessageParam {
  if (typeof b.tool_use_id !== 'string') throw invalidRequest('must be a string', `${p}.tool_use_id`);
  const texts: string[] = [];
  const media: ChatCompletionContentPart[] = [];
  const keepMedia = (part: ChatCompletionContentPart, what: string) => {
    if (quirks.tool_result_images && part.type === 'image_url') { media.push(part); return; }
    // tool messages take text only: the media goes in the user message that follows the tool messages
    texts.push(`[${what} attached in the next user message]`);
    // named by the id the provider has for the call (its own, not the client's tid_/tsig_ one; Mistral's mapped)
    moved.push({ type: 'text', text: `[${what} from the result of tool call ${toolIds.map(b.tool_use_id)}]` }, part);
  };
  const content = b.content;
  if (typeof content === 'string') { if (content !== '') texts.push(content); }
  else if (Array.isArray(content)) {
    content.forEach((c, k) => {
      const cp = `${p}.content.${k}`;
      switch (c?.type) {
        case 'text': { const t = textOf(c as TextBlockParam, cp); if (t !== '') texts.push(t); break; }
        case 'image': keepMedia(imagePart(c as ImageBlockParam, cp), 'image'); break;
        case 'document':
          for (const part of documentParts(c as DocumentBlockParam, cp, ctx, quirks)) {
            if (part.type === 'text') texts.push(part.text);
            else keepMedia(part, part.type === 'file' ? 'document' : 'image');
          }
          break;
        case 'search_result': noteCitations(c, cp, ctx); texts.push(searchResultText(c, cp)); break;
        // tool search (Claude Code's ToolSearch): on Anthropic's API the reference loads the named deferred tool;
        // here that tool is offered as a function (applyTools) and the model is told so
        case 'tool_reference':
          if (typeof c.tool_name !== 'string' || !c.tool_name) throw invalidRequest('must be a non-empty string', `${cp}.tool_name`);
          texts.push(`Tool ${toolNameUp(c.tool_name, ctx)} is now available to call.`);
          break;
        default: throw unsupportedBlock(c, cp);
      }
    });
  } else if (content !== undefined && content !== null) throw invalidRequest('must be a string or an array of content blocks', `${p}.content`);

  let text = texts.join('\n\n');
  // a tool message has no error flag: the text says so, unless it already does (the SDK's tool runner writes a thrown
  // error as `Error: <message>`)
  if (b.is_error === true && !text.startsWith('Error')) text = text ? `Error: ${text}` : 'Error';
  const out: ChatCompletionToolMessageParam = { role: 'tool', tool_call_id: toolIds.map(b.tool_use_id), content: text };
  if (media.length > 0) out.content = [...(text ? [{ type: 'text' as const, text }] : []), ...media];
  return out;
}

// ---------- content parts ----------

/**
 * A text block's text: a block without a string one is the client's 400, naming it, as Anthropic's own (it was left
 * out without a word). An empty one is left out by the callers, as before.
 */
function textOf(b: TextBlockParam, p: string): string {
  if (typeof b.text !== 'string') throw invalidRequest('must be a string', `${p}.text`);
  return b.text;
}

function textPart(text: unknown): ChatCompletionContentPart[] {
  return typeof text === 'string' && text !== '' ? [{ type: 'text', text }] : [];
}

/** The image types an image block may hold (Anthropic's `source.media_type`; OpenAI takes the same four). */
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function imagePart(b: ImageBlockParam, p: string): ChatCompletionContentPart {
  const src = b.source as Record<string, unknown> | undefined;
  switch (src?.type) {
    case 'base64': {
      // Anthropic's four types, and OpenAI's (a BMP or an SVG would be refused by either, naming a path of the
      // translated body): the client's 400, naming its own field, as Anthropic words it
      const mediaType = sourceString(src, 'media_type', p);
      if (!IMAGE_TYPES.has(mediaType)) throw invalidRequest("Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", `${p}.source.media_type`);
      return { type: 'image_url', image_url: { url: `data:${mediaType};base64,${sourceString(src, 'data', p)}` } };
    }
    case 'url':
      return { type: 'image_url', image_url: { url: sourceString(src, 'url', p) } };
    default:
      throw invalidRequest(`image source type "${String(src?.type)}" cannot be sent to an OpenAI-compatible provider`, `${p}.source.type`);
  }
}

function documentParts(b: DocumentBlockParam, p: string, ctx: TranslateContext, quirks: ChatQuirks): ChatCompletionContentPart[] {
  noteCitations(b, p, ctx);
  const src = b.source as Record<string, unknown> | undefined;
  const title = typeof b.title === 'string' && b.title ? b.title : undefined;
  const header = [title, typeof b.context === 'string' && b.context ? b.context : undefined].filter(Boolean).join('\n');
  const withHeader = (text: string) => (header ? `${header}\n\n${text}` : text);
  switch (src?.type) {
    case 'text':
      return textPart(withHeader(sourceString(src, 'data', p)));
    case 'content': {
      if (typeof src.content === 'string') return textPart(withHeader(src.content));
      if (!Array.isArray(src.content)) throw invalidRequest('must be a string or an array of content blocks', `${p}.source.content`);
      const parts = src.content.flatMap((c: OtherBlockParam, k: number): ChatCompletionContentPart[] => {
        if (c?.type === 'text') return textPart(textOf(c as TextBlockParam, `${p}.source.content.${k}`));
        if (c?.type === 'image') return [imagePart(c as ImageBlockParam, `${p}.source.content.${k}`)];
        throw unsupportedBlock(c, `${p}.source.content.${k}`);
      });
      return header ? [{ type: 'text', text: header }, ...parts] : parts;
    }
    case 'base64': {
      const mediaType = String(src.media_type ?? '');
      const data = sourceString(src, 'data', p);
      if (mediaType === 'application/pdf') {
        if (quirks.pdf) return [{ type: 'file', file: { filename: pdfName(title), file_data: `data:application/pdf;base64,${data}` } }];
        noteDropped(ctx, `${p} (PDF document: the provider takes no PDF input)`);
        return [{ type: 'text', text: `[PDF document${title ? ` "${title}"` : ''} omitted: this provider does not accept PDF input]` }];
      }
      if (mediaType.startsWith('text/')) return textPart(withHeader(Buffer.from(realString(data), 'base64').toString('utf8')));
      throw invalidRequest(`document media type "${mediaType}" cannot be sent to an OpenAI-compatible provider`, `${p}.source.media_type`);
    }
    case 'url': {
      // the gateway does not fetch on the client's behalf: the model is told where the document is
      const url = sourceString(src, 'url', p);
      noteDropped(ctx, `${p} (document URL: the provider cannot fetch it)`);
      return [{ type: 'text', text: `[Document${title ? ` "${title}"` : ''} at ${url}: not attached, this provider cannot fetch documents]` }];
    }
    default:
      throw invalidRequest(`document source type "${String(src?.type)}" cannot be sent to an OpenAI-compatible provider`, `${p}.source.type`);
  }
}

/**
 * `stop_sequences` and an OpenAI-style `stop` sent beside them, as one list without repeats. A function of its own,
 * called only when both are there: the common request (stop_sequences alone) copies its list and builds no Set.
 */
function stopsWith(sequences: string[], stop: unknown): string[] {
  return [...new Set([...sequences, ...(Array.isArray(stop) ? stop as string[] : [stop as string])])];
}

/**
 * A source's `data`, `media_type` or `url`: without a string one the block is the client's 400, naming it, as
 * Anthropic's own (a PDF went as an empty file, a text document vanished, a URL was sent as "undefined").
 */
function sourceString(src: Record<string, unknown>, key: string, p: string): string {
  const value = src[key];
  if (typeof value !== 'string') throw invalidRequest('must be a string', `${p}.source.${key}`);
  if (value === '' && key !== 'data') throw invalidRequest('must not be empty', `${p}.source.${key}`);
  return value;
}

/**
 * `citations: {enabled: true}` on a document or search result asks for text blocks that cite it: no OpenAI-compatible
 * provider answers with citations, so the answer comes without them, and the client is told.
 */
function noteCitations(b: OtherBlockParam, p: string, ctx: TranslateContext): void {
  if (isRecord(b.citations) && b.citations.enabled === true) noteDropped(ctx, `${p}.citations (the provider answers without citations)`);
}

function pdfName(title: string | undefined): string {
  if (!title) return 'document.pdf';
  return /\.pdf$/i.test(title) ? title : `${title}.pdf`;
}

/** A `search_result` block (RAG citations input) as plain text: title, source, then its text blocks. */
function searchResultText(b: OtherBlockParam, p: string): string {
  if (!Array.isArray(b.content)) throw invalidRequest('must be an array of text blocks', `${p}.content`);
  const body = b.content.map((c: OtherBlockParam, k: number) => {
    if (c?.type !== 'text') throw unsupportedBlock(c, `${p}.content.${k}`);
    return textOf(c as TextBlockParam, `${p}.content.${k}`);
  }).filter(Boolean).join('\n\n');
  return [b.title, b.source].filter((x) => typeof x === 'string' && x).join('\n') + (body ? `\n\n${body}` : '');
}

/** One string when every part is text (the widest-supported form), else the parts. */
function simplify(parts: ChatCompletionContentPart[]): string | ChatCompletionContentPart[] {
  if (parts.every((x) => x.type === 'text')) return parts.map((x) => (x as { text: string }).text).join('\n\n');
  return parts;
}

function unsupportedBlock(b: unknown, p: string) {
  const type = isRecord(b) && typeof b.type === 'string' ? b.type : String(isRecord(b) ? b.type : b);
  return invalidRequest(`block type "${type}" cannot be sent to an OpenAI-compatible provider`, `${p}.type`);
}

/**
 * Tool-call ids as the provider accepts them (quirks.tool_call_id); the same id always maps the same way. With
 * `signatures` (quirks.thought_signatures), an id that carries a thought signature (thought-signature.ts) is first
 * read back into the provider's own id, in `tool_calls` and `tool_call_id` alike; and an id that carries one Anthropic
 * would refuse (foreign-tool-id.ts: Kimi's `functions.Read:0`) is read back into it, whatever the channel, so the
 * provider gets exactly the ids it gave (and a history goes as it did before the client was given them so).
 */
class ToolIdMap {
  private readonly cache = new Map<string, string>();
  /** The ids of the history's calls, a carried signature left out (TranslateContext.historyToolIds). */
  calls: string[] | undefined;
  constructor(private readonly mode: ChatQuirks['tool_call_id'], readonly signatures: boolean) {}
  /** A call's id for the provider, noted among the history's. */
  call(id: string): string {
    const plain = this.plain(id);
    (this.calls ??= []).push(plain);
    return this.mapPlain(plain);
  }
  map(id: string): string {
    return this.mapPlain(this.plain(id));
  }
  private plain(id: string): string {
    const own = this.signatures ? readSignedToolId(realString(id))?.id ?? id : id;
    // the provider's own id where the client was given one within Anthropic's pattern (foreign-tool-id.ts)
    return readClientToolId(own) ?? own;
  }
  private mapPlain(id: string): string {
    if (this.mode === 'keep' || /^[a-zA-Z0-9]{9}$/.test(id)) return id;
    let out = this.cache.get(id);
    if (!out) { out = base62(Bun.SHA256.hash(id) as Uint8Array, 9); this.cache.set(id, out); }
    return out;
  }
  /** The thought signature a client's id carries, or ''. */
  signatureOf(id: string): string {
    return readSignedToolId(realString(id))?.signature ?? '';
  }
}

function base62(bytes: Uint8Array, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[bytes[i]! % 62];
  return s;
}

// ---------- tools ----------

/** A custom tool's keys a translation reads or reports itself (chatToolsFromHub); any other is reported as dropped. */
const TOOL_KEYS = new Set(['name', 'description', 'input_schema', 'type', 'cache_control', 'defer_loading', 'strict', 'input_examples']);

/**
 * Hub tools → Chat Completions function tools (Format.toolsFromHub): what a provider can be given, the name of
 * each, what was left out, and the tools sent under an alias (tool-names.ts: a name the provider would refuse).
 */
export function chatToolsFromHub(hubTools: unknown, quirks: ChatQuirks, loaded?: ReadonlySet<string>): { value: ChatCompletionTool[]; names: string[]; dropped: string[]; renamed?: Map<string, string> } {
  const value: ChatCompletionTool[] = [];
  const dropped: string[] = [];
  let renamed: Map<string, string> | undefined;
  (Array.isArray(hubTools) ? (hubTools as Tool[]) : []).forEach((t, i) => {
    // a toolset has no name of its own: named by its server (mcp_toolset) or its type
    const name = typeof t?.name === 'string' ? t.name : typeof t?.mcp_server_name === 'string' ? t.mcp_server_name : typeof t?.type === 'string' ? t.type : `${i}`;
    if (!isRecord(t?.input_schema)) {
      // a client tool (no type, or `custom`) is made of its schema: without one it is the client's 400, as Anthropic's own
      if (t?.type === undefined || t.type === 'custom') throw invalidRequest('must be an object (the JSON schema of the tool\'s input)', `tools.${i}.input_schema`);
      // Anthropic server tools (web_search_…, code_execution_…) and Anthropic-defined client tools (bash_…)
      dropped.push(`tools.${name} (${String(t?.type ?? 'no input_schema')}: Anthropic-only tool)`);
      return;
    }
    if (t.defer_loading === true && !loaded?.has(name)) {
      // deferred tools are found by tool search first; offering them as callable would defeat that. One a
      // `tool_reference` in the conversation names has been found, and is offered from then on, as Anthropic does
      dropped.push(`tools.${name} (defer_loading)`);
      return;
    }
    // Anthropic's pattern wants one character at least; an empty name would go as an alias the client never wrote
    if (name === '') throw invalidRequest('must be a non-empty string', `tools.${i}.name`);
    const upstreamName = upstreamToolName(name);
    if (upstreamName !== name) (renamed ??= new Map()).set(upstreamName, name);
    const fn: ChatCompletionTool['function'] = { name: upstreamName, parameters: cleanSchema(t.input_schema, quirks.schema) };
    if (typeof t.description === 'string' && t.description) fn.description = t.description;
    // Anthropic's strict tool use guarantees schema-valid input; OpenAI's `strict` refuses schemas Anthropic takes
    // (optional properties), so it is not sent, and the client is told the guarantee is gone
    if (t.strict === true) dropped.push(`tools.${name}.strict (the provider does not guarantee schema-valid input)`);
    if (Array.isArray(t.input_examples) && t.input_examples.length > 0) dropped.push(`tools.${name}.input_examples`);
    // anything else a tool carries (a newer API's `eager_input_streaming`, `allowed_callers`…) has no place in a function
    for (const k in t) if (!TOOL_KEYS.has(k)) dropped.push(`tools.${name}.${k}`);
    value.push({ type: 'function', function: fn });
  });
  return { value, names: value.map((t) => t.function.name), dropped, renamed };
}

function applyTools(body: ChatCompletionCreateParams, hub: MessageCreateParams, ctx: TranslateContext, quirks: ChatQuirks): void {
  // the conversation is searched only when a tool is deferred (Claude Code's are; most clients' never)
  const loaded = hasDeferredTool(hub.tools) ? referencedTools(hub.messages) : NO_NAMES;
  // translated before (pipeline/tools-memo.ts) when hub.tools is the prepared array itself, and no deferred tool
  // of it has been found by tool search (the prepared translation leaves every deferred tool out)
  const prepared = ctx.tools?.upstream && hub.tools === ctx.tools.hub && !loadsDeferred(hub.tools, loaded) ? ctx.tools.upstream : null;
  const own = prepared ? null : chatToolsFromHub(hub.tools, quirks, loaded);
  for (const item of prepared?.dropped ?? own!.dropped) noteDropped(ctx, item);
  const renamed = prepared ? prepared.renamed : own!.renamed;
  if (renamed) for (const [alias, name] of renamed) (ctx.toolNames ??= new Map()).set(alias, name);
  const count = prepared ? prepared.count : own!.value.length;

  const choice = hub.tool_choice;
  if (count === 0) {
    // a forced call with no tool at all in the request is the client's error (Anthropic's 400), not a tool left out
    if (choice && (choice.type === 'any' || choice.type === 'tool') && !(Array.isArray(hub.tools) && hub.tools.length)) {
      throw invalidRequest(`tool_choice type "${choice.type}" requires tools, and the request has none`, 'tool_choice');
    }
    // its type checked even so: a wrong one is the client's 400, as it is where tools are given
    if (choice && !TOOL_CHOICE_TYPES.has(choice.type)) toolChoiceFromHub(choice, new Set());
    if (choice && (choice.type === 'any' || choice.type === 'tool')) noteDropped(ctx, 'tool_choice (no tool left to call)');
    return;
  }
  body.tools = prepared ? (prepared.placeholder as unknown as ChatCompletionTool[]) : own!.value;
  if (!choice) return;
  body.tool_choice = toolChoiceFromHub(choice, prepared ? prepared.names : new Set(own!.names));
  if ('disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true) {
    if (quirks.parallel_tool_calls) body.parallel_tool_calls = false;
    else noteDropped(ctx, 'tool_choice.disable_parallel_tool_use');
  }
}

const NO_NAMES: ReadonlySet<string> = new Set();

function hasDeferredTool(tools: unknown): boolean {
  if (!Array.isArray(tools)) return false;
  for (let i = 0; i < tools.length; i++) if ((tools[i] as Tool | null)?.defer_loading === true) return true;
  return false;
}

/**
 * The tools named by `tool_reference` blocks in the conversation's tool results: the deferred tools tool search
 * found. Indexed loops: a long conversation's blocks are walked without an iterator each.
 */
function referencedTools(messages: unknown): ReadonlySet<string> {
  if (!Array.isArray(messages)) return NO_NAMES;
  let names: Set<string> | null = null;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as MessageParam | null;
    if (m?.role !== 'user' || !Array.isArray(m.content)) continue;
    for (let j = 0; j < m.content.length; j++) {
      const b = m.content[j] as { type?: unknown; content?: unknown } | null;
      if (b?.type !== 'tool_result' || !Array.isArray(b.content)) continue;
      for (let k = 0; k < b.content.length; k++) {
        const c = b.content[k] as { type?: unknown; tool_name?: unknown } | null;
        if (c?.type === 'tool_reference' && typeof c.tool_name === 'string') (names ??= new Set()).add(c.tool_name);
      }
    }
  }
  return names ?? NO_NAMES;
}

function loadsDeferred(tools: unknown, loaded: ReadonlySet<string>): boolean {
  return loaded.size > 0 && Array.isArray(tools) && (tools as Tool[]).some((t) => t?.defer_loading === true && loaded.has(t.name));
}

const TOOL_CHOICE_TYPES: ReadonlySet<string> = new Set(['auto', 'any', 'none', 'tool']);

/** `offered`: the names the tools are sent under (an alias for a name the provider would refuse, tool-names.ts). */
function toolChoiceFromHub(choice: ToolChoice, offered: ReadonlySet<string>): ChatCompletionToolChoiceOption {
  switch (choice.type) {
    case 'auto': return 'auto';
    case 'any': return 'required';
    case 'none': return 'none';
    case 'tool':
      if (typeof choice.name !== 'string' || !choice.name) throw invalidRequest('required: the name of the tool to use', 'tool_choice.name');
      const name = upstreamToolName(choice.name);
      if (!offered.has(name)) throw invalidRequest(`tool "${choice.name}" is not among the tools this provider can be given`, 'tool_choice.name');
      return { type: 'function', function: { name } };
    default: {
      const unknown: never = choice;
      throw invalidRequest(`tool_choice type "${String((unknown as { type?: unknown }).type)}" is not supported`, 'tool_choice.type');
    }
  }
}

/**
 * Tool schema clean-up (quirks.schema). `basic` drops `$schema` (draft-2020-12 markers from Claude Code),
 * which strict validators reject. `strict` rewrites the schema into the subset Gemini's function
 * declarations take (https://ai.google.dev/api/caching#Schema): keyword allowlist, local `$ref`s inlined,
 * `const` → one-value `enum`, `type: [T, "null"]` → `type: T, nullable: true`, `oneOf` → `anyOf`, single
 * `allOf` merged, exclusive bounds → inclusive ones, unsupported `format`s moved into the description.
 * Keys rejected in the wild: `$schema`, `additionalProperties`, `propertyNames`, `const`, `$ref`/`$defs`.
 */
export function cleanSchema(schema: Record<string, unknown>, mode: ChatQuirks['schema']): Record<string, unknown> {
  switch (mode) {
    case 'keep': return schema;
    case 'basic': return dropSchemaKey(schema) as Record<string, unknown>;
    case 'strict': return strictSchema(schema, schemaDefs(schema), new Set());
    default: return assertNever(mode, 'schema mode');
  }
}

/** Keywords whose value is a map of subschemas, a subschema, or a list of subschemas. */
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items'];

/**
 * The schema without `$schema` anywhere, in one pass: nodes on the way to a `$schema` are copied (copied lazily, at
 * the first key that changes), every other node is returned as it is. Claude Code's tools carry one at the top.
 */
function dropSchemaKey(node: unknown): unknown {
  if (!isRecord(node)) return node;
  let out: Record<string, unknown> | null = null;
  for (const k in node) {
    const v = node[k];
    const nv = k === '$schema' ? DROPPED : dropSchemaKeyIn(k, v);
    if (out === null) {
      if (nv === v) continue;
      out = {};
      for (const p in node) { if (p === k) break; out[p] = node[p]; }
    }
    if (nv !== DROPPED) out[k] = nv;
  }
  return out ?? node;
}

const DROPPED = Symbol('dropped');

/** The value of keyword `k` with `$schema` dropped from its subschemas; the same value when none holds one. */
function dropSchemaKeyIn(k: string, v: unknown): unknown {
  if (SCHEMA_MAPS.includes(k) && isRecord(v)) {
    let m: Record<string, unknown> | null = null;
    for (const n in v) {
      const c = dropSchemaKey(v[n]);
      if (c !== v[n]) (m ??= { ...v })[n] = c;
    }
    return m ?? v;
  }
  if (SCHEMA_LISTS.includes(k) && Array.isArray(v)) {
    let list: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const c = dropSchemaKey(v[i]);
      if (c !== v[i]) (list ??= [...v])[i] = c;
    }
    return list ?? v;
  }
  if (SCHEMA_ONE.includes(k)) return dropSchemaKey(v);
  return v;
}

const GEMINI_SCHEMA_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);
const GEMINI_FORMATS: Record<string, string[]> = { string: ['enum', 'date-time'], integer: ['int32', 'int64'], number: ['float', 'double'] };

function schemaDefs(root: Record<string, unknown>): Record<string, unknown> {
  return { ...(isRecord(root.definitions) ? root.definitions : {}), ...(isRecord(root.$defs) ? root.$defs : {}) };
}

function strictSchema(node: unknown, defs: Record<string, unknown>, seen: ReadonlySet<string>): Record<string, unknown> {
  if (!isRecord(node)) return {};
  let s = node;
  if (typeof s.$ref === 'string') {
    const ref = s.$ref;
    const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
    const target = m ? defs[decodeURIComponent(m[1]!.replace(/~1/g, '/').replace(/~0/g, '~'))] : undefined;
    if (!isRecord(target) || seen.has(ref)) {
      // recursive or external reference: an open object is the most the subset can say
      const desc = typeof s.description === 'string' ? s.description : `see ${ref.split('/').pop()}`;
      return { type: 'object', description: desc };
    }
    const { $ref: _ref, ...rest } = s;
    s = { ...target, ...rest };
    seen = new Set([...seen, ref]);
  }
  const out: Record<string, unknown> = {};
  let description = typeof s.description === 'string' ? s.description : undefined;

  for (const [k, v] of Object.entries(s)) {
    if (!GEMINI_SCHEMA_KEYS.has(k)) continue;
    switch (k) {
      case 'properties':
        if (isRecord(v)) out.properties = Object.fromEntries(Object.entries(v).map(([n, sub]) => [n, strictSchema(sub, defs, seen)]));
        break;
      case 'items':
        out.items = strictSchema(Array.isArray(v) ? v[0] : v, defs, seen);
        break;
      case 'anyOf':
        if (Array.isArray(v)) out.anyOf = v.map((sub) => strictSchema(sub, defs, seen));
        break;
      case 'required':
        if (Array.isArray(v)) out.required = v.filter((x) => typeof x === 'string');
        break;
      case 'description': break; // written last, after format notes
      default: out[k] = v;
    }
  }
  if (Array.isArray(s.oneOf) && !out.anyOf) out.anyOf = s.oneOf.map((sub) => strictSchema(sub, defs, seen));
  if ('const' in s && out.enum === undefined) out.enum = [s.const];
  if (typeof s.exclusiveMinimum === 'number' && out.minimum === undefined) out.minimum = s.exclusiveMinimum;
  if (typeof s.exclusiveMaximum === 'number' && out.maximum === undefined) out.maximum = s.exclusiveMaximum;
  if (Array.isArray(s.type)) {
    const types = s.type.filter((t) => t !== 'null');
    if (types.length !== s.type.length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else { delete out.type; if (types.length > 1 && !out.anyOf) out.anyOf = types.map((t) => ({ type: t })); }
  }
  if (Array.isArray(s.allOf)) {
    for (const part of s.allOf.map((sub) => strictSchema(sub, defs, seen))) {
      for (const [k, v] of Object.entries(part)) {
        if (k === 'properties' && isRecord(v)) out.properties = { ...(isRecord(out.properties) ? out.properties : {}), ...v };
        else if (k === 'required' && Array.isArray(v)) out.required = [...new Set([...(Array.isArray(out.required) ? out.required : []), ...v])];
        else if (k === 'description' && !description) description = v as string;
        else if (out[k] === undefined) out[k] = v;
      }
    }
  }
  if (typeof out.format === 'string' && !(GEMINI_FORMATS[String(out.type)] ?? []).includes(out.format)) {
    description = description ? `${description} (format: ${out.format})` : `format: ${out.format}`;
    delete out.format;
  }
  if (Array.isArray(out.required) && isRecord(out.properties)) {
    const props = out.properties;
    out.required = (out.required as string[]).filter((r) => Object.hasOwn(props, r));
  }
  if (description !== undefined) out.description = description;
  return out;
}

// ---------- reasoning ----------

type ReasoningRequest = { on: false } | { on: true; effort: ReasoningEffort; budget?: number };

/** What the hub asks for: both Anthropic shapes (budget, adaptive + effort), or an explicit off. */
export function reasoningRequest(hub: MessageCreateParams): ReasoningRequest | undefined {
  const t = hub.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  const effort = typeof hub.output_config?.effort === 'string' ? hub.output_config.effort : undefined;
  switch (t?.type) {
    case 'disabled': return { on: false };
    case 'enabled': {
      const budget = typeof t.budget_tokens === 'number' ? t.budget_tokens : undefined;
      return { on: true, effort: effort ?? effortFromBudget(budget ?? Infinity), ...(budget !== undefined ? { budget } : {}) };
    }
    case 'adaptive': return { on: true, effort: effort ?? 'high' }; // Anthropic's default effort is high
    case undefined: return effort !== undefined ? { on: true, effort } : undefined;
    // a type this translation does not know (a typo, or one newer than it) would otherwise go unnoticed
    default: throw invalidRequest(`${JSON.stringify(t?.type).slice(0, 40)} is not a thinking type this gateway can translate (enabled, adaptive, disabled)`, 'thinking.type');
  }
}

export function effortFromBudget(budget: number): ReasoningEffort {
  for (const [below, effort] of BUDGET_EFFORT) if (budget < below) return effort;
  return 'high';
}

/**
 * The provider's level for a requested one: itself if offered, else the highest offered level below it
 * (`xhigh`/`max` → the provider's top), else the lowest offered. `none` is never chosen for "on".
 */
export function capEffort(requested: string, offered: readonly string[]): string | undefined {
  if (offered.includes(requested)) return requested;
  const rank = (e: string) => EFFORT_RANK.indexOf(e);
  const usable = offered.filter((e) => e !== 'none' && rank(e) >= 0).sort((a, b) => rank(a) - rank(b));
  if (usable.length === 0) return offered.find((e) => e !== 'none');
  const want = rank(requested) >= 0 ? rank(requested) : EFFORT_RANK.length; // an unknown level reads as "most"
  return usable.filter((e) => rank(e) <= want).at(-1) ?? usable[0];
}

function applyReasoning(body: ChatCompletionCreateParams, hub: MessageCreateParams, ctx: TranslateContext, quirks: ChatQuirks, maxTokens: number | undefined): void {
  const requested = reasoningRequest(hub);
  let req = requested;
  // what the client sent: an effort alone asks for reasoning too (reasoningRequest)
  const what = hub.thinking === undefined || hub.thinking === null ? 'output_config.effort' : 'thinking';
  const controlled = quirks.reasoning_models.some((p) => globMatch(p, ctx.upstreamModel));
  const always = quirks.always_thinking_models.some((p) => globMatch(p, ctx.upstreamModel));
  // Anthropic gives no thinking (and bills none) to a request that does not ask for it; a model that thinks unless told
  // not to (Kimi K2.5/K2.6, GLM-4.5+, DeepSeek V4 and V4.1, open Qwen3 and Qwen3.5) is told
  if (!req && controlled && !always && quirks.thinking_by_default_models.some((p) => globMatch(p, ctx.upstreamModel))) req = { on: false };
  const forced = body.tool_choice === 'required' || typeof body.tool_choice === 'object';
  if (forced && quirks.forced_tool_choice === 'without_thinking') {
    // Kimi refuses a forced call with thinking on ("tool_choice 'required' is incompatible with thinking enabled") and
    // thinks by default: the off switch goes with it where there is one; a model that always thinks gets `auto`
    if (controlled) {
      if (req?.on) noteDropped(ctx, `${what} (off: the provider refuses a forced tool_choice with thinking)`);
      req = { on: false };
    } else if (always) {
      body.tool_choice = 'auto';
      noteDropped(ctx, `tool_choice (sent as auto: ${ctx.upstreamModel} always thinks, and the provider refuses a forced tool_choice with thinking)`);
    }
  }
  if (controlled && quirks.thinking_streamed_only && hub.stream !== true) {
    // DashScope's open Qwen3 models think by default and refuse a non-streamed request unless thinking is off
    if (req?.on) noteDropped(ctx, `${what} (the provider thinks on streamed requests only)`);
    req = { on: false };
  }
  if (!req) return;
  // Anthropic's effort governs the whole answer, thinking or not; a provider's effort level is its reasoning's, now off
  const asked = hub.output_config?.effort;
  if (!req.on && typeof asked === 'string' && requested?.on === false) noteDropped(ctx, `output_config.effort=${asked.slice(0, 40)} (thinking disabled: the provider's effort level is its reasoning's)`);
  if (!controlled) {
    // a model that always thinks (kimi-k2-thinking) does what was asked without being told
    if (req.on && !always) noteDropped(ctx, `${what} (${ctx.upstreamModel} has no reasoning control)`);
    return;
  }
  const offered = effortsOf(quirks, ctx.upstreamModel);
  const hasOff = offered.includes('none');
  switch (quirks.reasoning) {
    case 'reasoning_effort': {
      const level = req.on ? capEffort(req.effort, offered) : hasOff ? 'none' : undefined;
      if (level) body.reasoning_effort = level;
      if (req.on) noteEffort(ctx, hub, level);
      return;
    }
    case 'reasoning': {
      if (!req.on) { if (hasOff) body.reasoning = { effort: 'none' }; return; }
      const omitted = (hub.thinking as { display?: unknown } | undefined)?.display === 'omitted';
      if (req.budget !== undefined) {
        // OpenRouter takes the Anthropic-style budget itself; it must stay below the output limit
        const budget = maxTokens !== undefined ? Math.min(req.budget, Math.max(1, maxTokens - 1)) : req.budget;
        body.reasoning = { max_tokens: budget };
      } else {
        const level = capEffort(req.effort, offered);
        body.reasoning = level ? { effort: level } : { enabled: true };
        noteEffort(ctx, hub, level);
      }
      // reasoning_details carried back (quirks.reasoning_details) must come in the first place: the text of omitted
      // thinking is then kept from the client by the gateway instead
      if (omitted && quirks.reasoning_details !== 'keep') body.reasoning.exclude = true;
      return;
    }
    case 'thinking': {
      body.thinking = { type: req.on ? 'enabled' : 'disabled' };
      if (req.on) {
        const level = capEffort(req.effort, offered);
        if (level) body.reasoning_effort = level;
        noteEffort(ctx, hub, level);
      }
      return;
    }
    case 'enable_thinking': {
      // Qwen on DashScope: a top-level boolean, and a cap on the thinking tokens (https://www.alibabacloud.com/help/en/model-studio/deep-thinking)
      body.enable_thinking = req.on;
      if (req.on && req.budget !== undefined) body.thinking_budget = maxTokens !== undefined ? Math.min(req.budget, Math.max(1, maxTokens - 1)) : req.budget;
      if (req.on) noteEffort(ctx, hub, undefined);
      return;
    }
    case 'chat_template_kwargs': {
      // vLLM, SGLang, llama.cpp (--jinja): the template decides; "The reasoning feature for the Qwen3 series is enabled by
      // default. To disable it, you must pass enable_thinking=False in your chat_template_kwargs", and DeepSeek-V3.1's
      // is off unless `thinking=True` (https://docs.vllm.ai/en/stable/features/reasoning_outputs/,
      // https://docs.sglang.io/advanced_features/separate_reasoning.html, ggml-org/llama.cpp#13196)
      const kwargs = body.chat_template_kwargs ??= {};
      // a switch the client set in the template's own words stands, unless the client asked for thinking (or none) itself
      if (requested !== undefined || !Object.hasOwn(kwargs, quirks.thinking_kwarg)) kwargs[quirks.thinking_kwarg] = req.on;
      if (req.on) {
        // a template variable is a switch: no template takes a budget
        if (req.budget !== undefined) noteDropped(ctx, 'thinking.budget_tokens (the provider takes no thinking budget)');
        noteEffort(ctx, hub, undefined);
      }
      return;
    }
    case 'none':
      if (req.on) noteDropped(ctx, `${what} (the provider has no reasoning control)`);
      return;
    default: assertNever(quirks.reasoning, 'reasoning style');
  }
}

/** The effort levels `model` takes: the first pattern of quirks.reasoning_efforts_by_model it matches, else the provider's. */
function effortsOf(quirks: ChatQuirks, model: string): readonly string[] {
  const byModel = quirks.reasoning_efforts_by_model;
  for (const pattern in byModel) if (globMatch(pattern, model)) return byModel[pattern]!;
  return quirks.reasoning_efforts;
}

/**
 * The effort a client named (`output_config.effort`) when the provider gets another level, or none: reported, as a
 * Chat client's `reasoning_effort` capped for Anthropic is (request-to-hub.ts). An effort the translation derived
 * (from a budget, or adaptive's default) is not the client's word and goes unreported.
 */
function noteEffort(ctx: TranslateContext, hub: MessageCreateParams, level: string | undefined): void {
  const asked = hub.output_config?.effort;
  if (typeof asked !== 'string' || asked === level) return;
  if (level === undefined) { noteDropped(ctx, `output_config.effort=${asked.slice(0, 40)} (the provider takes no effort level)`); return; }
  const from = EFFORT_RANK.indexOf(asked);
  const how = from < 0 ? 'sent as' : EFFORT_RANK.indexOf(level) < from ? 'capped to' : 'raised to';
  noteDropped(ctx, `output_config.effort=${asked.slice(0, 40)} (${how} ${level})`);
}

// ---------- small helpers ----------

/** `temperature` / `top_p`, unless the model takes only its default (quirks.fixed_sampling_models): then dropped and reported. */
function applySampling(body: ChatCompletionCreateParams, hub: MessageCreateParams, ctx: TranslateContext, quirks: ChatQuirks): void {
  const fixed = quirks.fixed_sampling_models.some((p) => globMatch(p, ctx.upstreamModel));
  for (const k of ['temperature', 'top_p'] as const) {
    const value = hub[k];
    if (typeof value !== 'number') continue;
    // Anthropic's range; OpenAI's temperature goes to 2, and would have been taken
    if (value < 0 || value > 1) throw invalidRequest(`Input should be between 0 and 1, got ${value}`, k);
    if (fixed) noteDropped(ctx, `${k} (${ctx.upstreamModel} takes only its default)`);
    else body[k] = value;
  }
}


/** `max_tokens` within the model's configured ceiling (quirks.max_output_tokens) and `cap` (one the provider named). */
function clampMaxTokens(asked: unknown, upstreamModel: string, quirks: ChatQuirks, cap: number | undefined): number | undefined {
  if (typeof asked !== 'number') return undefined;
  const requested = cap !== undefined && cap < asked ? cap : asked;
  const limits = quirks.max_output_tokens;
  let limit = limits[upstreamModel];
  if (limit === undefined) {
    // patterns (`gpt-4.1*`), longest first, then `*`
    const pattern = Object.keys(limits).filter((k) => k !== '*' && k.includes('*') && globMatch(k, upstreamModel)).sort((a, b) => b.length - a.length)[0];
    limit = pattern !== undefined ? limits[pattern] : limits['*'];
  }
  return limit !== undefined ? Math.min(requested, limit) : requested;
}

/**
 * `user` cut to the provider's limit: kept when it fits, else a deterministic sha256 hex prefix, so one
 * end user keeps one id (Claude Code's `metadata.user_id` is a ~150-character JSON string).
 */
export function fitUser(user: string, maxLength: number): string {
  if (user.length <= maxLength) return user;
  return new Bun.CryptoHasher('sha256').update(user).digest('hex').slice(0, maxLength);
}

function noteDropped(ctx: TranslateContext, item: string): void {
  if (!ctx.dropped.includes(item)) ctx.dropped.push(item);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
