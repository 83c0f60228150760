/**
 * @module util/json
 * Byte-level helpers for passthrough (STYLE rule 7): find the top-level keys of a JSON object body without
 * parsing it, and change its `model` without re-serialising the rest, so every other byte reaches the upstream
 * as the client sent it. Strings are skipped with native `indexOf` jumps, so the cost is in the structure
 * (a few thousand brackets in a 200 KB Claude Code body), not in the text.
 */

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
  if (c === OPEN_OBJ || c === OPEN_ARR) {
    // the notes are kept in locals through the loop (module variables cost a load and a store per string)
    let arr = notes;
    let k = noted;
    let depth = 0;
    for (let j = i; j < b.length; j++) {
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
      else if ((d === CLOSE_OBJ || d === CLOSE_ARR) && --depth === 0) { noted = k; return j + 1; }
    }
    noted = k;
    return -1;
  }
  let j = i;
  while (j < b.length && !isWs(b[j]) && b[j] !== COMMA && b[j] !== CLOSE_OBJ && b[j] !== CLOSE_ARR) j++;
  return j > i ? j : -1;
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
    if (key === 'tools') {
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
