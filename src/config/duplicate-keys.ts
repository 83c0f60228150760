/**
 * @module config/duplicate-keys
 * Finds keys written twice in one mapping of a config file. JSON.parse and Bun.YAML.parse both keep the last and
 * say nothing, so a second `channels:` would silently replace the first list; neither has an option to refuse it.
 *
 * JSON: a scan of text JSON.parse has already accepted, so it needs to know only strings, brackets and commas.
 *
 * YAML: a reader of the block and flow styles people write by hand (mappings, sequences, plain and quoted scalars,
 * block scalars, comments, anchors), which builds the document's shape with keys kept in the order written. Its
 * reading is trusted only where it agrees with Bun.YAML's: the shape with the last of each duplicate kept must be
 * exactly the parsed document's (the same keys in every mapping, the same length of every sequence). Where it
 * reads something it does not know (a `? ` key, a directive, merge keys, an alias standing for a mapping) it
 * reports nothing, rather than refuse a file it may have misread: such a file is loaded as before, unchecked.
 */

/** One key written a second time in the same mapping. */
export interface DuplicateKey { path: string; line: number; firstLine: number }

type Shape =
  | { kind: 'map'; keys: Map<string, { line: number; value: Shape }> }
  | { kind: 'seq'; items: Shape[] }
  | { kind: 'scalar' };

const SCALAR: Shape = { kind: 'scalar' };
/** Past this depth nothing is checked: load.ts refuses such a file anyway (MAX_CONFIG_DEPTH). */
const MAX_DEPTH = 64;

class GiveUp extends Error {}

/** `channels[1].name` */
const childPath = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/** A mapping under construction: a repeated key is recorded, and replaces the first (as the parsers do). */
function setKey(map: Shape & { kind: 'map' }, key: string, line: number, value: Shape, path: string, dups: DuplicateKey[]) {
  const first = map.keys.get(key);
  if (first) {
    dups.push({ path: childPath(path, key), line, firstLine: first.line });
    map.keys.delete(key);
  }
  map.keys.set(key, { line, value });
}

/** 1-based line of each offset, by binary search over the line starts. */
function lineIndex(text: string): (pos: number) => number {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (pos) => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= pos) lo = mid; else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Duplicate keys of a JSON text that JSON.parse has accepted. */
export function jsonDuplicateKeys(text: string): DuplicateKey[] {
  const lineOf = lineIndex(text);
  const dups: DuplicateKey[] = [];
  let pos = 0;
  const ws = () => { while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++; };
  const string = (): string => {
    const start = pos++;
    while (text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    pos++;
    return JSON.parse(text.slice(start, pos)) as string;
  };
  const value = (path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new GiveUp();
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const seen = new Map<string, number>();
      ws();
      if (text[pos] === '}') { pos++; return; }
      for (;;) {
        ws();
        const line = lineOf(pos);
        const key = string();
        const first = seen.get(key);
        if (first !== undefined) dups.push({ path: childPath(path, key), line, firstLine: first });
        seen.set(key, line);
        ws(); pos++; // ':'
        value(childPath(path, key), depth + 1);
        ws();
        if (text[pos++] === '}') return;
      }
    }
    if (c === '[') {
      pos++;
      ws();
      if (text[pos] === ']') { pos++; return; }
      for (let i = 0; ; i++) {
        value(childPath(path, i), depth + 1);
        ws();
        if (text[pos++] === ']') return;
      }
    }
    if (c === '"') { string(); return; }
    while (pos < text.length && !' \t\r\n,]}'.includes(text[pos]!)) pos++;
  };
  try {
    value('', 0);
  } catch {
    // past MAX_DEPTH (GiveUp), or a reading this scan got wrong: unchecked, never a crash at start-up
    return [];
  }
  return dups;
}

/** Duplicate keys of a YAML text, given what Bun.YAML.parse made of it (see the module comment). */
export function yamlDuplicateKeys(text: string, parsed: unknown): DuplicateKey[] {
  const reader = new YamlReader(text);
  let shape: Shape;
  try {
    shape = reader.document();
  } catch {
    // something the reader does not know (GiveUp), or reads wrong: the file is loaded unchecked, never a crash
    return [];
  }
  return sameShape(shape, parsed, 0) ? reader.dups : [];
}

/** The reader's shape (the last of each duplicate kept) is the parsed document's. */
function sameShape(s: Shape, v: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (s.kind === 'scalar') return v === null || typeof v !== 'object' || v instanceof Date;
  if (s.kind === 'seq') return Array.isArray(v) && v.length === s.items.length && s.items.every((x, i) => sameShape(x, v[i], depth + 1));
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== s.keys.size) return false;
  for (const [k, e] of s.keys) if (!Object.hasOwn(v, k) || !sameShape(e.value, (v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/** Reads the shape of a YAML document; throws GiveUp on anything it does not know. */
class YamlReader {
  private pos = 0;
  readonly dups: DuplicateKey[] = [];
  private readonly lineOf: (pos: number) => number;

  constructor(private readonly text: string) {
    this.lineOf = lineIndex(text);
  }

  document(): Shape {
    const t = this.text;
    this.content();
    if (t.startsWith('---', this.pos) && this.col() === 0) { this.pos += 3; }
    const at = this.content();
    const shape = at === null ? SCALAR : this.node(-1, '', 0);
    this.content();
    if (t.startsWith('...', this.pos)) { this.pos += 3; this.content(); }
    if (this.pos < t.length) throw new GiveUp(); // a second document, or something not read
    return shape;
  }

  private col(p = this.pos): number {
    return p - (this.text.lastIndexOf('\n', p - 1) + 1);
  }

  /** Skips blank lines, spaces and comments; the column of the next content, or null at the end. */
  private content(): number | null {
    const t = this.text;
    for (;;) {
      while (this.pos < t.length && ' \t\r\n'.includes(t[this.pos]!)) this.pos++;
      if (t[this.pos] === '#') { while (this.pos < t.length && t[this.pos] !== '\n') this.pos++; continue; }
      return this.pos < t.length ? this.col() : null;
    }
  }

  /** Spaces and a comment to the end of the line; false if something else follows on it. */
  private restOfLineEmpty(): boolean {
    const t = this.text;
    while (t[this.pos] === ' ' || t[this.pos] === '\t') this.pos++;
    if (t[this.pos] === '#') while (this.pos < t.length && t[this.pos] !== '\n') this.pos++;
    return this.pos >= t.length || t[this.pos] === '\n' || t[this.pos] === '\r';
  }

  private isSeqDash(p = this.pos): boolean {
    return this.text[p] === '-' && (p + 1 >= this.text.length || ' \t\r\n'.includes(this.text[p + 1]!));
  }

  /** A node starting at pos, inside a block whose indentation is `parent` (its content is indented further). */
  private node(parent: number, path: string, depth: number): Shape {
    if (depth > MAX_DEPTH) throw new GiveUp();
    const t = this.text;
    this.properties();
    if (this.restOfLineEmpty() && this.pos < t.length) {
      // `key: &anchor` with the node on the next lines
      const c = this.content();
      if (c === null || c <= parent) return SCALAR;
      return this.node(parent, path, depth);
    }
    const c = t[this.pos]!;
    if (this.isSeqDash()) return this.blockSeq(this.col(), path, depth);
    if (c === '[' || c === '{') {
      const s = this.flow(path, depth);
      if (!this.restOfLineEmpty()) throw new GiveUp();
      return s;
    }
    if (c === '|' || c === '>') { this.blockScalar(parent); return SCALAR; }
    if (c === '?' || c === '%' || c === '@' || c === '`') throw new GiveUp();
    const start = this.pos;
    if (this.key() !== null) { this.pos = start; return this.blockMap(this.col(), path, depth); }
    this.pos = start;
    this.scalar(parent);
    return SCALAR;
  }

  /** Anchors (`&a`) and tags (`!!str`) before a node: skipped. */
  private properties() {
    const t = this.text;
    while (t[this.pos] === '&' || t[this.pos] === '!') {
      while (this.pos < t.length && !' \t\r\n'.includes(t[this.pos]!)) this.pos++;
      while (t[this.pos] === ' ' || t[this.pos] === '\t') this.pos++;
    }
  }

  /** A block mapping key at pos, up to and past its `:`; null (pos anywhere) if there is none. */
  private key(): string | null {
    const t = this.text;
    let key: string;
    if (t[this.pos] === '"' || t[this.pos] === "'") {
      key = this.quoted();
      while (t[this.pos] === ' ') this.pos++;
      if (t[this.pos] !== ':') return null;
    } else {
      if ('[]{}#&*!|>%@`,?'.includes(t[this.pos]!) || this.isSeqDash()) return null;
      const start = this.pos;
      for (;;) {
        const ch = t[this.pos];
        if (ch === undefined || ch === '\n' || ch === '\r') return null;
        if (ch === ':' && (this.pos + 1 >= t.length || ' \t\r\n'.includes(t[this.pos + 1]!))) break;
        if (ch === '#' && ' \t'.includes(t[this.pos - 1]!)) return null;
        this.pos++;
      }
      key = t.slice(start, this.pos).trim();
    }
    this.pos++; // ':'
    return key;
  }

  private blockMap(col: number, path: string, depth: number): Shape {
    const map = { kind: 'map' as const, keys: new Map<string, { line: number; value: Shape }>() };
    for (;;) {
      const line = this.lineOf(this.pos);
      const key = this.key();
      if (key === null) throw new GiveUp();
      if (key === '<<') throw new GiveUp(); // a merge key: not a key of the parsed mapping
      while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
      let value: Shape;
      if (this.restOfLineEmpty()) {
        const c = this.content();
        value = c !== null && (c > col || (c === col && this.isSeqDash())) ? this.node(col, childPath(path, key), depth + 1) : SCALAR;
      } else {
        this.properties();
        const flow = this.text[this.pos] === '{';
        value = this.node(col, childPath(path, key), depth + 1);
        if (value.kind === 'map' && !flow) throw new GiveUp(); // `a: b: c`
      }
      setKey(map, key, line, value, path, this.dups);
      const c = this.content();
      if (c === null || c < col) return map;
      if (c > col || this.isSeqDash()) throw new GiveUp();
    }
  }

  private blockSeq(col: number, path: string, depth: number): Shape {
    const seq = { kind: 'seq' as const, items: [] as Shape[] };
    for (;;) {
      this.pos++; // '-'
      while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
      const item = childPath(path, seq.items.length);
      if (this.restOfLineEmpty()) {
        const c = this.content();
        seq.items.push(c !== null && c > col ? this.node(col, item, depth + 1) : SCALAR);
      } else {
        seq.items.push(this.node(col, item, depth + 1));
      }
      const c = this.content();
      if (c === null || c < col || (c === col && !this.isSeqDash())) return seq;
      if (c > col) throw new GiveUp();
    }
  }

  /** `|` or `>`: its lines are those indented past `parent` (and blank ones). */
  private blockScalar(parent: number) {
    const t = this.text;
    while (this.pos < t.length && t[this.pos] !== '\n') this.pos++;
    for (;;) {
      const next = t.indexOf('\n', this.pos + 1);
      const line = t.slice(this.pos + 1, next < 0 ? t.length : next);
      if (this.pos >= t.length || !(line.trim() === '' || line.search(/\S/) > parent)) return;
      this.pos = next < 0 ? t.length : next;
    }
  }

  /** A quoted or plain scalar, with any more-indented lines that continue it. */
  private scalar(parent: number) {
    const t = this.text;
    if (t[this.pos] === '"' || t[this.pos] === "'") {
      this.quoted();
      if (!this.restOfLineEmpty()) throw new GiveUp();
      return;
    }
    for (;;) {
      while (this.pos < t.length && t[this.pos] !== '\n') {
        if (t[this.pos] === '#' && ' \t'.includes(t[this.pos - 1]!)) { this.restOfLineEmpty(); break; }
        if (t[this.pos] === ':' && ' \t'.includes(t[this.pos + 1] ?? ' ')) throw new GiveUp();
        this.pos++;
      }
      const save = this.pos;
      const c = this.content();
      if (c === null || c <= parent) { this.pos = save; return; }
    }
  }

  /** A quoted scalar's value (from its opening quote, past its closing one). */
  private quoted(): string {
    const t = this.text;
    const q = t[this.pos]!;
    const start = this.pos++;
    for (;;) {
      if (this.pos >= t.length) throw new GiveUp();
      const ch = t[this.pos]!;
      if (q === '"' && ch === '\\') { this.pos += 2; continue; }
      if (ch === q) {
        if (q === "'" && t[this.pos + 1] === "'") { this.pos += 2; continue; }
        break;
      }
      if (ch === '\n') throw new GiveUp(); // a folded multi-line key or value: not read here
      this.pos++;
    }
    this.pos++;
    const raw = t.slice(start, this.pos);
    if (q === "'") return raw.slice(1, -1).replaceAll("''", "'");
    try { return JSON.parse(raw) as string; } catch { throw new GiveUp(); } // a YAML-only escape
  }

  /** A flow collection (`{…}` or `[…]`), across lines. */
  private flow(path: string, depth: number): Shape {
    if (depth > MAX_DEPTH) throw new GiveUp();
    const t = this.text;
    const open = t[this.pos++]!;
    const close = open === '{' ? '}' : ']';
    const map = { kind: 'map' as const, keys: new Map<string, { line: number; value: Shape }>() };
    const seq = { kind: 'seq' as const, items: [] as Shape[] };
    for (;;) {
      this.content();
      if (t[this.pos] === close) { this.pos++; return open === '{' ? map : seq; }
      this.properties();
      const line = this.lineOf(this.pos);
      if (open === '[') {
        seq.items.push(this.flowNode(childPath(path, seq.items.length), depth + 1));
        this.content();
        if (t[this.pos] === ':') throw new GiveUp(); // a single-pair mapping inside a sequence
      } else {
        const key = t[this.pos] === '"' || t[this.pos] === "'" ? this.quoted() : this.flowPlain();
        if (t[this.pos] === '{' || t[this.pos] === '[') throw new GiveUp();
        this.content();
        let value: Shape = SCALAR;
        if (t[this.pos] === ':') {
          this.pos++;
          this.content();
          if (t[this.pos] !== ',' && t[this.pos] !== '}') value = this.flowNode(childPath(path, key), depth + 1);
        }
        setKey(map, key, line, value, path, this.dups);
      }
      this.content();
      if (t[this.pos] === ',') { this.pos++; continue; }
      if (t[this.pos] !== close) throw new GiveUp();
    }
  }

  private flowNode(path: string, depth: number): Shape {
    const t = this.text;
    this.properties();
    if (t[this.pos] === '{' || t[this.pos] === '[') return this.flow(path, depth);
    if (t[this.pos] === '"' || t[this.pos] === "'") { this.quoted(); return SCALAR; }
    this.flowPlain();
    return SCALAR;
  }

  /** A plain scalar in a flow collection: up to `,`, a bracket, `: ` or a comment. */
  private flowPlain(): string {
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length) {
      const ch = t[this.pos]!;
      if (',[]{}\n'.includes(ch)) break;
      if (ch === ':' && ' \t\r\n,[]{}'.includes(t[this.pos + 1] ?? ' ')) break;
      if (ch === '#' && ' \t'.includes(t[this.pos - 1]!)) break;
      this.pos++;
    }
    if (this.pos === start) throw new GiveUp();
    return t.slice(start, this.pos).trim();
  }
}
