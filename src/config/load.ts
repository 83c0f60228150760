/**
 * @module config/load
 * Reads the config once at start-up: JSON or YAML (by extension), `${VAR}` expansion from the environment,
 * valibot validation. Every problem becomes one line naming its path; the caller prints them and exits non-zero.
 */
import * as v from 'valibot';
import { readFileSync } from 'node:fs';
import { ConfigSchema, type Config } from './schema.ts';
import { globMatch } from '../util/glob.ts';
import { jsonDuplicateKeys, yamlDuplicateKeys } from './duplicate-keys.ts';
import { isLoopbackOrigin } from '../util/origin.ts';
import { INFERENCE_PATH } from '../channels/kinds.ts';

export class ConfigError extends Error {
  /**
   * @param located whether each problem already names the file (it could not be read or parsed); the others name a
   * field only, and the command line puts the file before them
   */
  constructor(readonly problems: string[], readonly located = false) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Why a file could not be read, in words (the code stays for searching). */
const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'a directory, not a file',
  EACCES: 'permission denied',
  ENOTDIR: 'a part of the path is not a directory',
};

export interface LoadOptions {
  /** Config file path; absent = zero-config from the environment. */
  path?: string;
  env: Record<string, string | undefined>;
}

export function loadConfig({ path, env }: LoadOptions): Config {
  const raw = path === undefined ? zeroConfig(env) : readConfigFile(path);
  const missing: string[] = [];
  const expanded = expandEnv(raw, env, '', missing);
  if (missing.length) throw new ConfigError(missing);
  return validateConfig(expanded);
}

export function validateConfig(raw: unknown): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(['(root): must be a mapping of server, keys, channels and routing']);
  // abortPipeEarly: one problem per field (a base_url without a scheme was both "Invalid URL" and "must start with http://")
  const res = v.safeParse(ConfigSchema, raw, { abortEarly: false, abortPipeEarly: true });
  if (!res.success) throw new ConfigError(res.issues.map(formatIssue));
  const cfg = res.output;
  const problems = crossChecks(cfg);
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** `channels[1].base_url: Invalid URL` */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let s = '';
  for (const item of issue.path ?? []) {
    const k = item.key as string | number;
    // an empty key (`models: { "": … }`) as `[""]`: `channels[0].models.` would read as a path cut short
    s += typeof k === 'number' ? `[${k}]` : k === '' ? '[""]' : s ? `.${k}` : String(k);
  }
  return s;
}

function formatIssue(issue: v.BaseIssue<unknown>): string {
  const p = issuePath(issue);
  let msg = issue.message;
  // valibot's strictObject reports an unknown key as "Invalid key: Expected never but received "x"": say it plainly
  if (issue.kind === 'schema' && issue.expected === 'never' && issue.type === 'strict_object') msg = 'unknown key';
  // and a missing field as "Invalid key: Expected "name" but received undefined"
  else if (issue.kind === 'schema' && issue.received === 'undefined' && issue.expected?.startsWith('"')) msg = 'required';
  return p ? `${p}: ${msg}` : msg;
}

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code && READ_ERRORS[code] ? `${READ_ERRORS[code]} (${code})` : code ?? (e as Error).message;
    throw new ConfigError([`${path}: cannot read config file: ${why}`], true);
  }
  // a byte order mark, as Windows editors write: JSON.parse refuses it ("Unrecognized token '\uFEFF'", the character
  // invisible in the message); YAML allows it
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const yaml = /\.ya?ml$/i.test(path);
  let parsed: unknown;
  try {
    parsed = yaml ? Bun.YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    const where = yaml ? yamlErrorLine(text) : jsonErrorWhere(text);
    throw new ConfigError([`${path}: not valid ${yaml ? 'YAML' : 'JSON'}: ${(e as Error).message}${where === null ? '' : ` (${typeof where === 'number' ? `line ${where}` : where})`}`], true);
  }
  // Bun.YAML reads a file of several documents (a `---` between two, or one after the last) as a list of them: the
  // config would then be refused as "(root): must be a mapping", pointing away from the separator. The leading
  // comment and blank lines are matched a line at a time: `\s*` there would match line breaks too, and a run of blank
  // lines could then be split in 2^n ways, each tried when no `---` follows
  if (yaml && Array.isArray(parsed) && /^---(?:[ \t].*)?$/m.test(text.replace(/^(?:[ \t]*(?:#[^\n]*)?\r?\n)*---[^\n]*/, ''))) {
    throw new ConfigError([`${path}: holds ${parsed.length} YAML documents (separated by ---); a config is one mapping`], true);
  }
  // both parsers keep the last of a repeated key without a word: a second `channels:` would drop the first list
  const dups = yaml ? yamlDuplicateKeys(text, parsed) : jsonDuplicateKeys(text);
  if (dups.length) throw new ConfigError(dups.map((d) => `${d.path}: written twice (lines ${d.firstLine} and ${d.line}); the second would silently replace the first`));
  return parsed;
}

/** Longest file whose YAML syntax error is located (each line costs one parse of the lines before it). */
const MAX_LOCATED_LINES = 1000;

/**
 * The line of a YAML syntax error. Bun's parser says only "Unexpected token", with no position: the line after the
 * longest run of whole lines from the top that parses is where the file goes wrong (not the first prefix that
 * fails: a flow mapping or a quoted string spread over several lines fails when cut, and parses again once
 * closed). Null for a file too long to search.
 */
function yamlErrorLine(text: string): number | null {
  const lines = text.split('\n');
  if (lines.length > MAX_LOCATED_LINES) return null;
  let parsed = 0;
  for (let n = 1; n <= lines.length; n++) {
    try {
      Bun.YAML.parse(lines.slice(0, n).join('\n'));
      parsed = n;
    } catch { /* the file so far is not YAML yet, or no longer */ }
  }
  return Math.min(parsed + 1, lines.length);
}

/**
 * Where a JSON text JSON.parse refused goes wrong: `line N`, and for a comma before `}` or `]` (allowed in
 * JavaScript, not in JSON) that comma's line and what it is. JSC's message says only what it found ("Property name
 * must be a string literal"), never where. Null if this scan finds no error, or the text is nested too deep for it.
 */
function jsonErrorWhere(text: string): string | number | null {
  let pos = 0;
  const lineAt = (p: number) => text.slice(0, p).split('\n').length;
  const ws = () => { while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++; };
  const token = (re: RegExp) => {
    re.lastIndex = pos;
    if (!re.test(text)) throw pos;
    pos = re.lastIndex;
  };
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const LITERAL = /true|false|null/y;
  const value = (depth: number): void => {
    if (depth > MAX_CONFIG_DEPTH) throw null;
    ws();
    const open = text[pos];
    if (open !== '{' && open !== '[') return token(open === '"' ? STRING : open === '-' || (open! >= '0' && open! <= '9') ? NUMBER : LITERAL);
    const close = open === '{' ? '}' : ']';
    pos++;
    ws();
    if (text[pos] === close) { pos++; return; }
    for (;;) {
      ws();
      // only after a comma: `{` or `[` followed by its close has returned above
      if (text[pos] === close) throw `line ${lineAt(text.lastIndexOf(',', pos))}: a comma after the last item, which JSON does not allow`;
      if (open === '{') {
        token(STRING);
        ws();
        if (text[pos] !== ':') throw pos;
        pos++;
      }
      value(depth + 1);
      ws();
      if (text[pos] === ',') { pos++; continue; }
      if (text[pos] === close) { pos++; return; }
      throw pos;
    }
  };
  try {
    value(0);
    ws();
    if (pos < text.length) throw pos;
  } catch (at) {
    if (typeof at === 'string') return at;
    if (typeof at === 'number') return lineAt(at);
  }
  return null;
}

/** Deeper than any config is: a file nested past it is refused before anything recurses through it. */
const MAX_CONFIG_DEPTH = 64;

/** Replace `${VAR}` in every string; `$${VAR}` stays a literal `${VAR}`. */
function expandEnv(x: unknown, env: LoadOptions['env'], path: string, missing: string[], depth = 0): unknown {
  if (depth > MAX_CONFIG_DEPTH) throw new ConfigError([`${path}: nested more than ${MAX_CONFIG_DEPTH} levels deep`]);
  if (typeof x === 'string') {
    return x.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
      if (m.startsWith('$$')) return m.slice(1);
      const val = env[name];
      // empty counts as unset: `KEY=` in an env file, or compose passing on a variable the host lacks, would
      // otherwise start a channel with no key (every request a 401 from upstream) or a field that says nothing
      if (!val) {
        missing.push(`${path || '(root)'}: environment variable ${name} is ${val === undefined ? 'not set' : 'empty'}`);
        return '';
      }
      return val;
    });
  }
  if (Array.isArray(x)) return x.map((e, i) => expandEnv(e, env, `${path}[${i}]`, missing, depth + 1));
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(x)) {
      // defined, not assigned: a `__proto__` key in the file stays a key (an assignment would set the prototype)
      Object.defineProperty(out, k, { value: expandEnv(val, env, path ? `${path}.${k}` : k, missing, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return x;
}

/**
 * No config file: ANTHROPIC_API_KEY and OPENAI_API_KEY become channels to the public APIs.
 * ANTHROPIC_BASE_URL is deliberately NOT read: clients set it to point at Switchboard, and following it
 * would make the gateway call itself.
 */
function zeroConfig(env: LoadOptions['env']): unknown {
  const channels: unknown[] = [];
  if (env.ANTHROPIC_API_KEY) {
    channels.push({ name: 'anthropic', type: 'anthropic', base_url: 'https://api.anthropic.com', api_key: env.ANTHROPIC_API_KEY, models: ['claude-*'] });
  }
  if (env.OPENAI_API_KEY) {
    channels.push({ name: 'openai', type: 'openai', provider: 'openai', base_url: 'https://api.openai.com/v1', api_key: env.OPENAI_API_KEY, models: ['gpt-*', 'o1*', 'o3*', 'o4*', 'chatgpt-*'] });
  }
  const server: Record<string, unknown> = { host: '127.0.0.1' };
  if (env.PORT) {
    // named as the user wrote it: silently serving on 8080 instead, or a complaint about a `server.port` no file
    // holds, would send them looking in the wrong place
    if (!/^\d+$/.test(env.PORT) || Number(env.PORT) > 65535) throw new ConfigError([`PORT: not a port number (0-65535): ${env.PORT}`]);
    server.port = Number(env.PORT);
  }
  return { server, channels };
}

/**
 * A base_url copied from a provider's docs with the endpoint on it (`…/v1/chat/completions`): the gateway would
 * call `…/chat/completions/chat/completions`, a 404 that says nothing of the cause (Anthropic's: "Not Found").
 * Returns what the gateway appends and the base URL meant; null for a base URL.
 */
function endpointInBaseUrl(type: string, url: string): { appended: string; base: string } | null {
  const suffix = (INFERENCE_PATH as Record<string, string | undefined>)[type];
  if (!suffix) return null;
  const cut = url.search(/[?#]/);
  const head = (cut < 0 ? url : url.slice(0, cut)).replace(/\/+$/, '');
  if (!head.toLowerCase().endsWith(suffix)) return null;
  return { appended: suffix, base: head.slice(0, -suffix.length) + (cut < 0 ? '' : url.slice(cut)) };
}

/**
 * The top-level fields a channel's requests cannot do without, which `drop_fields` may not name: the model and the
 * conversation, Anthropic's required `max_tokens`, and `stream`, without which the answer would not be the stream the
 * gateway relays (a client that asked for one would get a JSON body).
 */
const KEPT_FIELDS: Readonly<Record<Config['channels'][number]['type'], readonly string[]>> = {
  anthropic: ['model', 'messages', 'max_tokens', 'stream'],
  openai: ['model', 'messages', 'stream'],
};

function crossChecks(cfg: Config): string[] {
  const problems: string[] = [];
  const exposed = new Set<string>();
  const patterns: string[] = [];
  const named = new Map<string, number>();
  cfg.channels.forEach((c, i) => {
    const first = named.get(c.name);
    if (first !== undefined) problems.push(`channels[${i}].name: duplicate channel name "${c.name}" (also channels[${first}])`);
    else named.set(c.name, i);
    if (!c.base_url && !(c.type === 'openai' && c.provider)) problems.push(`channels[${i}].base_url: required for an ${c.type} channel${c.type === 'openai' ? ' without a provider preset' : ''}`);
    const endpoint = c.base_url === undefined ? null : endpointInBaseUrl(c.type, c.base_url);
    if (endpoint) problems.push(`channels[${i}].base_url: the API's base URL, not the endpoint: Switchboard appends ${endpoint.appended} (write ${endpoint.base})`);
    if (c.type !== 'openai' && c.quirks) problems.push(`channels[${i}].quirks: only openai channels take quirks`);
    if (c.type !== 'openai' && c.provider) problems.push(`channels[${i}].provider: only openai channels take a provider preset`);
    // read by the openai channel only (the api-version query parameter), and by translations into an anthropic
    // channel only (pipeline/thinking-style.ts): set on the other type, either would be ignored without a word
    if (c.type !== 'openai' && c.api_version !== undefined) problems.push(`channels[${i}].api_version: only openai channels take an api_version (Azure's api-version)`);
    if (c.type !== 'anthropic' && c.thinking !== undefined) problems.push(`channels[${i}].thinking: only anthropic channels take thinking (how reasoning_effort from /v1/chat/completions becomes Anthropic thinking)`);
    c.drop_fields?.forEach((f, j) => {
      const at = `channels[${i}].drop_fields[${j}]`;
      if (c.drop_fields!.indexOf(f) < j) problems.push(`${at}: "${f}" is listed twice (also drop_fields[${c.drop_fields!.indexOf(f)}])`);
      else if (KEPT_FIELDS[c.type].includes(f)) problems.push(`${at}: "${f}" cannot be dropped: ${c.type} requests cannot do without it (${KEPT_FIELDS[c.type].join(', ')} always go upstream)`);
    });
    for (const m of Array.isArray(c.models) ? c.models : Object.keys(c.models)) {
      if (m.includes('*')) patterns.push(m);
      else exposed.add(m);
      // a pattern's upstream name is one name, or the pattern itself for the requested name (routing/table.ts): another
      // pattern would go upstream as the literal `anthropic/claude-*`
      const upstream = Array.isArray(c.models) ? m : c.models[m]!;
      if (m.includes('*') && upstream !== m && upstream.includes('*')) problems.push(`channels[${i}].models.${m}: "${upstream}" is a pattern; a pattern maps to one upstream name, or to itself to send the requested name`);
    }
  });
  const seen = new Set<string>();
  cfg.keys.forEach((k, i) => {
    if (seen.has(k.key)) problems.push(`keys[${i}].key: duplicate key`);
    seen.add(k.key);
    // a key's models are matched exactly (pipeline/handle.ts) against what routing serves (routing/table.ts)
    k.models?.forEach((m, j) => {
      // a key's models are exact names: `claude-*` would let the key use only a model literally named so
      if (m.includes('*')) problems.push(`keys[${i}].models[${j}]: "${m}" is a pattern; a key's models are exact names (list each one)`);
      else if (!exposed.has(m) && !patterns.some((p) => globMatch(p, m))) problems.push(`keys[${i}].models[${j}]: no channel serves model "${m}"`);
    });
  });
  // with no keys, a request from a web page is let in only from this machine (http/auth.ts): an origin listed for CORS
  // beyond that would let any site the user visits spend the channels' keys and read the answers
  if (cfg.keys.length === 0) {
    cfg.server.cors_origins?.forEach((o, i) => {
      if (!isLoopbackOrigin(o)) problems.push(`server.cors_origins[${i}]: ${o === '*' ? 'every origin ("*")' : `"${o}"`} needs keys: with none configured, only pages from this machine (http://localhost:…, http://127.0.0.1:…) may be served, else any site visited could spend the channels' keys; add "keys", or list only loopback origins`);
    });
  }
  return problems;
}
