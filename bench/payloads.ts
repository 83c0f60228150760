/**
 * @module bench/payloads
 * The request bodies the benchmark sends, in both client dialects (Anthropic Messages and OpenAI Chat Completions),
 * generated deterministically (a seeded generator, no files to ship): a small prompt, a ~200 KB Claude-Code-like
 * conversation (system prompt, tool schemas, 30 tool turns) and a ~5 MB base64 image.
 */

export type ClientFormat = 'anthropic' | 'openai';
export type PayloadKind = 'small' | 'conversation' | 'image';

/** Small deterministic PRNG (mulberry32): the same bytes on every run and machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'const', 'function', 'return', 'await', 'stream', 'request', 'response', 'channel', 'config', 'model', 'usage',
  'tokens', 'export', 'import', 'interface', 'error', 'status', 'header', 'value', 'index', 'buffer', 'decoder',
  'route', 'message', 'content', 'block', 'delta', 'signal', 'timeout', 'retry', 'état', 'naïve', '→', '中文', 'ok',
];

/** Code-like text of about `size` characters (some non-ASCII, so UTF-8 is exercised). */
function codeText(size: number, rand: () => number): string {
  const parts: string[] = [];
  let n = 0;
  let line = 0;
  while (n < size) {
    const indent = '  '.repeat(Math.floor(rand() * 4));
    let s = `${String(++line).padStart(4, ' ')}\t${indent}`;
    const words = 3 + Math.floor(rand() * 9);
    for (let i = 0; i < words; i++) s += WORDS[Math.floor(rand() * WORDS.length)] + (rand() < 0.2 ? '(' : ' ');
    s += rand() < 0.5 ? ';' : ' {';
    parts.push(s);
    n += s.length + 1;
  }
  return parts.join('\n');
}

const TOOL_NAMES = [
  'Bash', 'Read', 'Edit', 'MultiEdit', 'Write', 'Glob', 'Grep', 'LS', 'TodoWrite', 'WebFetch', 'WebSearch',
  'NotebookEdit', 'Task', 'ExitPlanMode', 'BashOutput', 'KillShell',
];

interface ToolDef { name: string; description: string; input_schema: Record<string, unknown> }

function tools(rand: () => number): ToolDef[] {
  return TOOL_NAMES.map((name) => ({
    name,
    description: `${name}: ${codeText(1400, rand).replace(/\t/g, ' ')}`,
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'The absolute path to the file to operate on' },
        command: { type: 'string', description: 'The command to execute' },
        pattern: { type: 'string', description: 'The regular expression pattern to search for in file contents' },
        limit: { type: 'number', description: 'The number of lines to read. Only provide if the file is too large' },
        options: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] } },
      },
      required: ['file_path'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  }));
}

interface Turn { text: string; id: string; name: string; input: Record<string, unknown>; result: string }

/** The shared shape of the ~200 KB conversation, before it is written in one dialect or the other. */
function conversation() {
  const rand = rng(20240611);
  const system = [
    'You are Claude Code, Anthropic\'s official CLI for Claude.',
    `You are an interactive CLI tool that helps users with software engineering tasks.\n${codeText(14_000, rand)}`,
  ];
  const toolDefs = tools(rand);
  const turns: Turn[] = [];
  for (let i = 0; i < 30; i++) {
    const name = TOOL_NAMES[i % 8]!;
    turns.push({
      text: `Let me look at part ${i + 1} of the code base.`,
      id: `toolu_${String(i).padStart(2, '0')}${Math.floor(rand() * 1e12).toString(36)}`,
      name,
      input: { file_path: `/work/project/src/module-${i}.ts`, limit: 400 },
      result: codeText(4_300, rand),
    });
  }
  return { system, toolDefs, turns, first: 'Please find why the streaming tests fail and fix the bug. Run the tests afterwards.' };
}

function anthropicConversation(model: string): Record<string, unknown> {
  const c = conversation();
  const messages: unknown[] = [{ role: 'user', content: [{ type: 'text', text: c.first }] }];
  for (const t of c.turns) {
    messages.push({ role: 'assistant', content: [{ type: 'text', text: t.text }, { type: 'tool_use', id: t.id, name: t.name, input: t.input }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: t.id, content: t.result }] });
  }
  return {
    model,
    max_tokens: 32000,
    system: [{ type: 'text', text: c.system[0] }, { type: 'text', text: c.system[1], cache_control: { type: 'ephemeral' } }],
    tools: c.toolDefs,
    messages,
    metadata: { user_id: 'user_bench_session_0001' },
    temperature: 1,
  };
}

function openaiConversation(model: string): Record<string, unknown> {
  const c = conversation();
  const messages: unknown[] = [{ role: 'system', content: c.system.join('\n\n') }, { role: 'user', content: c.first }];
  for (const t of c.turns) {
    messages.push({
      role: 'assistant',
      content: t.text,
      tool_calls: [{ id: t.id, type: 'function', function: { name: t.name, arguments: JSON.stringify(t.input) } }],
    });
    messages.push({ role: 'tool', tool_call_id: t.id, content: t.result });
  }
  return {
    model,
    max_tokens: 32000,
    tools: c.toolDefs.map((d) => ({ type: 'function', function: { name: d.name, description: d.description, parameters: d.input_schema } })),
    messages,
    temperature: 1,
  };
}

/** ~5 MiB of base64 (3.75 MiB of bytes behind a PNG signature). */
function imageBase64(): string {
  const rand = rng(7);
  const bytes = new Uint8Array(3_932_160);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let i = 8; i < bytes.length; i++) bytes[i] = (rand() * 256) | 0;
  return Buffer.from(bytes).toString('base64');
}

/**
 * A request body as the client would send it. `stream` sets `stream: true` (and OpenAI's include_usage, unless
 * `includeUsage` is false: the openai SDK's default).
 */
export function requestBody(format: ClientFormat, kind: PayloadKind, model: string, stream: boolean, includeUsage = true): string {
  let body: Record<string, unknown>;
  if (kind === 'conversation') {
    body = format === 'anthropic' ? anthropicConversation(model) : openaiConversation(model);
  } else if (kind === 'image') {
    const data = imageBase64();
    body = format === 'anthropic'
      ? { model, max_tokens: 1024, messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data } },
        { type: 'text', text: 'What is in this image?' },
      ] }] }
      : { model, max_tokens: 1024, messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } },
        { type: 'text', text: 'What is in this image?' },
      ] }] };
  } else {
    body = { model, max_tokens: 256, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] };
  }
  if (stream) {
    body.stream = true;
    if (format === 'openai' && includeUsage) body.stream_options = { include_usage: true };
  }
  return JSON.stringify(body);
}

/** The gateway key every bench client sends. */
export const BENCH_KEY = 'sk-bench-0123456789';

/**
 * Switchboard's config for every bench run: the bench key, and one channel of each type on the mock upstream
 * (model `bench-anthropic` or `bench-openai` picks the channel, hence passthrough or translation).
 */
export function benchConfig(mockUrl: string) {
  return {
    server: { host: '127.0.0.1', port: 0, log_level: 'info' },
    keys: [{ key: BENCH_KEY, name: 'bench' }],
    channels: [
      { name: 'mock-anthropic', type: 'anthropic', base_url: mockUrl, api_key: 'sk-ant-mock-upstream', models: ['bench-anthropic'] },
      { name: 'mock-openai', type: 'openai', base_url: `${mockUrl}/v1`, api_key: 'sk-mock-upstream', models: ['bench-openai'] },
    ],
  };
}

/** The client's headers: a gateway key in each dialect's usual header. */
export function clientHeaders(format: ClientFormat, key: string): Record<string, string> {
  return format === 'anthropic'
    ? { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' }
    : { 'content-type': 'application/json', authorization: `Bearer ${key}` };
}

/**
 * What the official SDKs send (`sdk: true`): Claude Code's headers (shared/claude-code-traffic.md) for Messages, the
 * openai package's for Chat Completions, ~15 each where `clientHeaders` sends 2-3. Header work grows with them.
 */
export function sdkHeaders(format: ClientFormat, key: string): Record<string, string> {
  const stainless = {
    'x-stainless-arch': 'x64', 'x-stainless-lang': 'js', 'x-stainless-os': 'Linux', 'x-stainless-retry-count': '0',
    'x-stainless-runtime': 'node', 'x-stainless-runtime-version': 'v20.20.2', 'accept-encoding': 'gzip, deflate, br, zstd',
  };
  return format === 'anthropic'
    ? {
      ...stainless, accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${key}`,
      'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true', 'x-app': 'cli',
      'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)', 'x-claude-code-session-id': '3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
      'x-stainless-package-version': '0.74.0', 'x-stainless-timeout': '600',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24',
    }
    : {
      ...stainless, accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${key}`,
      'user-agent': 'OpenAI/JS 6.9.1', 'x-stainless-package-version': '6.9.1',
    };
}

export const CLIENT_PATH: Record<ClientFormat, string> = { anthropic: '/v1/messages', openai: '/v1/chat/completions' };
