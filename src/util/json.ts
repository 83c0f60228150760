/**
 * @module util/json
 * Byte-level helpers for passthrough: change the top-level `model` of a JSON body without re-serialising
 * the rest (STYLE rule 7), so every other byte reaches the upstream as the client sent it.
 */

/**
 * Find the value span of the top-level `"model"` string in a JSON object text.
 * Returns [start, end) of the string literal including quotes, or null.
 */
export function findTopLevelModel(text: string): [number, number] | null {
  let depth = 0;
  let i = 0;
  const n = text.length;
  let expectKey = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = stringEnd(text, i);
      if (end < 0) return null;
      if (depth === 1 && expectKey) {
        // a key at the top level: is it "model"?
        if (end - i === 7 && text.startsWith('"model"', i)) {
          let j = end;
          while (j < n && isWs(text.charCodeAt(j))) j++;
          if (text.charCodeAt(j) !== 58 /* : */) return null;
          j++;
          while (j < n && isWs(text.charCodeAt(j))) j++;
          if (text.charCodeAt(j) !== 34) return null;
          const vEnd = stringEnd(text, j);
          return vEnd < 0 ? null : [j, vEnd];
        }
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) { depth++; if (depth === 1) expectKey = true; }
    else if (c === 125 || c === 93) depth--;
    else if (c === 44 /* , */ && depth === 1) expectKey = true;
    i++;
  }
  return null;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Index just past the closing quote of the string starting at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    let bs = 0;
    for (let k = q - 1; k > start && text.charCodeAt(k) === 92; k--) bs++;
    if (bs % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** The body with its top-level model replaced (bytes elsewhere untouched); the original when absent. */
export function rewriteModel(bytes: Uint8Array, text: string, model: string): Uint8Array | string {
  const span = findTopLevelModel(text);
  if (!span) return bytes;
  return text.slice(0, span[0]) + JSON.stringify(model) + text.slice(span[1]);
}
