/**
 * @module util/json
 * Byte-level helpers for passthrough (STYLE rule 7): find the top-level keys of a JSON object body without
 * parsing it, and change its `model` (or leave out members a channel drops) without re-serialising the rest, so every
 * other byte reaches the upstream as the client sent it. Strings are skipped with native `indexOf` jumps, so the cost is in the structure
 * (a few thousand brackets in a 200 KB Claude Code body), not in the text.
 */
import { bufferIndexOf } from './bytes.ts';

const QUOTE = 34, BACKSLASH = 92, COLON = 58, COMMA = 44;
const OPEN_OBJ = 123, CLOSE_OBJ = 125, OPEN_ARR = 91, CLOSE_ARR = 93;
const utf8 = new TextDecoder();
const enc = new TextEncoder();

const isWs = (c: number | undefined) => c === 32 || c === 10 || c === 13 || c === 9;

function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && isWs(b[i])) i++;
  return i;
}

/** Index just past the closing quote of the string opening at `start`, or -1; the string is noted (see below). */
function stringEnd(b: Uint8Array, start: number): number {
  const q = closingQuote(b, start);
  if (q < 0) return -1;
  if (noted + 2 > notes.length && notes.length < NOTE_MAX) notes = grow(notes);
  if (noted + 2 <= notes.length) { notes[noted++] = start; notes[noted++] = q; }
  return q + 1;
}

/**
 * Every string scanTopLevel walks past, as (opening quote, closing quote) index pairs in body order: a large body
 * that is then translated is walked again by skeletonize (util/json-skeleton.ts), which takes each string's end
 * from here instead of searching for it (~40% of that walk). Kept for the last body scanned only (see
 * `stringsOf`); a body with more strings than NOTE_MAX / 2 is noted in part (the rest is searched as before).
 */
let notes = new Int32Array(4096);
let noted = 0;
let notesOf: WeakRef<Uint8Array> | null = null; // weak: a large body is not kept alive for this
const NOTE_MAX = 1 << 18; // entries: 1 MB at most, kept between requests (a 200 KB conversation has ~1,500 strings)

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(Math.min(NOTE_MAX, a.length * 2));
  bigger.set(a);
  return bigger;
}

/** The strings noted by the last scanTopLevel, when it was of this very buffer; else null. */
export function stringsOf(b: Uint8Array): { pairs: Int32Array; length: number } | null {
  return notesOf?.deref() === b ? { pairs: notes, length: noted } : null;
}

/**
 * Index of the quote closing the string that opens at `open`, or -1. Short strings (keys, types, ids: most of a
 * body's strings) are walked here, where a loop beats a native call; long ones are jumped with native indexOf.
 */
export function closingQuote(b: Uint8Array, open: number): number {
  let i = open + 1;
  const stop = Math.min(b.length, i + 32);
  for (; i < stop; i++) {
    const c = b[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  // from `i` on no escape is pending: a quote ends the string when an even run of backslashes precedes it
  for (;;) {
    const q = b.indexOf(QUOTE, i);
    if (q < 0) return -1;
    let k = q - 1;
    while (k >= i && b[k] === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q;
    i = q + 1;
  }
}

/** Index just past the JSON value starting at `i` (structure only: scalars are not checked), or -1. */
function valueEnd(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i);
  if (c === OPEN_OBJ || c === OPEN_ARR) return walkTo(b, i, 0, null, i);
  let j = i;
  while (j < b.length && !isWs(b[j]) && b[j] !== COMMA && b[j] !== CLOSE_OBJ && b[j] !== CLOSE_ARR) j++;
  return j > i ? j : -1;
}

/**
 * The walk of a container's structure from `j` at `depth` (0: at its opening bracket) to just past its closing
 * bracket, or -1; the strings on the way are noted; with `commas`, the offsets from `start` of the commas at depth 1.
 */
function walkTo(b: Uint8Array, j: number, depth: number, commas: number[] | null, start: number): number {
  // the notes are kept in locals through the loop (module variables cost a load and a store per string)
  let arr = notes;
  let k = noted;
  for (; j < b.length; j++) {
    const d = b[j];
    if (d === QUOTE) {
      const q = closingQuote(b, j);
      if (q < 0) break;
      if (k + 2 > arr.length && arr.length < NOTE_MAX) notes = arr = grow(arr);
      if (k + 2 <= arr.length) { arr[k] = j; arr[k + 1] = q; k += 2; }
      j = q;
      continue;
    }
    if (d === OPEN_OBJ || d === OPEN_ARR) depth++;
    else if (d === COMMA) { if (depth === 1 && commas) commas.push(j - start); }
    else if ((d === CLOSE_OBJ || d === CLOSE_ARR) && --depth === 0) { noted = k; return j + 1; }
  }
  noted = k;
  return -1;
}

/**
 * The top-level keys of a JSON object body and the byte span of each value; null when the body is not one
 * well-bracketed object. A later duplicate key wins, as with JSON.parse.
 */
export function scanTopLevel(b: Uint8Array): Map<string, [number, number]> | null {
  const keys = new Map<string, [number, number]>();
  notesOf = new WeakRef(b);
  noted = 0;
  toolsValue = null;
  let i = skipWs(b, 0);
  if (b[i] !== OPEN_OBJ) return null;
  i = skipWs(b, i + 1);
  if (b[i] === CLOSE_OBJ) return skipWs(b, i + 1) === b.length ? keys : null;
  for (;;) {
    if (b[i] !== QUOTE) return null;
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return null;
    const raw = b.subarray(i + 1, keyEnd - 1);
    const key = raw.includes(BACKSLASH) ? safeParse(b, i, keyEnd) : utf8.decode(raw);
    if (typeof key !== 'string') return null;
    i = skipWs(b, keyEnd);
    if (b[i] !== COLON) return null;
    const start = skipWs(b, i + 1);
    let end: number;
    if (key === 'messages' && b[start] === OPEN_ARR && walkMemo) {
      end = messagesEnd(b, start);
      if (end < 0) return null;
    } else if (key === 'tools') {
      toolsValue = knownValue(b, start);
      if (toolsValue) end = start + toolsValue.length;
      else {
        end = valueEnd(b, start);
        if (end < 0) return null;
        toolsValue = rememberValue(b, start, end);
      }
    } else {
      end = valueEnd(b, start);
      if (end < 0) return null;
    }
    keys.set(key, [start, end]);
    i = skipWs(b, end);
    if (b[i] === COMMA) { i = skipWs(b, i + 1); continue; }
    if (b[i] === CLOSE_OBJ) return skipWs(b, i + 1) === b.length ? keys : null;
    return null;
  }
}

/**
 * Top-level `tools` values seen lately, as bytes (copies: the body they came from is handed back), most recently
 * seen first. Claude Code and other agents send the same tools (tens of KB of JSON schemas, hundreds of short
 * strings) with every request of a session, and walking them was ~45% of scanning the bench's 200 KB conversation
 * (~28 of ~62 µs): a body whose bytes at the value's start equal a value walked before has that value's end without
 * walking it. Sound because the walk (`valueEnd`) reads nothing before the value's start and stops where its
 * brackets close: the same bytes end at the same place, and a remembered value was walked once and closed. Strings
 * inside a value skipped this way are not noted (skeletonize then searches for their ends, or cuts the tools).
 * At most KNOWN_MAX values of up to KNOWN_MAX_BYTES each are kept (8 MB at the very most, ~35 KB each for the bench's).
 */
const known: Uint8Array[] = [];
const KNOWN_MAX = 8;
/** Values smaller than this are walked every time (the walk costs less than keeping them); larger ones are not kept. */
const KNOWN_MIN_BYTES = 2 * 1024;
const KNOWN_MAX_BYTES = 1024 * 1024;

/** The remembered value whose bytes are those at `start`, or null. */
function knownValue(b: Uint8Array, start: number): Uint8Array | null {
  if (b[start] !== OPEN_ARR) return null;
  for (let k = 0; k < known.length; k++) {
    const v = known[k]!;
    const end = start + v.length;
    // a cheap first test: inside the bytes of a different value, the byte at this one's end is rarely its `]`
    if (b[end - 1] !== v[v.length - 1] || Buffer.compare(b.subarray(start, end), v) !== 0) continue;
    if (k > 0) { known.splice(k, 1); known.unshift(v); }
    knownHits++;
    return v;
  }
  return null;
}

/** The value at b[start, end) kept (a copy), when it is an array of a size worth it; else null. */
function rememberValue(b: Uint8Array, start: number, end: number): Uint8Array | null {
  const size = end - start;
  if (b[start] !== OPEN_ARR || size < KNOWN_MIN_BYTES || size > KNOWN_MAX_BYTES) return null;
  const v = b.slice(start, end);
  known.unshift(v);
  if (known.length > KNOWN_MAX) known.pop();
  return v;
}

/**
 * Top-level `messages` values walked lately. Claude Code and other agents resend the whole conversation with every
 * request, grown at its end (and a cache_control marker moved to the newest turn), so the next body's messages
 * mostly begin with the bytes of a value walked before: walking them was ~70% of scanning the bench's 200 KB
 * conversation. Each is kept as a copy of its bytes, the offsets of its top-level commas (where the walk is inside
 * the array and outside any string, and can resume) and the strings noted in it (pairs relative to its start). A
 * body whose messages share a prefix with one of them (found by binary search with native compares) takes the
 * walk's state at the last such comma inside that prefix, and its notes before it, and walks only the rest. Sound
 * as the tools' memo is: the walk's state at an offset depends only on the value's bytes before it.
 */
interface Walked {
  /** The value's bytes (a copy; room to grow after `length`). */
  bytes: Uint8Array;
  length: number;
  /** Offsets of its top-level commas, in order. */
  commas: Int32Array;
  nCommas: number;
  /** Its strings as (opening, closing quote) offset pairs, in order, as many as the body's scan noted. */
  notes: Int32Array;
  nNotes: number;
}
const walked: Walked[] = [];
const WALKED_MAX = 4;
/**
 * Smaller values are walked every time (the walk costs less than keeping them); larger ones are not kept, nor are
 * values of fewer than one string per KB (a base64 image, say: its walk is one native search, cheaper than a copy).
 */
const WALKED_MIN_BYTES = 16 * 1024;
const WALKED_MAX_BYTES = 4 * 1024 * 1024;
let resumedWalks = 0;

/** Index just past the `messages` array opening at `start` (as valueEnd), resuming a walk remembered. */
function messagesEnd(b: Uint8Array, start: number): number {
  let best: Walked | null = null;
  let shared = 0;
  for (let w = 0; w < walked.length; w++) {
    const v = walked[w]!;
    const len = commonPrefix(b, start, v.bytes, v.length);
    if (len > shared) { best = v; shared = len; }
    // all of it but its closing bracket, at least: the conversation this one continues (or repeats)
    if (len >= v.length - 1) break;
  }
  let arr = notes;
  let k = noted;
  const notedFrom = k;
  const commas: number[] = [];
  let c = -1; // the comma the walk resumes at, relative
  let replayedNotes = 0;
  let from = start;
  let depth = 0;
  if (best) {
    // the last top-level comma inside the shared bytes (the comma itself among them)
    const n = countBelow(best.commas, best.nCommas, shared, 1);
    if (n > 0) {
      c = best.commas[n - 1]!; // the walk from it finds it again: `commas` gets the ones from there on
      // the strings closed before it, as they were noted (as many as fit)
      let pairs = countBelow(best.notes, best.nNotes, c, 2);
      while (k + 2 * pairs > arr.length && arr.length < NOTE_MAX) notes = arr = grow(arr);
      pairs = Math.min(pairs, (arr.length - k) >> 1);
      const bn = best.notes;
      for (let i = 0; i < 2 * pairs; i++) arr[k + i] = bn[i]! + start;
      k += 2 * pairs;
      replayedNotes = 2 * pairs;
      from = start + c;
      depth = 1;
      resumedWalks++;
    }
  }
  noted = k;
  const end = walkTo(b, from, depth, commas, start);
  if (end < 0) return -1;
  const size = end - start;
  if (c > 0) updateWalk(best!, b, start, size, c, commas, replayedNotes, notedFrom, noted);
  else if (size >= WALKED_MIN_BYTES && size <= WALKED_MAX_BYTES && noted - notedFrom >= (size >> 10) * 2) rememberWalk(b, start, size, commas, notedFrom, noted);
  return end;
}

/** Room to grow: a conversation continued is copied from where it changed, into the same buffers while they fit. */
const roomFor = (n: number) => Math.ceil(n * 1.25) + 1024;

/** A value walked in full, kept (first in line; the oldest goes). */
function rememberWalk(b: Uint8Array, start: number, size: number, commas: number[], notedFrom: number, notedTo: number) {
  const bytes = new Uint8Array(roomFor(size));
  bytes.set(b.subarray(start, start + size));
  const w: Walked = { bytes, length: size, commas: new Int32Array(roomFor(commas.length)), nCommas: 0, notes: new Int32Array(roomFor(notedTo - notedFrom)), nNotes: 0 };
  setWalkTail(w, commas, 0, notedFrom, notedTo, start);
  walked.unshift(w);
  if (walked.length > WALKED_MAX) walked.pop();
}

/**
 * The remembered value `w`, which this one (b[start, start + size)) shares bytes with up to past its comma `c`,
 * becomes this one: its bytes from `c` on, its commas and notes after the `replayed` ones. A value that repeats or
 * continues a conversation costs the copy of what changed only. It goes first in line.
 */
function updateWalk(w: Walked, b: Uint8Array, start: number, size: number, c: number, commas: number[], replayedNotes: number, notedFrom: number, notedTo: number) {
  if (size > WALKED_MAX_BYTES) { walked.splice(walked.indexOf(w), 1); return; }
  if (w.bytes.length < size) {
    const bigger = new Uint8Array(roomFor(size));
    bigger.set(w.bytes.subarray(0, c));
    w.bytes = bigger;
  }
  w.bytes.set(b.subarray(start + c, start + size), c);
  w.length = size;
  // w keeps what was replayed (its commas and notes before `c`) and takes this walk's, all from `c` on
  w.nCommas = countBelow(w.commas, w.nCommas, c, 1);
  w.nNotes = replayedNotes;
  setWalkTail(w, commas, 0, notedFrom + replayedNotes, notedTo, start);
  const at = walked.indexOf(w);
  if (at > 0) { walked.splice(at, 1); walked.unshift(w); }
}

/**
 * How many entries of a[0, n) (ascending; with `stride` 2, pairs read by their second member) are below `limit`,
 * counted in entries of `stride` (binary search).
 */
function countBelow(a: Int32Array, n: number, limit: number, stride: 1 | 2): number {
  let lo = 0;
  let hi = n / stride; // a[lo·stride + stride-1] < limit for every index before lo; none from hi on
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid * stride + stride - 1]! < limit) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** Appends to `w` the commas from `commas[from]` on and the notes notes[notedFrom, notedTo), relative to `start`. */
function setWalkTail(w: Walked, commas: number[], from: number, notedFrom: number, notedTo: number, start: number) {
  const nc = w.nCommas + commas.length - from;
  if (w.commas.length < nc) { const c2 = new Int32Array(roomFor(nc)); c2.set(w.commas.subarray(0, w.nCommas)); w.commas = c2; }
  for (let i = from; i < commas.length; i++) w.commas[w.nCommas++] = commas[i]!;
  const nn = w.nNotes + notedTo - notedFrom;
  if (w.notes.length < nn) { const n2 = new Int32Array(roomFor(nn)); n2.set(w.notes.subarray(0, w.nNotes)); w.notes = n2; }
  for (let i = notedFrom; i < notedTo; i++) w.notes[w.nNotes++] = notes[i]! - start;
}

/** How many bytes b[start…] and v[0, vLength) share from their first. */
function commonPrefix(b: Uint8Array, start: number, v: Uint8Array, vLength: number): number {
  const max = Math.min(vLength, b.length - start);
  if (max === 0 || b[start] !== v[0]) return 0;
  // all of it first: a conversation sent again (or grown: then it differs at the old value's `]`)
  if (Buffer.compare(b.subarray(start, start + max), v.subarray(0, max)) === 0) return max;
  let lo = 1;
  let hi = max - 1; // b[start, start + lo) equals v[0, lo); they differ before hi + 1
  while (hi - lo > 64) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(b.subarray(start + lo, start + mid), v.subarray(lo, mid)) === 0) lo = mid; else hi = mid;
  }
  while (lo < hi && b[start + lo] === v[lo]) lo++;
  return lo;
}

/** The remembered value equal to the last scanned body's top-level `tools`, or null. */
let toolsValue: Uint8Array | null = null;

/**
 * The remembered copy of a body's top-level `tools` (the same bytes, immutable and shared by every body that sends
 * them), when the last scanTopLevel was of this very buffer and found or kept one; else null. The tools memo of
 * translations (pipeline/tools-memo.ts) keys on it instead of hashing and comparing those bytes again.
 */
export function knownToolsOf(b: Uint8Array): Uint8Array | null {
  return notesOf?.deref() === b ? toolsValue : null;
}

let knownHits = 0;

/** Forget the remembered values (tests: a scan that walks everything, to compare with). */
export function forgetKnownValues() {
  known.length = 0;
  walked.length = 0;
}

/** Whether `messages` walks are remembered and resumed (tests turn it off for a full walk to compare with). */
let walkMemo = true;
export function useWalkMemo(on: boolean) {
  walkMemo = on;
}

/** How many `messages` walks resumed from a remembered one so far (tests). */
export function resumedMessageWalks(): number {
  return resumedWalks;
}

/** How many values were found remembered so far (tests). */
export function knownValueHits(): number {
  return knownHits;
}

function safeParse(b: Uint8Array, start: number, end: number): unknown {
  try { return JSON.parse(utf8.decode(b.subarray(start, end))); } catch { return undefined; }
}

/** The value at a span, parsed (it is small: a model name, a number, a boolean); undefined if it does not parse. */
export function valueAt(b: Uint8Array, span: [number, number] | undefined): unknown {
  return span ? safeParse(b, span[0], span[1]) : undefined;
}

/** The first byte of the value at a span (`[`, `{`, `"`, `t`…), to check a type without parsing the value. */
export function kindAt(b: Uint8Array, span: [number, number] | undefined): string | undefined {
  return span ? String.fromCharCode(b[span[0]]!) : undefined;
}

/** The body with the value at `span` (the top-level model) replaced by `model`; bytes elsewhere untouched. */
export function replaceSpan(b: Uint8Array, span: [number, number], model: string): Uint8Array {
  const mid = enc.encode(JSON.stringify(model));
  const out = new Uint8Array(b.length - (span[1] - span[0]) + mid.length);
  out.set(b.subarray(0, span[0]), 0);
  out.set(mid, span[0]);
  out.set(b.subarray(span[1]), span[0] + mid.length);
  return out;
}

/** The body with its top-level model replaced (bytes elsewhere untouched); the original when it has none. */
export function rewriteModel(b: Uint8Array, model: string, keys?: Map<string, [number, number]> | null): Uint8Array {
  const span = (keys ?? scanTopLevel(b))?.get('model');
  if (!span || b[span[0]] !== QUOTE) return b;
  return replaceSpan(b, span, model);
}

/**
 * Where the member whose value starts at `valueStart` starts: its key's opening quote. Read backwards from the value
 * (white space, the colon, white space, the key's closing quote): inside a JSON string every quote is escaped, so
 * the first quote before the closing one that an even run of backslashes precedes opens the key.
 */
function memberStart(b: Uint8Array, valueStart: number): number {
  let p = valueStart - 1;
  while (isWs(b[p])) p--;
  p--; // the colon (scanTopLevel found one here)
  while (isWs(b[p])) p--;
  for (let q = b.lastIndexOf(QUOTE, p - 1); ; q = b.lastIndexOf(QUOTE, q - 1)) {
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q;
  }
}

/** The end of the value before the member starting at `start` (past its last byte), or -1 when it is the object's first. */
function previousValueEnd(b: Uint8Array, start: number): number {
  let p = start - 1;
  while (isWs(b[p])) p--;
  if (b[p] !== COMMA) return -1;
  p--;
  while (isWs(b[p])) p--;
  return p + 1;
}

/**
 * The body without its top-level members named in `names`, each with the comma that separated it from the next (the
 * last one's from the one before), and with its top-level model replaced when `model` is given; every other byte as
 * it was (the client's spacing, key order, escapes, nested members of the same names). `keys`: the body's
 * scanTopLevel. `removed`: the names that were there, in the order of `names`; `bytes` is `b` itself when nothing
 * changed. A name written twice at the top level (JSON.parse keeps the last, and so does the scan) is removed every
 * time: the bytes removed, the rest is scanned again for it, only when its quoted name is still somewhere in them.
 */
export function dropMembers(b: Uint8Array, names: readonly string[], keys: Map<string, [number, number]>, model?: string): { bytes: Uint8Array; removed: string[] } {
  const removed: string[] = [];
  let bytes = b;
  let scanned: Map<string, [number, number]> | null = keys;
  let replace = model === undefined || names.includes('model') ? null : keys.get('model');
  if (replace && b[replace[0]] !== QUOTE) replace = null; // as rewriteModel: a model that is not a string stays
  while (scanned) {
    const members: Array<[start: number, end: number]> = [];
    for (const name of names) {
      const span = scanned.get(name);
      if (!span) continue;
      members.push([memberStart(bytes, span[0]), span[1]]);
      if (!removed.includes(name)) removed.push(name);
    }
    if (members.length === 0) break;
    bytes = cut(bytes, members, replace ? [replace[0], replace[1], enc.encode(JSON.stringify(model))] : null);
    replace = null;
    // once in almost every body: a name quoted nowhere in what is left is no longer a member
    const again = names.some((n) => scanned!.has(n) && bufferIndexOf.call(bytes, enc.encode(`"${n}"`)) >= 0);
    scanned = again ? scanTopLevel(bytes) : null;
  }
  if (replace) bytes = replaceSpan(bytes, replace, model!);
  return { bytes, removed };
}

/**
 * `b` without the top-level members `members` ([key's opening quote, value end), any order, of one object scanned
 * whole), and with `edit`'s span replaced by its bytes (a span no member holds), in one copy. A member followed by
 * another goes with what separates them (the comma, and the white space up to the next key); a run of members that
 * ends the object goes from the end of the value before it (the comma after that value with it), or, when nothing
 * comes before, from its first key: what is left is the object with those members never written, valid JSON.
 */
function cut(b: Uint8Array, members: Array<[number, number]>, edit: [number, number, Uint8Array] | null): Uint8Array {
  members.sort((x, y) => x[0] - y[0]);
  const ranges: Array<[number, number, Uint8Array | null]> = [];
  let tail = members.length;
  const last = members[tail - 1]!;
  if (b[skipWs(b, last[1])] === CLOSE_OBJ) {
    // the object's last member, and those removed right before it (nothing but a comma between them)
    tail--;
    while (tail > 0 && previousValueEnd(b, members[tail]![0]) === members[tail - 1]![1]) tail--;
    const before = previousValueEnd(b, members[tail]![0]);
    ranges.push([before < 0 ? members[tail]![0] : before, last[1], null]);
  }
  for (let i = 0; i < tail; i++) {
    const [start, end] = members[i]!;
    ranges.push([start, skipWs(b, skipWs(b, end) + 1), null]); // past the comma, to the next key
  }
  if (edit) ranges.push(edit);
  ranges.sort((x, y) => x[0] - y[0]);
  let size = b.length;
  for (const [s, e, with_] of ranges) size += (with_?.length ?? 0) - (e - s);
  const out = new Uint8Array(size);
  let from = 0;
  let at = 0;
  for (const [s, e, with_] of ranges) {
    out.set(b.subarray(from, s), at);
    at += s - from;
    if (with_) { out.set(with_, at); at += with_.length; }
    from = e;
  }
  out.set(b.subarray(from), at);
  return out;
}
