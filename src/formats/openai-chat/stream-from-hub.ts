/**
 * @module formats/openai-chat/stream-from-hub
 * Inbound role: hub stream events (Anthropic RawMessageStreamEvent) → Chat Completions chunks, as SSE events
 * (`data: {chat.completion.chunk}` … `data: [DONE]`). Pure: one small state object, owned by the transform.
 *
 * The chunk sequence, as OpenAI sends it and the openai SDK's ChatCompletionStream accumulates it:
 * - message_start → `delta: {role: "assistant", content: ""}`.
 * - text_delta → `delta.content`; thinking_delta → `delta.reasoning_content` (never `content`; see response-from-hub).
 * - tool_use start → `delta.tool_calls: [{index, id, type: "function", function: {name, arguments: ""}}]` where
 *   `index` counts tool calls from 0 (not the Anthropic block index: the SDK indexes its `tool_calls` array by it);
 *   input_json_delta → `delta.tool_calls: [{index, function: {arguments}}]`. A tool whose input never arrived as a
 *   delta (no-argument tools send one empty delta) gets its input when the block closes, so `arguments` parses.
 * - message_delta → `delta: {}, finish_reason`; message_stop → (usage chunk with `choices: []`) → `[DONE]`.
 * - error → `data: {"error": {…}}` in OpenAI's envelope, and the stream ends without `[DONE]`: the SDK throws an
 *   `APIError` for it (openai-node src/core/streaming.ts). An upstream that ends without a finish is reported the same way.
 * Every chunk carries the same `id`, `created`, `model` (the client's name) and `object`.
 */
import type { RawContentBlockDeltaEvent, RawContentBlockStartEvent, RawMessageStreamEvent, Usage } from '../../hub/types.ts';
import type { SseEvent } from '../../sse/types.ts';
import { assertNever, skipUnknown } from '../../util/never.ts';
import { quoteJson } from '../../util/quote-json.ts';
import { encodeOneLineEvent } from '../../sse/encode.ts';
import { stageToTransform, type HubDeltaWriter, type StreamStage, type TranslateContext } from '../types.ts';
import type { ChatCompletionChunk, ChatCompletionChunkDelta, ChatFinishReason } from './types.ts';
import { chatErrorBodyFromHub } from './error-body.ts';
import { completionId, finishReasonFromHub, usageFromHub } from './response-from-hub.ts';

export interface HubEventsToChatChunksOptions {
  /** `stream_options.include_usage`: send a final usage chunk (and `usage: null` on every other chunk). */
  includeUsage: boolean;
  /** Clock for `created`, in ms (tests). */
  now?: () => number;
}

/** What one open Anthropic content block becomes on the Chat side. */
type OpenBlock =
  | { kind: 'text' }
  | { kind: 'thinking' }
  | { kind: 'tool'; toolIndex: number; argumentsSent: boolean; startInput: unknown }
  | { kind: 'ignored' };

interface ChatStreamState {
  id: string;
  started: boolean;
  /** Anthropic block index → what it maps to. */
  blocks: Map<number, OpenBlock>;
  toolCount: number;
  usage: Partial<Usage>;
  finishReason: ChatFinishReason | null;
  /** Saw message_stop or error: nothing more is sent. */
  ended: boolean;
}

export function hubEventsToChatChunks(ctx: TranslateContext, opts: HubEventsToChatChunksOptions): TransformStream<RawMessageStreamEvent, SseEvent> {
  return stageToTransform(hubEventsToChatStage(ctx, opts));
}

/** The stage the pipeline composes: hub events → Chat Completions chunk events (and `[DONE]`). */
export function hubEventsToChatStage(ctx: TranslateContext, opts: HubEventsToChatChunksOptions): StreamStage<RawMessageStreamEvent, SseEvent> & HubDeltaWriter {
  const created = Math.floor((opts.now ?? Date.now)() / 1000);
  const state: ChatStreamState = {
    id: completionId(undefined),
    started: false,
    blocks: new Map(),
    toolCount: 0,
    usage: {},
    finishReason: null,
    ended: false,
  };

  // text, reasoning and argument chunks (most of a stream) are written from a prefix built once per id: the same
  // bytes as JSON.stringify of the chunk object, without walking one per token; `delta` is the delta's JSON
  let prefixFor = '';
  let prefix = '';
  const deltaChunk = (delta: string): SseEvent => {
    if (prefixFor !== state.id) {
      prefixFor = state.id;
      const head = JSON.stringify({ id: state.id, object: 'chat.completion.chunk', created, model: ctx.requestedModel });
      prefix = `${head.slice(0, -1)},"choices":[{"index":0,"delta":`;
    }
    return { data: `${prefix}${delta},"finish_reason":null}]${opts.includeUsage ? ',"usage":null' : ''}}` };
  };

  const chunk = (delta: ChatCompletionChunkDelta, finishReason: ChatFinishReason | null = null): SseEvent => {
    const c: ChatCompletionChunk = {
      id: state.id,
      object: 'chat.completion.chunk',
      created,
      model: ctx.requestedModel,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    };
    if (opts.includeUsage) c.usage = null;
    return { data: JSON.stringify(c) };
  };

  function start(out: SseEvent[]): void {
    if (state.started) return;
    state.started = true;
    out.push(chunk({ role: 'assistant', content: '' }));
  }

  /** A tool block closes: if no input arrived as deltas, send the input it started with (or `{}`). */
  function closeBlock(index: number, out: SseEvent[]): void {
    const block = state.blocks.get(index);
    state.blocks.delete(index);
    if (block?.kind !== 'tool' || block.argumentsSent) return;
    const input = block.startInput && typeof block.startInput === 'object' ? block.startInput : {};
    out.push(chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: JSON.stringify(input) } }] }));
  }

  function blockStart(ev: RawContentBlockStartEvent, out: SseEvent[]): void {
    const block = ev.content_block;
    switch (block.type) {
      case 'text': {
        state.blocks.set(ev.index, { kind: 'text' });
        const text = (block as { text?: string }).text;
        if (text) out.push(chunk({ content: text }));
        break;
      }
      case 'thinking': {
        state.blocks.set(ev.index, { kind: 'thinking' });
        const thinking = (block as { thinking?: string }).thinking;
        if (thinking) out.push(chunk({ reasoning_content: thinking }));
        break;
      }
      case 'tool_use': {
        const b = block as { id: string; name: string; input?: unknown };
        const toolIndex = state.toolCount++;
        // Anthropic starts every tool block with `input: {}` and streams the real input; a non-empty start input
        // (some Anthropic-compatible servers) is kept for when the block closes without deltas
        const startInput = b.input && typeof b.input === 'object' && Object.keys(b.input).length ? b.input : undefined;
        state.blocks.set(ev.index, { kind: 'tool', toolIndex, argumentsSent: false, startInput });
        out.push(chunk({ tool_calls: [{ index: toolIndex, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] }));
        break;
      }
      default:
        // redacted_thinking, server_tool_use, web_search_tool_result, mcp_tool_use…: no Chat Completions form
        state.blocks.set(ev.index, { kind: 'ignored' });
        if (block.type !== 'redacted_thinking') note(ctx, `content.${block.type} (no Chat Completions equivalent)`);
    }
  }

  function blockDelta(ev: RawContentBlockDeltaEvent, out: SseEvent[]): void {
    const block = state.blocks.get(ev.index);
    const delta = ev.delta;
    switch (delta.type) {
      case 'text_delta':
        if (block?.kind === 'text' && delta.text) out.push(deltaChunk(contentDelta(quoteJson(delta.text))));
        break;
      case 'thinking_delta':
        if (block?.kind === 'thinking' && delta.thinking) out.push(deltaChunk(reasoningDelta(quoteJson(delta.thinking))));
        break;
      case 'input_json_delta':
        if (block?.kind === 'tool' && delta.partial_json) {
          block.argumentsSent = true;
          out.push(deltaChunk(argumentsDelta(block.toolIndex, quoteJson(delta.partial_json))));
        }
        break;
      case 'signature_delta':
        break;
      case 'citations_delta':
        note(ctx, 'citations');
        break;
      default:
        skipUnknown(delta); // a delta type newer than this gateway carries nothing a Chat client can show
    }
  }

  function handle(ev: RawMessageStreamEvent, out: SseEvent[]): void {
    if (state.ended) return;
    switch (ev.type) {
      case 'message_start':
        state.id = completionId(ev.message.id);
        state.usage = { ...ev.message.usage };
        start(out);
        break;
      case 'content_block_start':
        start(out);
        blockStart(ev, out);
        break;
      case 'content_block_delta':
        start(out);
        blockDelta(ev, out);
        break;
      case 'content_block_stop':
        closeBlock(ev.index, out);
        break;
      case 'message_delta': {
        start(out);
        // blocks cut off by max_tokens never get their content_block_stop
        for (const index of [...state.blocks.keys()]) closeBlock(index, out);
        // message_delta usage is cumulative; null/absent fields keep the message_start value
        for (const [key, value] of Object.entries(ev.usage ?? {})) if (value != null) (state.usage as Record<string, unknown>)[key] = value;
        state.finishReason = finishReasonFromHub(ev.delta.stop_reason);
        out.push(chunk({}, state.finishReason));
        break;
      }
      case 'message_stop':
        finish(out);
        break;
      case 'ping':
        break;
      case 'error':
        state.ended = true;
        out.push({ data: JSON.stringify(chatErrorBodyFromHub(ev.error)) });
        break;
      default:
        assertNever(ev, 'hub stream event');
    }
  }

  function finish(out: SseEvent[]): void {
    state.ended = true;
    if (state.finishReason === null) {
      // no message_delta: the answer is incomplete, and the client must not take it for a whole one
      out.push({ data: JSON.stringify(chatErrorBodyFromHub({ type: 'api_error', message: 'The upstream stream ended before the message was complete' })) });
      return;
    }
    if (opts.includeUsage) {
      const c: ChatCompletionChunk = {
        id: state.id, object: 'chat.completion.chunk', created, model: ctx.requestedModel, choices: [], usage: usageFromHub(state.usage),
      };
      out.push({ data: JSON.stringify(c) });
    }
    out.push({ data: '[DONE]' });
  }

  return {
    push: handle,
    end(out) { if (!state.ended) finish(out); },
    // what handle() writes for a text, thinking or input_json delta of a block of its kind (the message has started:
    // blocks are opened after its first chunk) with something in it; for any other, nothing
    deltaEvent(kind, index, literal) {
      if (state.ended || literal.length === 2) return null;
      const block = state.blocks.get(index);
      if (kind === 'json') {
        if (block?.kind !== 'tool') return null;
        block.argumentsSent = true;
        return encodeOneLineEvent(deltaChunk(argumentsDelta(block.toolIndex, literal)));
      }
      if (block?.kind !== kind) return null;
      return encodeOneLineEvent(deltaChunk(kind === 'thinking' ? reasoningDelta(literal) : contentDelta(literal)));
    },
  };
}

/** A chunk's `delta` for text, reasoning or a tool call's next arguments, its string given as a JSON literal. */
const contentDelta = (literal: string) => `{"content":${literal}}`;
const reasoningDelta = (literal: string) => `{"reasoning_content":${literal}}`;
const argumentsDelta = (toolIndex: number, literal: string) => `{"tool_calls":[{"index":${toolIndex},"function":{"arguments":${literal}}}]}`;

function note(ctx: TranslateContext, item: string): void {
  if (!ctx.dropped.includes(item)) ctx.dropped.push(item);
}
