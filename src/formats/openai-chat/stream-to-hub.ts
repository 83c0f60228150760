/**
 * @module formats/openai-chat/stream-to-hub
 * Upstream role, stream side: Chat Completions SSE events → a valid Anthropic event sequence
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
 * `message_start`, then per block `content_block_start` / deltas / `content_block_stop` with increasing
 * indexes, then `message_delta` (stop_reason, final usage) and `message_stop` — or an `error` event, last.
 *
 * One class owns one small state object (`StreamState`). Every upstream event is translated as it arrives:
 * events are enqueued before the next upstream event is read. The single exception is a provider
 * interleaving several tool calls' argument fragments: Anthropic blocks cannot interleave, so while a
 * tool call's arguments are still an unfinished JSON value, anything else (another call, text) waits in
 * `pending` and follows as soon as those arguments complete (or at the end of the stream). Streams where
 * calls arrive one after another, as every recorded provider does, never wait. And a text block does not open while
 * its text is whitespace alone (`blank`): the "\n\n" many models write before their tool calls, which Anthropic
 * refuses in a history, makes no block when a call or the end follows it, and leads the block's text when text does.
 *
 * `message_delta` is sent at `[DONE]` or the end of the body, not at `finish_reason`, because the usage
 * chunk (`choices: []`) comes after the finish chunk. Blocks are closed at `finish_reason` already.
 */
import type { RawContentBlockDelta, RawMessageStreamEvent, Usage } from '../../hub/types.ts';
import type { SseEvent } from '../../sse/types.ts';
import { EventTemplate, NO_PREFIX } from '../../util/event-template.ts';
import { JsonPrefix } from '../../util/json-prefix.ts';
import { assertNever } from '../../util/never.ts';
import { stageToTransform, type DeltaKind, type HubDeltaReader, type StreamStage, type TranslateContext, type UsageSoFar } from '../types.ts';
import { chatChoiceError, chatStreamErrorToHub } from './errors.ts';
import type { ChatQuirks } from './quirks.ts';
import {
  ANNOTATIONS_DROPPED, ThinkTagSplitter, contentPartOf, isRecord, keptReasoning, matchedStop, newMessageId, newToolUseId, noteDropped, parseToolArguments, reasoningOf, usageToHub,
} from './response-to-hub.ts';
import { answerStopReason } from './stop-reason.ts';
import { detailsSignature, mergeDetailFragments } from './reasoning-details.ts';
import { signedToolId, thoughtSignatureOf } from './thought-signature.ts';
import { clientToolId } from './foreign-tool-id.ts';
import { toolNameDown } from './tool-names.ts';
import type { ReasoningDetail, ChatCompletionChunk, ChatCompletionChunkChoice, ChatCompletionChunkDelta, ChatCompletionChunkToolCall, CompletionUsage } from './types.ts';

/** The longest a streamed tool call's arguments may grow (characters): far beyond any real call. */
export const MAX_TOOL_ARGS = 32 * 1024 * 1024;

/** The stage the pipeline composes: chat SSE events → hub events. */
/** `clientIds`: as chatResponseToHub's (false for a Chat client's relayed answer: ids as they came). */
export function chatChunksToHubStage(ctx: TranslateContext, quirks: ChatQuirks, clientIds = true): StreamStage<SseEvent, RawMessageStreamEvent> & HubDeltaReader {
  return new ChatStreamTranslator(ctx, quirks, MAX_TOOL_ARGS, true, clientIds);
}

export function chatChunksToHubEvents(ctx: TranslateContext, quirks: ChatQuirks): TransformStream<SseEvent, RawMessageStreamEvent> {
  return stageToTransform(chatChunksToHubStage(ctx, quirks));
}

/** One upstream tool call, however its fragments are keyed. */
interface ToolCall {
  upstreamIndex: number | undefined;
  upstreamId: string | undefined;
  id: string;
  name: string;
  args: string;
  /** How much of `args` has been sent as input_json_delta. */
  emitted: number;
  /** Its hub block index once started. */
  block: number | null;
  /** `args` checked as a prefix of one JSON object: only what keeps them one reaches the client. */
  json: JsonPrefix;
  /**
   * Arguments held back: what came after the object ended, or from the first character that could not continue it
   * (a model writing `city=Paris`): completed or carried as `{"_raw": …}` when the block closes, never sent as is.
   */
  rest: string;
  /** Gemini's thought signature for the call (quirks.thought_signatures), put in the id its block starts with. */
  signature: string;
  /**
   * Its name came again, without arguments, once its object was complete (toolFor: at one index, without ids): the
   * arguments that follow at its index, if any, are another call of the same function.
   */
  namedAgain: boolean;
}

type Op =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string }
  | { kind: 'signature'; signature: string }
  | { kind: 'details'; details: unknown[] }
  | { kind: 'tool'; tool: ToolCall };

type OpenBlock = { kind: 'text' | 'thinking'; index: number } | { kind: 'tool'; index: number; tool: ToolCall };

interface StreamState {
  /** idle: nothing sent; open: message_start sent; closed: message_stop or error sent. */
  phase: 'idle' | 'open' | 'closed';
  messageId: string;
  nextIndex: number;
  block: OpenBlock | null;
  tools: ToolCall[];
  pending: Op[];
  /** finish_reason of choice 0, once seen. */
  finish: string | null;
  /** Choice 0 sent `refusal` text: the model declined, and the stop reason says so (stop-reason.ts). */
  refused: boolean;
  stopSequence: string | null;
  usage: CompletionUsage | null;
  /** Signature for the open (or next) thinking block: the provider's, or '' (the SDK needs the field). */
  signature: string;
  /** Characters streamed, for an output estimate when the provider reports no usage. */
  outputChars: number;
  /** The open thinking block's text, kept when it is omitted for the client but needed back (keptReasoning). */
  omitted: string;
  /**
   * reasoning_details (quirks.reasoning_details) come since the last thinking block closed, fragments joined: the
   * signature of the next thinking block to close; null when none came.
   */
  details: ReasoningDetail[] | null;
  /** Characters of reasoning_details carried so far (their JSON), within `maxToolArgs`. */
  detailsChars: number;
  /**
   * A text block's deltas while its text is whitespace alone: held, no block open (`block` is null). It opens with the
   * text that follows, these first; anything else (another block, the end) closes it unsent (closeBlock).
   */
  blank: string[];
}

export class ChatStreamTranslator implements StreamStage<SseEvent, RawMessageStreamEvent>, HubDeltaReader, UsageSoFar {
  private readonly s: StreamState = {
    phase: 'idle', messageId: newMessageId(), nextIndex: 0, block: null, tools: [], pending: [],
    finish: null, refused: false, stopSequence: null, usage: null, signature: '', outputChars: 0, omitted: '', details: null, detailsChars: 0, blank: [],
  };
  private readonly think: ThinkTagSplitter | null;
  /** Set while closing: pending work is flushed without waiting for arguments to complete. */
  private forced = false;
  private out: RawMessageStreamEvent[] = [];
  /**
   * Chunks that carry one thing alone (text, reasoning, a tool call's next arguments: most of a stream), recognised
   * by their bytes (util/event-template.ts); empty: every chunk is parsed.
   */
  private readonly lanes: Lane[];
  /** quirks.thought_signatures is `keep`: a call's signature travels in its tool_use id (thought-signature.ts). */
  private readonly signatures: boolean;
  /** quirks.reasoning_details is `keep`: they travel in the thinking block's signature (reasoning-details.ts). */
  private readonly keepDetails: boolean;
  /**
   * The answer's first call, not started while its signature may still come in a fragment of its own: it starts when
   * the signature comes, when anything else is to be sent, or at the end. Only the first of parallel calls has one.
   */
  private waiting: ToolCall | null = null;
  /** The first call has been let go without its signature: it waits no more. */
  private waited = false;
  /** A signature that came before any call: the first call's. */
  private looseSignature = '';

  /**
   * `maxToolArgs`: the longest a tool call's arguments may grow, in characters (they are kept whole until they form
   * a complete JSON value): an upstream that never finishes one ends the stream with an error instead. The answer's
   * reasoning_details carried (quirks.reasoning_details), held for a signature, are bounded by it too.
   * `templates`: false parses every chunk (what the templates are tested against). `clientIds`: a call's id that
   * Anthropic would refuse starts its block as one it takes (foreign-tool-id.ts); false: as the provider gave it.
   */
  constructor(private readonly ctx: TranslateContext, private readonly quirks: ChatQuirks, private readonly maxToolArgs = MAX_TOOL_ARGS, templates = true, private readonly clientIds = true) {
    this.think = quirks.think_tags ? new ThinkTagSplitter() : null;
    this.lanes = templates ? LANE_KINDS.map((kind) => newLane(kind)) : [];
    this.signatures = quirks.thought_signatures === 'keep';
    this.keepDetails = quirks.reasoning_details === 'keep';
  }

  /** StreamStage: event(). */
  push(ev: SseEvent, out: RawMessageStreamEvent[]): void {
    this.event(ev, out);
  }

  /** HubDeltaReader: the block deltaLiteral last read for, and what its delta is. */
  literalIndex = 0;
  literalKind: DeltaKind = 'text';

  /**
   * HubDeltaReader: a chunk carrying only text, reasoning or a tool call's next arguments, recognised by the same
   * templates event() reads it with, its literal taken as it is: what event() would do with it, where content() and
   * thinking() come to one delta() of the open block, and toolFragment() to one apply() of the open call.
   */
  deltaLiteral(s: string, start: number, end: number, named: boolean): string | null {
    if (named) return null; // event() reads an event's name (Groq's `event: error`)
    const st = this.s;
    const open = st.block;
    // work is only ever held behind an open tool call, and none waits here
    if (st.phase !== 'open' || open === null || st.pending.length > 0 || this.waiting !== null) return null;
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const t = lane.template;
      const close = t.literalAt(s, start, end);
      if (close === NO_PREFIX) continue;
      // the first lane that may take it decides, as in event(); literals written otherwise go that way
      if (close < 0) return null;
      const from = start + t.literalOffset;
      const chars = t.literalChars;
      if (lane.kind === 'arguments') {
        // the call toolFor() finds for the template's index is the open one (an open call is named and has sent
        // all its arguments so far), and these keep it within its limit: toolFragment() then comes to one delta of
        // its block; empty arguments are no delta
        if (open.kind !== 'tool' || chars === 0) return null;
        const tool = open.tool;
        if (st.tools.findLast((x) => x.upstreamIndex === t.index) !== tool || tool.json.settled || tool.args.length + chars > this.maxToolArgs) return null;
        let literal = s.slice(from, close + 1);
        const args = JSON.parse(literal) as string; // the call's arguments are kept decoded (their JSON is checked)
        const taken = tool.json.push(args);
        // none of it continues the object: the ordinary way holds it back (the check already knows, and takes no more)
        if (taken === 0) return null;
        const sent = tool.json.lastTaken;
        // the object ended, or stopped being one, inside this fragment (the rest held), or a raw line break in one of
        // its strings was escaped: the delta is what was taken, as it is to be sent
        if (taken < args.length) tool.rest = args.slice(taken);
        if (sent !== args) literal = JSON.stringify(sent);
        tool.args += sent;
        tool.emitted = tool.args.length;
        st.outputChars += taken < args.length ? taken : chars;
        this.literalIndex = open.index;
        this.literalKind = 'json';
        return literal;
      }
      const thinking = lane.kind !== 'content';
      // content()'s and thinking()'s conditions for one delta, and no think-tag splitter (it may hold or reroute any
      // text); empty text is no delta; another kind of block would be opened; omitted thinking is counted, not sent
      if (this.think || chars === 0 || open.kind !== (thinking ? 'thinking' : 'text') || (thinking && this.ctx.omitThinking)) return null;
      st.outputChars += chars;
      this.literalIndex = open.index;
      this.literalKind = thinking ? 'thinking' : 'text';
      return s.slice(from, close + 1);
    }
    return null;
  }

  /** Hub events for one upstream SSE event, appended to `out` (returned). */
  event(ev: SseEvent, out: RawMessageStreamEvent[] = []): RawMessageStreamEvent[] {
    this.out = out;
    if (this.s.phase === 'closed') return this.out;
    if (ev.event === 'error') { this.fail(parseJson(ev.data) ?? ev.data); return this.out; } // Groq
    const data = ev.data.trim();
    if (data === '') return this.out;
    if (data === '[DONE]') { this.finishMessage(); return this.out; }
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const text = lane.template.match(data);
      if (text === undefined) continue;
      // what chunk() does with a chunk that carries this one thing alone (singleOf)
      this.start(null);
      if (lane.kind === 'content') this.content(text);
      else if (lane.kind === 'arguments') this.toolFragment({ index: lane.template.index, function: { arguments: text } });
      else this.thinking(text);
      return this.out;
    }
    const chunk = parseJson(data);
    if (!isRecord(chunk)) { this.fail({ error: { message: 'upstream sent a stream event that is not a JSON object' } }); return this.out; }
    // OpenRouter's `{"error": …}`; vLLM's own, its fields at the top level (`{"object": "error", "message": …}`)
    if ((chunk.error !== undefined && chunk.error !== null) || chunk.object === 'error') { this.fail(chunk); return this.out; }
    this.chunk(chunk as ChatCompletionChunk);
    if (lanes.length > 0) {
      // learnt from a chunk that carries something (the first one, `"role":"assistant","content":""`, seldom looks
      // like the rest)
      const single = singleOf(chunk);
      if (single && single.text) {
        const lane = lanes.find((l) => l.kind === single.kind)!;
        if (lane.template.learning) lane.template.learn(data, single.text);
      }
    }
    return this.out;
  }

  /**
   * Hub events at the end of the upstream body, appended to `out` (returned). A body that ends with neither `[DONE]`
   * nor a finish reason was cut off (a connection closed cleanly mid-answer): an error, not an answer that looks whole.
   */
  end(out: RawMessageStreamEvent[] = []): RawMessageStreamEvent[] {
    this.out = out;
    if (this.s.phase === 'closed') return this.out;
    if (this.s.phase !== 'idle' && !this.s.finish) {
      this.fail({ error: { message: 'upstream stream ended before the answer was complete (no finish_reason, no [DONE])' } });
      return this.out;
    }
    this.finishMessage();
    return this.out;
  }

  private chunk(chunk: ChatCompletionChunk): void {
    const usage = isRecord(chunk.usage) ? chunk.usage : isRecord(chunk.x_groq?.usage) ? chunk.x_groq.usage : null;
    this.start(usage);
    if (usage) this.s.usage = usage;
    for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
      if (!isRecord(choice)) continue;
      if ((choice.index ?? 0) !== 0) { noteDropped(this.ctx, 'choices 1+ (only the first choice is streamed)'); continue; }
      this.choice(choice);
    }
  }

  private choice(c: ChatCompletionChunkChoice): void {
    // OpenRouter reports a failure on the choice itself; what came before it stays sent, the error event ends the stream
    if (c.error !== undefined && c.error !== null) { this.fail(chatChoiceError(c) ?? c); return; }
    const d: ChatCompletionChunkDelta = isRecord(c.delta) ? c.delta : NO_DELTA;
    // most chunks carry text alone: the reasoning fields are looked into only when one is there
    if (d.reasoning_content || d.reasoning || d.reasoning_details) {
      const reasoning = reasoningOf(d);
      this.thinking(reasoning.text);
      if (reasoning.signature) this.process({ kind: 'signature', signature: reasoning.signature });
      if (this.keepDetails && Array.isArray(d.reasoning_details) && d.reasoning_details.length > 0) {
        // held until their thinking block closes (behind text or a call: the end of the answer), so bounded as a
        // call's arguments are: an upstream that never stops sending them ends the stream with an error instead
        this.s.detailsChars += JSON.stringify(d.reasoning_details).length;
        if (this.s.detailsChars > this.maxToolArgs) {
          this.fail({ error: { message: `reasoning_details longer than ${this.maxToolArgs} characters` } });
          return;
        }
        this.process({ kind: 'details', details: d.reasoning_details });
      }
    }
    // a signature on the delta itself (where Gemini 2.5 put it on the message): the first call's
    if (this.signatures && d.extra_content !== undefined) this.signatureAlone(thoughtSignatureOf(d));

    if (typeof d.content === 'string') this.content(d.content);
    else if (Array.isArray(d.content)) {
      for (const part of d.content) {
        const p = contentPartOf(part);
        if (p) this.process({ kind: p.kind, text: p.text });
      }
    }
    if (Array.isArray(d.annotations) && d.annotations.length > 0) noteDropped(this.ctx, ANNOTATIONS_DROPPED);
    if (typeof d.refusal === 'string' && d.refusal) {
      this.s.refused = true;
      this.process({ kind: 'text', text: d.refusal });
    }

    if (Array.isArray(d.tool_calls)) {
      for (const tc of d.tool_calls as unknown[]) if (isRecord(tc) && this.s.phase !== 'closed') this.toolFragment(tc as ChatCompletionChunkToolCall);
    } else if (isRecord(d.function_call) && this.s.phase !== 'closed') this.toolFragment({ index: 0, function: d.function_call });
    if (this.s.phase === 'closed') return; // failed: the error event stays last

    if (typeof c.finish_reason === 'string' && c.finish_reason) {
      const failed = chatChoiceError(c); // `error`, `insufficient_system_resource`: cut short, not finished
      if (failed) { this.fail(failed); return; }
      this.s.finish = c.finish_reason;
      this.s.stopSequence = matchedStop(c);
      this.closeBlocks();
    }
  }

  private content(text: string): void {
    if (!text) return;
    if (!this.think) {
      // what process() comes to when nothing waits and no tool call is open, without an op queued and taken back
      if (this.s.pending.length === 0 && this.s.block?.kind !== 'tool' && this.waiting === null) this.delta('text', { type: 'text_delta', text }, text.length);
      else this.process({ kind: 'text', text });
      return;
    }
    for (const seg of this.think.push(text)) this.process({ kind: seg.kind, text: seg.text });
  }

  private thinking(text: string): void {
    if (!text) return;
    // what process() comes to when nothing waits and no tool call is open (as for text)
    if (this.s.pending.length === 0 && this.s.block?.kind !== 'tool' && this.waiting === null) this.delta('thinking', { type: 'thinking_delta', thinking: text }, text.length);
    else this.process({ kind: 'thinking', text });
  }

  private toolFragment(tc: ChatCompletionChunkToolCall): void {
    const id = typeof tc.id === 'string' && tc.id ? tc.id : undefined;
    const name = typeof tc.function?.name === 'string' && tc.function.name ? tc.function.name : undefined;
    const raw = tc.function?.arguments;
    // arguments as a JSON object, not its text (llama.cpp's server, ggml-org/llama.cpp#20198): their text
    const args = typeof raw === 'string' ? raw : raw == null ? '' : JSON.stringify(raw);
    const signature = this.signatures ? thoughtSignatureOf(tc) : '';
    // a metadata-only fragment (Gemini's thought_signature alone) names no call and carries nothing else
    if (!id && !name && !args && typeof tc.index !== 'number') { if (signature) this.signatureAlone(signature); return; }
    const tool = this.toolFor(tc, id, args);
    if (signature && !tool.signature && tool.block === null) tool.signature = signature;
    if (id && !tool.upstreamId && tool.block === null) { tool.upstreamId = id; tool.id = this.unusedId(id); }
    // the client's name for a tool sent under an alias (tool-names.ts); the name comes in a call's first fragment
    if (name && !tool.name) tool.name = toolNameDown(name, this.ctx);
    if (args) {
      if (tool.args.length + tool.rest.length + args.length > this.maxToolArgs) {
        this.fail({ error: { message: `tool call ${tool.id}: arguments longer than ${this.maxToolArgs} characters` } });
        return;
      }
      const taken = tool.json.push(args);
      tool.args += tool.json.lastTaken; // what keeps them one object, as it is to be sent
      if (taken < args.length) tool.rest += args.slice(taken);
    }
    this.process({ kind: 'tool', tool });
  }

  /**
   * Which call a fragment belongs to: by `index` (a different non-empty id at a used index starts a new
   * call, and so, without ids, does another function's name, or arguments named after the call's object is
   * complete: servers that give every call index 0, ai-dynamo/dynamo#4723), else by `id`, else the latest call, read
   * as the one index all calls would share (servers that send no `index`: older Ollama, ollama/ollama#7881; GLM behind
   * router-for-me/CLIProxyAPI#5058): a name repeated on a call's every fragment continues it. `args`: the fragment's
   * arguments, as text.
   */
  private toolFor(tc: ChatCompletionChunkToolCall, id: string | undefined, args: string): ToolCall {
    const index = typeof tc.index === 'number' ? tc.index : undefined;
    if (index === undefined && id) return this.s.tools.find((t) => t.upstreamId === id) ?? this.newTool(undefined, id);
    const known = index === undefined ? this.s.tools.at(-1) : this.s.tools.findLast((t) => t.upstreamIndex === index);
    if (known && !(id && known.upstreamId && known.upstreamId !== id) && !this.nextCallAtIndex(known, tc, id, args)) return known;
    const tool = this.newTool(index, id);
    // arguments after a call's name came again (nextCallAtIndex): a call of that function, named then
    if (known?.namedAgain && !tc.function?.name) tool.name = known.name;
    return tool;
  }

  /**
   * A fragment at a call's index that is another call: no id says otherwise, and it names a function after the call
   * has one, either another function or, with arguments, once the call's object is complete (a name repeated on
   * every fragment of one call, as some servers write it, continues it).
   */
  private nextCallAtIndex(known: ToolCall, tc: ChatCompletionChunkToolCall, id: string | undefined, args: string): boolean {
    if (id && id === known.upstreamId) return false;
    const more = args.trim() !== '';
    const name = tc.function?.name;
    // arguments alone after the call's name came again once its object was complete: OpenAI opens a call with its
    // name and arguments "", so that was the next call of the same function opening
    if (typeof name !== 'string' || !name || !known.name) return more && known.namedAgain && known.json.complete;
    // the call's name is the client's (an alias given back: tool-names.ts), the fragment's the provider's
    if (toolNameDown(name, this.ctx) !== known.name) return true;
    if (!known.json.complete) return false;
    if (more) return true;
    // the name alone: a name repeated on the call's every fragment (nothing follows), or the next call opening
    known.namedAgain = true;
    return false;
  }

  private newTool(upstreamIndex: number | undefined, upstreamId: string | undefined): ToolCall {
    const tool: ToolCall = {
      upstreamIndex, upstreamId, id: upstreamId ? this.unusedId(upstreamId) : newToolUseId(), name: '', args: '', emitted: 0, block: null, json: new JsonPrefix(), rest: '',
      signature: this.s.tools.length === 0 ? this.looseSignature : '', namedAgain: false,
    };
    this.s.tools.push(tool);
    return tool;
  }

  /**
   * A signature that names no call (a fragment of its own, or on the delta): the first call's, while that has none
   * and has not started (it waits for it: `waiting`); before any call, kept for the first.
   */
  private signatureAlone(signature: string): void {
    if (!signature) return;
    const first = this.s.tools[0];
    if (first === undefined) { this.looseSignature ||= signature; return; }
    if (first.signature || first.block !== null) return;
    first.signature = signature;
    if (this.waiting === first) this.process({ kind: 'tool', tool: first });
  }

  /** The first call, held for its signature, started now (something else is to be sent, or the answer ends). */
  private releaseWaiting(): void {
    const tool = this.waiting;
    if (tool === null) return;
    this.waiting = null;
    this.waited = true;
    this.apply({ kind: 'tool', tool });
  }

  /**
   * The upstream's id for a new call, or a fresh one if an earlier call of this answer or of the history has it: ids
   * must differ (Anthropic: "tool_use ids must be unique"), and some servers give every call one id (Xinference) or
   * number the calls of each answer (TranslateContext.historyToolIds).
   */
  private unusedId(id: string): string {
    return this.s.tools.some((t) => t.id === id) || this.ctx.historyToolIds?.includes(id) ? newToolUseId() : id;
  }

  // ---------- ordering ----------

  private process(op: Op): void {
    if (this.waiting !== null && !(op.kind === 'tool' && op.tool === this.waiting)) this.releaseWaiting();
    const open = this.s.block;
    // fragments of the open call never wait: they only extend its own block
    if (op.kind === 'tool' && open?.kind === 'tool' && open.tool === op.tool) this.apply(op);
    else this.s.pending.push(op);
    this.drain();
  }

  private drain(): void {
    while (this.s.pending.length > 0) {
      const op = this.s.pending[0]!;
      const open = this.s.block;
      const held = !this.forced && open?.kind === 'tool' && !open.tool.json.settled && !(op.kind === 'tool' && op.tool === open.tool);
      if (held) return;
      this.s.pending.shift();
      this.apply(op);
    }
  }

  private apply(op: Op): void {
    switch (op.kind) {
      case 'text':
        this.delta('text', { type: 'text_delta', text: op.text }, op.text.length);
        return;
      case 'thinking':
        this.delta('thinking', { type: 'thinking_delta', thinking: op.text }, op.text.length);
        return;
      case 'signature':
        this.s.signature = op.signature;
        return;
      case 'details': {
        mergeDetailFragments((this.s.details ??= []), op.details);
        // reasoning without text (encrypted) still needs a block to ride in: one is opened where no other block is
        // open; behind text or a call, they go in a block of their own at the end (closeBlocks)
        if (this.s.block === null) this.openBlock('thinking');
        return;
      }
      case 'tool': {
        const tool = op.tool;
        // started once its name is known; at the end, a call with arguments but no name is still shown
        if (!tool.name && !(this.forced && (tool.args || tool.rest))) return;
        if (tool.block === null && this.signatures && !tool.signature && !this.forced && tool === this.s.tools[0] && !this.waited) {
          this.waiting = tool;
          return;
        }
        if (tool.block !== null && this.s.block?.index !== tool.block) {
          // arguments for a call whose block already closed (held back: after its object's end, or not JSON)
          if (tool.rest.trim() || tool.args.slice(tool.emitted).trim()) noteDropped(this.ctx, `tool call ${tool.id}: arguments after its end`);
          tool.rest = '';
          tool.emitted = tool.args.length;
          return;
        }
        if (tool.block === null) {
          this.closeBlock();
          tool.block = this.s.nextIndex++;
          this.s.block = { kind: 'tool', index: tool.block, tool };
          // the provider's id, where Anthropic would refuse it, within its pattern (a regex test per call, in this
          // block's start only); read back in request-from-hub.ts. tool.id stays the provider's (unusedId, the log)
          const own = this.clientIds ? clientToolId(tool.id) : tool.id;
          const id = tool.signature ? signedToolId(tool.signature, own) : own;
          this.out.push({ type: 'content_block_start', index: tool.block, content_block: { type: 'tool_use', id, name: tool.name, input: {} } });
        }
        const fresh = tool.args.slice(tool.emitted);
        if (fresh) {
          tool.emitted = tool.args.length;
          this.s.outputChars += fresh.length;
          this.out.push({ type: 'content_block_delta', index: tool.block, delta: { type: 'input_json_delta', partial_json: fresh } });
        }
        return;
      }
      default: assertNever(op, 'stream op');
    }
  }

  private delta(kind: 'text' | 'thinking', delta: RawContentBlockDelta, chars: number): void {
    if (chars === 0) return;
    let open = this.s.block;
    if (open?.kind !== kind) {
      // a text block does not open while its text is whitespace alone (the "\n\n" many models write before their
      // tool calls): Anthropic refuses such a block in the history the client sends back ("text content blocks must
      // contain non-whitespace text"); only a block's first deltas are looked at
      if (kind === 'text') {
        const blank = this.s.blank;
        if ((delta as { text: string }).text.trim() === '') {
          if (blank.length === 0) this.closeBlock(); // what opening the block would have closed
          blank.push((delta as { text: string }).text);
          this.s.outputChars += chars;
          return;
        }
        open = this.openBlock(kind); // a new `blank` (closeBlock)
        // the held whitespace first, delta by delta as it came
        for (const text of blank) this.out.push({ type: 'content_block_delta', index: open.index, delta: { type: 'text_delta', text } });
      } else open = this.openBlock(kind);
    }
    this.s.outputChars += chars;
    // display: "omitted" (Claude Code): the block stays, its text does not reach the client (but goes to its signature
    // where the provider needs it back: keptReasoning)
    if (kind === 'thinking' && this.ctx.omitThinking) {
      if (this.quirks.reasoning_content_in_history) this.s.omitted += (delta as { thinking: string }).thinking;
      return;
    }
    this.out.push({ type: 'content_block_delta', index: open.index, delta });
  }

  private openBlock(kind: 'text' | 'thinking'): OpenBlock {
    this.closeBlock();
    const open: OpenBlock = { kind, index: this.s.nextIndex++ };
    this.s.block = open;
    this.out.push({
      type: 'content_block_start', index: open.index,
      content_block: kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' },
    });
    return open;
  }

  private closeBlock(): void {
    // text of whitespace alone that nothing followed: no block (delta())
    if (this.s.blank.length !== 0) this.s.blank = [];
    const open = this.s.block;
    if (!open) return;
    if (open.kind === 'thinking') {
      // the Anthropic SDK's accumulator expects every thinking block to carry a signature
      // reasoning_details carried (quirks.reasoning_details) hold the provider's own signature too
      const details = this.s.details;
      const signature = details !== null ? detailsSignature(details) : this.s.signature || (this.s.omitted ? keptReasoning(this.s.omitted) : '');
      this.s.details = null;
      this.out.push({ type: 'content_block_delta', index: open.index, delta: { type: 'signature_delta', signature } });
      this.s.signature = '';
      this.s.omitted = '';
    } else if (open.kind === 'tool' && open.tool.rest) this.settleArguments(open.tool, open.index);
    this.out.push({ type: 'content_block_stop', index: open.index });
    this.s.block = null;
  }

  /**
   * A call whose arguments were held back, as its block closes: what followed a complete object is left out (named in
   * `dropped`); arguments that were never an object are sent as the non-streamed answer reads them (`{"_raw": …}`,
   * or `{}` for `null`); an object that went wrong part way is completed where it stopped, the rest left out.
   */
  private settleArguments(tool: ToolCall, index: number): void {
    const json = tool.json;
    let tail = '';
    if (json.complete) {
      if (tool.rest.trim()) noteDropped(this.ctx, `tool call ${tool.id}: arguments after its end`);
    } else if (!tool.args.trim()) {
      const input = parseToolArguments(tool.args + tool.rest);
      if (Object.keys(input).length > 0) tail = JSON.stringify(input);
    } else {
      tail = json.closing();
      noteDropped(this.ctx, `tool call ${tool.id}: arguments that are not JSON, from character ${json.accepted}`);
    }
    tool.rest = '';
    if (!tail) return;
    tool.args += tail;
    tool.emitted = tool.args.length;
    this.s.outputChars += tail.length;
    this.out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: tail } });
  }

  /** Flush held-back work (tag remainders, pending ops, unnamed calls) and close the open block. */
  private closeBlocks(): void {
    if (this.think) for (const seg of this.think.end()) this.process({ kind: seg.kind, text: seg.text });
    this.forced = true;
    this.releaseWaiting();
    this.drain();
    for (const tool of this.s.tools) if (tool.block === null && (tool.name || tool.args || tool.rest)) this.apply({ kind: 'tool', tool });
    this.forced = false;
    this.closeBlock();
    // reasoning_details that came behind text or a call: a thinking block of their own, last
    if (this.s.details !== null) { this.openBlock('thinking'); this.closeBlock(); }
  }

  // ---------- message envelope ----------

  private start(usage: CompletionUsage | null): void {
    if (this.s.phase !== 'idle') return;
    this.s.phase = 'open';
    // without upstream usage yet: the local input estimate, and 1 output token as Anthropic's own message_start says
    const u: Usage = usage ? usageToHub(usage) : { input_tokens: this.ctx.estimatedInputTokens, output_tokens: 1, cache_read_input_tokens: 0 };
    // what the log reads if the stream ends before a message_delta replaces it (finishMessage)
    if (!usage) this.ctx.usageEstimated = true;
    this.out.push({
      type: 'message_start',
      message: {
        id: this.s.messageId, type: 'message', role: 'assistant', model: this.ctx.requestedModel,
        content: [], stop_reason: null, stop_sequence: null, usage: u,
      },
    });
  }

  private finishMessage(): void {
    if (this.s.phase === 'idle') {
      this.fail({ error: { message: 'upstream stream ended without sending any data' } });
      return;
    }
    this.closeBlocks();
    const stopReason = answerStopReason(this.s.finish, this.s.tools.some((t) => t.block !== null), this.s.stopSequence, this.s.refused);
    this.out.push({
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: stopReason === 'stop_sequence' ? this.s.stopSequence : null },
      usage: this.finalUsage(),
    });
    this.out.push({ type: 'message_stop' });
    this.s.phase = 'closed';
  }

  /** The answer's usage as its message_delta says it: the upstream's, else the output estimated from its text. */
  private finalUsage(): Partial<Usage> & { output_tokens: number } {
    this.ctx.usageEstimated = !this.s.usage;
    return this.s.usage ? usageToHub(this.s.usage) : { output_tokens: Math.ceil(this.s.outputChars / 4) };
  }

  /**
   * The usage of an answer that ended without its message_delta (formats/types.ts: UsageSoFar): the provider billed
   * what it generated before the cut, which message_start's 1 output token does not say; and a usage chunk that came
   * before the cut (its [DONE] did not) is the provider's own count.
   */
  usageSoFar(): Partial<Usage> | null {
    return this.s.phase === 'idle' ? null : this.finalUsage();
  }

  /** An error inside the 200 stream: an Anthropic `error` event, last (no message_stop after it). */
  private fail(body: unknown): void {
    const error = chatStreamErrorToHub(body);
    this.out.push({ type: 'error', error });
    this.s.phase = 'closed';
  }
}

const NO_DELTA: ChatCompletionChunkDelta = Object.freeze({});

/** What a chunk may carry alone, each with its member (the template's key). */
const LANE_KINDS = ['content', 'reasoning_content', 'reasoning', 'arguments'] as const;
type LaneKind = (typeof LANE_KINDS)[number];

/** One kind of chunk read by its bytes; a learnt `arguments` template's index is the tool call it continues. */
interface Lane { kind: LaneKind; template: EventTemplate }

function newLane(kind: LaneKind): Lane {
  const template = new EventTemplate({
    key: `"${kind}":`,
    plain(chunk, text) {
      const single = singleOf(chunk);
      return single?.kind === kind && single.text === text ? single.index : null;
    },
    varyingKey: 'obfuscation',
    // a template per tool call (its index is in it); the others rarely need more than a second try
    maxLearnt: kind === 'arguments' ? 16 : 4,
  });
  return { kind, template };
}

/**
 * The one thing a chunk carries for choice 0, when chunk() and choice() would do nothing else with it: its text
 * alone, its reasoning alone (no signature), or the next arguments of a tool call named only by its index. No
 * usage, no error, no finish, no other choice. Kept next to chunk() and choice(): what they look at, this must.
 */
function singleOf(chunk: unknown): { kind: LaneKind; text: string; index: number } | null {
  if (!isRecord(chunk)) return null;
  const c = chunk as ChatCompletionChunk;
  if ((c.error !== undefined && c.error !== null) || isRecord(c.usage) || isRecord(c.x_groq?.usage)) return null;
  if (!Array.isArray(c.choices) || c.choices.length !== 1) return null;
  const choice = c.choices[0];
  if (!isRecord(choice) || (choice.index ?? 0) !== 0 || (typeof choice.finish_reason === 'string' && choice.finish_reason)) return null;
  if (choice.error !== undefined && choice.error !== null) return null;
  const d = choice.delta;
  if (!isRecord(d) || (typeof d.refusal === 'string' && d.refusal) || d.reasoning_details || d.extra_content !== undefined) return null;
  const noContent = d.content === undefined || d.content === null || d.content === '';
  const noTools = !Array.isArray(d.tool_calls) && !isRecord(d.function_call);
  if (typeof d.content === 'string' && d.content && !d.reasoning_content && !d.reasoning && noTools) return { kind: 'content', text: d.content, index: 0 };
  if (!noContent) return null;
  if (typeof d.reasoning_content === 'string' && d.reasoning_content && !d.reasoning && noTools) return { kind: 'reasoning_content', text: d.reasoning_content, index: 0 };
  if (typeof d.reasoning === 'string' && d.reasoning && !d.reasoning_content && noTools) return { kind: 'reasoning', text: d.reasoning, index: 0 };
  if (d.reasoning_content || d.reasoning || !Array.isArray(d.tool_calls) || d.tool_calls.length !== 1) return null;
  const tc = d.tool_calls[0] as ChatCompletionChunkToolCall;
  const fn = tc?.function;
  // a signature (Gemini's extra_content) is read by toolFragment: such a fragment is no template
  if (!isRecord(tc) || typeof tc.index !== 'number' || (typeof tc.id === 'string' && tc.id) || !isRecord(fn) || tc.extra_content !== undefined) return null;
  if ((typeof fn.name === 'string' && fn.name) || typeof fn.arguments !== 'string' || !fn.arguments) return null;
  return { kind: 'arguments', text: fn.arguments, index: tc.index };
}

function parseJson(s: string): unknown {
  try { return JSON.parse(s); } catch { return undefined; }
}
