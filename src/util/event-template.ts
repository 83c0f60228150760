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

/** A JSON string literal with nothing escaped in it: its text is what lies between the quotes. */
const SIMPLE_LITERAL = /^"[^"\\\u0000-\u001f]*"$/;
/** A string member's value that needs no unescaping (what the varying member may hold). */
const SIMPLE_VALUE = /^[^"\\\u0000-\u001f]*$/;
/** Put where the text is when checking a template: a string no provider sends, with nothing to escape. */
const PROBE = '\u2063probe\u2063';

export interface EventTemplateOptions {
  /** The member whose string value is the text, as it appears before the literal: `"content":`. */
  key: string;
  /**
   * The format's check: `event` (the template parsed, with `text` in the text's place) is one the ordinary path
   * would read as nothing but that text. Never given anything but what JSON.parse returned.
   */
  plain(event: unknown, text: string): boolean;
  /** A trailing string member whose value changes on every event and is never read: `obfuscation`. */
  varyingKey?: string;
  /** How many templates a stream may learn: a provider whose events never repeat stops costing a lookup (4). */
  maxLearnt?: number;
}

export class EventTemplate {
  private readonly key: string;
  private readonly plain: (event: unknown, text: string) => boolean;
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

  constructor(opt: EventTemplateOptions) {
    this.key = opt.key;
    this.plain = opt.plain;
    this.varying = opt.varyingKey === undefined ? null : `${JSON.stringify(opt.varyingKey)}:"`;
    this.maxLearnt = opt.maxLearnt ?? 4;
  }

  /** The text of `data` when it is the template with another text in it; undefined when it is not (read it whole). */
  match(data: string): string | undefined {
    const prefix = this.prefix;
    if (prefix === null || !data.startsWith(prefix)) return undefined;
    let end: number;
    if (this.tail !== null) {
      // PREFIX "text" AFTER value TAIL: AFTER holds unescaped quotes and the value none, so the last AFTER that ends
      // before TAIL is the one that follows the literal (a string literal cannot hold an unescaped quote)
      if (!data.endsWith(this.tail)) return undefined;
      const valueEnd = data.length - this.tail.length;
      end = data.lastIndexOf(this.after, valueEnd - this.after.length);
      if (end < prefix.length || !SIMPLE_VALUE.test(data.slice(end + this.after.length, valueEnd))) return undefined;
    } else {
      if (!data.endsWith(this.after)) return undefined;
      end = data.length - this.after.length;
    }
    if (end - prefix.length < 2) return undefined;
    const literal = data.slice(prefix.length, end);
    if (SIMPLE_LITERAL.test(literal)) return literal.slice(1, -1);
    if (literal.charCodeAt(0) !== 34 || literal.indexOf('\\') === -1) return undefined;
    // escapes: JSON.parse decides whether this is one valid literal (a quote escaped or not, a bad escape)
    try {
      const text: unknown = JSON.parse(literal);
      return typeof text === 'string' ? text : undefined;
    } catch {
      return undefined;
    }
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
    if (!this.plain(probe, PROBE)) return;
    this.prefix = prefix;
    this.after = after;
    this.tail = tail;
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
