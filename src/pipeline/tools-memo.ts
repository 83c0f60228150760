/**
 * @module pipeline/tools-memo
 * A large translated request's tools, translated once and reused by every request that sends the same bytes.
 * Claude Code sends the same 12–25 tools (tens of KB of JSON schemas) with every request of a session, Codex and
 * other agents likewise; on the bench's 200 KB conversation the tools are about a third of a translation (~70 of
 * ~215 µs in-process, both directions). The client's tools are kept in hub form per client format, and in each
 * channel's form per channel, keyed by their exact bytes (the body scan's remembered copy of them when it has one,
 * util/json.ts: knownToolsOf; else a hash, then compared byte for byte). A request then
 * skips them in its skeleton (`skeletonize`'s cut), the inbound converter takes the hub form from
 * `TranslateContext.tools`, and the channel's converter puts a value placeholder where the tools go, which `splice`
 * fills with the bytes translated before: the output is byte for byte that of an ordinary translation
 * (test/unit/pipeline/tools-memo.test.ts). Tools that do not translate on their own (invalid, a custom tool) are not
 * kept: such a request is translated the ordinary way, which reports the problem with its field path.
 */
import type { Channel } from '../channels/types.ts';
import { FORMATS } from '../formats/index.ts';
import type { FormatId, PreparedTools } from '../formats/types.ts';
import type { Tool } from '../hub/types.ts';
import { valuePlaceholder } from '../util/json-skeleton.ts';

/** Tools arrays shorter than this (bytes) are translated with the request: too small to be worth a lookup. */
export const MIN_TOOLS_BYTES = 1024;
/** Distinct tool sets kept (least recently used dropped first): a few per client version and agent type. */
const MAX_ENTRIES = 64;
/**
 * Tool sets larger than this are translated with their request and never kept, and the kept sets' bytes add up to
 * at most MAX_KEPT_BYTES (least recently used dropped first). An entry holds the client's bytes, their parsed hub
 * form and one translation per channel, ~10 times its bytes in memory: unbounded, 64 requests with 30 MB of tools
 * each (within server.max_body_bytes) would hold gigabytes for as long as the process runs. Claude Code's are tens of KB.
 */
export const MAX_TOOLS_BYTES = 1024 * 1024;
const MAX_KEPT_BYTES = 8 * 1024 * 1024;

/** One tool set, as a client format sends it. */
export interface ToolsEntry {
  readonly bytes: Uint8Array;
  /** Hub form; shared by every request that uses the entry, so frozen. */
  readonly hub: Tool[];
  /** Length of the client's array (the hub form may hold fewer). */
  readonly clientCount: number;
  readonly channels: WeakMap<Channel, ChannelTools | null>;
}

/** One tool set in one channel's format. */
interface ChannelTools {
  bytes: Uint8Array;
  names: ReadonlySet<string>;
  count: number;
  dropped: readonly string[];
  renamed: ReadonlyMap<string, string> | null;
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();
const entries = new Map<string, ToolsEntry>();

/**
 * Entries by the scan's remembered copy of their bytes (util/json.ts: knownToolsOf), per client format: a body whose
 * tools the scan found remembered gets its entry without hashing and comparing the same bytes a second time.
 */
const byKnown = new WeakMap<Uint8Array, Partial<Record<FormatId, ToolsEntry | null>>>();

/**
 * The entry for a client's `tools` value (its bytes), made on first sight; null when they do not translate alone.
 * `known`: the scan's remembered copy of these very bytes, when it has one.
 */
export function hubTools(format: FormatId, bytes: Uint8Array, known: Uint8Array | null = null): ToolsEntry | null {
  if (!known) return entryFor(format, bytes, null);
  let perFormat = byKnown.get(known);
  if (!perFormat) byKnown.set(known, perFormat = {});
  const hit = perFormat[format];
  if (hit !== undefined) return hit;
  return (perFormat[format] = entryFor(format, bytes, known));
}

function entryFor(format: FormatId, bytes: Uint8Array, known: Uint8Array | null): ToolsEntry | null {
  const toHub = FORMATS[format].toolsToHub;
  if (!toHub || bytes.length < MIN_TOOLS_BYTES || bytes.length > MAX_TOOLS_BYTES) return null;
  const key = `${format}:${Bun.hash(bytes)}`;
  const hit = entries.get(key);
  if (hit && Buffer.from(hit.bytes.buffer, hit.bytes.byteOffset, hit.bytes.byteLength).equals(bytes)) {
    entries.delete(key); // most recently used last
    entries.set(key, hit);
    return hit;
  }
  let parsed: unknown;
  let hub: Tool[];
  try {
    parsed = JSON.parse(utf8.decode(bytes));
    if (!Array.isArray(parsed)) return null;
    hub = deepFreeze(toHub(parsed));
  } catch {
    // invalid, or nested past the stack (the skeleton then refuses the body with a 400)
    return null;
  }
  // the scan's copy when there is one (immutable, the same bytes): not a second copy of tens of KB
  const entry: ToolsEntry = { bytes: known ?? bytes.slice(), hub, clientCount: parsed.length, channels: new WeakMap() };
  forget(key);
  entries.set(key, entry);
  keptBytes += entry.bytes.length;
  while (entries.size > MAX_ENTRIES || keptBytes > MAX_KEPT_BYTES) forget(entries.keys().next().value!);
  return entry;
}

/** The kept sets' bytes, added up (MAX_KEPT_BYTES). */
let keptBytes = 0;

function forget(key: string) {
  const gone = entries.get(key);
  if (!gone) return;
  entries.delete(key);
  keptBytes -= gone.bytes.length;
}

/**
 * What a translation for `channel` takes in TranslateContext.tools, its channel form placed as span `spanId`; the
 * channel's form is made on first use, and left out (the converter translates the hub form itself) when the
 * channel's format has no `toolsFromHub` or it throws.
 */
export function prepareTools(entry: ToolsEntry, channel: Channel, spanId: number): { tools: PreparedTools; span: Uint8Array | null } {
  let own = entry.channels.get(channel);
  if (own === undefined) {
    own = null;
    const fromHub = FORMATS[channel.nativeFormat].toolsFromHub;
    if (fromHub) {
      try {
        const r = fromHub(entry.hub, channel.quirks as never);
        own = { bytes: utf8Encoder.encode(JSON.stringify(r.value)), names: new Set(r.names), count: r.names.length, dropped: r.dropped, renamed: r.renamed ?? null };
      } catch {
        own = null;
      }
    }
    entry.channels.set(channel, own);
  }
  const upstream = own && { placeholder: valuePlaceholder(spanId), names: own.names, count: own.count, dropped: own.dropped, renamed: own.renamed };
  return { tools: { hub: entry.hub, clientCount: entry.clientCount, upstream }, span: own?.bytes ?? null };
}

/** Entries kept now (tests). */
export function toolsMemoSize(): number {
  return entries.size;
}

/** The kept entries' bytes, added up (tests). */
export function toolsMemoBytes(): number {
  return keptBytes;
}

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}
