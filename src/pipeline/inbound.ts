/**
 * @module pipeline/inbound
 * The client's body, read once for what routing and accounting need: small bodies parsed and validated in full
 * (a 400 naming the field), large ones scanned at the byte level for their top-level fields, their skeleton parsed
 * only when a translation needs it (util/json-skeleton.ts).
 */
import { GatewayError, invalidRequest } from '../errors.ts';
import type { Endpoint } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import type { FormatId } from '../formats/types.ts';
import { MessageCountTokensParamsSchema, MessageCreateParamsSchema, isModelName, isPlainMessageCreateParams } from '../hub/schema.ts';
import { parseChatRequest } from '../formats/openai-chat/request-to-hub.ts';
import { parseOrThrow } from '../util/validate.ts';
import { kindAt, knownToolsOf, scanTopLevel, valueAt } from '../util/json.ts';
import { NestingTooDeep, RAW_MIN, RawStrings, skeletonize } from '../util/json-skeleton.ts';
import { hubTools, type ToolsEntry } from './tools-memo.ts';

// fatal: bytes that are not UTF-8 are refused (unreadable below), not read as U+FFFD and sent on (as fast: bench/).
// A body over FULL_CHECK_MAX is scanned, not decoded: its bytes go on as they came (validating them would cost each
// large request a pass over all of it)
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What routing and accounting need from an inbound body: no re-serialisation, and no parse a passthrough can skip.
 * (A class, so that its lazy parts cost no closures per request.)
 */
export class Inbound {
  private skeletonParsed: ParsedSkeleton | null | undefined;

  constructor(
    readonly format: FormatId,
    readonly endpoint: Endpoint,
    readonly bytes: Uint8Array,
    /** Top-level key → value span, when the body was scanned rather than parsed. */
    readonly keys: Map<string, [number, number]> | null,
    readonly model: string,
    readonly stream: boolean,
    private parsed?: Record<string, unknown>,
  ) {}

  /** The parsed and validated body (throws the 400 naming the field): parsed on first use. */
  json(): Record<string, unknown> {
    return (this.parsed ??= parseInbound(this.bytes, this.format, this.endpoint).json);
  }

  /** A large body's skeleton, parsed (util/json-skeleton.ts), for translation; null when it has none. */
  skeleton(): ParsedSkeleton | null {
    if (this.skeletonParsed === undefined) {
      this.skeletonParsed = this.keys === null || this.endpoint === 'count_tokens' ? null : parseSkeleton(this.bytes, this.format, this.keys.get('tools'));
    }
    return this.skeletonParsed;
  }
}

export interface ParsedSkeleton {
  json: Record<string, unknown>;
  spans: Uint8Array[];
  raw: RawStrings;
  /** The body's tools, prepared once for every request that sends them (pipeline/tools-memo.ts): `json.tools` is empty. */
  tools: ToolsEntry | null;
}

/**
 * Bodies up to this size are parsed and validated in full before routing. Larger ones (a long Claude Code
 * conversation is 50–500 KB) are scanned at the byte level for the fields routing needs and their types; a
 * passthrough then forwards them unparsed (JSON.parse alone costs ~1 µs per KB), and a deeper type error is
 * reported by the upstream, in the same envelope. A translated request parses and validates them in full.
 */
export const FULL_CHECK_MAX = 64 * 1024;

/** `headers`: the request's, read only when the body cannot be read (its Content-Encoding, its charset). */
export function readInbound(bytes: Uint8Array, format: FormatId, endpoint: Endpoint, headers?: Headers): Inbound {
  if (bytes.length > FULL_CHECK_MAX) {
    const keys = scanTopLevel(bytes);
    const routing = keys && shallowCheck(bytes, keys, format, endpoint);
    if (routing) return new Inbound(format, endpoint, bytes, keys, routing.model, routing.stream);
    // not a well-formed object, or a routing field of the wrong type: the full parse names the problem
  }
  const { json, model, stream } = parseInbound(bytes, format, endpoint, headers);
  return new Inbound(format, endpoint, bytes, null, model, stream, json);
}

/** The skeleton of a large body, parsed; null when there is none or it does not parse (the full parse then names the problem). */
function parseSkeleton(bytes: Uint8Array, format: FormatId, toolsSpan: [number, number] | undefined): ParsedSkeleton | null {
  const tools = toolsSpan && bytes[toolsSpan[0]] === 91 /* [ */ ? hubTools(format, bytes.subarray(toolsSpan[0], toolsSpan[1]), knownToolsOf(bytes)) : null;
  let sk: ReturnType<typeof skeletonize>;
  try {
    sk = skeletonize(bytes, FORMATS[format].verbatimText, RAW_MIN, tools ? toolsSpan : undefined);
  } catch (err) {
    throw nestedTooDeep(err);
  }
  if (!sk) return null;
  let json: unknown;
  try { json = JSON.parse(sk.text); } catch { return null; }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return null;
  return { json: json as Record<string, unknown>, spans: sk.spans, raw: new RawStrings(sk.spans), tools };
}

function parseInbound(bytes: Uint8Array, format: FormatId, endpoint: Endpoint, headers?: Headers): { json: Record<string, unknown>; model: string; stream: boolean } {
  try {
    return parseAndValidate(bytes, format, endpoint, headers);
  } catch (err) {
    throw nestedTooDeep(err);
  }
}

/** The compression a body that is not JSON starts like (gzip's and zstd's magic bytes), or null. */
function compressedAs(b: Uint8Array): string | null {
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  return null;
}

/**
 * Why a body is not UTF-8 JSON, when that is its encoding (415: RFC 9110 §15.5.16) or its charset (JSON is UTF-8:
 * RFC 8259 §8.1) rather than its syntax: a compressed body (br and deflate have no magic bytes, only the header says
 * so), a declared charset, UTF-16, or the first byte that is not UTF-8. Null: a syntax error, said as such.
 */
function unreadable(b: Uint8Array, headers: Headers | undefined, notUtf8: boolean): GatewayError | null {
  const encoding = headers?.get('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    return new GatewayError(415, 'invalid_request_error', `request body is ${encoding}-encoded (Content-Encoding: ${encoding}): send the JSON uncompressed (request bodies are not decoded)`);
  }
  const packed = compressedAs(b);
  if (packed) return new GatewayError(415, 'invalid_request_error', `request body is ${packed}-compressed: send the JSON uncompressed (request bodies are not decoded)`);
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(headers?.get('content-type') ?? '')?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) return new GatewayError(415, 'invalid_request_error', `request body is in charset ${charset} (Content-Type): send the JSON as UTF-8`);
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff) || (b.length > 1 && (b[0] === 0 || b[1] === 0))) {
    return new GatewayError(415, 'invalid_request_error', 'request body is UTF-16: send the JSON as UTF-8');
  }
  return notUtf8 ? invalidRequest(`request body is not valid UTF-8 (byte ${firstNotUtf8(b)}): JSON is sent as UTF-8`) : null;
}

/** Where the first sequence that is not UTF-8 starts (the WHATWG decoder's rules: no overlongs, surrogates, > U+10FFFF). */
function firstNotUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) { i++; continue; }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    // the second byte's range narrows after E0, ED, F0 and F4; the others are 80..BF
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (len === 0 || !(b[i + 1]! >= lo && b[i + 1]! <= hi)) return i;
    for (let k = 2; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return b.length;
}

function parseAndValidate(bytes: Uint8Array, format: FormatId, endpoint: Endpoint, headers?: Headers): { json: Record<string, unknown>; model: string; stream: boolean } {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw unreadable(bytes, headers, e instanceof TypeError) ?? invalidRequest(`request body is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalidRequest('request body must be a JSON object');
  if (format === 'anthropic') {
    const p = endpoint === 'messages' && isPlainMessageCreateParams(json) ? json as { model: string; stream?: boolean }
      : parseOrThrow(endpoint === 'count_tokens' ? MessageCountTokensParamsSchema : MessageCreateParamsSchema, json);
    return { json: json as Record<string, unknown>, model: p.model, stream: endpoint === 'messages' && (p as { stream?: boolean }).stream === true };
  }
  const p = parseChatRequest(json);
  return { json: json as Record<string, unknown>, model: p.model, stream: p.stream };
}

/** The routing fields of a scanned body, when they and the top-level types are right; else null (parse in full). */
function shallowCheck(b: Uint8Array, keys: Map<string, [number, number]>, format: FormatId, endpoint: Endpoint): { model: string; stream: boolean } | null {
  const model = valueAt(b, keys.get('model'));
  // anything unusual about the model (empty, too long) gets the full parse, whose validation names it
  if (!isModelName(model) || kindAt(b, keys.get('messages')) !== '[') return null;
  const stream = keys.has('stream') ? valueAt(b, keys.get('stream')) : false;
  if (typeof stream !== 'boolean') return null;
  if (format === 'anthropic') {
    if (endpoint === 'messages') {
      const max = valueAt(b, keys.get('max_tokens'));
      if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return null;
    }
    const system = kindAt(b, keys.get('system'));
    if (system !== undefined && system !== '"' && system !== '[') return null;
    for (const k of ['tools', 'stop_sequences']) if (keys.has(k) && kindAt(b, keys.get(k)) !== '[') return null;
    for (const k of ['tool_choice', 'thinking', 'metadata']) if (keys.has(k) && kindAt(b, keys.get(k)) !== '{') return null;
    return { model, stream: endpoint === 'messages' && stream };
  }
  if (keys.has('stream_options') && !['{', 'n'].includes(kindAt(b, keys.get('stream_options'))!)) return null;
  return { model, stream };
}

/**
 * A recursive step (validation, conversion, serialisation) that ran out of stack on a deeply nested body: the
 * client's input, answered as such instead of as an internal error. Anything else is returned unchanged.
 */
export function nestedTooDeep(err: unknown): unknown {
  if (err instanceof NestingTooDeep) return invalidRequest(`request body is ${err.message}`);
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return invalidRequest('request body is nested too deeply to be processed (thousands of levels)');
  }
  return err;
}
