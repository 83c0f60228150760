/**
 * @module formats/openai-chat/response-to-hub
 * Upstream role, response side: a Chat Completions response body → an Anthropic `Message`.
 * Also home of the pieces the stream converter shares: usage mapping, reasoning extraction, the `<think>`
 * tag splitter, tool-argument parsing and id generation.
 *
 * Block order is Anthropic's: thinking, then text, then tool_use. Decisions:
 * - reasoning is read from `reasoning_content` (DeepSeek, xAI, Z.ai), else `reasoning` (OpenRouter, Groq,
 *   Ollama), else the text entries of `reasoning_details`; its signature is the provider's (OpenRouter
 *   relays Anthropic's) or `''`. Encrypted reasoning (`reasoning.encrypted`) has no text and is not shown;
 * - text of whitespace alone is left out (streamed: stream-to-hub.ts), unreported: Anthropic refuses such a block in
 *   the history a client sends back, and it carries nothing;
 * - tool arguments that are not a JSON object are kept, unparsed, as `{"_raw": "<arguments>"}`: the client's
 *   schema check then fails visibly instead of a call silently running with `{}`;
 * - `output_tokens` counts reasoning even where `completion_tokens` leaves it out (xAI, Gemini): when
 *   `total_tokens` exceeds prompt + completion, the difference is added.
 */
import { GatewayError, NotAnAnswer } from '../../errors.ts';
import { assertNever } from '../../util/never.ts';
import { JsonPrefix } from '../../util/json-prefix.ts';
import type { ContentBlock, Message, ToolUseBlock, Usage } from '../../hub/types.ts';
import type { TranslateContext } from '../types.ts';
import { chatChoiceError, chatErrorToGateway } from './errors.ts';
import type { ChatQuirks } from './quirks.ts';
import { answerStopReason } from './stop-reason.ts';
import { detailsSignature } from './reasoning-details.ts';
import { signedToolId, thoughtSignatureOf } from './thought-signature.ts';
import { clientToolId } from './foreign-tool-id.ts';
import { toolNameDown } from './tool-names.ts';
import type { ChatCompletion, ChatCompletionChoice, ChatContentPartOut, CompletionUsage, ReasoningDetail } from './types.ts';

/**
 * A Chat Completions answer as a hub message. `clientIds`: a tool-call id Anthropic would refuse is given as one it
 * takes (foreign-tool-id.ts), for a Messages client; false for a Chat client's relayed answer, ids as they came.
 */
export function chatResponseToHub(body: unknown, ctx: TranslateContext, quirks: ChatQuirks, clientIds = true): Message {
  if (!isRecord(body)) throw new NotAnAnswer('upstream returned a response that is not a JSON object');
  if (body.error !== undefined && body.error !== null) throw chatErrorToGateway(200, body);
  const completion = body as ChatCompletion;
  const choices = Array.isArray(completion.choices) ? completion.choices : [];
  const choice: ChatCompletionChoice | undefined = choices.find((c) => (c.index ?? 0) === 0) ?? choices[0];
  if (!choice || !isRecord(choice.message)) throw new NotAnAnswer('upstream response has no choices');
  const failed = chatChoiceError(choice);
  if (failed) throw chatErrorToGateway(200, failed);
  if (choices.length > 1) noteDropped(ctx, 'choices 1+ (only the first choice is returned)');
  const msg = choice.message;

  const thinking: string[] = [];
  const text: string[] = [];
  const { text: reasoning, signature } = reasoningOf(msg);
  if (reasoning) thinking.push(reasoning);

  const content = msg.content;
  if (typeof content === 'string') {
    if (quirks.think_tags) {
      const splitter = new ThinkTagSplitter();
      for (const seg of [...splitter.push(content), ...splitter.end()]) (seg.kind === 'thinking' ? thinking : text).push(seg.text);
    } else if (content) text.push(content);
  } else if (Array.isArray(content)) {
    for (const part of content) {
      const p = contentPartOf(part);
      if (p) (p.kind === 'thinking' ? thinking : text).push(p.text);
    }
  }
  const refused = typeof msg.refusal === 'string' && msg.refusal !== '';
  if (refused) text.push(msg.refusal as string);
  if (Array.isArray(msg.annotations) && msg.annotations.length > 0) noteDropped(ctx, ANNOTATIONS_DROPPED);

  const blocks: ContentBlock[] = [];
  const thinkingText = thinking.join('');
  // OpenRouter's reasoning_details, as received, in the signature (quirks.reasoning_details): the provider's own
  // signature is among them; a block without text carries reasoning that has none (encrypted)
  const carried = quirks.reasoning_details === 'keep' && Array.isArray(msg.reasoning_details) && msg.reasoning_details.length > 0 ? detailsSignature(msg.reasoning_details) : '';
  if (thinkingText || carried) {
    const omitted = ctx.omitThinking;
    blocks.push({ type: 'thinking', thinking: omitted ? '' : thinkingText, signature: carried || (omitted && quirks.reasoning_content_in_history && !signature ? keptReasoning(thinkingText) : signature) });
  }
  const textOut = text.join('');
  // text of whitespace alone (the "\n\n" many models write before their tool calls) is no block: Anthropic refuses
  // one in a request ("text content blocks must contain non-whitespace text"), and the client sends it back each turn
  if (textOut.trim() !== '') blocks.push({ type: 'text', text: textOut });

  const calls: Array<{ id?: unknown; function?: unknown; extra_content?: unknown }> = [
    ...(Array.isArray(msg.tool_calls) ? msg.tool_calls : []),
    ...(isRecord(msg.function_call) ? [{ function: msg.function_call }] : []), // the deprecated single call
  ];
  const ids = new Set<string>();
  for (const call of calls) {
    const fn: { name?: unknown; arguments?: unknown } = isRecord(call?.function) ? call.function : {};
    // ids must differ (Anthropic: "tool_use ids must be unique"); some servers give every call one id, some number
    // the calls of each answer, ids the history holds already (TranslateContext.historyToolIds)
    let id = typeof call.id === 'string' && call.id ? call.id : '';
    if (!id || ids.has(id) || ctx.historyToolIds?.includes(id)) id = newToolUseId();
    ids.add(id);
    // the provider's id, where Anthropic would refuse it, within its pattern; read back in request-from-hub.ts
    if (clientIds) id = clientToolId(id);
    if (quirks.thought_signatures === 'keep') {
      // Gemini's signature for the call, carried to the next request in the id (thought-signature.ts); the message's
      // own (Gemini 2.5 gave it there) stands for the first call's
      const signature = thoughtSignatureOf(call) || (call === calls[0] ? thoughtSignatureOf(msg) || stringOr(msg.thought_signature) : '');
      if (signature) id = signedToolId(signature, id);
    }
    const tool: ToolUseBlock = {
      type: 'tool_use',
      id,
      // the client's name for a tool sent under an alias (tool-names.ts)
      name: typeof fn.name === 'string' ? toolNameDown(fn.name, ctx) : '',
      input: parseToolArguments(typeof fn.arguments === 'string' ? fn.arguments : fn.arguments == null ? '' : JSON.stringify(fn.arguments)),
    };
    blocks.push(tool);
  }

  const stopSequence = matchedStop(choice);
  const stopReason = answerStopReason(choice.finish_reason, calls.length > 0, stopSequence, refused);
  if (!completion.usage) ctx.usageEstimated = true;

  return {
    id: newMessageId(),
    type: 'message',
    role: 'assistant',
    model: ctx.requestedModel,
    content: blocks,
    stop_reason: stopReason,
    stop_sequence: stopReason === 'stop_sequence' ? stopSequence : null,
    // without usage (some local servers): the pipeline's input estimate, and the output's length as a stream counts it
    usage: completion.usage ? usageToHub(completion.usage) : { input_tokens: ctx.estimatedInputTokens, output_tokens: outputEstimate(blocks) },
  };
}

// ---------- shared with the stream converter ----------

/** Output tokens of an answer that reports none: ~4 characters per token of its text, thinking and tool input. */
function outputEstimate(blocks: ContentBlock[]): number {
  let chars = 0;
  for (const b of blocks) chars += b.type === 'text' ? b.text.length : b.type === 'thinking' ? b.thinking.length : b.type === 'tool_use' ? JSON.stringify(b.input).length : 0;
  return Math.ceil(chars / 4);
}

/** vLLM `stop_reason` / SGLang `matched_stop`: the stop string that ended generation (numbers are token ids). */
export function matchedStop(choice: { stop_reason?: unknown; matched_stop?: unknown; finish_reason?: unknown }): string | null {
  if (choice.finish_reason !== 'stop') return null;
  for (const v of [choice.stop_reason, choice.matched_stop]) if (typeof v === 'string' && v) return v;
  return null;
}

/** Chat usage → Anthropic usage: cached prompt tokens are reported apart from `input_tokens`, as Anthropic does. */
export function usageToHub(u: CompletionUsage): Usage {
  const prompt = num(u.prompt_tokens);
  const completion = num(u.completion_tokens);
  const cacheRead = num(u.prompt_tokens_details?.cached_tokens) || num(u.prompt_cache_hit_tokens) || num(u.cached_tokens);
  const cacheWrite = num(u.prompt_tokens_details?.cache_write_tokens);
  const hidden = Math.max(0, num(u.total_tokens) - prompt - completion); // reasoning left out of completion_tokens
  const usage: Usage = {
    input_tokens: Math.max(0, prompt - cacheRead - cacheWrite),
    output_tokens: completion + hidden,
    cache_read_input_tokens: cacheRead,
  };
  if (cacheWrite > 0) usage.cache_creation_input_tokens = cacheWrite;
  return usage;
}

/**
 * Reasoning a provider needs back in later turns (quirks.reasoning_content_in_history: DeepSeek's tool loops) when the
 * client asked for it omitted (`thinking.display: "omitted"`, as Claude Code sends): the thinking block carries no
 * text then, so the text travels in its signature, which clients replay as they got it, and request-from-hub reads
 * it back (`reasoningKeptIn`). Marked so that a provider's own signature is never taken for one.
 */
const KEPT_REASONING = 'switchboard-reasoning-v1:';

export function keptReasoning(text: string): string {
  return KEPT_REASONING + Buffer.from(text, 'utf8').toString('base64');
}

/** The reasoning text a signature carries (keptReasoning), or '' for any other signature. */
export function reasoningKeptIn(signature: unknown): string {
  return typeof signature === 'string' && signature.startsWith(KEPT_REASONING) ? Buffer.from(signature.slice(KEPT_REASONING.length), 'base64').toString('utf8') : '';
}

/** Reasoning text and signature of a message or a delta (one source only: OpenRouter sends the same text twice). */
export function reasoningOf(m: { reasoning_content?: unknown; reasoning?: unknown; reasoning_details?: unknown }): { text: string; signature: string } {
  const details = Array.isArray(m.reasoning_details) ? (m.reasoning_details as ReasoningDetail[]) : [];
  let signature = '';
  for (const d of details) if (isRecord(d) && typeof d.signature === 'string' && d.signature) signature = d.signature;
  let text = '';
  if (typeof m.reasoning_content === 'string' && m.reasoning_content) text = m.reasoning_content;
  else if (typeof m.reasoning === 'string' && m.reasoning) text = m.reasoning;
  else {
    for (const d of details) {
      if (!isRecord(d)) continue;
      if (d.type === 'reasoning.text' && typeof d.text === 'string') text += d.text;
      else if (d.type === 'reasoning.summary' && typeof d.summary === 'string') text += d.summary;
    }
  }
  return { text, signature };
}

/** One part of an array-typed `content` (Mistral magistral): its text and whether it is thinking. */
export function contentPartOf(part: ChatContentPartOut): { kind: 'text' | 'thinking'; text: string } | undefined {
  if (!isRecord(part)) return typeof part === 'string' && part ? { kind: 'text', text: part } : undefined;
  if (part.type === 'thinking') {
    const t = part.thinking;
    const text = typeof t === 'string' ? t
      : Array.isArray(t) ? t.map((x) => (isRecord(x) && typeof x.text === 'string' ? x.text : '')).join('') : '';
    return text ? { kind: 'thinking', text } : undefined;
  }
  if (typeof part.text === 'string' && part.text) return { kind: 'text', text: part.text };
  return undefined;
}

/**
 * Tool arguments → tool_use `input`. Empty and `null` mean no arguments (`{}`); a JSON string holding an object's text
 * is that object (arguments encoded twice: vLLM's hermes parser with Granite 4, vllm-project/vllm#54964); anything
 * else that is not a JSON object is kept as `{"_raw": arguments}` so the failure stays visible.
 */
export function parseToolArguments(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(args);
    if (v === null) return {};
    if (isRecord(v)) return v;
    if (typeof v === 'string' && v.trimStart().startsWith('{')) {
      try {
        const inner: unknown = JSON.parse(v);
        if (isRecord(inner)) return inner;
      } catch { /* a string that is no object's text: kept raw */ }
    }
  } catch {
    // an object but for raw line breaks inside its strings (some models write them): read as a stream reads it
    const p = new JsonPrefix();
    p.push(args);
    if (p.complete && args.slice(p.accepted).trim() === '') {
      try { return JSON.parse(p.lastTaken) as Record<string, unknown>; } catch { /* not that either */ }
    }
  }
  return { _raw: args };
}

export type ThinkSegment = { kind: 'text' | 'thinking'; text: string };

/**
 * Splits `<think>…</think>` out of content (quirks.think_tags: DeepSeek-R1 / QwQ served without a
 * reasoning parser). Only a tag at the very start of the content (after whitespace) opens thinking, so a
 * model writing about the tag in prose is left alone. Works on fragments: a tag split across chunks is
 * recognised, holding back at most the few characters that could still become a tag.
 */
export class ThinkTagSplitter {
  private static readonly OPEN = '<think>';
  private static readonly CLOSE = '</think>';
  private mode: 'start' | 'thinking' | 'after' | 'text' = 'start';
  private held = '';

  push(fragment: string): ThinkSegment[] {
    const out: ThinkSegment[] = [];
    let s = this.held + fragment;
    this.held = '';
    while (s) {
      switch (this.mode) {
        case 'start': {
          const trimmed = s.replace(/^\s+/, '');
          if (trimmed === '') { this.held = s; return out; }
          if (trimmed.startsWith(ThinkTagSplitter.OPEN)) { this.mode = 'thinking'; s = trimmed.slice(ThinkTagSplitter.OPEN.length); continue; }
          if (ThinkTagSplitter.OPEN.startsWith(trimmed)) { this.held = s; return out; }
          this.mode = 'text';
          continue;
        }
        case 'thinking': {
          const end = s.indexOf(ThinkTagSplitter.CLOSE);
          if (end >= 0) {
            if (end > 0) out.push({ kind: 'thinking', text: s.slice(0, end) });
            s = s.slice(end + ThinkTagSplitter.CLOSE.length);
            this.mode = 'after';
            continue;
          }
          const keep = partialSuffix(s, ThinkTagSplitter.CLOSE);
          if (s.length > keep) out.push({ kind: 'thinking', text: s.slice(0, s.length - keep) });
          this.held = s.slice(s.length - keep);
          return out;
        }
        case 'after': { // the blank line between `</think>` and the answer is not part of the answer
          const trimmed = s.replace(/^\s+/, '');
          if (trimmed === '') return out;
          this.mode = 'text';
          s = trimmed;
          continue;
        }
        case 'text':
          out.push({ kind: 'text', text: s });
          return out;
        default: assertNever(this.mode, 'think-tag mode');
      }
    }
    return out;
  }

  /** End of content: whatever is held back is flushed as what it was going to be. */
  end(): ThinkSegment[] {
    const held = this.held;
    this.held = '';
    if (!held) return [];
    if (this.mode === 'thinking') return [{ kind: 'thinking', text: held }];
    return held.trim() ? [{ kind: 'text', text: held }] : [];
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function partialSuffix(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) if (tag.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A random byte's character: ALPHABET[byte % 62]. */
const CHAR_OF = Array.from({ length: 256 }, (_, b) => ALPHABET.charCodeAt(b % 62));
/**
 * Random bytes drawn 4 KB at a time, and the id's characters made in one call: ~0.15 µs an id against ~0.5 for an
 * array and a `getRandomValues` per id and a string grown by one character at a time (one per translated answer).
 */
const pool = new Uint8Array(4096);
let drawn = pool.length;
const ID_LENGTH = 24;
const codes = new Array<number>(ID_LENGTH);
function randomId(prefix: string): string {
  if (drawn + ID_LENGTH > pool.length) { crypto.getRandomValues(pool); drawn = 0; }
  for (let i = 0; i < ID_LENGTH; i++) codes[i] = CHAR_OF[pool[drawn++]!]!;
  return prefix + String.fromCharCode.apply(null, codes);
}
export const newMessageId = (): string => randomId('msg_');
export const newToolUseId = (): string => randomId('toolu_');

/**
 * `annotations` (`url_citation`: a URL, a title and offsets into the text) have no Messages form: Anthropic's
 * `web_search_result_location` citation needs the search result's `encrypted_index`, which only Anthropic's own search
 * writes, and a client sends citations back with the text. Left out, and named.
 */
export const ANNOTATIONS_DROPPED = 'annotations (url citations)';

export function noteDropped(ctx: TranslateContext, item: string): void {
  if (!ctx.dropped.includes(item)) ctx.dropped.push(item);
}

function stringOr(x: unknown): string {
  return typeof x === 'string' ? x : '';
}

function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : 0;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
