/**
 * @module test/e2e/claude-code-providers
 * The real Claude Code CLI (`claude -p`) → gateway → an `openai` channel with each provider preset → a mock of that
 * provider which (1) refuses, as the provider would, a request the provider does not take (the fields its preset
 * drops or renames, the max-tokens field, the reasoning control, the tool-schema shape, its tool-call id rules, the
 * reasoning it needs back in tool loops) and (2) answers by replaying that provider's recorded stream
 * (../shared/fixtures/upstream/openai-compatible/<provider>/), adapted only where it must be: a recorded tool call's
 * name and arguments are rewritten to call Claude Code's `Read` on a file the test wrote, every other byte of the
 * chunks (ids, index-less deltas, reasoning fields, usage placement, finish reasons) as recorded.
 *
 * Providers whose recordings are non-streaming JSON only (Claude Code always streams) get that JSON turned into the
 * chunks of one streamed answer (`jsonToStream`): the message's own fields, ids and reasoning field kept.
 * Where a provider has no recording of one of the two turns, the answer is written in the envelope of its recorded
 * chunks (`inEnvelope`) and the case says so.
 *
 * Per provider: a plain answer (`claude -p`, text printed) and a Read round trip (`--output-format json`: result,
 * is_error false, num_turns 2; what the mock got on the second turn). Skipped loudly if the CLI cannot run.
 */
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream, json, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, readFixture } from '../helpers/fixtures.ts';
import { claudeForFile, tempDirs, describeRun, runClaude } from '../helpers/claude-code.ts';
import { mistralCheck } from '../helpers/mistral-rules.ts';
import { moonshotProblem } from '../helpers/moonshot-rules.ts';
import { geminiSignatureProblem } from '../helpers/gemini-rules.ts';
import { reasoningDetailsProblem } from '../helpers/openrouter-rules.ts';

const KEY = 'sk-gw-claude-code-providers-1';
const UPSTREAM_KEY = 'sk-upstream-secret-providers';
const CLI = claudeForFile('test/e2e/claude-code-providers.test.ts');

const freshDir = tempDirs();

// ---------- recorded streams, and the only adaptations made to them ----------

type Chunk = Record<string, any>;
/** One SSE event of a recording: a data chunk (parsed), or any other event text kept as it is. */
type Ev = { chunk: Chunk; raw?: undefined } | { chunk?: undefined; raw: string };

function parseStream(body: string): Ev[] {
  return body.split(/(?<=\n\n)/).filter((s) => s.trim()).map((ev) => {
    const m = /^data: (\{.*\})\s*$/s.exec(ev);
    return m ? { chunk: JSON.parse(m[1]!) } : { raw: ev };
  });
}
const writeStream = (evs: Ev[]) => evs.map((e) => (e.chunk ? `data: ${JSON.stringify(e.chunk)}\n\n` : e.raw)).join('');
const recorded = (rel: string) => parseStream(fixtureSseBody(`openai-compatible/${rel}`));

/**
 * The recorded tool call turned into a call of `Read` on `file`: its name replaced, its arguments' fragments (those
 * that carried any) replaced by as many slices of the new arguments. Ids, indexes, types and every other field stay.
 */
function toRead(evs: Ev[], file: string): Ev[] {
  const args = JSON.stringify({ file_path: file });
  const frags: Chunk[] = [];
  for (const e of evs) for (const c of e.chunk?.choices ?? []) for (const tc of c.delta?.tool_calls ?? []) if (tc.function?.arguments) frags.push(tc.function);
  if (frags.length === 0) throw new Error('recording has no tool-call arguments');
  const n = frags.length;
  const size = Math.ceil(args.length / n);
  frags.forEach((fn, i) => { fn.arguments = args.slice(i * size, i === n - 1 ? undefined : (i + 1) * size); });
  for (const e of evs) for (const c of e.chunk?.choices ?? []) for (const tc of c.delta?.tool_calls ?? []) if (tc.function?.name) tc.function.name = 'Read';
  return evs;
}

/** The text a recorded stream's answer shows (content strings and text parts; `<think>` sections left out). */
function answerOf(evs: Ev[]): string {
  let s = '';
  for (const e of evs) for (const c of e.chunk?.choices ?? []) {
    const content = c.delta?.content;
    if (typeof content === 'string') s += content;
    else if (Array.isArray(content)) for (const p of content) if (p.type === 'text') s += p.text;
  }
  return s.replace(/<think>[\s\S]*?(<\/think>|$)/g, '').trim();
}

/** A non-streaming recording as the one stream Claude Code asks for: its message's fields as deltas, as recorded. */
function jsonToStream(rel: string, opts: { usageOnFinish?: boolean; comments?: string } = {}): Ev[] {
  const r = JSON.parse(readFixture(`openai-compatible/${rel}`));
  const { choices: [choice], usage, ...top } = r;
  const { message, finish_reason, ...choiceRest } = choice;
  const { content, tool_calls, role, ...messageRest } = message;
  const env = { ...top, object: 'chat.completion.chunk' };
  const ev = (delta: Chunk, finish: string | null = null, extra: Chunk = {}): Ev => ({ chunk: { ...env, choices: [{ ...choiceRest, delta, finish_reason: finish }], ...extra } });
  const evs: Ev[] = [];
  if (opts.comments) evs.push({ raw: opts.comments });
  evs.push(ev({ role, content: '' }));
  const reasoning: Chunk = {};
  for (const [k, v] of Object.entries(messageRest)) if (v !== null && v !== undefined) reasoning[k] = v;
  if (Object.keys(reasoning).length) evs.push(ev(reasoning));
  if (content) evs.push(ev({ content }));
  (tool_calls ?? []).forEach((tc: Chunk, i: number) => evs.push(ev({ tool_calls: [{ index: i, ...tc }] })));
  evs.push(ev({}, finish_reason, opts.usageOnFinish === false ? {} : { usage }));
  if (opts.usageOnFinish === false) evs.push({ chunk: { ...env, choices: [], usage } });
  evs.push({ raw: 'data: [DONE]\n\n' });
  return evs;
}

/** An answer of `text` (or a Read call) in the envelope of a recording's chunks: where no recording has that turn. */
function inEnvelope(evs: Ev[], what: { text: string } | { toolId: string; file: string }, finishExtra: Chunk = {}): Ev[] {
  const first = evs.find((e) => e.chunk?.choices?.length)!.chunk!;
  const { choices: [c0], usage: _u, ...env } = first;
  const { delta: _d, finish_reason: _f, ...choiceRest } = c0;
  const ev = (delta: Chunk, finish: string | null = null, extra: Chunk = {}): Ev => ({ chunk: { ...env, choices: [{ ...choiceRest, delta, finish_reason: finish }], ...extra } });
  const body = 'text' in what
    ? [ev({ role: 'assistant', content: what.text })]
    : [ev({ role: 'assistant', tool_calls: [{ id: what.toolId, index: 0, type: 'function', function: { name: 'Read', arguments: JSON.stringify({ file_path: what.file }) } }] })];
  return [...body, ev({}, 'text' in what ? 'stop' : 'tool_calls', { usage: { prompt_tokens: 100, completion_tokens: 12, total_tokens: 112 }, ...finishExtra }), { raw: 'data: [DONE]\n\n' }];
}

/**
 * The recorded Gemini tool call as Gemini 3 streams it: the thought signature on the call (`extra_content` of the tool
 * call, https://ai.google.dev/gemini-api/docs/thought-signatures) where Gemini 2.5 put it on the message.
 */
function asGemini3(evs: Ev[]): Ev[] {
  let extra: unknown;
  const out = evs.filter((e) => {
    const d = e.chunk?.choices?.[0]?.delta;
    if (d?.extra_content === undefined) return true;
    extra = d.extra_content;
    return false;
  });
  for (const e of out) for (const tc of e.chunk?.choices?.[0]?.delta?.tool_calls ?? []) tc.extra_content = extra;
  return out;
}
const GEMINI_SIGNATURE: string = JSON.parse(readFixture('openai-compatible/gemini/response-tool-calls-without-id.json')).choices[0].message.extra_content.google.thought_signature;

/** The recorded OpenRouter Claude stream's chunks that carry reasoning_details. */
const openrouterReasoning = () => recorded('openrouter/stream-reasoning-claude.sse').filter((e) => e.chunk?.choices?.[0]?.delta?.reasoning_details?.length);
/** Those details, joined as a stream's fragments are: the text, and the signature of its own fragment. */
const OPENROUTER_CLAUDE_DETAILS = (() => {
  const frags = openrouterReasoning().flatMap((e) => e.chunk!.choices[0].delta.reasoning_details);
  return [{ ...frags[0], text: frags.map((f: any) => f.text ?? '').join(''), signature: frags.map((f: any) => f.signature ?? '').join('') }];
})();

// ---------- what each provider takes ----------

const ANTHROPIC_ONLY = ['cache_control', 'defer_loading', 'input_schema', '$schema', 'context_management', 'output_config', 'thinking_blocks', 'anthropic_beta'];
function keysDeep(x: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(x)) for (const v of x) keysDeep(v, out);
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) { out.add(k); keysDeep(v, out); }
  return out;
}

/** Mistral's request fields: anything else is a 422 "Extra inputs are not permitted". */
const MISTRAL_FIELDS = new Set(['model', 'messages', 'temperature', 'top_p', 'max_tokens', 'stream', 'stop', 'random_seed', 'response_format', 'tools', 'tool_choice', 'presence_penalty', 'frequency_penalty', 'n', 'prediction', 'parallel_tool_calls', 'prompt_mode', 'safe_prompt']);
/** Keys outside the OpenAPI subset Gemini's function declarations take. */
const GEMINI_REJECTS = ['$schema', 'additionalProperties', 'exclusiveMinimum', 'exclusiveMaximum', 'const', '$ref', '$defs', 'definitions', 'oneOf', 'allOf', 'not'];

interface Ctx { body: any; turn: 1 | 2; req: RecordedRequest }
type Rule = (c: Ctx) => string[];

/** A refusal of too large an output limit, in the provider's own words (the gateway reads its ceiling from them). */
const CEILING = 'ceiling: ';
type Says = (limit: number, asked: number) => string;
const GROQ_SAYS: Says = (limit) => `\`max_completion_tokens\` must be less than or equal to \`${limit}\`, the maximum value for \`max_completion_tokens\` is less than the \`context_window\` for this model`;
const DEEPSEEK_SAYS: Says = (limit) => `Invalid max_tokens value, the valid range of max_tokens is [1, ${limit}]`;
const GEMINI_SAYS: Says = (limit, asked) => `Unable to submit request because it has a maxOutputTokens value of ${asked} but the supported range is from 1 (inclusive) to ${limit + 1} (exclusive). Update the value and try again.`;

const maxField = (field: 'max_tokens' | 'max_completion_tokens', ceiling: number, says?: Says): Rule => ({ body }) => {
  const other = field === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
  const out: string[] = [];
  if (body[other] !== undefined) out.push(`${other} sent (${field} expected)`);
  if (typeof body[field] !== 'number' || body[field] < 1) out.push(`${field} missing`);
  else if (body[field] > ceiling) out.push(says ? CEILING + says(ceiling, body[field]) : `${field} ${body[field]} > ${ceiling} (and no words the gateway could read it from)`);
  return out;
};
const absent = (...fields: string[]): Rule => ({ body }) => fields.filter((f) => body[f] !== undefined).map((f) => `${f} sent: ${JSON.stringify(body[f])}`);
const effortIn = (levels: string[] | null): Rule => ({ body }) => {
  if (levels === null) return body.reasoning_effort === undefined ? [] : [`reasoning_effort sent to a model without it: ${body.reasoning_effort}`];
  return body.reasoning_effort !== undefined && !levels.includes(body.reasoning_effort) ? [`reasoning_effort ${body.reasoning_effort} not in ${levels}`] : [];
};
const toolCallsAnswered = (idRule: RegExp | null): Rule => ({ body, turn }) => {
  if (turn !== 2) return [];
  const out: string[] = [];
  const msgs: any[] = body.messages;
  const ti = msgs.findIndex((m) => m.role === 'tool');
  if (ti < 0) return ['second turn holds no tool message'];
  const calls = msgs[ti - 1]?.tool_calls ?? [];
  if (msgs[ti - 1]?.role !== 'assistant' || calls.length !== 1) out.push('the tool message does not follow its assistant tool call');
  if (calls[0]?.id !== msgs[ti].tool_call_id) out.push(`tool_call_id ${msgs[ti].tool_call_id} ≠ call id ${calls[0]?.id}`);
  if (!msgs[ti].tool_call_id) out.push('empty tool_call_id');
  if (idRule && !idRule.test(msgs[ti].tool_call_id)) out.push(`tool_call_id ${msgs[ti].tool_call_id} breaks ${idRule}`);
  return out;
};

interface ToolCase {
  model: string;
  /** The first turn: a tool call (ids as recorded) of Read on `file`. */
  call(file: string): Ev[];
  /** The answer after the tool result. */
  answer(): Ev[];
  /** The tool-call id Claude Code's history must carry back (the provider's own), or a pattern. */
  id: string | RegExp;
}

interface ProviderCase {
  name: string;
  provider?: string;
  models: Record<string, string>;
  /** The path the channel's requests must reach (besides `/chat/completions`). */
  base?: string;
  path?: string;
  search?: string;
  auth?: 'bearer' | 'api-key';
  rules: Rule[];
  text?: { model: string; stream(): Ev[] };
  tool?: ToolCase;
  /** What the text run must print (default: the recorded answer). */
  printed?: string;
  /** The text run ends as Claude Code ends an answer cut by its output limit: exit 1, this printed. */
  cutShort?: RegExp;
}

const DEEPSEEK_REASONING = /the weather in San Francisco/;

const CASES: ProviderCase[] = [
  {
    name: 'deepseek', provider: 'deepseek', models: { 'claude-sonnet-5-5': 'deepseek-reasoner' },
    rules: [
      maxField('max_tokens', 65536, DEEPSEEK_SAYS), absent('user', 'parallel_tool_calls', 'reasoning'),
      ({ body }) => (body.thinking?.type === 'enabled' ? [] : [`thinking ${JSON.stringify(body.thinking)} (enabled expected)`]),
      effortIn(['low', 'high', 'max']),
      // thinking-mode tool loops: "The reasoning_content in the thinking mode must be passed back to the API" (400)
      ({ body, turn }) => (turn === 2 && !body.messages.some((m: any) => m.role === 'assistant' && m.tool_calls && typeof m.reasoning_content === 'string' && DEEPSEEK_REASONING.test(m.reasoning_content))
        ? ['the assistant tool-call turn has no reasoning_content (DeepSeek answers 400 in thinking mode)'] : []),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('deepseek/stream-reasoning.sse') },
    tool: { model: 'claude-sonnet-5-5', call: (f) => toRead(recorded('deepseek/stream-reasoning-tool-call.chunks.jsonl'), f), answer: () => recorded('deepseek/stream-reasoning.sse'), id: 'call_00_ioIn7yN9p1ZOMNpDLwd4MgAF' },
  },
  {
    // Kimi K2.6: no recorded Kimi traffic, so DeepSeek's recorded reasoning and tool call, the shape Kimi documents
    // (reasoning_content, then tool_calls); the mock holds Kimi's rules (test/helpers/moonshot-rules.ts)
    name: 'moonshot', provider: 'moonshot', models: { 'claude-sonnet-5-5': 'kimi-k2.6' },
    rules: [
      absent('max_tokens', 'reasoning_effort', 'reasoning', 'enable_thinking', 'temperature', 'top_p'),
      ({ body }) => { const p = moonshotProblem(body); return p ? [p] : []; },
      ({ body, turn }) => (turn === 2 && !body.messages.some((m: any) => m.role === 'assistant' && m.tool_calls && DEEPSEEK_REASONING.test(m.reasoning_content ?? ''))
        ? ['the assistant tool-call turn went back without the reasoning Kimi gave it'] : []),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('deepseek/stream-reasoning.sse') },
    tool: { model: 'claude-sonnet-5-5', call: (f) => toRead(recorded('deepseek/stream-reasoning-tool-call.chunks.jsonl'), f), answer: () => recorded('deepseek/stream-reasoning.sse'), id: 'call_00_ioIn7yN9p1ZOMNpDLwd4MgAF' },
  },
  {
    name: 'xai', provider: 'xai', models: { 'claude-sonnet-5-5': 'grok-3-mini' },
    rules: [
      maxField('max_tokens', 131072), effortIn(['low', 'high']), absent('reasoning', 'thinking'),
      // grok reasoning models: "Argument not supported on this model: presencePenalty / frequencyPenalty / stop"
      absent('presence_penalty', 'frequency_penalty', 'stop'),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('xai/stream-text.chunks.jsonl') },
    tool: { model: 'claude-sonnet-5-5', call: (f) => toRead(recorded('xai/stream-reasoning-tool-call.chunks.jsonl'), f), answer: () => recorded('xai/stream-text.chunks.jsonl'), id: 'call_55117580' },
  },
  {
    name: 'groq', provider: 'groq', models: { 'claude-sonnet-5-5': 'openai/gpt-oss-120b', 'claude-haiku-5-5': 'llama-3.3-70b-versatile' },
    rules: [
      // published ceilings: gpt-oss-120b 65536, llama-3.3-70b-versatile 32768
      ({ body }) => maxField('max_completion_tokens', body.model === 'llama-3.3-70b-versatile' ? 32768 : 65536, GROQ_SAYS)({ body } as Ctx),
      // "`reasoning_effort` is not supported with this model" on llama
      ({ body }) => effortIn(body.model.includes('gpt-oss') ? ['low', 'medium', 'high'] : null)({ body } as Ctx),
      absent('reasoning', 'thinking'),
      // Groq's messages take no reasoning_content ("property 'reasoning_content' is unsupported")
      ({ body }) => (body.messages.some((m: any) => m.reasoning_content !== undefined) ? ['reasoning_content in a message'] : []),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => jsonToStream('groq/response-gpt-oss-reasoning.json') },
    tool: { model: 'claude-haiku-5-5', call: (f) => toRead(recorded('groq/stream-tool-call-x-groq.chunks.jsonl'), f), answer: () => jsonToStream('groq/response-gpt-oss-reasoning.json'), id: 'tk85n1k4m' },
  },
  {
    name: 'mistral', provider: 'mistral', models: { 'claude-sonnet-5-5': 'magistral-medium-latest', 'claude-haiku-5-5': 'mistral-small-latest' },
    rules: [
      maxField('max_tokens', 131072),
      ({ body }) => Object.keys(body).filter((k) => !MISTRAL_FIELDS.has(k)).map((k) => `${k}: Extra inputs are not permitted (422)`),
      ({ body }) => { const r = mistralCheck(body); return r ? [r.message] : []; },
      toolCallsAnswered(/^[a-zA-Z0-9]{9}$/),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('mistral/stream-magistral-thinking.sse') },
    tool: { model: 'claude-haiku-5-5', call: (f) => toRead(recorded('mistral/stream-tool-call-one-chunk.chunks.jsonl'), f), answer: () => recorded('mistral/stream-magistral-thinking.chunks.jsonl'), id: 'gSIMJiOkT' },
  },
  {
    name: 'openrouter', provider: 'openrouter', models: { 'claude-sonnet-5-5': 'anthropic/claude-sonnet-4.5', 'claude-haiku-5-5': 'mistralai/mistral-small' },
    rules: [
      maxField('max_tokens', 128000), absent('reasoning_effort', 'thinking'),
      ({ body }) => (body.reasoning === undefined || (typeof body.reasoning === 'object' && (body.reasoning.effort !== undefined) !== (body.reasoning.max_tokens !== undefined))
        ? [] : [`reasoning ${JSON.stringify(body.reasoning)}: one of effort / max_tokens`]),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('openrouter/stream-reasoning-claude.sse') },
    tool: {
      model: 'claude-haiku-5-5',
      call: (f) => toRead(jsonToStream('openrouter/response-tool-call.json', { comments: ': OPENROUTER PROCESSING\n\n' }), f),
      answer: () => recorded('openrouter/stream-reasoning-o3-encrypted.sse'), id: '3sniiMddS',
    },
  },
  {
    name: 'openrouter claude thinking', provider: 'openrouter', models: { 'claude-sonnet-5-5': 'anthropic/claude-sonnet-4.5' },
    rules: [
      maxField('max_tokens', 128000), absent('reasoning_effort', 'thinking'), toolCallsAnswered(null),
      // the reasoning must come, to be given back: `exclude` would keep it away
      ({ body }) => (body.reasoning?.exclude === true ? ['reasoning.exclude sent: no reasoning_details would come to carry back'] : []),
      // "preserving reasoning blocks": the tool-call turn goes back with its reasoning_details as received, or
      // Claude's thinking is refused (https://openrouter.ai/docs/use-cases/reasoning-tokens)
      ({ body, turn }) => {
        if (turn !== 2) return [];
        const problem = reasoningDetailsProblem(body, new Map([['toolu_vrtx_01Read', OPENROUTER_CLAUDE_DETAILS]]));
        return problem ? [problem] : [];
      },
    ],
    // the recorded reasoning (text fragments, then Claude's signature in a fragment of its own) before a Read call
    // written in the envelope of its chunks: no recording has Claude's reasoning and a call in one answer
    tool: {
      model: 'claude-sonnet-5-5',
      call: (f) => [...openrouterReasoning(), ...inEnvelope(recorded('openrouter/stream-reasoning-claude.sse'), { toolId: 'toolu_vrtx_01Read', file: f })],
      answer: () => recorded('openrouter/stream-reasoning-claude.sse'), id: 'toolu_vrtx_01Read',
    },
  },
  {
    name: 'zai', provider: 'zai', models: { 'claude-sonnet-5-5': 'glm-4.7' },
    rules: [
      maxField('max_tokens', 131072), absent('user', 'reasoning_effort', 'reasoning'),
      ({ body }) => (['enabled', 'disabled'].includes(body.thinking?.type) ? [] : [`thinking ${JSON.stringify(body.thinking)}`]),
      toolCallsAnswered(null),
    ],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('zai/stream-glm-reasoning-content.sse') },
    // no recorded GLM tool call: one written in the envelope of its recorded chunks (role on every delta)
    tool: {
      model: 'claude-sonnet-5-5', call: (f) => inEnvelope(recorded('zai/stream-glm-reasoning-content.sse'), { toolId: 'call_-8250958186434548397', file: f }),
      answer: () => recorded('zai/stream-glm-reasoning-content.sse'), id: 'call_-8250958186434548397',
    },
  },
  {
    name: 'azure', provider: 'azure', models: { 'claude-sonnet-5-5': 'my-gpt5-nano' },
    base: '/openai/deployments/{model}', path: '/openai/deployments/my-gpt5-nano/chat/completions', search: '?api-version=2025-04-01-preview', auth: 'api-key',
    rules: [maxField('max_completion_tokens', 128000), effortIn(['low', 'medium', 'high']), absent('reasoning', 'thinking'), toolCallsAnswered(null)],
    text: { model: 'claude-sonnet-5-5', stream: () => recorded('azure/stream-model-router-prompt-filter.chunks.jsonl') },
    // no recorded Azure tool call: OpenAI's own (Azure serves OpenAI's models), after Azure's prompt-filter chunk
    tool: {
      model: 'claude-sonnet-5-5',
      call: (f) => toRead([recorded('azure/stream-model-router-prompt-filter.chunks.jsonl')[0]!, ...parseStream(fixtureSseBody('openai-chat/stream-tool-call-gpt4o-mini.sse'))], f),
      answer: () => recorded('azure/stream-deepseek-v4-reasoning.chunks.jsonl'), id: /^call_[A-Za-z0-9]+$/,
    },
  },
  {
    name: 'gemini', provider: 'gemini', models: { 'claude-sonnet-5-5': 'gemini-2.5-pro' },
    rules: [
      maxField('max_tokens', 65536, GEMINI_SAYS), absent('user', 'parallel_tool_calls', 'reasoning', 'thinking'), effortIn(['low', 'medium', 'high']),
      ({ body }) => { const deep = keysDeep(body.tools); return GEMINI_REJECTS.filter((k) => deep.has(k)).map((k) => `tool schema keeps ${k}`); },
      toolCallsAnswered(null),
    ],
    // recorded: a tool call with `id: ""` and a thought signature; no recorded text answer
    tool: {
      model: 'claude-sonnet-5-5', call: (f) => toRead(jsonToStream('gemini/response-tool-calls-without-id.json'), f),
      answer: () => inEnvelope(jsonToStream('gemini/response-tool-calls-without-id.json'), { text: 'The file says what the test wrote.' }), id: /^\S+$/,
    },
  },
  {
    name: 'gemini 3', provider: 'gemini', models: { 'claude-sonnet-5-5': 'gemini-3-pro-preview' },
    rules: [
      maxField('max_tokens', 65536, GEMINI_SAYS), absent('user', 'parallel_tool_calls', 'reasoning', 'thinking'), effortIn(['low', 'medium', 'high']),
      toolCallsAnswered(null),
      // Gemini 3: the call in the history needs the signature it was given ("Function call `Read` in the `2.` content
      // block is missing a `thought_signature`", 400)
      ({ body, turn }) => {
        if (turn !== 2) return [];
        const problem = geminiSignatureProblem(body, new Map());
        if (problem) return [problem];
        const sig = body.messages.find((m: any) => m.tool_calls)?.tool_calls[0]?.extra_content?.google?.thought_signature;
        return sig === GEMINI_SIGNATURE ? [] : [`the call's thought_signature is not the one Gemini gave: ${String(sig).slice(0, 40)}`];
      },
    ],
    // the recorded call (`id: ""`) with its signature where Gemini 3 puts it
    tool: {
      model: 'claude-sonnet-5-5', call: (f) => toRead(asGemini3(jsonToStream('gemini/response-tool-calls-without-id.json')), f),
      answer: () => inEnvelope(jsonToStream('gemini/response-tool-calls-without-id.json'), { text: 'The file says what the test wrote.' }), id: /^toolu_[A-Za-z0-9]{24}$/,
    },
  },
  {
    name: 'cerebras', provider: 'cerebras', models: { 'claude-sonnet-5-5': 'gpt-oss-120b' },
    // how Cerebras words a refusal of too large a max_completion_tokens is not known: no ceiling enforced
    rules: [maxField('max_completion_tokens', Infinity), effortIn(['low', 'medium', 'high']), absent('reasoning', 'thinking')],
    text: { model: 'claude-sonnet-5-5', stream: () => jsonToStream('cerebras/response-gpt-oss-reasoning.json') },
  },
  {
    name: 'huggingface', provider: 'huggingface', models: { 'claude-sonnet-5-5': 'deepseek-ai/DeepSeek-R1' },
    rules: [maxField('max_tokens', 163840), absent('reasoning_effort', 'reasoning', 'thinking')],
    // recorded: every token inside an unfinished <think>, cut by finish_reason "length"
    text: { model: 'claude-sonnet-5-5', stream: () => jsonToStream('huggingface/response-deepseek-r1-think-tags-length.json') },
    // stop_reason max_tokens and nothing but (omitted) thinking: Claude Code says the answer hit its limit
    cutShort: /exceeded the 128000 output token maximum/,
  },
  {
    name: 'ollama', provider: 'ollama', models: { 'claude-sonnet-5-5': 'qwen3:0.6b', 'claude-haiku-5-5': 'gpt-oss:20b' },
    rules: [maxField('max_tokens', 1_000_000), absent('user', 'parallel_tool_calls', 'reasoning_effort', 'reasoning', 'thinking'), toolCallsAnswered(null)],
    text: { model: 'claude-sonnet-5-5', stream: () => jsonToStream('ollama/response-local-qwen3-reasoning.json') },
    tool: { model: 'claude-haiku-5-5', call: (f) => toRead(jsonToStream('ollama/response-cloud-gpt-oss-tool-call.json'), f), answer: () => jsonToStream('ollama/response-local-qwen3-reasoning.json'), id: 'call_o2vnpxrw' },
  },
  {
    // Alibaba DashScope's compatible mode: Claude Code's adaptive thinking as enable_thinking, none of DeepSeek's fields
    name: 'dashscope', provider: 'dashscope', models: { 'claude-sonnet-5-5': 'qwen3-max' },
    rules: [
      maxField('max_tokens', 1_000_000), absent('thinking', 'reasoning_effort', 'reasoning', 'thinking_budget'), toolCallsAnswered(null),
      ({ body }) => (body.enable_thinking === (body.stream === true) ? [] : [`enable_thinking ${JSON.stringify(body.enable_thinking)} on a ${body.stream ? '' : 'non-'}streamed request`]),
    ],
    tool: {
      model: 'claude-sonnet-5-5', call: (f) => toRead(recorded('alibaba/stream-tool-call-empty-ids.chunks.jsonl'), f),
      answer: () => inEnvelope(recorded('alibaba/stream-tool-call-empty-ids.chunks.jsonl'), { text: 'The file says what the test wrote.' }), id: 'call_eee11723464a4b9eb8cee71d',
    },
  },
  {
    // no preset: Anthropic's own OpenAI-compatible endpoint, tool_calls index starting at 1
    name: 'anthropic-openai-compat (no preset)', models: { 'claude-sonnet-5-5': 'claude-haiku-4-5-20251001' },
    rules: [maxField('max_tokens', 1_000_000), toolCallsAnswered(null)],
    tool: {
      model: 'claude-sonnet-5-5', call: (f) => toRead(recorded('anthropic-openai-compat/stream-tool-call-index-1.sse'), f),
      answer: () => inEnvelope(recorded('anthropic-openai-compat/stream-tool-call-index-1.sse'), { text: 'The file says what the test wrote.' }), id: 'toolu_sanitized',
    },
  },
];

/** Checks every provider's requests share: nothing Anthropic-only, a streaming Chat Completions body with function tools. */
const common: Rule = ({ body }) => {
  const out: string[] = [];
  if (body.stream !== true) out.push('stream is not true');
  const deep = keysDeep(body);
  for (const k of ANTHROPIC_ONLY) if (deep.has(k)) out.push(`Anthropic-only key ${k}`);
  for (const k of ['metadata', 'system', 'top_k', 'stop_sequences']) if (body[k] !== undefined) out.push(`top-level ${k}`);
  for (const m of body.messages ?? []) if (!['system', 'user', 'assistant', 'tool'].includes(m.role)) out.push(`role ${m.role}`);
  for (const t of body.tools ?? []) {
    if (t.type !== 'function' || typeof t.function?.name !== 'string' || t.function.parameters?.type !== 'object') out.push(`tool ${JSON.stringify(t).slice(0, 80)}`);
    if (t.function?.name === 'DeferredToolPlaceholder') out.push('deferred tool offered');
  }
  if (!(body.tools ?? []).some((t: any) => t.function?.name === 'Read')) out.push('no Read tool');
  return out;
};

// ---------- the runs ----------

function setUp(pc: ProviderCase, answer: (req: RecordedRequest) => Ev[]) {
  const refusals: string[] = [];
  /** Refusals of too large a max-tokens value, in the provider's words: each model's first request at most. */
  const ceilings: string[] = [];
  const upstream: MockUpstream = startMockUpstream((req) => {
    const body = req.json;
    const turn: 1 | 2 = (body?.messages ?? []).some((m: any) => m.role === 'tool') ? 2 : 1;
    const problems: string[] = [];
    const wantPath = pc.path ?? '/v1/chat/completions';
    if (req.path !== wantPath) problems.push(`path ${req.path} (${wantPath} expected)`);
    if (req.search !== (pc.search ?? '')) problems.push(`query ${req.search}`);
    if (pc.auth === 'api-key' ? req.headers.get('api-key') !== UPSTREAM_KEY || req.headers.has('authorization') : req.headers.get('authorization') !== `Bearer ${UPSTREAM_KEY}`) problems.push('credentials');
    if (body === undefined) problems.push('body is not JSON');
    else for (const rule of [common, ...pc.rules]) problems.push(...rule({ body, turn, req }));
    if (problems.length) {
      const ceiling = problems.length === 1 && problems[0]!.startsWith(CEILING);
      if (ceiling && !ceilings.includes(body.model)) ceilings.push(body.model);
      else refusals.push(...problems.map((p) => `turn ${turn}: ${p}`));
      const message = problems.map((p) => p.replace(CEILING, '')).join('; ');
      return json({ error: { code: 400, message, type: 'invalid_request_error', status: 'INVALID_ARGUMENT' } }, 400);
    }
    return new Response(writeStream(answer(req)), { headers: { 'content-type': 'text/event-stream' } });
  });
  const gw: TestGateway = startGateway({
    keys: [{ key: KEY, name: 'cc-providers' }],
    channels: [{
      name: pc.name.split(' ')[0], type: 'openai', ...(pc.provider ? { provider: pc.provider } : {}),
      base_url: `${upstream.url}${pc.base ?? '/v1'}`, api_key: UPSTREAM_KEY, models: pc.models,
    }],
  });
  return { upstream, gw, refusals, ceilings, async stop() { await gw.stop(); await upstream.stop(); } };
}

const textText = (m: any): string => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p: any) => p.text ?? '').join(''));

describe.skipIf(!CLI.ok)(`Claude Code ${CLI.version} through each provider preset, answered with the provider's recorded traffic`, () => {
  for (const pc of CASES) {
    describe(pc.name, () => {
      if (pc.text) test('a plain answer: claude -p prints the recorded text', async () => {
        const text = pc.text!;
        const env = setUp(pc, () => text.stream());
        try {
          const run = await runClaude(['-p', 'Say something short.', '--model', text.model], {
            baseUrl: env.gw.url, token: KEY, home: freshDir('sb-ccp-home-'), cwd: freshDir('sb-ccp-cwd-'), timeoutMs: 45_000,
          });
          expect(env.refusals, describeRun(run)).toEqual([]);
          if (pc.cutShort) {
            expect(run.code, describeRun(run)).toBe(1);
            expect(run.stdout).toMatch(pc.cutShort);
          } else {
            if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
            expect(run.stdout.trim()).toBe(pc.printed ?? answerOf(text.stream()));
          }
          // one model turn, after one refusal naming the model's output ceiling where the provider has one; an answer
          // cut short Claude Code asks for again, 3 times
          expect(env.upstream.requests.length).toBe((pc.cutShort ? 4 : 1) + env.ceilings.length);
        } finally { await env.stop(); }
      }, 60_000);

      if (pc.tool) test('a Read round trip: 2 model turns, the file content and the call id go back as the provider takes them', async () => {
        const tool = pc.tool!;
        const cwd = freshDir('sb-ccp-cwd-');
        const file = join(cwd, 'notes.txt');
        const secret = `KIWI-${pc.name.length}${pc.name.charCodeAt(0)}`;
        writeFileSync(file, `Meeting notes\nThe launch code is ${secret}.\nEnd of notes\n`);
        const env = setUp(pc, (req) => (req.json.messages.some((m: any) => m.role === 'tool') ? tool.answer() : tool.call(file)));
        try {
          const run = await runClaude(['-p', 'Read notes.txt and tell me the launch code.', '--model', tool.model, '--output-format', 'json'], {
            baseUrl: env.gw.url, token: KEY, home: freshDir('sb-ccp-home-'), cwd, timeoutMs: 45_000,
          });
          expect(env.refusals, describeRun(run)).toEqual([]);
          if (run.code !== 0 || run.timedOut) throw new Error(describeRun(run));
          let result: any;
          try { result = JSON.parse(run.stdout); } catch { throw new Error(`stdout is not the JSON result:\n${describeRun(run)}`); }
          expect(result.is_error, describeRun(run)).toBe(false);
          expect(result.result).toBe(answerOf(tool.answer()));
          expect(result.num_turns).toBe(2);

          expect(env.upstream.requests.length).toBe(2 + env.ceilings.length); // the ceiling, once learnt, caps turn 2
          const msgs: any[] = env.upstream.requests.at(-1)!.json.messages;
          const ti = msgs.findIndex((m) => m.role === 'tool');
          const call = msgs[ti - 1].tool_calls[0];
          if (typeof tool.id === 'string') expect(call.id).toBe(tool.id);
          else expect(call.id).toMatch(tool.id);
          expect(call.function.name).toBe('Read');
          expect(JSON.parse(call.function.arguments)).toEqual({ file_path: file });
          expect(msgs[ti].tool_call_id).toBe(call.id);
          expect(textText(msgs[ti])).toContain(`The launch code is ${secret}.`);
        } finally { await env.stop(); }
      }, 60_000);
    });
  }
});
