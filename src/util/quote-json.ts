/**
 * @module util/quote-json
 * A string as a JSON string literal, for the stream events a translation writes from a template.
 */
/**
 * `JSON.stringify(s)` for a string, the same bytes: a short string with nothing to escape (a streamed token, most of
 * a translated stream's text) is quoted as it is, ~2.5x faster than JSON.stringify's call (16-19 vs 43-47 ns,
 * bun); anything else, and long text, goes to JSON.stringify (whose native scan wins on length).
 */
export function quoteJson(s: string): string {
  if (s.length > 64) return JSON.stringify(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // control characters, quote, backslash; surrogates (a lone one is escaped by JSON.stringify)
    if (c < 0x20 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}
