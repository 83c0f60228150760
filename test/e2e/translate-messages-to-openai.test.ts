/**
 * Anthropic SDK client → gateway (real HTTP) → `openai` channel → mock OpenAI-compatible upstream replaying the
 * recorded provider traffic in ../shared/fixtures/upstream/{openai-chat,openai-compatible/**}.
 *
 * What each answer must be is read from the recording by the small reference reader below (`expectFromChat…`),
 * never by calling the gateway's converters: text is the recording's `delta.content` for choice 0, tool calls its
 * ids/names/arguments, thinking its reasoning, stop_reason its finish_reason, usage its usage chunk.
 * What the upstream receives is checked against the OpenAI OpenAPI spec's property lists (../shared/fixtures/specs).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { betaJSONSchemaOutputFormat, betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { startMockUpstream, json, sse, sseEvents, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, until, type TestGateway } from '../helpers/gateway.ts';
import { fixtureSseBody, listFixtures, readFixture } from '../helpers/fixtures.ts';
import { CLAUDE_CODE_USER_ID, claudeCodeBody, claudeCodeHeaders } from '../helpers/claude-code.ts';
import { signedToolId } from '../../src/formats/openai-chat/thought-signature.ts';

const KEY = 'sk-gw-translate-key-1';
const UPSTREAM_KEY = 'sk-upstream-openai-secret-1';

/** Recording folder → the channel's `provider` preset (channels/openai/presets.ts); undefined = generic server. */
const PROVIDER_BY_FOLDER: Record<string, string | undefined> = {
  'openai-chat': 'openai',
  azure: 'azure',
  deepseek: 'deepseek',
  openrouter: 'openrouter',
  groq: 'groq',
  mistral: 'mistral',
  xai: 'xai',
  gemini: 'gemini',
  zai: 'zai',
  cerebras: 'cerebras',
  huggingface: 'huggingface', // think tags
  ollama: 'ollama',
  alibaba: 'dashscope', // Qwen via DashScope's compatible mode
  'anthropic-openai-compat': undefined, // Anthropic's own OpenAI-compatible endpoint: plain defaults
};

/** Recordings whose 200 stream carries an error mid-way: the client must get that error, not a message. */
const IN_STREAM_ERRORS = new Set([
  'openai-compatible/openrouter/stream-error-midstream-comments.sse',
  'openai-compatible/groq/stream-error-event-tool-use-failed.sse',
]);

const recordings = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')];
const streams = recordings.filter((f) => /\/stream-[^/]*\.(sse|chunks\.jsonl)$/.test(f));
const responses = recordings.filter((f) => /\/response-[^/]*\.json$/.test(f));
const errors = recordings.filter((f) => /\/error-\d{3}-[^/]*\.json$/.test(f));

const folderOf = (rel: string) => (rel.startsWith('openai-chat/') ? 'openai-chat' : rel.split('/')[1]!);
const exposedModel = (folder: string) => `m-${folder}`;
const upstreamModel = (folder: string) => `${folder}-upstream-model`;
const folders = [...new Set(recordings.map(folderOf))];

// ---------------------------------------------------------------------------------------------------------------
// Reference reader: what the recording says the answer is
// ---------------------------------------------------------------------------------------------------------------

type Block =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string }
  | { type: 'tool_use'; id: unknown; name: string; input: unknown };

interface Expected {
  content: Block[];
  stop_reason: string;
  /** null: the recording reports no usage. */
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number } | null;
  /** The provider's reasoning signature (OpenRouter relays Anthropic's), '' when none. */
  signature: string;
  /** The upstream's message when the recording carries an error instead of an end. */
  error: string | null;
}

interface SseEvt { event?: string; data: string }

/** The SSE framing of the recording (https://html.spec.whatwg.org/multipage/server-sent-events.html), comments skipped. */
function parseSse(body: string): SseEvt[] {
  const out: SseEvt[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) out.push({ event, data: data.join('\n') });
  }
  return out;
}

const FINISH: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', function_call: 'tool_use', content_filter: 'refusal' };

/** A `refusal` the model wrote (finish_reason "stop") is a refusal, as Anthropic ends its own. */
function stopReason(finish: string | null, hasTools: boolean, refused = false): string {
  const r = (finish && FINISH[finish]) || 'end_turn';
  if (hasTools && r === 'end_turn') return 'tool_use';
  return refused && r === 'end_turn' ? 'refusal' : r;
}

/** Anthropic reports cached prompt tokens apart from input_tokens; output counts reasoning a provider left out of completion_tokens. */
function usageOf(u: any): Expected['usage'] {
  if (!u || typeof u !== 'object') return null;
  const prompt = u.prompt_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  const cached = u.prompt_tokens_details?.cached_tokens || u.prompt_cache_hit_tokens || u.cached_tokens || 0;
  const hidden = Math.max(0, (u.total_tokens ?? 0) - prompt - completion);
  return { input_tokens: prompt - cached, output_tokens: completion + hidden, cache_read_input_tokens: cached };
}

class BlockBuilder {
  content: Block[] = [];
  private tools = new Map<string, { block: Extract<Block, { type: 'tool_use' }>; args: string }>();
  private lastTool: string | null = null;
  signature = '';
  /** OpenRouter's reasoning_details (the `openrouter` preset carries them): fragments of one item (type, index) joined. */
  details: any[] = [];

  add(type: 'text' | 'thinking', s: unknown) {
    if (typeof s !== 'string' || s === '') return;
    const last = this.content.at(-1);
    if (type === 'text') {
      if (last?.type === 'text') last.text += s;
      else this.content.push({ type: 'text', text: s });
    } else if (last?.type === 'thinking') last.thinking += s;
    else this.content.push({ type: 'thinking', thinking: s });
  }

  /** Reasoning of one message or delta: one source (OpenRouter sends the same text as `reasoning` and in `reasoning_details`). */
  reasoning(m: any) {
    const details: any[] = Array.isArray(m.reasoning_details) ? m.reasoning_details : [];
    for (const d of details) if (typeof d?.signature === 'string' && d.signature) this.signature = d.signature;
    for (const d of details) {
      const last = this.details.at(-1);
      if (last && typeof d.index === 'number' && d.index === last.index && d.type === last.type) {
        for (const [k, v] of Object.entries(d)) {
          if (['text', 'summary', 'data'].includes(k) && typeof v === 'string' && typeof last[k] === 'string') last[k] += v;
          else if (!(k in last) || (v !== null && v !== '')) last[k] = v;
        }
      } else this.details.push({ ...d });
    }
    const fromDetails = details.map((d) => (d?.type === 'reasoning.text' ? d.text ?? '' : d?.type === 'reasoning.summary' ? d.summary ?? '' : '')).join('');
    this.add('thinking', [m.reasoning_content, m.reasoning, fromDetails].find((x) => typeof x === 'string' && x !== ''));
  }

  contentParts(content: unknown) {
    if (typeof content === 'string') this.add('text', content);
    else if (Array.isArray(content)) {
      for (const p of content) {
        if (p?.type === 'thinking') this.add('thinking', Array.isArray(p.thinking) ? p.thinking.map((t: any) => t?.text ?? '').join('') : p.thinking);
        else if (p?.type === 'text') this.add('text', p.text);
      }
    }
  }

  /** One tool-call fragment: keyed by index, else by id, else it continues the last call. */
  toolFragment(tc: any) {
    const key = typeof tc.index === 'number' ? `i${tc.index}` : tc.id ? `id${tc.id}` : this.lastTool ?? 'i0';
    let t = this.tools.get(key);
    if (!t) {
      t = { block: { type: 'tool_use', id: null, name: '', input: {} }, args: '' };
      this.tools.set(key, t);
      this.content.push(t.block);
    }
    this.lastTool = key;
    if (typeof tc.id === 'string' && tc.id && t.block.id === null) t.block.id = tc.id;
    if (typeof tc.function?.name === 'string' && tc.function.name && !t.block.name) t.block.name = tc.function.name;
    const a = tc.function?.arguments;
    if (typeof a === 'string') t.args += a;
    else if (a != null) t.args += JSON.stringify(a);
  }

  finish(): Block[] {
    for (const { block, args } of this.tools.values()) {
      block.input = args.trim() ? JSON.parse(args) : {};
      if (block.id === null) block.id = expect.stringMatching(/^toolu_\w+$/); // the recording has none: the gateway makes one
    }
    return this.content;
  }

  hasTools() { return this.tools.size > 0; }
}

/**
 * With OpenRouter's preset the thinking block's signature carries the answer's reasoning_details (Claude's own signature
 * among them), and reasoning without text (encrypted) gets a thinking block with none, first.
 */
function carryDetails(exp: Expected, b: BlockBuilder, provider: string | undefined): Expected {
  if (provider !== 'openrouter' || b.details.length === 0) return exp;
  if (exp.content[0]?.type !== 'thinking') exp.content.unshift({ type: 'thinking', thinking: '' });
  return { ...exp, signature: `switchboard-reasoning-details-v1:${Buffer.from(JSON.stringify(b.details)).toString('base64url')}` };
}

function expectFromChatStream(body: string, provider?: string): Expected {
  const b = new BlockBuilder();
  let finish: string | null = null;
  let usage: unknown = null;
  let error: string | null = null;
  let refused = false;
  for (const ev of parseSse(body)) {
    if (ev.data === '[DONE]') break;
    const chunk = JSON.parse(ev.data);
    if (ev.event === 'error' || chunk.error) { error = String(chunk.error?.message ?? chunk.message); break; }
    const u = chunk.usage ?? chunk.x_groq?.usage;
    if (u) usage = u;
    for (const c of chunk.choices ?? []) {
      if ((c.index ?? 0) !== 0) continue;
      const d = c.delta ?? {};
      b.reasoning(d);
      b.contentParts(d.content);
      b.add('text', d.refusal);
      if (d.refusal) refused = true;
      for (const tc of d.tool_calls ?? []) b.toolFragment(tc);
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  const content = b.finish();
  return carryDetails({ content, stop_reason: stopReason(finish, b.hasTools(), refused), usage: usageOf(usage), signature: b.signature, error }, b, provider);
}

function expectFromChatResponse(body: any, thinkTags: boolean, provider?: string): Expected {
  const choice = body.choices.find((c: any) => (c.index ?? 0) === 0) ?? body.choices[0];
  const m = choice.message;
  const b = new BlockBuilder();
  b.reasoning(m);
  let content = m.content;
  if (thinkTags && typeof content === 'string' && content.trimStart().startsWith('<think>')) {
    const rest = content.trimStart().slice('<think>'.length);
    const end = rest.indexOf('</think>');
    b.add('thinking', end < 0 ? rest : rest.slice(0, end));
    content = end < 0 ? '' : rest.slice(end + '</think>'.length).trimStart();
  }
  b.contentParts(content);
  b.add('text', m.refusal);
  for (const [i, tc] of (m.tool_calls ?? []).entries()) b.toolFragment({ ...tc, index: i, id: tc.id || undefined });
  const blocks = b.finish();
  if (provider === 'gemini') {
    // the first call's thought signature (Gemini 2.5 gave it on the message) rides in its id (quirks.thought_signatures)
    const sig = m.tool_calls?.[0]?.extra_content?.google?.thought_signature ?? m.extra_content?.google?.thought_signature ?? m.thought_signature;
    const first = blocks.find((x: any) => x.type === 'tool_use') as any;
    if (first && typeof sig === 'string') first.id = expect.stringMatching(new RegExp(`^${signedToolId(sig, '')}${typeof first.id === 'string' ? first.id : 'toolu_\\w+'}$`));
  }
  return carryDetails({ content: blocks, stop_reason: stopReason(choice.finish_reason, b.hasTools(), Boolean(m.refusal)), usage: usageOf(body.usage), signature: b.signature, error: null }, b, provider);
}

/** The message as comparable blocks (thinking signatures and text citations checked apart). */
function blocksOf(msg: Anthropic.Message): unknown[] {
  return msg.content.map((b) => {
    switch (b.type) {
      case 'text': return { type: 'text', text: b.text };
      case 'thinking': return { type: 'thinking', thinking: b.thinking };
      case 'tool_use': return { type: 'tool_use', id: b.id, name: b.name, input: b.input };
      default: return { type: b.type };
    }
  });
}

function expectMessage(msg: Anthropic.Message, exp: Expected, model: string) {
  expect(msg.type).toBe('message');
  expect(msg.role).toBe('assistant');
  expect(msg.id).toMatch(/^msg_/);
  expect(msg.model).toBe(model); // the name the client asked for, not the upstream's
  expect(blocksOf(msg)).toEqual(exp.content);
  expect(msg.stop_reason).toBe(exp.stop_reason as Anthropic.StopReason);
  for (const b of msg.content) if (b.type === 'thinking') expect(b.signature).toBe(exp.signature);
  if (exp.usage) {
    expect(msg.usage).toMatchObject(exp.usage);
  } else {
    expect(msg.usage.input_tokens).toBeGreaterThanOrEqual(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What a valid Chat Completions request is: property lists from the OpenAI OpenAPI spec
// ---------------------------------------------------------------------------------------------------------------

const SPEC_SCHEMAS: Record<string, any> = (Bun.YAML.parse(readFileSync(resolve(import.meta.dir, '../../../shared/fixtures/specs/openai-openapi.yaml'), 'utf8')) as any).components.schemas;

function specProps(name: string): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const walk = (s: any) => {
    if (!s || typeof s !== 'object') return;
    if (typeof s.$ref === 'string') {
      const n = s.$ref.split('/').pop();
      if (!seen.has(n)) { seen.add(n); walk(SPEC_SCHEMAS[n]); }
      return;
    }
    for (const k of Object.keys(s.properties ?? {})) out.add(k);
    for (const k of ['allOf', 'anyOf', 'oneOf']) for (const x of s[k] ?? []) walk(x);
  };
  walk(SPEC_SCHEMAS[name]);
  if (out.size === 0) throw new Error(`spec has no schema ${name}`);
  return out;
}

const REQUEST_PROPS = specProps('CreateChatCompletionRequest');
const MESSAGE_PROPS: Record<string, Set<string>> = {
  system: specProps('ChatCompletionRequestSystemMessage'),
  developer: specProps('ChatCompletionRequestDeveloperMessage'),
  user: specProps('ChatCompletionRequestUserMessage'),
  assistant: specProps('ChatCompletionRequestAssistantMessage'),
  tool: specProps('ChatCompletionRequestToolMessage'),
};
const TOOL_PROPS = specProps('ChatCompletionTool');
const FUNCTION_PROPS = specProps('FunctionObject');
/** Provider extensions a preset adds on purpose (presets.ts): DeepSeek/Z.ai `thinking`, OpenRouter `reasoning`, DashScope `enable_thinking`. */
const EXTENSION_PROPS: Record<string, string[]> = { deepseek: ['thinking'], zai: ['thinking'], openrouter: ['reasoning', 'top_k'], dashscope: ['enable_thinking', 'thinking_budget'] };
const MESSAGE_EXTENSIONS: Record<string, string[]> = { deepseek: ['reasoning_content'] };
/** Anthropic-only, never to reach an OpenAI-compatible provider (claude-code-traffic.md, "Consequences"). */
const ANTHROPIC_ONLY_TOP = ['thinking', 'context_management', 'output_config', 'metadata', 'system', 'stop_sequences', 'top_k', 'anthropic_beta', 'anthropic_version', 'service_tier', 'container', 'mcp_servers'];
const ANTHROPIC_ONLY_DEEP = ['cache_control', 'defer_loading', 'input_schema', '$schema'];

/** Everything wrong with a Chat Completions request body, as readable lines ([] when valid). */
function chatBodyProblems(body: any, provider?: string): string[] {
  const problems: string[] = [];
  if (!body || typeof body !== 'object') return ['body is not a JSON object'];
  const ext = EXTENSION_PROPS[provider ?? ''] ?? [];
  if (typeof body.model !== 'string' || !body.model) problems.push('model: missing');
  if (!Array.isArray(body.messages) || body.messages.length === 0) problems.push('messages: missing or empty');
  for (const k of Object.keys(body)) if (!REQUEST_PROPS.has(k) && !ext.includes(k)) problems.push(`${k}: not a Chat Completions field`);
  for (const k of ANTHROPIC_ONLY_TOP) if (k in body && !ext.includes(k)) problems.push(`${k}: Anthropic-only field sent upstream`);
  (body.messages ?? []).forEach((m: any, i: number) => {
    const props = MESSAGE_PROPS[m?.role];
    if (!props) { problems.push(`messages.${i}.role: "${m?.role}" is not a Chat role`); return; }
    for (const k of Object.keys(m)) if (!props.has(k) && !(MESSAGE_EXTENSIONS[provider ?? ''] ?? []).includes(k)) problems.push(`messages.${i}.${k}: not a ${m.role} message field`);
    const c = m.content;
    const okContent = typeof c === 'string' || (Array.isArray(c) && c.every((p: any) => typeof p?.type === 'string')) || (m.role === 'assistant' && c === null && Array.isArray(m.tool_calls));
    if (!okContent) problems.push(`messages.${i}.content: not a string or content parts`);
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') problems.push(`messages.${i}.tool_call_id: missing`);
  });
  (body.tools ?? []).forEach((t: any, i: number) => {
    for (const k of Object.keys(t)) if (!TOOL_PROPS.has(k)) problems.push(`tools.${i}.${k}: not a tool field`);
    if (t.type !== 'function') problems.push(`tools.${i}.type: ${t.type}`);
    for (const k of Object.keys(t.function ?? {})) if (!FUNCTION_PROPS.has(k)) problems.push(`tools.${i}.function.${k}: not a function field`);
    if (typeof t.function?.name !== 'string') problems.push(`tools.${i}.function.name: missing`);
  });
  const walk = (x: unknown, path: string) => {
    if (Array.isArray(x)) x.forEach((v, i) => walk(v, `${path}.${i}`));
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (ANTHROPIC_ONLY_DEEP.includes(k)) problems.push(`${path}.${k}: Anthropic-only key sent upstream`);
        walk(v, `${path}.${k}`);
      }
    }
  };
  walk(body.messages, 'messages');
  walk(body.tools, 'tools');
  return problems;
}

/** The channel key, and nothing of the client's credentials. */
function expectUpstreamAuth(rec: RecordedRequest, provider: string | undefined) {
  if (provider === 'azure') expect(rec.headers.get('api-key')).toBe(UPSTREAM_KEY);
  else expect(rec.headers.get('authorization')).toBe(`Bearer ${UPSTREAM_KEY}`);
  expect(rec.headers.get('x-api-key')).toBeNull();
  for (const [, v] of rec.headers) expect(v).not.toContain(KEY);
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway and mock upstream
// ---------------------------------------------------------------------------------------------------------------

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream(() => json({ error: { message: 'no handler set' } }, 500));
  const perFolder = folders.map((folder) => {
    const provider = PROVIDER_BY_FOLDER[folder];
    return {
      name: `ch-${folder}`,
      type: 'openai',
      ...(provider ? { provider } : {}),
      // Azure's deployment URL carries the model; everyone else gets /<folder>/chat/completions
      base_url: provider === 'azure' ? `${upstream.url}/${folder}/openai/deployments/{model}` : `${upstream.url}/${folder}`,
      api_key: UPSTREAM_KEY,
      models: { [exposedModel(folder)]: upstreamModel(folder) },
    };
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'translate' }],
    routing: { circuit_failures: 1000 },
    channels: [
      ...perFolder,
      // Claude Code's models on OpenAI, with configured output ceilings
      { name: 'cc-openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/cc`, api_key: UPSTREAM_KEY,
        models: { 'claude-sonnet-5-5': 'gpt-5', 'claude-sonnet-4-5': 'gpt-5-mini' },
        quirks: { max_output_tokens: { 'gpt-5': 64000, 'gpt-5-mini': 16384 } } },
      // and on DeepSeek, whose preset knows deepseek-chat's ceiling (8192), and deepseek-flash's (393216), the name to use today
      { name: 'cc-deepseek', type: 'openai', provider: 'deepseek', base_url: `${upstream.url}/ccds`, api_key: UPSTREAM_KEY,
        models: { 'claude-haiku-5-5': 'deepseek-chat', 'claude-opus-5-5': 'deepseek-flash' } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

const replay = (body: string, opts: { delayMs?: number } = {}) => (r: RecordedRequest) => sse(sseEvents(body), { ...opts, signal: r.signal });

const userTurn: Anthropic.MessageParam[] = [{ role: 'user', content: 'Hello there' }];

describe('the recordings', () => {
  test('every folder has its provider preset chosen here, and there is something to replay', () => {
    expect(folders.filter((f) => !(f in PROVIDER_BY_FOLDER))).toEqual([]);
    expect(streams.length).toBeGreaterThanOrEqual(30);
    expect(responses.length).toBeGreaterThanOrEqual(15);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    for (const f of IN_STREAM_ERRORS) expect(streams).toContain(f);
  });
});

describe('streamed: messages.stream().finalMessage() over every recorded stream', () => {
  for (const rel of streams) {
    const folder = folderOf(rel);
    const provider = PROVIDER_BY_FOLDER[folder];
    test(rel, async () => {
      const recorded = fixtureSseBody(rel);
      const exp = expectFromChatStream(recorded, provider);
      upstream.handler = replay(recorded);
      const before = upstream.requests.length;
      const logsBefore = gw.requestLogs().length;
      const result = await client.messages.stream({ model: exposedModel(folder), max_tokens: 1024, messages: userTurn })
        .finalMessage().then((m) => ({ m }), (e) => ({ e }));
      await until(() => gw.requestLogs().length > logsBefore, 3000);
      expect(gw.requestLogs().at(-1)!.outcome).toBe(IN_STREAM_ERRORS.has(rel) ? 'error' : 'ok');

      if (IN_STREAM_ERRORS.has(rel)) {
        expect(exp.error).toBeTruthy();
        expect('e' in result).toBe(true);
        const err = (result as { e: any }).e;
        expect(err).toBeInstanceOf(Anthropic.APIError);
        expect(err.error?.type).toBe('error');
        expect(err.error?.error?.message).toContain(exp.error!);
        expect(err.error?.error?.type).toBe('invalid_request_error'); // both carry a 400 of their own
      } else {
        expect(exp.error).toBeNull();
        if ('e' in result) throw result.e;
        expectMessage(result.m, exp, exposedModel(folder));
      }

      // what the provider was sent
      expect(upstream.requests.length).toBe(before + 1);
      const got = upstream.requests.at(-1)!;
      expect(got.method).toBe('POST');
      expect(got.path).toBe(provider === 'azure' ? `/${folder}/openai/deployments/${upstreamModel(folder)}/chat/completions` : `/${folder}/chat/completions`);
      expect(chatBodyProblems(got.json, provider)).toEqual([]);
      expect(got.json.model).toBe(upstreamModel(folder));
      expect(got.json.stream).toBe(true);
      if (provider === 'mistral') expect(got.json.stream_options).toBeUndefined(); // Mistral rejects it (422)
      else expect(got.json.stream_options).toEqual({ include_usage: true });
      expect(got.json.messages).toEqual([{ role: 'user', content: 'Hello there' }]);
      expect([got.json.max_tokens, got.json.max_completion_tokens].filter((x) => x !== undefined)).toEqual([1024]);
      expectUpstreamAuth(got, provider);
    });
  }

  test('a recording cut off before its finish chunk and [DONE] (a connection closed cleanly mid-answer) is an error, not an answer that looks whole', async () => {
    const rel = 'openai-chat/stream-text-usage-chunk.sse';
    const events = fixtureSseBody(rel).split('\n\n').filter((e) => e.startsWith('data: {') && !/"finish_reason":"/.test(e) && !e.includes('"usage":{'));
    expect(events.length).toBeGreaterThan(2);
    upstream.handler = () => sse(events.map((e) => `${e}\n\n`));
    const logsBefore = gw.requestLogs().length;
    const err = await client.messages.stream({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).finalMessage().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.error?.error?.type).toBe('api_error');
    expect(err.error?.error?.message).toContain('ended before the answer was complete');
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, outcome: 'error', error_type: 'api_error' });
  });

  test('tool-call arguments that do not stay one JSON object (weak models): the SDK still reads the message, and the log names what was left out', async () => {
    const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'up' };
    const args = (index: number, a: string, name?: string) => `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index, ...(name ? { id: `call_${index}`, type: 'function' } : {}), function: { ...(name ? { name } : {}), arguments: a } }] }, finish_reason: null }] })}\n\n`;
    const end = `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\ndata: [DONE]\n\n`;
    const cases: Array<[string, string[], unknown[]]> = [
      ['repeated after the end', [args(0, '{"city":', 'get_weather'), args(0, '"Paris"}'), args(0, '{"city":"Paris"}')], [{ city: 'Paris' }]],
      ['not JSON', [args(0, 'city=', 'get_weather'), args(0, 'Paris')], [{ _raw: 'city=Paris' }]],
      ['not JSON part way, then a good call', [args(0, '{"city": "Par', 'get_weather'), args(0, 'is", "units": metric}'), args(1, '{"q":1}', 'search')], [{ city: 'Paris', units: null }, { q: 1 }]],
      // a raw line break inside a string (JSON does not allow it there): the whole object, the break escaped
      ['a raw line break inside a string', [args(0, '{"file_path":"/tmp/a.py","content":"import os\n', 'Write'), args(0, 'os.remove(x)\n"}')], [{ file_path: '/tmp/a.py', content: 'import os\nos.remove(x)\n' }]],
    ];
    for (const [name, events, inputs] of cases) {
      upstream.handler = () => sse([...events, end]);
      const logsBefore = gw.requestLogs().length;
      const msg = await client.messages.stream({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).finalMessage();
      expect({ name, inputs: msg.content.map((b) => (b.type === 'tool_use' ? b.input : b.type)) }).toEqual({ name, inputs });
      expect(msg.stop_reason).toBe('tool_use');
      await until(() => gw.requestLogs().length > logsBefore, 3000);
      const line = gw.requestLogs().at(-1)!;
      expect(line.outcome).toBe('ok');
      if (name === 'not JSON' || name.startsWith('a raw line break')) expect(line.dropped).toBeUndefined();
      else expect(line.dropped.join()).toMatch(/tool call call_0: arguments (after its end|that are not JSON)/);
    }
  });

  test('a recording cut into 3-byte pieces (UTF-8 characters split across reads) gives the same message', async () => {
    for (const rel of ['openai-compatible/zai/stream-glm-reasoning-content.sse', 'openai-chat/stream-tool-calls-parallel.sse']) {
      const bytes = new TextEncoder().encode(fixtureSseBody(rel));
      const exp = expectFromChatStream(fixtureSseBody(rel));
      upstream.handler = () => new Response(new ReadableStream<Uint8Array>({
        start(ctl) {
          for (let i = 0; i < bytes.length; i += 3) ctl.enqueue(bytes.slice(i, i + 3));
          ctl.close();
        },
      }), { headers: { 'content-type': 'text/event-stream' } });
      const folder = folderOf(rel);
      const msg = await client.messages.stream({ model: exposedModel(folder), max_tokens: 64, messages: userTurn }).finalMessage();
      expectMessage(msg, exp, exposedModel(folder));
    }
  });

  test('the raw event sequence is well formed: message_start, blocks opened and closed in order, message_delta, message_stop', async () => {
    const rel = 'openai-compatible/deepseek/stream-reasoning-tool-call.chunks.jsonl';
    upstream.handler = replay(fixtureSseBody(rel));
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: exposedModel('deepseek'), max_tokens: 64, stream: true, messages: userTurn }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = parseSse(await res.text());
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    const types = events.map((e) => e.event);
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    let open: number | null = null;
    let next = 0;
    for (const e of events.map((x) => JSON.parse(x.data))) {
      if (e.type === 'content_block_start') { expect(open).toBeNull(); expect(e.index).toBe(next++); open = e.index; }
      if (e.type === 'content_block_delta') expect(e.index).toBe(open!);
      if (e.type === 'content_block_stop') { expect(e.index).toBe(open!); open = null; }
      if (e.type === 'message_delta') expect(open).toBeNull();
    }
    expect(next).toBe(2); // thinking, then the tool call
  });
});

describe('non-streamed: messages.create() over every recorded response', () => {
  for (const rel of responses) {
    const folder = folderOf(rel);
    const provider = PROVIDER_BY_FOLDER[folder];
    test(rel, async () => {
      const body = JSON.parse(readFixture(rel));
      const exp = expectFromChatResponse(body, provider === 'huggingface', provider);
      upstream.handler = () => json(body);
      const msg = await client.messages.create({ model: exposedModel(folder), max_tokens: 1024, messages: userTurn });
      expectMessage(msg, exp, exposedModel(folder));
      const got = upstream.requests.at(-1)!;
      expect(chatBodyProblems(got.json, provider)).toEqual([]);
      expect(got.json.stream).toBeUndefined();
      expect(got.json.stream_options).toBeUndefined();
      expectUpstreamAuth(got, provider);
    });
  }

  // a provider or proxy that ignores `stream` and answers whole: the client asked for a stream and gets one
  for (const rel of responses) {
    const folder = folderOf(rel);
    test(`${rel}, sent as the answer to a streamed request: messages.stream() reads the same message`, async () => {
      const body = JSON.parse(readFixture(rel));
      upstream.handler = () => json(body);
      const logsBefore = gw.requestLogs().length;
      const stream = client.messages.stream({ model: exposedModel(folder), max_tokens: 1024, messages: userTurn });
      const msg = await stream.finalMessage();
      expectMessage(msg, expectFromChatResponse(body, PROVIDER_BY_FOLDER[folder] === 'huggingface', PROVIDER_BY_FOLDER[folder]), exposedModel(folder));
      await until(() => gw.requestLogs().length > logsBefore, 3000);
      const line = gw.requestLogs().at(-1)!;
      expect(line).toMatchObject({ status: 200, outcome: 'ok', stream: true, output_tokens: msg.usage.output_tokens, stop_reason: msg.stop_reason });
    });
  }

  test('an answer without usage (some local servers): the local estimates, in the answer and the log, as a stream gets them', async () => {
    upstream.handler = () => json({ id: 'x', object: 'chat.completion', created: 1, model: 'up', choices: [{ index: 0, message: { role: 'assistant', content: 'a fairly long answer of some forty chars' }, finish_reason: 'stop' }] });
    const logsBefore = gw.requestLogs().length;
    const msg = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 64, messages: [{ role: 'user', content: 'word '.repeat(400) }] });
    expect(msg.usage.input_tokens).toBeGreaterThan(300);
    expect(msg.usage.output_tokens).toBe(10);
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ input_tokens: msg.usage.input_tokens, output_tokens: 10 });
  });

  test('an event stream labelled application/json (a proxy that labels everything so) is still read as the stream it is', async () => {
    const rel = 'openai-chat/stream-tool-calls-parallel.sse';
    upstream.handler = () => new Response(fixtureSseBody(rel), { headers: { 'content-type': 'application/json' } });
    const logsBefore = gw.requestLogs().length;
    const msg = await client.messages.stream({ model: exposedModel('openai-chat'), max_tokens: 1024, messages: userTurn }).finalMessage();
    expectMessage(msg, expectFromChatStream(fixtureSseBody(rel)), exposedModel('openai-chat'));
    await until(() => gw.requestLogs().length > logsBefore, 3000);
    expect(gw.requestLogs().at(-1)).toMatchObject({ status: 200, outcome: 'ok', stop_reason: msg.stop_reason, output_tokens: msg.usage.output_tokens });
  });

  test('an error envelope with a 200, answering a streamed request: the error, before any byte', async () => {
    upstream.handler = () => json({ error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 429 } });
    const err = await client.messages.stream({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).finalMessage().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err.error?.error?.message).toContain('exceeded your current quota');
  });

  test('think tags (huggingface preset) become a thinking block, not text', async () => {
    const body = JSON.parse(readFixture('openai-compatible/huggingface/response-deepseek-r1-think-tags-length.json'));
    upstream.handler = () => json(body);
    const msg = await client.messages.create({ model: exposedModel('huggingface'), max_tokens: 100, messages: userTurn });
    expect(msg.content[0]!.type).toBe('thinking');
    expect(JSON.stringify(msg.content)).not.toContain('<think>');
    expect(msg.stop_reason).toBe('max_tokens');
  });
});

describe('what the upstream receives', () => {
  test('a full request: system, tool round trip, sampling, stop sequences, tool_choice; Anthropic-only parts left out', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    // temperature is no longer in the SDK's types (current Claude models take none), but clients still send it
    const params: Anthropic.MessageCreateParamsNonStreaming & { temperature: number } = {
      model: exposedModel('openai-chat'),
      max_tokens: 300,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      temperature: 0.3,
      stop_sequences: ['END'],
      metadata: { user_id: 'user-42' },
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      tools: [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?', cache_control: { type: 'ephemeral' } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, sunny', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'And tomorrow?' }] },
      ],
    };
    const res = await client.messages.create(params);
    expect(res.content[0]).toMatchObject({ type: 'text' });
    const got = upstream.requests.at(-1)!;
    expect(chatBodyProblems(got.json, 'openai')).toEqual([]);
    expect(got.json).toMatchObject({
      model: upstreamModel('openai-chat'),
      max_completion_tokens: 300, // the openai preset's field
      temperature: 0.3,
      stop: ['END'],
      user: 'user-42',
      parallel_tool_calls: false,
      tool_choice: 'auto',
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
    });
    expect(got.json.max_tokens).toBeUndefined();
    expect(got.json.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_01', content: '18°C, sunny' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
    expectUpstreamAuth(got, 'openai');
  });

  test('the MCP connector (mcp_servers with a nameless mcp_toolset) and server tools: left out and named in x-switchboard-dropped, as README says', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const { data, response } = await client.beta.messages.create({
      model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn,
      mcp_servers: [{ type: 'url', url: 'https://mcp.example.test/sse', name: 'tracker' }],
      tools: [
        { type: 'mcp_toolset', mcp_server_name: 'tracker' },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 2 },
        { name: 'lookup', description: 'Look a word up', input_schema: { type: 'object', properties: { word: { type: 'string' } } } },
      ],
      container: 'container_011',
    }).withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text' });
    const dropped = response.headers.get('x-switchboard-dropped') ?? '';
    for (const name of ['tools.tracker (mcp_toolset', 'tools.web_search (web_search_20250305', 'mcp_servers', 'container']) expect(dropped).toContain(name);
    const got = upstream.requests.at(-1)!.json;
    expect(chatBodyProblems(got, 'openai')).toEqual([]);
    expect(got.tools.map((t: any) => t.function.name)).toEqual(['lookup']);
  });

  test('strict tool use and tool input examples: the function goes without them, and both are named in x-switchboard-dropped', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const input_schema = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const { response } = await client.beta.messages.create({
      model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn,
      tools: [{ name: 'get_weather', input_schema, strict: true, input_examples: [{ city: 'Paris' }] }],
    }).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBe('tools.get_weather.strict (the provider does not guarantee schema-valid input), tools.get_weather.input_examples');
    const got = upstream.requests.at(-1)!.json;
    expect(chatBodyProblems(got, 'openai')).toEqual([]);
    expect(got.tools).toEqual([{ type: 'function', function: { name: 'get_weather', parameters: input_schema } }]);
  });

  test('structured outputs: messages.parse() (output_config.format), beta parse() and a raw `output_format` (older clients) all become response_format', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'], additionalProperties: false } as const;
    const responseFormat = { type: 'json_schema', json_schema: { name: 'output', schema } };
    upstream.handler = () => json({ id: 'c1', object: 'chat.completion', created: 1, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: '{"answer":4}' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } });
    const params = { model: exposedModel('openai-chat'), max_tokens: 64, messages: [{ role: 'user' as const, content: 'What is 2+2?' }] };

    const parsed = await client.messages.parse({ ...params, output_config: { format: jsonSchemaOutputFormat(schema) } });
    expect(parsed.parsed_output).toEqual({ answer: 4 });
    expect(upstream.requests.at(-1)!.json.response_format).toEqual(responseFormat);

    const beta = await client.beta.messages.parse({ ...params, output_format: betaJSONSchemaOutputFormat(schema) });
    expect(beta.parsed_output).toEqual({ answer: 4 });
    expect(upstream.requests.at(-1)!.json.response_format).toEqual(responseFormat);

    // the SDK moves output_format into output_config; other clients send it as it was first specified
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-beta': 'structured-outputs-2025-11-13' },
      body: JSON.stringify({ ...params, output_format: { type: 'json_schema', schema } }),
    });
    expect(res.status).toBe(200);
    // mapped, but without OpenAI's strict (it refuses schemas Anthropic takes): the schema guarantee does not carry over
    expect(res.headers.get('x-switchboard-dropped')).toBe('output_format (sent without strict: schema-valid output is not guaranteed)');
    expect(upstream.requests.at(-1)!.json.response_format).toEqual(responseFormat);
  });


  test('structured outputs on DeepSeek, which takes no json_schema response_format: JSON mode with the schema in the system prompt, reported; messages.parse() reads the answer', async () => {
    // DeepSeek answers json_schema with 400 "This response_format type is unavailable now" (text and json_object only:
    // https://api-docs.deepseek.com/api/create-chat-completion), and json_object needs the word "json" in the prompt
    const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'], additionalProperties: false } as const;
    upstream.handler = (r) => r.json.response_format?.type === 'json_object'
      ? json({ id: 'c1', object: 'chat.completion', created: 1, model: 'deepseek-chat', choices: [{ index: 0, message: { role: 'assistant', content: '{"answer":4}' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } })
      : json({ error: { message: 'This response_format type is unavailable now', type: 'invalid_request_error', param: null, code: 'invalid_request_error' } }, 400);
    const parsed = await client.messages.parse({
      model: exposedModel('deepseek'), max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'What is 2+2?' }],
      output_config: { format: jsonSchemaOutputFormat(schema) },
    });
    expect(parsed.parsed_output).toEqual({ answer: 4 });
    // parse() hides the headers; the log line carries what x-switchboard-dropped says
    expect(gw.requestLogs().at(-1).dropped).toEqual(['output_config.format (sent as JSON mode with the schema in the system prompt: schema-valid output is not guaranteed)']);
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.response_format).toEqual({ type: 'json_object' });
    expect(sent.messages[0].role).toBe('system');
    expect(sent.messages[0].content).toStartWith('Be brief.\n\n');
    expect(sent.messages[0].content).toContain('JSON');
    expect(JSON.parse(sent.messages[0].content.split('\n').at(-1))).toEqual(schema);
    expect(sent.messages.slice(1)).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
  });
  test('documents: a PDF as a file part (openai) or a reported placeholder (no PDF input); a URL source and asked-for citations are named in x-switchboard-dropped', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const pdf = { type: 'base64' as const, media_type: 'application/pdf' as const, data: 'JVBERi0xLjQK' };
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: [
      { type: 'document', source: pdf, title: 'Report', citations: { enabled: true }, cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' } },
      { type: 'search_result', source: 'https://kb.example.test/1', title: 'KB', content: [{ type: 'text', text: 'Sky: blue.' }], citations: { enabled: true } },
      { type: 'text', text: 'Summarise, citing your sources.' },
    ] }];
    const { response } = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 64, messages }).withResponse();
    const dropped = response.headers.get('x-switchboard-dropped') ?? '';
    expect(dropped).toContain('messages.0.content.0.citations');
    expect(dropped).toContain('messages.0.content.2.citations');
    expect(dropped).not.toContain('messages.0.content.1');
    expect(upstream.requests.at(-1)!.json.messages[0].content[0]).toEqual({ type: 'file', file: { filename: 'Report.pdf', file_data: `data:application/pdf;base64,${pdf.data}` } });

    // no citations asked for, on a provider without PDF input: only the placeholder is reported
    const plain = await client.messages.create({ model: exposedModel('alibaba'), max_tokens: 64, messages: [{ role: 'user', content: [
      { type: 'document', source: pdf }, { type: 'document', source: { type: 'url', url: 'https://example.test/a.pdf' } }, { type: 'text', text: 'Summarise.' },
    ] }] }).withResponse();
    expect(plain.response.headers.get('x-switchboard-dropped')).toBe('messages.0.content.0 (PDF document: the provider takes no PDF input), messages.0.content.1 (document URL: the provider cannot fetch it)');
  });

  test('what README drops silently (no effect on the answer) leaves no x-switchboard-dropped and nothing upstream; an unknown field is reported', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const silent = {
      model: exposedModel('mistral'), max_tokens: 64,
      // Bedrock/Vertex envelope fields, capacity and server-side history edits, automatic prompt caching
      anthropic_version: 'bedrock-2023-05-31', anthropic_beta: ['context-management-2025-06-27'], service_tier: 'auto', inference_geo: 'us',
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] }, cache_control: { type: 'ephemeral' },
      // an end-user id, to a provider that takes no `user`
      metadata: { user_id: 'user-42' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'They greet.', signature: 'sig' }, { type: 'redacted_thinking', data: 'enc' }, { type: 'text', text: 'Hello!', citations: [{ type: 'char_location', cited_text: 'Hi', document_index: 0, document_title: null, start_char_index: 0, end_char_index: 2 }] }] },
        { role: 'user', content: 'How are you?' },
      ],
    };
    const { response } = await client.messages.create(silent as any).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBeNull();
    const got = upstream.requests.at(-1)!.json;
    expect(Object.keys(got).sort()).toEqual(['max_tokens', 'messages', 'model']);
    expect(got.messages).toEqual([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'How are you?' }]);

    const reported = await client.messages.create({ ...silent, some_future_field: { on: true } } as any).withResponse();
    expect(reported.response.headers.get('x-switchboard-dropped')).toBe('some_future_field');
  });

  test('`stop` (OpenAI-style) beside `stop_sequences`: both are sent, one list (the `stop` was left out without a word), and the provider\'s limit counts both', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const res = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, stop_sequences: ['END', '###'], stop: ['STOP', 'END'] } as any);
    expect(res.content[0]).toMatchObject({ type: 'text' });
    expect(upstream.requests.at(-1)!.json.stop).toEqual(['END', '###', 'STOP']);
    await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, stop: 'STOP' } as any);
    expect(upstream.requests.at(-1)!.json.stop).toBe('STOP');
    const before = upstream.requests.length;
    const err: any = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, stop_sequences: ['a', 'b', 'c'], stop: ['d', 'e'] } as any).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.message).toBe('stop_sequences: this provider takes at most 4 stop sequences (got 5, with stop)');
    expect(upstream.requests.length).toBe(before);
  });

  test('what Anthropic refuses is refused on the way to an openai channel too, naming the field, nothing sent (an openai upstream answered it, so a request worked or failed by the channel it was routed to)', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['no messages, a system prompt', { system: 'Be brief.', messages: [] }, 'messages'],
      ['temperature above 1', { temperature: 1.5 }, 'temperature'],
      ['temperature below 0', { temperature: -0.1 }, 'temperature'],
      ['top_p above 1', { top_p: 1.2 }, 'top_p'],
      ['top_k below 0', { top_k: -1 }, 'top_k'],
      ['a whitespace-only stop sequence', { stop_sequences: ['END', '\n'] }, 'stop_sequences.1'],
      ['an empty stop sequence', { stop_sequences: [''] }, 'stop_sequences.0'],
      ['tool_choice any without tools', { tool_choice: { type: 'any' } }, 'tool_choice'],
      ['tool_choice naming a tool, with an empty tools list', { tools: [], tool_choice: { type: 'tool', name: 'lookup' } }, 'tool_choice'],
    ];
    const before = upstream.requests.length;
    for (const [name, fields, field] of cases) {
      const err: any = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, ...fields } as any).then(() => null, (e) => e);
      expect(err, name).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.type).toBe('error');
      expect(err.error.error.type).toBe('invalid_request_error');
      expect(err.error.error.message, name).toStartWith(`${field}: `);
    }
    expect(upstream.requests.length).toBe(before);
    // the edges are taken
    await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, temperature: 1, top_k: 0, stop_sequences: [' END'] } as any);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ temperature: 1, stop: [' END'] });
  });

  test('a tool_use in history whose input is not an object, or whose id or name is not a string, is a 400 naming that field (its arguments went upstream as a JSON string or array, which no tool takes)', async () => {
    const before = upstream.requests.length;
    const call = { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } };
    const cases: Array<[Record<string, unknown>, string]> = [
      ...['{"city":"Paris"}', ['Paris'], 3].map((input) => [{ ...call, input }, 'input'] as [Record<string, unknown>, string]),
      [{ ...call, id: 1 }, 'id'], [{ ...call, name: undefined }, 'name'],
    ];
    for (const [block, field] of cases) {
      const err: any = await client.messages.create({
        model: exposedModel('openai-chat'), max_tokens: 20, messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, block] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C' }] },
        ],
      } as any).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.error.message).toStartWith(`messages.1.content.1.${field}: `);
    }
    expect(upstream.requests.length).toBe(before);
  });

  test('a client tool without an input_schema object is a 400 naming tools.N.input_schema, as Anthropic\'s own (it was left out as an "Anthropic-only tool" and the model answered without it); server tools are still left out and reported', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    const before = upstream.requests.length;
    for (const tool of [{ name: 'lookup', description: 'Look a word up' }, { type: 'custom', name: 'lookup', input_schema: 'object' }]) {
      const err: any = await client.messages.create({
        model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn,
        tools: [{ name: 'ok', input_schema: { type: 'object' } }, tool],
      } as any).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.error.message).toStartWith('tools.1.input_schema: ');
    }
    expect(upstream.requests.length).toBe(before);
    const { response } = await client.messages.create({
      model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn,
      tools: [{ type: 'bash_20250124', name: 'bash' }, { name: 'ok', input_schema: { type: 'object' } }],
    }).withResponse();
    expect(response.headers.get('x-switchboard-dropped')).toBe('tools.bash (bash_20250124: Anthropic-only tool)');
    expect(upstream.requests.at(-1)!.json.tools.map((t: any) => t.function.name)).toEqual(['ok']);
  });

  test('an image, document or search result missing what it is made of: a 400 naming the field, nothing sent (a PDF went as an empty file, a text document vanished, a URL went as "undefined")', async () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'image', source: { type: 'base64', data: 'iVBORw0KGgo=' } }, 'messages.0.content.1.source.media_type'],
      [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }, 'messages.0.content.1.source.data'],
      [{ type: 'image', source: { type: 'url' } }, 'messages.0.content.1.source.url'],
      [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf' } }, 'messages.0.content.1.source.data'],
      [{ type: 'document', source: { type: 'text', media_type: 'text/plain' } }, 'messages.0.content.1.source.data'],
      [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: { text: 'x' } } }, 'messages.0.content.1.source.data'],
      [{ type: 'document', source: { type: 'url' } }, 'messages.0.content.1.source.url'],
      [{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'a' }, { type: 'text' }] } }, 'messages.0.content.1.source.content.1.text'],
      [{ type: 'search_result', source: 'https://kb.example.test/1', title: 'KB', content: 'Sky: blue.' }, 'messages.0.content.1.content'],
      [{ type: 'search_result', source: 'https://kb.example.test/1', title: 'KB', content: [{ type: 'text', text: 7 }] }, 'messages.0.content.1.content.0.text'],
    ];
    const before = upstream.requests.length;
    for (const [block, field] of cases) {
      const err: any = await client.messages.create({
        model: exposedModel('openai-chat'), max_tokens: 20, messages: [{ role: 'user', content: [{ type: 'text', text: 'Look at this:' }, block] }],
      } as any).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.error.type).toBe('invalid_request_error');
      expect(err.error.error.message).toStartWith(`${field}: `);
    }
    expect(upstream.requests.length).toBe(before);
  });

  test('the gateway key never goes upstream, whichever way the client sent it', async () => {
    upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
    for (const headers of [{ 'x-api-key': KEY }, { authorization: `Bearer ${KEY}` }] as Array<Record<string, string>>) {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'anthropic-beta': 'some-beta-2025-01-01' },
        body: JSON.stringify({ model: exposedModel('openai-chat'), max_tokens: 5, messages: userTurn }),
      });
      expect(res.status).toBe(200);
      const got = upstream.requests.at(-1)!;
      expectUpstreamAuth(got, 'openai');
      expect(got.headers.get('anthropic-beta')).toBeNull(); // an Anthropic header means nothing to this provider
    }
  });
});

describe('Claude Code requests through an openai channel', () => {
  const textRecording = 'openai-chat/stream-text-usage-chunk.sse';
  const post = (body: unknown, shape: 'adaptive' | 'budget' = 'adaptive') =>
    fetch(`${gw.url}/v1/messages?beta=true`, { method: 'POST', headers: claudeCodeHeaders(KEY, shape), body: JSON.stringify(body) });

  async function expectStreamedText(res: Response, text: string) {
    const raw = await res.text();
    expect(res.status, raw.slice(0, 500)).toBe(200);
    const events = parseSse(raw).map((e) => JSON.parse(e.data));
    expect(events[0].type).toBe('message_start');
    expect(events.at(-1).type).toBe('message_stop');
    const got = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'text_delta').map((e) => e.delta.text).join('');
    expect(got).toBe(text);
  }

  function expectClaudeCodeTranslation(body: any) {
    expect(chatBodyProblems(body, 'openai')).toEqual([]);
    const names = body.tools.map((t: any) => t.function.name);
    expect(names).toEqual(['Agent', 'Bash', 'Edit', 'ListAgents', 'Read', 'ReportFindings', 'ScheduleWakeup', 'Skill', 'ToolSearch', 'Workflow', 'Write']);
    expect(names).not.toContain('DeferredToolPlaceholder');
    const read = body.tools.find((t: any) => t.function.name === 'Read').function;
    expect(read.parameters.required).toEqual(['file_path']);
    expect(read.parameters.properties.file_path.type).toBe('string');
    expect(typeof body.user).toBe('string');
    expect(body.user.length).toBeGreaterThan(0);
    expect(body.user.length).toBeLessThanOrEqual(64);
    expect(body.user).not.toBe(CLAUDE_CODE_USER_ID);
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.messages[0].role).toBe('system');
    expect(body.messages[0].content).toContain("You are a Claude agent, built on Anthropic's Claude Agent SDK.");
    const user = body.messages.find((m: any) => m.role === 'user');
    expect(user.content).toContain('<system-reminder>');
    expect(user.content).toContain('What is in README.md?');
  }

  test('DeepSeek tool loop with thinking omitted (as Claude Code asks): the reasoning goes back to DeepSeek in the next turn, streamed or not', async () => {
    const reasoning = 'The user wants README.md; I should call Read. "Quotes", é and 😀 survive.';
    const call = { id: 'call_00_abc', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/tmp/project/README.md"}' } };
    for (const stream of [true, false]) {
      const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'deepseek-reasoner', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      upstream.handler = () => stream
        ? sse([chunk({ role: 'assistant', reasoning_content: reasoning.slice(0, 20) }), chunk({ reasoning_content: reasoning.slice(20) }), chunk({ tool_calls: [{ index: 0, ...call }] }), chunk({}, 'tool_calls'), 'data: [DONE]\n\n'])
        : json({ id: 'c1', object: 'chat.completion', created: 1, model: 'deepseek-reasoner', choices: [{ index: 0, message: { role: 'assistant', content: null, reasoning_content: reasoning, tool_calls: [call] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } });
      const body: any = { ...claudeCodeBody(), model: exposedModel('deepseek'), stream: undefined, max_tokens: 4096 }; // the SDK streams 128000 only
      const first = stream ? await client.messages.stream(body as any).finalMessage() : await client.messages.create(body as any);
      const thinking = first.content.find((b) => b.type === 'thinking') as Anthropic.ThinkingBlock;
      expect(thinking.thinking).toBe(''); // omitted for the client, as asked
      const tool = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
      // the next turn replays the assistant turn exactly as received, as Claude Code does
      upstream.handler = () => json(JSON.parse(readFixture('openai-chat/response-text.json')));
      await client.messages.create({ ...body, messages: [...body.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: tool.id, content: '1\t# Project' }] }] } as any);
      const assistant = upstream.requests.at(-1)!.json.messages.find((m: any) => m.role === 'assistant');
      expect({ stream, reasoning_content: assistant.reasoning_content }).toEqual({ stream, reasoning_content: reasoning });
    }
  });

  test('current shape (adaptive thinking, effort medium, max_tokens 128000, ?beta=true) → 200, reasoning_effort medium, max tokens clamped', async () => {
    const recorded = fixtureSseBody(textRecording);
    upstream.handler = replay(recorded);
    const res = await post(claudeCodeBody());
    expect(res.headers.get('x-switchboard-dropped') ?? '').toContain('DeferredToolPlaceholder');
    await expectStreamedText(res, expectFromChatStream(recorded).content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    const got = upstream.requests.at(-1)!;
    expect(got.path).toBe('/cc/chat/completions');
    expect(got.search).toBe(''); // ?beta=true is Anthropic's
    expect(got.json.model).toBe('gpt-5');
    expect(got.json.reasoning_effort).toBe('medium');
    expect(got.json.max_completion_tokens).toBe(64000);
    expect(got.json.max_tokens).toBeUndefined();
    expectClaudeCodeTranslation(got.json);
    expectUpstreamAuth(got, 'openai');
    expect(got.headers.get('anthropic-beta')).toBeNull();
  });

  test('older shape (thinking enabled, budget_tokens 31999, max_tokens 32000) → reasoning_effort high, max tokens clamped', async () => {
    upstream.handler = replay(fixtureSseBody(textRecording));
    const res = await post(claudeCodeBody({ shape: 'budget' }), 'budget');
    expect(res.headers.get('x-switchboard-dropped') ?? '').toContain('DeferredToolPlaceholder');
    expect(res.status).toBe(200);
    await res.text();
    const got = upstream.requests.at(-1)!;
    expect(got.json.model).toBe('gpt-5-mini');
    expect(got.json.reasoning_effort).toBe('high');
    expect(got.json.max_completion_tokens).toBe(16384);
    expectClaudeCodeTranslation(got.json);
  });

  test("on DeepSeek: the preset's ceiling for deepseek-chat (8192), its thinking switch, no `user`", async () => {
    upstream.handler = replay(fixtureSseBody('openai-compatible/deepseek/stream-reasoning.sse'));
    const res = await post(claudeCodeBody({ model: 'claude-haiku-5-5' }));
    expect(res.status).toBe(200);
    await res.text();
    const got = upstream.requests.at(-1)!;
    expect(got.path).toBe('/ccds/chat/completions');
    expect(chatBodyProblems(got.json, 'deepseek')).toEqual([]);
    expect(got.json.max_tokens).toBe(8192);
    expect(got.json.thinking).toEqual({ type: 'enabled' });
    expect(got.json.user).toBeUndefined();
    expect(got.json.tools.map((t: any) => t.function.name)).not.toContain('DeferredToolPlaceholder');
  });

  test('on DeepSeek V4.1 (deepseek-flash): no thinking unasked, thinking asked goes on, max_tokens within 393216', async () => {
    // "Thinking mode is enabled by default" (https://api-docs.deepseek.com/guides/thinking_mode); deepseek-flash is the
    // model name DeepSeek gives (https://api-docs.deepseek.com/quick_start/pricing), "MAX OUTPUT 384K"
    upstream.handler = replay(fixtureSseBody('openai-compatible/deepseek/stream-reasoning.sse'));
    const unasked = await client.messages.stream({ model: 'claude-opus-5-5', max_tokens: 500000, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(unasked.content.some((b) => b.type === 'text')).toBe(true);
    let got = upstream.requests.at(-1)!;
    expect(got.path).toBe('/ccds/chat/completions');
    expect(got.json).toMatchObject({ model: 'deepseek-flash', thinking: { type: 'disabled' }, max_tokens: 393216 });
    expect(got.json.reasoning_effort).toBeUndefined();
    const res = await post(claudeCodeBody({ model: 'claude-opus-5-5' }));
    expect(res.status).toBe(200);
    await res.text();
    got = upstream.requests.at(-1)!;
    expect(chatBodyProblems(got.json, 'deepseek')).toEqual([]);
    expect(got.json.thinking).toEqual({ type: 'enabled' });
    expect(got.json.max_tokens).toBe(128000);
  });

  test('thinking display "omitted" is honoured: no thinking text reaches the client', async () => {
    // claude-code-traffic.md: "honour display: omitted (no thinking text shown to the client)"
    const recorded = fixtureSseBody('openai-compatible/deepseek/stream-reasoning.sse');
    const exp = expectFromChatStream(recorded);
    expect(exp.content.some((b) => b.type === 'thinking')).toBe(true); // the provider did reason
    upstream.handler = replay(recorded);
    const res = await post(claudeCodeBody({ model: 'claude-haiku-5-5' }));
    const events = parseSse(await res.text()).map((e) => JSON.parse(e.data));
    const answer = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    expect(answer).toBe(exp.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    const thinkingText = events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('');
    expect(thinkingText).toBe('');
  });

  test('the mid-conversation `role: "system"` message the real 2.1.332 CLI sends is accepted and carried as a system message', async () => {
    // Observed from `claude -p` 2.1.332 (not in claude-code-traffic.md): messages = [user, {role: "system", content: [env text + cache_control]}]
    upstream.handler = replay(fixtureSseBody(textRecording));
    const res = await post(claudeCodeBody({ systemMessage: true }));
    const raw = await res.text();
    expect(res.status, raw.slice(0, 300)).toBe(200);
    const got = upstream.requests.at(-1)!;
    expect(chatBodyProblems(got.json, 'openai')).toEqual([]);
    const last = got.json.messages.at(-1);
    expect(last.role).toBe('system'); // the openai preset takes system messages anywhere
    expect(last.content).toContain('You have been invoked in the following environment.');
  });
});

describe('upstream HTTP errors → Anthropic SDK errors in the Anthropic envelope', () => {
  const CLASS_BY_STATUS: Record<number, new (...args: any[]) => Error> = {
    400: Anthropic.BadRequestError, 401: Anthropic.AuthenticationError, 403: Anthropic.PermissionDeniedError,
    404: Anthropic.NotFoundError, 429: Anthropic.RateLimitError, 500: Anthropic.InternalServerError,
  };
  const TYPE_BY_STATUS: Record<number, string> = {
    400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error', 500: 'api_error',
  };
  for (const rel of errors) {
    const status = Number(/error-(\d{3})-/.exec(rel)![1]);
    const folder = folderOf(rel);
    for (const mode of ['create', 'stream'] as const) {
      test(`${rel} (HTTP ${status}, ${mode})`, async () => {
        const body = JSON.parse(readFixture(rel));
        upstream.handler = () => json(body, status, { 'retry-after': '7' });
        const params = { model: exposedModel(folder), max_tokens: 64, messages: userTurn };
        const err: any = await (mode === 'create' ? client.messages.create(params) : client.messages.stream(params).finalMessage()).then(() => null, (e) => e);
        expect(err).toBeInstanceOf(CLASS_BY_STATUS[status]!);
        expect(err.status).toBe(status);
        expect(err.error).toMatchObject({ type: 'error', error: { type: TYPE_BY_STATUS[status] } });
        expect(err.error.error.message).toContain(body.error.message);
        expect(err.error.request_id).toMatch(/^req_/);
        if (status === 429) expect(err.headers.get('retry-after')).toBe('7'); // the client's SDK waits it out
        expect(JSON.stringify(err.error)).not.toContain(UPSTREAM_KEY);
      });
    }
  }
});

describe('upstream HTTP errors without a JSON body', () => {
  // a wrong base_url path, a proxy's or a load balancer's page: the status alone would not say where to look
  const pages: Array<[string, number, string, string]> = [
    ['a plain-text 404', 404, '404 page not found\n', 'channel ch-openai-chat: upstream returned HTTP 404: 404 page not found'],
    ['an HTML 502 page', 502, '<html>\n<head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center></body></html>', 'channel ch-openai-chat: upstream returned HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx'],
    ['an empty 404', 404, '', 'channel ch-openai-chat: upstream returned HTTP 404'],
  ];
  for (const [name, status, page, message] of pages) {
    test(`${name}: the message names the channel and quotes the page's text`, async () => {
      upstream.handler = () => new Response(page, { status, headers: { 'content-type': 'text/html' } });
      const err: any = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).then(() => null, (e) => e);
      expect(err?.status).toBe(status);
      expect(err.error.error.message).toBe(message);
    });
  }
  test('a long page is quoted up to 200 characters', async () => {
    upstream.handler = () => new Response(`Not here: ${'x'.repeat(5000)}`, { status: 404 });
    const err: any = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).then(() => null, (e) => e);
    expect(err.error.error.message.startsWith('channel ch-openai-chat: upstream returned HTTP 404: Not here: xxx')).toBe(true);
    expect(err.error.error.message.length).toBeLessThanOrEqual('channel ch-openai-chat: upstream returned HTTP 404: '.length + 201);
  });
  test('a page of a megabyte of `<` that never closes (the most of an error body read) is quoted like any other', async () => {
    // each `<` starting a tag that runs to the end of the page: looking for its `>` from every one of them took
    // minutes of the event loop (quadratic), every other request of the gateway waiting
    upstream.handler = () => new Response(`<${'<'.repeat(1024 * 1024 - 8)}x`, { status: 404 });
    const err: any = await client.messages.create({ model: exposedModel('openai-chat'), max_tokens: 64, messages: userTurn }).then(() => null, (e) => e);
    expect(err?.status).toBe(404);
    expect(err.error.error.message.startsWith('channel ch-openai-chat: upstream returned HTTP 404: <<<')).toBe(true);
  });
});

describe('count_tokens and aborts', () => {
  test('count_tokens against an openai channel answers from the local estimate, without calling the provider', async () => {
    const before = upstream.requests.length;
    const { data, response } = await client.messages.countTokens({
      model: exposedModel('openai-chat'),
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'How many tokens is this sentence, roughly speaking?' }],
    }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-switchboard-estimate')).toBe('true');
    expect(Number.isInteger(data.input_tokens)).toBe(true);
    expect(data.input_tokens).toBeGreaterThan(5);
    expect(data.input_tokens).toBeLessThan(200);
    expect(upstream.requests.length).toBe(before);
    // a longer prompt is a larger estimate
    const longer = await client.messages.countTokens({
      model: exposedModel('openai-chat'),
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'How many tokens is this sentence, roughly speaking? '.repeat(20) }],
    });
    expect(longer.input_tokens).toBeGreaterThan(data.input_tokens);
  });

  test('a client abort mid-stream on a translated stream reaches the provider', async () => {
    let rec: RecordedRequest | undefined;
    upstream.handler = (r) => { rec = r; return replay(fixtureSseBody('openai-chat/stream-text-obfuscation.chunks.jsonl'), { delayMs: 50 })(r); };
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', signal: ac.signal, headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: exposedModel('openai-chat'), max_tokens: 500, stream: true, messages: userTurn }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('message_start');
    ac.abort();
    const aborted = await Promise.race([rec!.aborted.then(() => true), Bun.sleep(3000).then(() => false)]);
    expect(aborted).toBe(true);
    await until(() => gw.requestLogs().some((l) => l.outcome === 'cancelled' && l.channel === 'ch-openai-chat'), 3000);
  });
});

describe('the SDK tool runner (it threads by default: a `continue` sends only the new messages)', () => {
  const completion = (message: object, finish: string) => json({
    id: 'c1', object: 'chat.completion', created: 1, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
  });
  const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const calls = [
    { id: 'call_add', type: 'function', function: { name: 'add', arguments: '{"a":1,"b":2}' } },
    { id: 'call_mul', type: 'function', function: { name: 'mul', arguments: '{"a":3,"b":4}' } },
  ];
  /** Two parallel calls first; the answer once both results are back (stream or not, as asked). */
  const provider = (r: RecordedRequest) => {
    const done = r.json.messages.some((m: any) => m.role === 'tool');
    if (!r.json.stream) return done ? completion({ content: '3 and 12' }, 'stop') : completion({ content: null, tool_calls: calls }, 'tool_calls');
    return sse(done
      ? [chunk({ role: 'assistant', content: '3 and ' }), chunk({ content: '12' }), chunk({}, 'stop'), 'data: [DONE]\n\n']
      : [chunk({ role: 'assistant', content: null }), ...calls.map((c, index) => chunk({ tool_calls: [{ index, ...c }] })), chunk({}, 'tool_calls'), 'data: [DONE]\n\n']);
  };
  const schema = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } as const;
  const tools = [
    betaTool({ name: 'add', description: 'a + b', inputSchema: schema, run: ({ a, b }) => String(a + b) }),
    betaTool({ name: 'mul', description: 'a × b', inputSchema: schema, run: ({ a, b }) => String(a * b) }),
  ];

  for (const stream of [false, true]) {
    test(`several tools, parallel calls (${stream ? 'streamed' : 'not streamed'}): every turn reaches the provider as the whole conversation`, async () => {
      upstream.handler = provider;
      const before = upstream.requests.length;
      const runner = client.beta.messages.toolRunner({
        model: exposedModel('openai-chat'), max_tokens: 200, system: 'Use the tools.', stream,
        messages: [{ role: 'user', content: 'What are 1+2 and 3×4?' }], tools,
      });
      const final = await runner.runUntilDone();
      expect(final.content).toEqual([{ type: 'text', text: '3 and 12' }] as any);
      const sent = upstream.requests.slice(before).map((r) => r.json);
      expect(sent.length).toBe(2);
      // the second turn carries what came before it: without it the provider gets tool results answering nothing
      expect(sent[1].messages).toEqual([
        { role: 'system', content: 'Use the tools.' },
        { role: 'user', content: 'What are 1+2 and 3×4?' },
        { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', tool_call_id: 'call_add', content: '3' },
        { role: 'tool', tool_call_id: 'call_mul', content: '12' },
      ]);
      expect(sent[1].tools.map((t: any) => t.function.name)).toEqual(['add', 'mul']);
    });
  }

  test('a tool that throws: the provider reads the SDK\'s error result once marked as an error, not "Error: Error: …"', async () => {
    upstream.handler = provider;
    const before = upstream.requests.length;
    const runner = client.beta.messages.toolRunner({
      model: exposedModel('openai-chat'), max_tokens: 200, messages: [{ role: 'user', content: 'What are 1+2 and 3×4?' }],
      tools: [tools[0]!, betaTool({ name: 'mul', description: 'a × b', inputSchema: schema, run: () => { throw new Error('overflow'); } })],
    });
    await runner.runUntilDone();
    // the SDK writes a thrown error as `Error: <message>` with is_error; the gateway marks is_error the same way
    expect(upstream.requests.slice(before)[1]!.json.messages.filter((m: any) => m.role === 'tool')).toEqual([
      { role: 'tool', tool_call_id: 'call_add', content: '3' },
      { role: 'tool', tool_call_id: 'call_mul', content: 'Error: overflow' },
    ]);
  });

  test('a thread asked for directly is refused the way Anthropic refuses one it cannot hold (the SDK\'s ThreadUnsupportedRequestError)', async () => {
    const before = upstream.requests.length;
    const err: any = await client.beta.messages.create({
      model: exposedModel('openai-chat'), max_tokens: 20, messages: userTurn, thread: { type: 'create' },
    } as any).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Anthropic.ThreadUnsupportedRequestError);
    expect(err.status).toBe(400);
    expect(err.error.error).toMatchObject({ type: 'invalid_request_error', details: { error_code: 'thread_unsupported_request' } });
    expect(err.error.error.message).toContain('thread');
    expect(upstream.requests.length).toBe(before);
  });
});
