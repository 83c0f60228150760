/**
 * @module accounting/estimate-tokens
 * A local, pure estimate of Claude input tokens: answers `POST /v1/messages/count_tokens` on channels
 * that have no such endpoint, and fills `message_start.usage.input_tokens` before the upstream reports.
 *
 * Claude's tokenizer is not public, so this is a heuristic tuned on recorded traffic (the calibration is
 * in test/unit/accounting/estimate-tokens.test.ts). It never throws and never calls out: any value,
 * however malformed, yields a non-negative integer.
 *
 * Cost: one table-driven pass over each string, no regex and no allocation per character (about 0.3 ms
 * per 100 KB of prose, 0.45 ms of code); base64 images are read by random access to the few header
 * bytes that hold their size, never decoded whole. The figures of long strings' sampled windows are remembered by
 * their bytes (windowCost): the same input always gives the same figure.
 */
import type { MessageCreateParams } from '../hub/types.ts';
import { hasPlaceholder, type RawStrings } from '../util/json-skeleton.ts';

/** What the estimate reads: a Messages request (or a count_tokens body). Every field may be missing or malformed. */
export type EstimateTokensParams = Partial<Pick<MessageCreateParams,
  'model' | 'system' | 'messages' | 'tools' | 'tool_choice' | 'thinking' | 'output_config'>> & { [k: string]: unknown };

// ---------- text ----------

/**
 * Constants of the text heuristic. A text is cut into the pieces a byte-pair tokenizer's pre-split
 * would make (letter runs split at camelCase humps, digit runs, punctuation runs, space runs,
 * newline runs), and each piece is priced. Tuned on recorded Claude usage (see the test).
 */
const T = {
  /** a letter run up to this long is one token */ wordFree: 7,
  /** each further this-many letters costs one more token */ wordPer: 4,
  /** mostly-uppercase runs (ACRONYMS, SHOUTING) beyond 3 letters: one more token per this-many */ capsPer: 3,
  /** one token per this-many digits */ digitGroup: 3,
  /** a punctuation run costs this, plus `punctNext` per further character */ punctFirst: 1, punctNext: 0.25,
  /** spaces not absorbed by the next word: one token per this-many */ spaceGroup: 8,
  /** newlines: one token per this-many in a run */ nlGroup: 2,
  tab: 1,
  /** CJK ideographs, kana, hangul: per character */ cjk: 1,
  /** Latin-1 / extended Latin / Greek / Cyrillic / Hebrew / Arabic letters: per character */ foreign: 0.5,
  /** other BMP symbols (°, —, ×, arrows, box drawing): per character */ symbol: 0.6,
  /** astral code points (emoji): per code point */ astral: 3,
  ctrl: 1,
};

// Character classes, one table lookup per UTF-16 code unit.
const C_OTHER = 0, C_LOWER = 1, C_UPPER = 2, C_DIGIT = 3, C_SPACE = 4, C_NL = 5, C_TAB = 6, C_PUNCT = 7;
const C_CJK = 8, C_FOREIGN = 9, C_SYMBOL = 10, C_HIGH_SURROGATE = 11;
const CLS = new Uint8Array(65536);
for (let c = 0; c < 65536; c++) {
  CLS[c] = c >= 97 && c <= 122 ? C_LOWER : c >= 65 && c <= 90 ? C_UPPER : c >= 48 && c <= 57 ? C_DIGIT
    : c === 32 ? C_SPACE : c === 10 || c === 13 ? C_NL : c === 9 ? C_TAB : c > 32 && c < 127 ? C_PUNCT : c < 128 ? C_OTHER
    : c >= 0xd800 && c <= 0xdbff ? C_HIGH_SURROGATE
    // CJK ideographs, kana, hangul, CJK punctuation, full-width forms
    : (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x3000 && c <= 0x30ff)
      || (c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0xff00 && c <= 0xffef) ? C_CJK
    // Latin-1 and extended Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Latin Extended Additional, Greek Extended
    : (c >= 0xc0 && c <= 0x24f) || (c >= 0x370 && c <= 0x6ff) || (c >= 0x1e00 && c <= 0x1fff) ? C_FOREIGN
    : c >= 0xdc00 && c <= 0xdfff ? C_OTHER // a lone low surrogate
    : C_SYMBOL;
}

/** Unrounded token estimate of a string (sums of these are rounded once). */
function textCost(s: string): number {
  if (raw !== null && hasPlaceholder(s)) return rawTextCost(s);
  if (s.length > sampleOver) return sampledCost(s);
  return exactCost(s);
}

function exactCost(s: string): number {
  const n = s.length;
  let t = 0, i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const k = CLS[c];
    let j = i + 1;
    switch (k) {
      case C_LOWER: case C_UPPER: {
        // a letter run, cut before an uppercase letter that follows a lowercase one (camelCase)
        let upper = k === C_UPPER ? 1 : 0, prev = k;
        while (j < n) {
          const kd = CLS[s.charCodeAt(j)];
          if (kd === C_LOWER) { prev = kd; j++; }
          else if (kd === C_UPPER && prev !== C_LOWER) { upper++; prev = kd; j++; }
          else break;
        }
        const len = j - i;
        t += upper * 2 > len ? (len <= 3 ? 1 : 1 + (len - 3) / T.capsPer) : len <= T.wordFree ? 1 : 1 + (len - T.wordFree) / T.wordPer;
        break;
      }
      case C_DIGIT:
        while (j < n && CLS[s.charCodeAt(j)] === C_DIGIT) j++;
        t += Math.ceil((j - i) / T.digitGroup);
        break;
      case C_SPACE: {
        while (j < n && s.charCodeAt(j) === 32) j++;
        // one space before a word, punctuation or a non-ASCII character belongs to that token (" the", " (");
        // digits do not take it
        const nk = j < n ? CLS[s.charCodeAt(j)] : C_NL;
        const rest = j - i - (nk === C_LOWER || nk === C_UPPER || nk === C_PUNCT || nk >= C_CJK ? 1 : 0);
        if (rest > 0) t += Math.ceil(rest / T.spaceGroup);
        break;
      }
      case C_NL:
        while (j < n && CLS[s.charCodeAt(j)] === C_NL) j++;
        t += Math.ceil((j - i) / T.nlGroup);
        break;
      case C_PUNCT: {
        while (j < n && CLS[s.charCodeAt(j)] === C_PUNCT) j++;
        // snake_case: a lone underscore before a letter is part of the next word's token ("_weather")
        if (c === 95 && j === i + 1 && j < n) {
          const nk = CLS[s.charCodeAt(j)];
          if (nk === C_LOWER || nk === C_UPPER) break;
        }
        t += T.punctFirst + (j - i - 1) * T.punctNext;
        break;
      }
      case C_TAB: t += T.tab; break;
      case C_CJK: t += T.cjk; break;
      case C_FOREIGN: t += T.foreign; break;
      case C_SYMBOL: t += T.symbol; break;
      case C_HIGH_SURROGATE: t += T.astral; j = i + 2; break; // a surrogate pair: one astral code point (emoji)
      default: t += T.ctrl;
    }
    i = j;
  }
  return t;
}

/**
 * Fast mode: a string longer than this is priced from three 256-character windows (start, middle, end) scaled to its
 * length, instead of character by character. Set for the duration of one synchronous estimate only.
 */
let sampleOver = Infinity;
const WINDOW = 64;

function sampledCost(s: string): number {
  const mid = (s.length >> 1) - (WINDOW >> 1);
  const sample = exactCost(s.slice(0, WINDOW)) + exactCost(s.slice(mid, mid + WINDOW)) + exactCost(s.slice(-WINDOW));
  return (sample * s.length) / (3 * WINDOW);
}

/**
 * A request translated from its skeleton (util/json-skeleton.ts) holds placeholders for its long strings: they are
 * priced from their original bytes, sampled like long strings in fast mode. Set for one estimate only.
 */
let raw: RawStrings | null = null;
const utf8 = new TextDecoder();

function rawTextCost(s: string): number {
  const span = raw!.whole(s);
  if (span) return spanCost(span);
  let t = 0;
  for (const p of raw!.pieces(s)) t += typeof p === 'string' ? textCost(p) : spanCost(p);
  return t;
}

/**
 * Tokens of a span of JSON-escaped UTF-8 bytes: whole when short, else one window from its middle scaled to its
 * length (tokens per escaped byte, so escapes and multi-byte characters weigh in the window as in the whole). One
 * window, not three: each costs a decode and an unescape, and a span is one long text whose middle stands for it.
 */
function spanCost(span: Uint8Array): number {
  if (span.length <= SPAN_WINDOW) return windowCost(span);
  const from = (span.length - SPAN_WINDOW) >> 1;
  return (windowCost(span.subarray(from, from + SPAN_WINDOW)) * span.length) / SPAN_WINDOW;
}
const SPAN_WINDOW = 3 * WINDOW;

/**
 * Tokens of a window of escaped bytes, remembered by a 64-bit hash of them. A conversation is resent whole with each
 * of its requests (Claude Code streams every one), so all but its newest long strings were priced before: decoding,
 * unescaping and pricing a window cost ~3 µs, about half of the estimate of the bench's 200 KB conversation
 * (~200 µs in-process), where hashing it costs ~0.1. A hash collision (a chance of ~2^-40 per window with the table
 * full) would only put another window's figure in an estimate. First in, first out, up to WINDOW_COSTS_MAX windows.
 */
function windowCost(w: Uint8Array): number {
  const key = Number(Bun.hash(w));
  let cost = windowCosts.get(key);
  if (cost === undefined) {
    cost = exactCost(unescapeJson(utf8.decode(w)));
    windowCosts.set(key, cost);
    if (windowCosts.size > WINDOW_COSTS_MAX) windowCosts.delete(windowCosts.keys().next().value!);
  }
  return cost;
}
const windowCosts = new Map<number, number>();
const WINDOW_COSTS_MAX = 8192;

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };
/** JSON string escapes → characters, forgiving (a window may cut one in half). */
function unescapeJson(s: string): string {
  let i = s.indexOf('\\');
  if (i < 0) return s;
  let out = '';
  let from = 0;
  while (i >= 0) {
    out += s.slice(from, i);
    const e = s[i + 1];
    if (e === undefined) { from = i + 1; break; }
    if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
      from = i + 6;
    } else {
      out += ESCAPES[e] ?? e;
      from = i + 2;
    }
    i = s.indexOf('\\', from);
  }
  return out + s.slice(from);
}

/** A string whose content is read (base64 data), placeholders resolved. */
function real(s: string): string {
  return raw !== null ? raw.resolve(s) : s;
}

/** Estimated Claude tokens of a plain string (0 for the empty string or a non-string). */
export function estimateTextTokens(s: string): number {
  if (typeof s !== 'string' || s.length === 0) return 0;
  return Math.max(1, Math.round(textCost(s)));
}

// ---------- request structure ----------

/**
 * Constants of the request-structure model: the role markers, wrappers and hidden prompts Claude's
 * prompt format adds around what the request carries. Fitted on recorded requests whose
 * `usage.input_tokens` is known (see the test), starting from Anthropic's documented figures.
 */
const S = {
  /** a request with one user message, beyond its text */ base: 7,
  /** each further message (role marker, turn separator) */ message: 5,
  /** each further content block of a message */ block: 5,
  /** the `system` prompt wrapper, when present */ system: 0,
  /** thinking enabled with a budget: the thinking instructions */ thinkingEnabled: 29,
  /** adaptive thinking */ thinkingAdaptive: 17,
  /**
   * The tool-use system prompt, https://docs.claude.com/en/docs/agents-and-tools/tool-use/overview#pricing :
   * 346 tokens for tool_choice auto/none and 313 for any/tool on Claude 4-series models.
   */
  toolPromptAuto: 346, toolPromptForced: 313,
  /**
   * Measured beyond the documented prompt on Claude 4.5 and later (Sonnet 4.5/4.6, Haiku 4.5, Opus 4.6):
   * a tool-bearing request costs this much more than on Claude 4.0 and earlier, which match the docs.
   */
  toolsWrapper: 156,
  /** on those models a forced tool_choice (any/tool) measures this much more again, not the documented 33 less */ toolForced: 134,
  /** each tool definition's own wrapper, beyond its name, description and JSON schema */ tool: 16,
  /** a `defer_loading` tool is not in context until found by tool search */ deferredTool: 5,
  /** a server or Anthropic-defined tool whose size we do not know */ serverToolDefault: 400,
  /** a tool_use block (the invoke wrapper around name and parameters) */ toolUse: 21,
  /** the function-calls wrapper around a run of tool_use blocks */ toolUseRun: 16,
  /** each parameter of a tool_use (`<parameter name="…">…</parameter>`) */ toolUseParam: 12,
  /** a citation on a text block (its location markup; the cited text is not repeated) */ citation: 9,
  /** a tool_result block's wrapper */ toolResult: 20,
  /** a thinking block's wrapper */ thinking: 12,
  /** a redacted_thinking block: one token per this-many characters of its data */ redactedPerToken: 10,
  /** a document block's wrapper (title, source, citations markup) */ document: 33,
  /** one PDF page: its image (up to ~1,600) plus a typical amount of text (measured 1,600–2,650 a page) */ pdfPage: 2100,
  /** PDF bytes per page when no page marker is readable (compressed object streams) */ pdfBytesPerPage: 60_000,
  /** an image block's wrapper */ image: 5,
  /** an image we cannot measure (URL, file id, unreadable header): Anthropic's size cap, ~1.15 MP */ imageUnknown: 1600,
  /** a search_result / web search result's wrapper */ searchResult: 15,
  /** encrypted search result content: tokens per character of its base64 (one measurement: 10 results, ~17k tokens) */ encryptedPerChar: 1.2,
  /** structured outputs (output_config.format): the grammar instructions, beyond the schema */ outputFormat: 137,
  /** an MCP server's tools are fetched by the API, so unknown here: one tool as measured (`allowed_tools`) */ mcpTool: 130,
  /** an MCP server exposing all its tools: a guess for a small server */ mcpServer: 400,
};

/**
 * Server / Anthropic-defined tools whose prompt size is known: documented (bash 245, text editor 700,
 * computer use 735) or measured on recorded requests (the others). Matched by `type` prefix, first match wins.
 */
const SERVER_TOOLS: Array<[prefix: string, tokens: number]> = [
  ['bash_', 245],
  ['text_editor_', 700],
  ['computer_', 735],
  ['memory_', 1020],
  ['web_search_', 1700],
  ['web_fetch_', 550],
  ['code_execution_2025', 1260],
  ['code_execution_', 4250],
  ['tool_search_tool_', 230],
];

/**
 * Models whose tool prompt is the documented size (Claude 2/3.x, Sonnet/Opus 4.0 and Opus 4.1), in plain,
 * dated, Bedrock (`anthropic.claude-…-v1:0`) and Vertex (`claude-…@2025…`) spellings. Any other model
 * name, including non-Claude ones routed to other providers, gets the larger current prompt.
 */
const LEGACY_TOOL_PROMPT = /claude-(?:[23]|instant)(?![a-z])|claude-(?:sonnet|opus)-4(?:-[01])?(?:[-@]\d{8})?(?![\d.]|-\d)/;

/** The documented tool-use prompt of older models where it differs from 346/313 (same page as `toolPromptAuto`). */
const TOOL_PROMPT_BY_MODEL: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/claude-3-(?:5-)?haiku|claude-haiku-3/, 264, 340],
  [/claude-3-opus|claude-opus-3/, 530, 281],
  [/claude-3-sonnet|claude-sonnet-3(?![-.]\d)/, 159, 235],
];

/** Nesting deeper than this is not priced; a cycle or shared-subtree bomb stops after `MAX_VISITS` nodes. */
const MAX_DEPTH = 32, MAX_VISITS = 200_000;

/**
 * The running estimate: the token sum, the objects on the current path (cycle guard; null for a request parsed from
 * JSON, which has no cycles: depth and the node budget still bound the walk), a node budget.
 */
interface Acc { t: number; path: Set<object> | null; visits: number }

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
/** Enter a node: false when it is already on the path (a cycle), too deep, or the budget is spent. */
function enter(acc: Acc, o: object, depth: number): boolean {
  if (depth > MAX_DEPTH || ++acc.visits > MAX_VISITS) return false;
  if (acc.path === null) return true;
  if (acc.path.has(o)) return false;
  acc.path.add(o);
  return true;
}

/**
 * Estimated input tokens of a Messages request: system prompt, messages (every block type), tools and
 * the hidden prompts that tools, thinking and structured outputs add. Never throws; 0 for a non-object.
 */
export function estimateInputTokens(req: EstimateTokensParams | null | undefined, opts: { fast?: boolean; raw?: RawStrings; fromJson?: boolean } = {}): number {
  // fromJson: a tree parsed from JSON (and converted): no cycle to guard against, only depth and size
  const acc: Acc = { t: 0, path: opts.fromJson ? null : new Set(), visits: 0 };
  // fast: long strings are sampled (a stream's message_start needs a figure at once; count_tokens wants the exact pass)
  sampleOver = opts.fast ? 3 * WINDOW : Infinity;
  raw = opts.raw ?? null;
  try {
    if (!isObj(req)) return 0;
    acc.t += S.base;
    addSystem(acc, req.system);
    addMessages(acc, req.messages);
    addTools(acc, req.tools, req.tool_choice, req.mcp_servers, str(req.model));
    addThinking(acc, req.thinking);
    const oc = req.output_config;
    if (isObj(oc) && isObj(oc.format)) acc.t += S.outputFormat + jsonCost(acc, oc.format.schema ?? oc.format, 0);
  } catch {
    // a hostile value (a throwing getter, a revoked Proxy): keep what was counted so far
  } finally {
    sampleOver = Infinity;
    raw = null;
  }
  const t = Math.round(acc.t);
  return Number.isFinite(t) && t > 0 ? t : 0;
}

function addSystem(acc: Acc, system: unknown): void {
  if (typeof system === 'string') {
    if (system) acc.t += S.system + textCost(system);
  } else if (Array.isArray(system)) {
    for (let i = 0; i < system.length; i++) {
      const b = system[i];
      acc.t += (i > 0 ? S.block : S.system) + (typeof b === 'string' ? textCost(b) : isObj(b) ? textCost(str(b.text)) : 0);
    }
  }
}

function addThinking(acc: Acc, thinking: unknown): void {
  if (!isObj(thinking)) return;
  if (thinking.type === 'enabled') acc.t += S.thinkingEnabled;
  else if (thinking.type === 'adaptive') acc.t += S.thinkingAdaptive;
}

function addMessages(acc: Acc, messages: unknown): void {
  if (!Array.isArray(messages)) return;
  // Thinking from earlier assistant turns is stripped from the context: only the last assistant turn's
  // counts, when a tool loop continues it (or it ends the conversation).
  // https://docs.claude.com/en/docs/build-with-claude/extended-thinking#how-context-window-is-calculated-with-extended-thinking
  let keep = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (!isObj(m) || m.role !== 'assistant') continue;
    const next = messages[i + 1];
    if (i === messages.length - 1 || (isObj(next) && Array.isArray(next.content) && next.content.some(b => isObj(b) && b.type === 'tool_result'))) keep = i;
    break;
  }
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (i > 0) acc.t += S.message;
    if (isObj(m)) addContent(acc, m.content, i === keep, 0);
  }
}

/** A message's content, or a tool_result's: a string or an array of blocks. */
function addContent(acc: Acc, content: unknown, keepThinking: boolean, depth: number): void {
  if (typeof content === 'string') { acc.t += textCost(content); return; }
  if (!Array.isArray(content) || !enter(acc, content, depth)) return;
  let inToolRun = false;
  for (let i = 0; i < content.length; i++) {
    const b = content[i];
    const isCall = isObj(b) && (b.type === 'tool_use' || b.type === 'server_tool_use' || b.type === 'mcp_tool_use');
    // a run of consecutive tool calls shares one function-calls wrapper
    if (isCall) { if (!inToolRun) acc.t += S.toolUseRun; } else if (i > 0) acc.t += S.block;
    inToolRun = isCall;
    addBlock(acc, b, keepThinking, depth + 1);
  }
  acc.path?.delete(content);
}

function addBlock(acc: Acc, b: unknown, keepThinking: boolean, depth: number): void {
  if (typeof b === 'string') { acc.t += textCost(b); return; }
  if (!isObj(b) || !enter(acc, b, depth)) return;
  const type = b.type;
  switch (type) {
    case 'text':
      acc.t += textCost(str(b.text));
      if (Array.isArray(b.citations)) acc.t += S.citation * b.citations.length;
      break;
    case 'image':
      acc.t += S.image + imageCost(b.source);
      break;
    case 'document':
      addDocument(acc, b, depth);
      break;
    case 'tool_use': case 'server_tool_use': case 'mcp_tool_use':
      // an MCP tool is named to the model with its server's name as a prefix
      acc.t += S.toolUse + textCost(str(b.name)) + (type === 'mcp_tool_use' ? textCost(str(b.server_name)) : 0);
      addToolInput(acc, b.input, depth);
      break;
    case 'tool_result': case 'mcp_tool_result':
      acc.t += S.toolResult;
      addContent(acc, b.content, false, depth + 1);
      break;
    case 'thinking':
      if (keepThinking) acc.t += S.thinking + textCost(str(b.thinking));
      break;
    case 'redacted_thinking':
      // encrypted: its length is the only measure of the thinking it hides
      if (keepThinking) acc.t += S.thinking + real(str(b.data)).length / S.redactedPerToken;
      break;
    case 'search_result':
      acc.t += S.searchResult + textCost(str(b.title)) + textCost(str(b.source));
      addContent(acc, b.content, false, depth + 1);
      break;
    case 'web_search_result':
      acc.t += S.searchResult + textCost(str(b.title)) + textCost(str(b.url)) + str(b.encrypted_content).length * S.encryptedPerChar;
      break;
    case 'tool_reference':
      acc.t += 2 + textCost(str(b.tool_name));
      break;
    default:
      // web_search_tool_result, web_fetch_tool_result, code execution results, container_upload,
      // and block types not invented yet: price whatever they carry
      addFields(acc, b, depth);
  }
  acc.path?.delete(b);
}

/** A tool_use input: one parameter element per top-level key, strings bare and other values as JSON. */
function addToolInput(acc: Acc, input: unknown, depth: number): void {
  if (!isObj(input)) { acc.t += jsonCost(acc, input, depth); return; }
  for (const k in input) {
    const v = input[k];
    acc.t += S.toolUseParam + textCost(k) + (typeof v === 'string' ? textCost(v) : jsonCost(acc, v, depth + 1));
  }
}

function addDocument(acc: Acc, b: Record<string, unknown>, depth: number): void {
  acc.t += S.document + textCost(str(b.title)) + textCost(str(b.context));
  const src = b.source;
  if (!isObj(src)) { acc.t += S.pdfPage; return; }
  switch (src.type) {
    case 'text':
      acc.t += textCost(str(src.data));
      return;
    case 'content':
      addContent(acc, src.content, false, depth + 1);
      return;
    case 'base64': {
      const mt = str(src.media_type);
      if (mt.startsWith('image/')) acc.t += imageCost(src);
      else if (mt.startsWith('text/')) acc.t += textCost(decodeBase64Text(str(src.data)));
      else acc.t += S.pdfPage * pdfPages(real(str(src.data)));
      return;
    }
    default: // url, file: the page count is unknown, so one page
      acc.t += S.pdfPage;
  }
}

function addTools(acc: Acc, tools: unknown, choice: unknown, mcpServers: unknown, model: string): void {
  const list = Array.isArray(tools) ? tools : [];
  const servers = Array.isArray(mcpServers) ? mcpServers : [];
  if (list.length === 0 && servers.length === 0) return;
  for (const srv of servers) {
    const allowed = isObj(srv) && isObj(srv.tool_configuration) ? srv.tool_configuration.allowed_tools : undefined;
    acc.t += Array.isArray(allowed) ? S.mcpTool * allowed.length : S.mcpServer;
  }
  const forced = isObj(choice) && (choice.type === 'any' || choice.type === 'tool');
  let prompt = forced ? S.toolPromptForced : S.toolPromptAuto;
  for (const [re, auto, forcedTokens] of TOOL_PROMPT_BY_MODEL) if (re.test(model)) { prompt = forced ? forcedTokens : auto; break; }
  acc.t += prompt;
  if (!LEGACY_TOOL_PROMPT.test(model)) acc.t += S.toolsWrapper + (forced ? S.toolForced : 0);
  acc.t += toolListCost(acc, list);
}

/**
 * A frozen tools array is shared by every request that sent the same tools (pipeline/tools-memo.ts): priced once
 * per mode (fast or exact), with the nodes it visited, which still count against the request's node budget.
 */
const sharedToolsCost = new WeakMap<object, { fast?: { t: number; visits: number }; exact?: { t: number; visits: number } }>();

function toolListCost(acc: Acc, list: unknown[]): number {
  if (!Object.isFrozen(list)) return toolsCost(acc, list);
  const mode = sampleOver === Infinity ? 'exact' : 'fast';
  let kept = sharedToolsCost.get(list);
  const memo = kept?.[mode];
  if (memo && acc.visits + memo.visits <= MAX_VISITS) {
    acc.visits += memo.visits;
    return memo.t;
  }
  const before = acc.visits;
  const t = toolsCost(acc, list);
  if (acc.visits <= MAX_VISITS) { // priced whole, not cut short by the budget
    if (!kept) sharedToolsCost.set(list, kept = {});
    kept[mode] = { t, visits: acc.visits - before };
  }
  return t;
}

function toolsCost(acc: Acc, list: unknown[]): number {
  let t = 0;
  for (const tool of list) {
    if (!isObj(tool)) continue;
    if (tool.defer_loading === true) { t += S.deferredTool; continue; }
    const type = str(tool.type);
    if (type && type !== 'custom' && tool.input_schema === undefined) {
      let known = S.serverToolDefault;
      for (const [prefix, tokens] of SERVER_TOOLS) if (type.startsWith(prefix)) { known = tokens; break; }
      t += known;
      continue;
    }
    t += S.tool + textCost(str(tool.name)) + textCost(str(tool.description)) + jsonCost(acc, tool.input_schema, 0);
  }
  return t;
}

/** Tokens of a value as compact JSON, without building the JSON string. */
function jsonCost(acc: Acc, v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string': return 1 + textCost(v); // the quotes merge with neighbouring punctuation
    case 'number': case 'bigint': return textCost(String(v));
    case 'boolean': return 1;
    case 'object': break;
    default: return 0;
  }
  if (v === null) return 1;
  if (!enter(acc, v as object, depth)) return 0;
  let t = 1;
  if (Array.isArray(v)) for (const x of v) t += 0.5 + jsonCost(acc, x, depth + 1);
  else for (const k in v as Record<string, unknown>) t += 1 + textCost(k) + jsonCost(acc, (v as Record<string, unknown>)[k], depth + 1);
  acc.path?.delete(v as object);
  return t;
}

/** The fields of a block we do not model: strings priced as text, nested blocks as blocks, a little per field. */
function addFields(acc: Acc, o: Record<string, unknown>, depth: number): void {
  for (const k in o) {
    if (k === 'type' || k === 'id' || k === 'tool_use_id' || k === 'signature' || k === 'cache_control' || k === 'citations') continue;
    const x = o[k];
    if (typeof x === 'string') acc.t += 1 + (k === 'encrypted_content' || k === 'encrypted_index' ? x.length * S.encryptedPerChar : textCost(x));
    else if (typeof x === 'number' || typeof x === 'boolean') acc.t += 1;
    else if (Array.isArray(x)) addContent(acc, x, false, depth + 1);
    else if (isObj(x)) {
      if (typeof x.type === 'string') addBlock(acc, x, false, depth + 1);
      else if (enter(acc, x, depth + 1)) { addFields(acc, x, depth + 1); acc.path?.delete(x); }
    }
  }
}

// ---------- images ----------

/**
 * Tokens ≈ width × height / 750, after scaling to fit a 1568 px long edge and ~1,600 tokens (~1.15 MP).
 * https://docs.claude.com/en/docs/build-with-claude/vision#calculate-image-costs
 */
export function imageTokensForSize(width: number, height: number): number {
  if (!(width > 0 && height > 0) || !Number.isFinite(width * height)) return S.imageUnknown;
  const long = Math.max(width, height);
  if (long > 1568) { width = width * 1568 / long; height = height * 1568 / long; }
  return Math.max(1, Math.min(S.imageUnknown, Math.ceil(width * height / 750)));
}

function imageCost(src: unknown): number {
  if (!isObj(src) || src.type !== 'base64') return S.imageUnknown;
  const size = imageSize(real(str(src.data)));
  return size ? imageTokensForSize(size[0], size[1]) : S.imageUnknown;
}

const B64 = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
B64[45] = 62; B64[95] = 63; // base64url

/** Random access to the bytes of a base64 string, decoding only the 4-character group that holds a byte. */
class B64Bytes {
  readonly length: number;
  constructor(private readonly s: string) {
    let n = s.length;
    while (n > 0 && s.charCodeAt(n - 1) === 61) n--; // '='
    this.length = Math.floor(n * 3 / 4);
  }
  /** the byte at i, or -1 past the end or on a character that is not base64 */
  at(i: number): number {
    if (i < 0 || i >= this.length) return -1;
    const g = (i / 3) | 0, o = i - g * 3, p = g * 4;
    const a = this.c(p), b = this.c(p + 1);
    if (a < 0 || b < 0) return -1;
    if (o === 0) return (a << 2) | (b >> 4);
    const c = this.c(p + 2);
    if (c < 0) return -1;
    if (o === 1) return ((b & 15) << 4) | (c >> 2);
    const d = this.c(p + 3);
    return d < 0 ? -1 : ((c & 3) << 6) | d;
  }
  u16be(i: number): number { const a = this.at(i), b = this.at(i + 1); return a < 0 || b < 0 ? -1 : (a << 8) | b; }
  u16le(i: number): number { const a = this.at(i), b = this.at(i + 1); return a < 0 || b < 0 ? -1 : a | (b << 8); }
  u32be(i: number): number { const a = this.u16be(i), b = this.u16be(i + 2); return a < 0 || b < 0 ? -1 : a * 65536 + b; }
  private c(p: number): number {
    const ch = this.s.charCodeAt(p);
    return ch < 128 ? B64[ch] : -1;
  }
}

/**
 * Strips a `data:…;base64,` prefix and MIME line breaks, which clients sometimes leave in. Only the
 * first `keep` characters are kept when there are line breaks to remove (a header is near the start).
 */
function cleanBase64(data: string, keep = Infinity): string {
  if (data.startsWith('data:')) { const k = data.indexOf(','); data = k < 0 ? '' : data.slice(k + 1); }
  if (!/\s/.test(data.length > 256 ? data.slice(0, 256) : data)) return data;
  return (data.length > keep ? data.slice(0, keep) : data).replace(/\s+/g, '');
}

/** [width, height] from a PNG, JPEG, GIF or WebP header in base64, or null. */
export function imageSize(base64: string): [number, number] | null {
  if (typeof base64 !== 'string' || base64.length < 16) return null;
  const b = new B64Bytes(cleanBase64(base64, 512 * 1024));
  const b0 = b.at(0), b1 = b.at(1);
  // PNG: 89 50 4E 47 0D 0A 1A 0A, then the IHDR chunk: width and height at 16 and 20
  if (b0 === 0x89 && b1 === 0x50 && b.at(2) === 0x4e && b.at(3) === 0x47) return dims(b.u32be(16), b.u32be(20));
  // GIF87a/GIF89a: logical screen width and height, little-endian, at 6 and 8
  if (b0 === 0x47 && b1 === 0x49 && b.at(2) === 0x46) return dims(b.u16le(6), b.u16le(8));
  // JPEG: walk the marker segments to the first start-of-frame
  if (b0 === 0xff && b1 === 0xd8) return jpegSize(b);
  // WebP: RIFF....WEBP then a VP8 / VP8L / VP8X chunk
  if (b0 === 0x52 && b1 === 0x49 && b.at(2) === 0x46 && b.at(3) === 0x46 && b.at(8) === 0x57 && b.at(9) === 0x45 && b.at(10) === 0x42 && b.at(11) === 0x50) {
    const f = String.fromCharCode(b.at(12), b.at(13), b.at(14), b.at(15));
    if (f === 'VP8 ') return dims(b.u16le(26) & 0x3fff, b.u16le(28) & 0x3fff);
    if (f === 'VP8L') {
      const x = b.at(21), y = b.at(22), z = b.at(23), w = b.at(24);
      if (x < 0 || y < 0 || z < 0 || w < 0) return null;
      return dims(1 + (((y & 0x3f) << 8) | x), 1 + (((w & 0xf) << 10) | (z << 2) | ((y & 0xc0) >> 6)));
    }
    if (f === 'VP8X') {
      const w = b.at(24) | (b.at(25) << 8) | (b.at(26) << 16), h = b.at(27) | (b.at(28) << 8) | (b.at(29) << 16);
      return b.at(29) < 0 ? null : dims(w + 1, h + 1);
    }
  }
  return null;
}

function dims(w: number, h: number): [number, number] | null {
  return w > 0 && h > 0 ? [w, h] : null;
}

function jpegSize(b: B64Bytes): [number, number] | null {
  let p = 2;
  for (let guard = 0; guard < 512 && p < b.length; guard++) {
    if (b.at(p) !== 0xff) return null;
    let m = b.at(p + 1);
    while (m === 0xff) { p++; m = b.at(p + 1); } // fill bytes
    if (m < 0) return null;
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; } // no length
    if (m === 0xd9 || m === 0xda) return null; // end of image / start of scan before any frame header
    const len = b.u16be(p + 2);
    if (len < 2) return null;
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC)
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return dims(b.u16be(p + 7), b.u16be(p + 5));
    p += 2 + len;
  }
  return null;
}

// ---------- documents ----------

/** Decodes a base64 text document (text/plain in base64 is rare and small). Buffer skips whitespace itself. */
function decodeBase64Text(data: string): string {
  try {
    return Buffer.from(data.startsWith('data:') ? data.slice(data.indexOf(',') + 1) : data, 'base64').toString('utf8');
  } catch {
    return '';
  }
}

const PAGE_MARKER = Buffer.from('/Type');
const COUNT_MARKER = Buffer.from('/Count');
const MAX_PDF_SCAN = 4 * 1024 * 1024; // base64 characters (~3 MB of PDF, a few ms to decode and search)

/** A PDF name ends at whitespace or a delimiter. */
function endsName(b: number | undefined): boolean {
  return b === undefined || !((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122));
}

/**
 * Page count of a base64 PDF: its `/Type /Page` objects, or the page tree's largest `/Count` if larger;
 * when neither is readable (compressed object streams) or the file is too large to scan, one page per
 * `pdfBytesPerPage` bytes.
 */
function pdfPages(data: string): number {
  const bySize = Math.max(1, Math.ceil(data.length * 3 / 4 / S.pdfBytesPerPage));
  if (data.length > MAX_PDF_SCAN) return bySize;
  const buf = Buffer.from(data.startsWith('data:') ? data.slice(data.indexOf(',') + 1) : data, 'base64'); // skips whitespace itself
  let pages = 0, count = 0;
  for (let i = buf.indexOf(PAGE_MARKER); i >= 0; i = buf.indexOf(PAGE_MARKER, i + 5)) {
    let j = i + 5;
    while (buf[j] === 32 || buf[j] === 10 || buf[j] === 13 || buf[j] === 9) j++;
    if (buf[j] !== 0x2f || buf[j + 1] !== 0x50 || buf[j + 2] !== 0x61 || buf[j + 3] !== 0x67 || buf[j + 4] !== 0x65) continue; // "/Page"
    if (endsName(buf[j + 5])) { pages++; continue; }
    if (buf[j + 5] !== 0x73 || !endsName(buf[j + 6])) continue; // "/Pages": a page tree node, whose /Count is the pages beneath it
    // /Count may come before or after /Type in the node's dictionary
    let k = buf.subarray(i, i + 512).indexOf(COUNT_MARKER);
    if (k >= 0) k += i;
    else { const from = Math.max(0, i - 512); k = buf.subarray(from, i).lastIndexOf(COUNT_MARKER); if (k >= 0) k += from; }
    if (k < 0) continue;
    let x = k + 6, n = 0;
    while (buf[x] === 32) x++;
    while (buf[x] >= 48 && buf[x] <= 57 && n < 1e6) n = n * 10 + buf[x++] - 48;
    if (n > count) count = n;
  }
  const found = Math.max(pages, count);
  return found > 0 ? found : bySize;
}
