/**
 * @module formats/openai-chat/tool-names
 * Tool names an OpenAI-compatible provider refuses, sent under a short alias and given back under the client's name.
 *
 * Anthropic takes tool names of `^[a-zA-Z0-9_-]{1,128}$`; OpenAI refuses a function name longer than 64 characters
 * (400 "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64…", as DeepSeek,
 * Qwen and most OpenAI-compatible servers do), Gemini also one that does not start with a letter or an underscore,
 * Kimi one that starts with a digit or a hyphen. Claude Code names an MCP server's tools `mcp__<server>__<tool>`,
 * which often pass 64 characters: such a client got the provider's 400 on every request of its session.
 *
 * A name that fits every one of those rules (`FITS`) goes as it is, byte for byte. Any other is sent as an alias:
 * its beginning and its end (the server's name, the tool's) around a hash of the whole name, within `FITS`; the same
 * name gives the same alias in every request and every process, and two names alike for their first 64 characters
 * get two aliases. Aliases made for a request are kept in `TranslateContext.toolNames`, where the answer's calls
 * find their client's name again; a name the answer gives that is no alias goes to the client as it came.
 */
import type { TranslateContext } from '../types.ts';

/** A function name every known OpenAI-compatible provider takes: OpenAI's charset and length, a letter or `_` first. */
const FITS = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;
const MAX = 64;
/** Hex digits of the name's SHA-256 in an alias: 40 bits. */
const HASH_LENGTH = 10;
/** Of a long name, the characters kept from its end (a tool's own name, after `mcp__<server>__`). */
const TAIL = 32;

/** The name a provider is given for the client's tool name `name`: the name itself when it fits, else its alias. */
export function upstreamToolName(name: string): string {
  return FITS.test(name) ? name : toolNameAlias(name);
}

/** The alias of a name that does not fit (upstreamToolName): deterministic, within FITS. */
export function toolNameAlias(name: string): string {
  const hash = new Bun.CryptoHasher('sha256').update(name).digest('hex').slice(0, HASH_LENGTH);
  const safe = (/^[a-zA-Z_]/.test(name) ? '' : '_') + name.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (safe.length + 1 + HASH_LENGTH <= MAX) return `${safe}_${hash}`;
  const head = MAX - TAIL - 2 - HASH_LENGTH;
  return `${safe.slice(0, head)}_${hash}_${safe.slice(-TAIL)}`;
}

/** upstreamToolName, the alias (if one was made) noted in `ctx.toolNames` for the answer. */
export function toolNameUp(name: string, ctx: TranslateContext): string {
  if (FITS.test(name)) return name;
  const alias = toolNameAlias(name);
  (ctx.toolNames ??= new Map()).set(alias, name);
  return alias;
}

/** The client's name for a name an answer gives: the tool an alias of this request stands for, else the name as it is. */
export function toolNameDown(name: string, ctx: TranslateContext): string {
  return ctx.toolNames?.get(name) ?? name;
}
