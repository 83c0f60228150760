/**
 * @module util/json-prefix
 * Streamed JSON checked as it arrives: how much of each piece keeps the text a valid prefix of one JSON object, when
 * that object is complete, and what would complete a prefix that went wrong part way. For tool-call arguments a
 * provider streams (formats/openai-chat/stream-to-hub.ts): the Anthropic SDKs parse the `input_json_delta`s of a
 * block as they come and throw at the first byte that cannot belong to JSON, so none may reach the client.
 */

const enum Mode {
  /** Before the object: whitespace, then `{`. */
  Start,
  /** After `{`: a key or `}`. */
  FirstKey,
  /** After `,` in an object: a key. */
  Key,
  /** After a key: `:`. */
  Colon,
  /** After `:` or `,` in an array: a value. */
  Value,
  /** After `[`: a value or `]`. */
  FirstValue,
  /** After a value: `,` or the container's close. */
  AfterValue,
  InString,
  /** After a backslash in a string. */
  Escape,
  /** In `\uXXXX`: `hex` digits read. */
  Unicode,
  /** In `true`, `false` or `null`: `literal` is the word, `litPos` how much of it was read. */
  Literal,
  /** In a number: `num` says where. */
  Number,
  Done,
}

const enum Num { Minus, Zero, Int, Dot, Frac, E, ESign, Exp }

const OBJECT = 123; // {
const ARRAY = 91; // [

const isDigit = (c: number) => c >= 48 && c <= 57;
const CONTROL_ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
const escapeControl = (c: number) => CONTROL_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;
const isHex = (c: number) => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

export class JsonPrefix {
  /** The object closed: nothing after it belongs to it. */
  complete = false;
  /** A character that cannot continue valid JSON was offered (and refused): nothing more is taken. */
  broken = false;
  /** Characters taken so far. */
  accepted = 0;
  /**
   * What the last push() took, as it should be sent: a control character inside a string (a raw line break, which
   * some models write and JSON does not allow there) escaped (`\n`, `\u0001`), everything else as it came.
   */
  lastTaken = '';
  /** The character just taken is a raw control character inside a string (written escaped in lastTaken). */
  private control = false;
  private mode = Mode.Start;
  /** Open containers, innermost last: `{` or `[`. */
  private stack = '';
  private key = false;
  private hex = 0;
  private literal = '';
  private litPos = 0;
  private num = Num.Minus;

  /** Nothing more will be taken: complete or broken. */
  get settled(): boolean { return this.complete || this.broken; }

  /**
   * Takes as much of `s` as continues the object, and returns how much that is: all of it, or up to the object's end,
   * or up to the first character that cannot belong to it (then `broken`).
   */
  push(s: string): number {
    this.lastTaken = '';
    if (this.complete || this.broken) return 0;
    let i = 0;
    let from = 0;
    let escaped = '';
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (!this.step(c)) { this.broken = true; break; }
      if (this.control) {
        this.control = false;
        escaped += s.slice(from, i) + escapeControl(c);
        from = i + 1;
      }
      if (this.complete) { i++; break; }
    }
    this.accepted += i;
    this.lastTaken = from === 0 ? (i === s.length ? s : s.slice(0, i)) : escaped + s.slice(from, i);
    return i;
  }

  /**
   * What completes what was taken into one valid object: an open string closed, a key given `null`, a number or word
   * finished, open containers closed. '' when complete; `{}` when nothing but whitespace was taken.
   */
  closing(): string {
    if (this.complete) return '';
    let out = '';
    switch (this.mode) {
      case Mode.Start: return '{}';
      case Mode.Escape: out = '\\"'; break; // the backslash escaped, then the string closed
      case Mode.Unicode: out = `${'0'.repeat(4 - this.hex)}"`; break;
      case Mode.InString: out = '"'; break;
      case Mode.Literal: out = this.literal.slice(this.litPos); break;
      case Mode.Number: out = this.num === Num.Minus || this.num === Num.Dot || this.num === Num.E || this.num === Num.ESign ? '0' : ''; break;
      case Mode.Colon: out = ':null'; break;
      case Mode.Value: out = 'null'; break;
      case Mode.Key: out = '"":null'; break;
      default: break;
    }
    if ((this.mode === Mode.InString || this.mode === Mode.Escape || this.mode === Mode.Unicode) && this.key) out += ':null';
    for (let i = this.stack.length - 1; i >= 0; i--) out += this.stack.charCodeAt(i) === OBJECT ? '}' : ']';
    return out;
  }

  /** One character: false if it cannot continue the object. */
  private step(c: number): boolean {
    switch (this.mode) {
      case Mode.Start:
        if (isWs(c)) return true;
        if (c !== OBJECT) return false;
        this.open(OBJECT);
        return true;
      case Mode.FirstKey:
        if (isWs(c)) return true;
        if (c === 125 /* } */) return this.close(OBJECT);
        if (c !== 34 /* " */) return false;
        this.string(true);
        return true;
      case Mode.Key:
        if (isWs(c)) return true;
        if (c !== 34) return false;
        this.string(true);
        return true;
      case Mode.Colon:
        if (isWs(c)) return true;
        if (c !== 58 /* : */) return false;
        this.mode = Mode.Value;
        return true;
      case Mode.FirstValue:
        if (c === 93 /* ] */) return this.close(ARRAY);
        return this.value(c);
      case Mode.Value:
        return this.value(c);
      case Mode.AfterValue:
        return this.afterValue(c);
      case Mode.InString:
        if (c === 34) { this.mode = this.key ? Mode.Colon : Mode.AfterValue; return true; }
        if (c === 92 /* \ */) { this.mode = Mode.Escape; return true; }
        if (c < 0x20) this.control = true; // taken, and written escaped (lastTaken)
        return true;
      case Mode.Escape:
        if (c === 117 /* u */) { this.mode = Mode.Unicode; this.hex = 0; return true; }
        if (c === 34 || c === 92 || c === 47 || c === 98 || c === 102 || c === 110 || c === 114 || c === 116) { this.mode = Mode.InString; return true; }
        return false;
      case Mode.Unicode:
        if (!isHex(c)) return false;
        if (++this.hex === 4) this.mode = Mode.InString;
        return true;
      case Mode.Literal:
        if (c !== this.literal.charCodeAt(this.litPos)) return false;
        if (++this.litPos === this.literal.length) this.mode = Mode.AfterValue;
        return true;
      case Mode.Number:
        return this.number(c);
      case Mode.Done:
        return false;
    }
  }

  private value(c: number): boolean {
    if (isWs(c)) return true;
    if (c === 34) { this.string(false); return true; }
    if (c === OBJECT || c === ARRAY) { this.open(c); return true; }
    if (c === 45 /* - */) { this.mode = Mode.Number; this.num = Num.Minus; return true; }
    if (isDigit(c)) { this.mode = Mode.Number; this.num = c === 48 ? Num.Zero : Num.Int; return true; }
    const word = c === 116 ? 'true' : c === 102 ? 'false' : c === 110 ? 'null' : '';
    if (!word) return false;
    this.mode = Mode.Literal;
    this.literal = word;
    this.litPos = 1;
    return true;
  }

  private afterValue(c: number): boolean {
    if (isWs(c)) return true;
    const top = this.stack.charCodeAt(this.stack.length - 1);
    if (c === 44 /* , */) { this.mode = top === OBJECT ? Mode.Key : Mode.Value; return true; }
    if (c === 125) return this.close(OBJECT);
    if (c === 93) return this.close(ARRAY);
    return false;
  }

  private number(c: number): boolean {
    switch (this.num) {
      case Num.Minus:
        if (!isDigit(c)) return false;
        this.num = c === 48 ? Num.Zero : Num.Int;
        return true;
      case Num.Int:
      case Num.Zero:
        if (this.num === Num.Int && isDigit(c)) return true;
        if (c === 46 /* . */) { this.num = Num.Dot; return true; }
        if (c === 101 || c === 69 /* e E */) { this.num = Num.E; return true; }
        break;
      case Num.Dot:
        if (!isDigit(c)) return false;
        this.num = Num.Frac;
        return true;
      case Num.Frac:
        if (isDigit(c)) return true;
        if (c === 101 || c === 69) { this.num = Num.E; return true; }
        break;
      case Num.E:
        if (c === 43 || c === 45 /* + - */) { this.num = Num.ESign; return true; }
        if (!isDigit(c)) return false;
        this.num = Num.Exp;
        return true;
      case Num.ESign:
        if (!isDigit(c)) return false;
        this.num = Num.Exp;
        return true;
      case Num.Exp:
        if (isDigit(c)) return true;
        break;
    }
    // the number ended at a character of what follows it
    this.mode = Mode.AfterValue;
    return this.afterValue(c);
  }

  private string(key: boolean): void {
    this.mode = Mode.InString;
    this.key = key;
  }

  private open(c: number): void {
    this.stack += c === OBJECT ? '{' : '[';
    this.mode = c === OBJECT ? Mode.FirstKey : Mode.FirstValue;
  }

  private close(c: number): boolean {
    if (this.stack.charCodeAt(this.stack.length - 1) !== c) return false;
    this.stack = this.stack.slice(0, -1);
    if (this.stack.length === 0) { this.mode = Mode.Done; this.complete = true; }
    else this.mode = Mode.AfterValue;
    return true;
  }
}
