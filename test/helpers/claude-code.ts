/**
 * @module test/helpers/claude-code
 * What Claude Code 2.1.332 sends to ANTHROPIC_BASE_URL (../shared/claude-code-traffic.md), rebuilt for tests:
 * request bodies in the two thinking shapes, its headers, a runner for the real CLI, and a small writer of
 * Chat Completions SSE for mock OpenAI-compatible upstreams.
 */
import { afterAll } from 'bun:test';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLAUDE_BIN = resolve(import.meta.dir, '../../node_modules/.bin/claude');
export const CLAUDE_CODE_VERSION = '2.1.332';

/** `anthropic-beta` as sent for the current model names (`claude-*-5-5`). */
export const BETAS_CURRENT = 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24';
/** `anthropic-beta` as sent for `claude-sonnet-4-5`. */
export const BETAS_SONNET_4_5 = 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20';

/** `metadata.user_id`: a JSON string, longer than the 64 characters OpenAI takes as `user`. */
export const CLAUDE_CODE_USER_ID = JSON.stringify({
  device_id: 'ea7c6cc1d20be4123d895818f0f1928008292fe4770ee8be0276524fbcf3d21b',
  account_uuid: '',
  session_id: '39f9564e-23b5-48cd-ad9f-f725accf6909',
});

export const BILLING_LINE = `x-anthropic-billing-header: cc_version=${CLAUDE_CODE_VERSION}.1c9; cc_entrypoint=sdk-cli;`;

const SCHEMA_2020 = 'https://json-schema.org/draft/2020-12/schema';
const tool = (name: string, description: string, properties: Record<string, unknown>, required: string[] = []) => ({
  name,
  description,
  input_schema: { $schema: SCHEMA_2020, type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false },
});

/** The 12 tools of the current shapes, as observed: ToolSearch, and a DeferredToolPlaceholder with `defer_loading`. */
export function claudeCodeTools() {
  return [
    tool('Agent', 'Launch a new agent to handle complex, multi-step tasks.', { description: { type: 'string' }, prompt: { type: 'string' }, subagent_type: { type: 'string' } }, ['description', 'prompt']),
    tool('Bash', 'Executes a given bash command and returns its output.', { command: { type: 'string' }, timeout: { type: 'number' }, description: { type: 'string' } }, ['command']),
    tool('Edit', 'Performs exact string replacements in files.', { file_path: { type: 'string' }, old_string: { type: 'string' }, new_string: { type: 'string' }, replace_all: { type: 'boolean', default: false } }, ['file_path', 'old_string', 'new_string']),
    tool('ListAgents', 'Lists the agent types available to the Agent tool.', {}),
    tool('Read', 'Reads a file from the local filesystem.', {
      file_path: { description: 'The absolute path to the file to read', type: 'string' },
      offset: { type: 'integer', minimum: 0, maximum: 9007199254740991 },
      limit: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
      pages: { type: 'string' },
    }, ['file_path']),
    tool('ReportFindings', 'Reports findings back to the user.', { findings: { type: 'array', items: { type: 'string' } } }, ['findings']),
    tool('ScheduleWakeup', 'Schedules a wake-up.', { delay_seconds: { type: 'integer', minimum: 1 } }),
    tool('Skill', 'Execute a skill within the main conversation.', { skill: { type: 'string' }, args: { type: 'string' } }, ['skill']),
    tool('ToolSearch', 'Fetches full schema definitions for deferred tools so they can be called.', { query: { type: 'string' }, max_results: { type: 'number', default: 5 } }, ['query']),
    tool('Workflow', 'Runs a workflow.', { name: { type: 'string' } }),
    { name: 'DeferredToolPlaceholder', description: 'Never call this tool. It exists only to keep deferred tool loading on.', input_schema: { type: 'object', properties: {} }, defer_loading: true },
    tool('Write', 'Writes a file to the local filesystem.', { file_path: { type: 'string' }, content: { type: 'string' } }, ['file_path', 'content']),
  ];
}

export interface ClaudeCodeBodyOptions {
  model?: string;
  /** `adaptive`: current names (adaptive thinking + output_config.effort, max_tokens 128000); `budget`: claude-sonnet-4-5 (budget 31999, max_tokens 32000). */
  shape?: 'adaptive' | 'budget';
  prompt?: string;
  /**
   * Append the `role: "system"` message that the real 2.1.332 CLI sends after the user turn (observed:
   * the environment block, with cache_control). claude-code-traffic.md does not list it.
   */
  systemMessage?: boolean;
  stream?: boolean;
}

/** A first-turn request body as Claude Code sends it (claude-code-traffic.md, "Body, by model name"). */
export function claudeCodeBody(opts: ClaudeCodeBodyOptions = {}): Record<string, any> {
  const shape = opts.shape ?? 'adaptive';
  const model = opts.model ?? (shape === 'adaptive' ? 'claude-sonnet-5-5' : 'claude-sonnet-4-5');
  const prompt = opts.prompt ?? 'What is in README.md?';
  const reminder = (text: string) => ({ type: 'text', text: `<system-reminder>\n${text}\n</system-reminder>` });
  const messages: any[] = [{
    role: 'user',
    content: [
      reminder('# Environment\n - Primary working directory: /tmp/project\n - Platform: linux'),
      reminder('Available agent types for the Agent tool:\n- claude: Catch-all agent'),
      reminder('The following skills are available: none'),
      reminder('The following deferred tools are now available via ToolSearch:\nCronCreate\nCronDelete\nWebFetch\nWebSearch'),
      reminder("Today's date is 2026-11-26."),
      reminder('As you answer the user\'s questions, you can use the following context: none'),
      { type: 'text', text: prompt, cache_control: { type: 'ephemeral' } },
    ],
  }];
  if (opts.systemMessage) {
    messages.push({ role: 'system', content: [{ type: 'text', text: '# Environment\nYou have been invoked in the following environment.', cache_control: { type: 'ephemeral' } }] });
  }
  const body: Record<string, any> = {
    model,
    messages,
    system: [
      { type: 'text', text: BILLING_LINE },
      { type: 'text', text: "You are a Claude agent, built on Anthropic's Claude Agent SDK.", cache_control: { type: 'ephemeral' } },
      { type: 'text', text: '\nYou are an agent working with the user toward their goals.\n# Using your tools\nPrefer dedicated tools.', cache_control: { type: 'ephemeral' } },
    ],
    tools: claudeCodeTools(),
    metadata: { user_id: CLAUDE_CODE_USER_ID },
    max_tokens: shape === 'adaptive' ? 128000 : 32000,
    thinking: shape === 'adaptive' ? { type: 'adaptive', display: 'omitted' } : { type: 'enabled', budget_tokens: 31999, display: 'omitted' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    stream: opts.stream ?? true,
  };
  if (shape === 'adaptive') body.output_config = { effort: 'medium' };
  return body;
}

/** The headers Claude Code sends with ANTHROPIC_AUTH_TOKEN set. */
export function claudeCodeHeaders(token: string, shape: 'adaptive' | 'budget' = 'adaptive'): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': shape === 'adaptive' ? BETAS_CURRENT : BETAS_SONNET_4_5,
    'anthropic-dangerous-direct-browser-access': 'true',
    'x-app': 'cli',
    'user-agent': `claude-cli/${CLAUDE_CODE_VERSION} (external, sdk-cli)`,
    'x-claude-code-session-id': '39f9564e-23b5-48cd-ad9f-f725accf6909',
    'x-stainless-lang': 'js',
    'x-stainless-retry-count': '0',
  };
}

// ---------- the real CLI ----------

export interface ClaudeRun { code: number | null; stdout: string; stderr: string; timedOut: boolean; ms: number }

/** Whether the installed CLI starts at all; `reason` says why not. */
export function claudeAvailable(): { ok: boolean; version: string; reason: string } {
  if (!existsSync(CLAUDE_BIN)) return { ok: false, version: '', reason: `${CLAUDE_BIN} does not exist (devDependency @anthropic-ai/claude-code not installed?)` };
  try {
    const r = Bun.spawnSync([CLAUDE_BIN, '--version'], { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, timeout: 30_000 });
    const out = r.stdout.toString().trim();
    if (r.exitCode !== 0) return { ok: false, version: '', reason: `claude --version exited ${r.exitCode}: ${r.stderr.toString().slice(0, 500)}` };
    return { ok: true, version: out, reason: '' };
  } catch (e) {
    return { ok: false, version: '', reason: `claude --version could not run: ${(e as Error).message}` };
  }
}

/**
 * The CLI for one test file: `claudeAvailable()`, and when it cannot run, a loud message that the file's CLI tests
 * are skipped and why (they never fail for it).
 */
export function claudeForFile(file: string): ReturnType<typeof claudeAvailable> {
  const cli = claudeAvailable();
  if (!cli.ok) console.error(`\n${'!'.repeat(100)}\n!! SKIPPING ${file}: the Claude Code CLI cannot run here.\n!! ${cli.reason}\n${'!'.repeat(100)}\n`);
  return cli;
}

/**
 * A maker of fresh temporary directories (HOME and cwd for a CLI run; real paths, since the CLI resolves symlinks),
 * all removed once the calling test file's tests are done. Call it at the top level of a test file.
 */
export function tempDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  return (prefix) => {
    const d = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
    dirs.push(d);
    return d;
  };
}

/** A Chat Completions message's text: its string content, or its text parts joined. */
export const chatText = (m: any): string => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p: any) => p.text ?? '').join(''));

/** The names of the functions a Chat Completions request offers. */
export const chatToolNames = (body: any): string[] => (body.tools ?? []).map((t: any) => t.function.name);

/**
 * `claude <args>` with the environment of claude-code-traffic.md: the gateway as ANTHROPIC_BASE_URL, a gateway key
 * as ANTHROPIC_AUTH_TOKEN, no ANTHROPIC_API_KEY, telemetry/updates off, fresh HOME and cwd, PATH kept; `env` on top
 * (a variable set to undefined is not set). Killed after `timeoutMs`.
 */
export async function runClaude(args: string[], opts: { baseUrl: string; token: string; home: string; cwd: string; timeoutMs?: number; env?: Record<string, string | undefined> }): Promise<ClaudeRun> {
  const t0 = performance.now();
  const proc = Bun.spawn([CLAUDE_BIN, ...args], {
    cwd: opts.cwd,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: opts.home,
      ANTHROPIC_BASE_URL: opts.baseUrl,
      ANTHROPIC_AUTH_TOKEN: opts.token,
      DISABLE_TELEMETRY: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      ...opts.env,
    },
  });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; proc.kill(); }, opts.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut, ms: Math.round(performance.now() - t0) };
}

/** A readable failure for a CLI run that did not succeed. */
export function describeRun(run: ClaudeRun): string {
  return `claude ${run.timedOut ? 'timed out' : `exited ${run.code}`} after ${run.ms} ms\n--- stdout ---\n${run.stdout.slice(0, 4000)}\n--- stderr ---\n${run.stderr.slice(0, 4000)}`;
}

// ---------- Chat Completions SSE for mock upstreams ----------

export interface ChatChunkOptions { id?: string; model?: string; finish?: string | null; usage?: Record<string, unknown> }

/** One `chat.completion.chunk` SSE event for choice 0. */
export function chatChunk(delta: Record<string, unknown>, opts: ChatChunkOptions = {}): string {
  const chunk: Record<string, unknown> = {
    id: opts.id ?? 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_790_000_000, model: opts.model ?? 'gpt-mock',
    choices: [{ index: 0, delta, finish_reason: opts.finish ?? null }],
  };
  if (opts.usage) chunk.usage = opts.usage;
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The usage-only last chunk (`choices: []`) OpenAI sends with `stream_options.include_usage`. */
export function chatUsageChunk(usage: Record<string, unknown>, opts: ChatChunkOptions = {}): string {
  return `data: ${JSON.stringify({ id: opts.id ?? 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_790_000_000, model: opts.model ?? 'gpt-mock', choices: [], usage })}\n\n`;
}

/** A whole streamed text answer, split into a few content deltas. */
export function chatTextStream(text: string, usage = { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 }): string[] {
  const words = text.split(/(?<= )/);
  return [
    chatChunk({ role: 'assistant', content: '' }),
    ...words.map((w) => chatChunk({ content: w })),
    chatChunk({}, { finish: 'stop' }),
    chatUsageChunk(usage),
    'data: [DONE]\n\n',
  ];
}

/** A whole streamed tool call, its arguments in a few fragments. */
export function chatToolCallStream(id: string, name: string, args: Record<string, unknown>, usage = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 }): string[] {
  const json = JSON.stringify(args);
  const cut = Math.floor(json.length / 2);
  return [
    chatChunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }] }),
    chatChunk({ tool_calls: [{ index: 0, function: { arguments: json.slice(0, cut) } }] }),
    chatChunk({ tool_calls: [{ index: 0, function: { arguments: json.slice(cut) } }] }),
    chatChunk({}, { finish: 'tool_calls' }),
    chatUsageChunk(usage),
    'data: [DONE]\n\n',
  ];
}
