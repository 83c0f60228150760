/**
 * @module util/event-template
 * A stream's text events read without `JSON.parse`. Most events of a streamed answer are the same JSON object again
 * and again with another string in one place (a Chat Completions chunk's `"content":"…"`, an Anthropic
 * `text_delta`'s `"text":"…"`). A template learnt from one such event (the text around that string literal)
 * recognises the next ones by comparing that text, and reads only the literal: `JSON.parse` builds a chunk's five or
 * six objects per token, ~0.5 µs each (a fifth of a translated stream's JavaScript time, bench/ profile).
 *
 * Exact by construction: an event is taken only when it is the template's text with one whole, valid JSON string
 * literal in the literal's place, so parsing it would give the template's object with only that string changed; and
 * a template is kept only when the format's own check, run on the template parsed with a probe string in that
 * place, says an event of that shape carries nothing but its text (and the probe really lands where the text is
 * read: a duplicate key, say, fails it). Anything else (a usage chunk, a finish, tool calls, another layout) is not
 * recognised and goes the ordinary way, which may learn from it.
 *
 * One member after the text may differ from event to event without defeating the template: a string member named
 * `varyingKey` (OpenAI's `"obfuscation":"…"`, random padding of random length on every chunk; last in OpenAI's
 * chunks, among the others in Azure's), whose value is not read, only checked to be a string with nothing escaped.
 */

/** Characters a JSON string holds as they are (no quote, backslash or control character), run from lastIndex. */
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

/** The same without surrogates: a run that JSON.stringify writes as it is, whatever string it came from. */
const PLAIN_TEXT_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;

/** Where the run of such characters starting at `from` ends. */
function plainRunEnd(s: string, from: number): number {
  PLAIN_RUN.lastIndex = from;
  PLAIN_RUN.test(s);
  return PLAIN_RUN.lastIndex;
}

/**
 * A string of its own, sharing no characters with the one it was sliced from: through UTF-8 and back, which keeps
 * one byte per character where the text allows it (a copy through UTF-16 bytes comes back two bytes wide, and the
 * prefix comparison with the one-byte text of an event then measured ~3x slower); a lone surrogate, which UTF-8
 * cannot carry, goes through JSON instead.
 */
function detached(s: string): string {
  const copy = utf8Decoder.decode(utf8Encoder.encode(s));
  return copy === s ? copy : (JSON.parse(JSON.stringify(s)) as string);
}
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A string member's value that needs no unescaping (what the varying member may hold). */
const SIMPLE_VALUE = /^[^"\\\u0000-\u001f]*$/;
/** The longest event a template is learnt from, in characters. */
export const MAX_TEMPLATE_CHARS = 64 * 1024;
/** Put where the text is when checking a template: a string no provider sends, with nothing to escape. */
const PROBE = '\u2063probe\u2063';

/** literalAt: the event does not begin as the template (or none is held). */
export const NO_PREFIX = -1;
/** literalAt: it begins as the template, but is not it with a literal as JSON.stringify writes it. */
export const NOT_CANONICAL = -2;

export interface EventTemplateOptions {
  /** The member whose string value is the text, as it appears before the literal: `"content":`. */
  key: string;
  /**
   * The format's check: `event` (the template parsed, with `text` in the text's place) is one the ordinary path
   * would read as nothing but that text. Returns the index that is part of the template's text (an Anthropic
   * block's, a tool call's; 0 where there is none), or null when it is not. Never given anything but what
   * JSON.parse returned.
   */
  plain(event: unknown, text: string): number | null;
  /**
   * A string member after the text whose value changes on every event and is never read: `obfuscation`. A plain
   * name (written as it is, not escaped).
   */
  varyingKey?: string;
  /** How many templates a stream may learn: a provider whose events never repeat stops costing a lookup (4). */
  maxLearnt?: number;
}

export class EventTemplate {
  private readonly key: string;
  private readonly plain: (event: unknown, text: string) => number | null;
  /** `"obfuscation":"`, or null. */
  private readonly varying: string | null;
  private readonly maxLearnt: number;
  private learnt = 0;
  /** Text before the literal; null: no template. */
  private prefix: string | null = null;
  /** Text after the literal: all of the rest, or with a varying member up to its value's opening quote. */
  private after = '';
  /** With a varying member: the text from its value's closing quote to the end; null without one. */
  private tail: string | null = null;
  /** What the format's check returned for the template held: the index written in its text. */
  index = 0;

  constructor(opt: EventTemplateOptions) {
    this.key = opt.key;
    this.plain = opt.plain;
    this.varying = opt.varyingKey === undefined ? null : `"${opt.varyingKey}":"`; // a plain name: nothing to escape
    this.maxLearnt = opt.maxLearnt ?? 4;
  }

  /** The text of `data` when it is the template with another text in it; undefined when it is not (read it whole). */
  match(data: string): string | undefined {
    const prefix = this.prefix;
    if (prefix === null || !data.startsWith(prefix)) return undefined;
    // one pass over the literal and the varying value, no copies: slices checked by regular expressions cost more
    // per chunk (~135 ns against ~80 for a token of a few characters)
    const n = data.length;
    const start = prefix.length;
    if (data.charCodeAt(start) !== 34 /* " */) return undefined;
    let escaped = false;
    let end = plainRunEnd(data, start + 1);
    if (data.charCodeAt(end) !== 34) {
      // an escape, a control character or the end of the data: character by character from there
      for (; end < n; end++) {
        const c = data.charCodeAt(end);
        if (c === 34) break;
        if (c === 92 /* \ */) { escaped = true; end++; continue; } // the escaped character is JSON.parse's to check
        if (c < 0x20) return undefined; // raw control characters are not JSON
      }
    }
    if (end >= n || !data.startsWith(this.after, end + 1)) return undefined;
    let rest = end + 1 + this.after.length;
    const tail = this.tail;
    if (tail !== null) {
      // the varying value: anything up to its closing quote but escapes and control characters, then the tail
      // (the tail begins with the value's closing quote)
      rest = plainRunEnd(data, rest);
      if (n - rest !== tail.length || !data.endsWith(tail)) return undefined;
    } else if (rest !== n) return undefined;
    if (!escaped) return data.slice(start + 1, end);
    // escapes: JSON.parse decides whether the literal is valid (a bad escape, an escaped control character)
    try {
      return JSON.parse(data.slice(start, end + 1)) as string; // quote to quote: a string, if valid
    } catch {
      return undefined;
    }
  }

  /**
   * Where the literal of the event `s[start, end)` closes, when that event is the template with a literal written
   * exactly as JSON.stringify writes the text match() would return: the literal, quotes included, can then stand for
   * that text as it is. JSON.stringify escapes `"`, `\` and control characters (`\b \f \n \r \t`, else `\u00xx`
   * in lower-case hex) and lone surrogates, and nothing else; a literal with any other escape (`\/`, `\u0041`, an
   * escaped pair) or a lone surrogate goes match()'s way. The text's length (UTF-16 units) is left in
   * `literalChars`; the literal opens at `start + literalOffset`. NO_PREFIX when the event does not start as the
   * template does (match() would not take it either); NOT_CANONICAL for any other event (match() may take it).
   * Reads `s` in place: no slice is made.
   */
  literalAt(s: string, start: number, end: number): number {
    const prefix = this.prefix;
    if (prefix === null || !s.startsWith(prefix, start)) return NO_PREFIX;
    const open = start + prefix.length;
    if (s.charCodeAt(open) !== 34 /* " */) return NOT_CANONICAL;
    let i = open + 1;
    let chars = 0;
    for (;;) {
      PLAIN_TEXT_RUN.lastIndex = i;
      PLAIN_TEXT_RUN.test(s);
      const j = PLAIN_TEXT_RUN.lastIndex;
      chars += j - i;
      i = j;
      const c = s.charCodeAt(i);
      if (c === 34) break;
      if (c === 92 /* \ */) {
        const e = s.charCodeAt(i + 1);
        if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) { i += 2; chars++; continue; }
        // \u00xx for a control character without a short form, lower-case hex
        if (e === 117 && s.charCodeAt(i + 2) === 48 && s.charCodeAt(i + 3) === 48) {
          const hi = s.charCodeAt(i + 4);
          const lo = s.charCodeAt(i + 5);
          const v = (hi === 48 ? 0 : hi === 49 ? 16 : -256) + (lo >= 48 && lo <= 57 ? lo - 48 : lo >= 97 && lo <= 102 ? lo - 87 : -256);
          if (v >= 0 && v !== 8 && v !== 9 && v !== 10 && v !== 12 && v !== 13) { i += 6; chars++; continue; }
        }
        return NOT_CANONICAL;
      }
      // a surrogate pair is written as it is; a lone surrogate, a control character or the end is not this
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { i += 2; chars += 2; continue; }
      }
      return NOT_CANONICAL;
    }
    const close = i;
    if (!s.startsWith(this.after, close + 1)) return NOT_CANONICAL;
    let rest = close + 1 + this.after.length;
    const tail = this.tail;
    if (tail !== null) {
      rest = plainRunEnd(s, rest);
      if (end - rest !== tail.length || !s.startsWith(tail, rest)) return NOT_CANONICAL;
    } else if (rest !== end) return NOT_CANONICAL;
    this.literalChars = chars;
    return close;
  }

  /** The length of the text of the literal literalAt took last (UTF-16 units, escapes decoded). */
  literalChars = 0;

  /** Where the literal opens in an event literalAt took, from the event's start: the prefix's length. */
  get literalOffset(): number {
    return this.prefix === null ? -1 : this.prefix.length;
  }

  /**
   * After the ordinary path read `data` as an event carrying only `text` (the format decides which): learn its
   * template, if the text can be found in it as JSON.stringify writes it and the format's check holds on the probe.
   * The template held until now is dropped either way.
   */
  learn(data: string, text: string): void {
    if (this.learnt >= this.maxLearnt) return;
    this.learnt++;
    this.prefix = null;
    // a streamed token's event is a few hundred characters; one far larger is not worth copying and holding
    if (data.length > MAX_TEMPLATE_CHARS) return;
    const literal = JSON.stringify(text);
    const at = data.lastIndexOf(this.key + literal);
    if (at === -1) return; // written some other way (other escapes, a space after the colon): not learnt
    const start = at + this.key.length;
    const prefix = data.slice(0, start);
    let after = data.slice(start + literal.length);
    let tail: string | null = null;
    if (this.varying !== null) {
      const v = after.lastIndexOf(this.varying);
      const valueEnd = v === -1 ? -1 : after.indexOf('"', v + this.varying.length);
      if (valueEnd !== -1 && SIMPLE_VALUE.test(after.slice(v + this.varying.length, valueEnd))) {
        tail = after.slice(valueEnd);
        after = after.slice(0, v + this.varying.length);
      }
    }
    let probe: unknown;
    try {
      probe = JSON.parse(`${prefix}"${PROBE}"${after}${tail === null ? '' : `x${tail}`}`);
    } catch {
      return;
    }
    const index = this.plain(probe, PROBE);
    if (index === null) return;
    this.index = index;
    // copies: a slice of `data` keeps the whole text of the read it came from alive (the engine shares the
    // characters of a long slice), for as long as the stream lasts
    this.prefix = detached(prefix);
    this.after = detached(after);
    this.tail = tail === null ? null : detached(tail);
  }

  /** Whether a template is held. */
  get ready(): boolean {
    return this.prefix !== null;
  }

  /** Whether another template may still be learnt. */
  get learning(): boolean {
    return this.learnt < this.maxLearnt;
  }
}
