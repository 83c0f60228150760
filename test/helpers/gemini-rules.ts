/**
 * @module test/helpers/gemini-rules
 * Gemini 3's thought-signature rule, as its OpenAI-compatible endpoint enforces it: a function call in the history
 * must carry back, as `extra_content.google.thought_signature`, the signature Gemini gave it; the first function call
 * of a model turn must carry one (a real one, or the dummy Google documents for histories Gemini did not write);
 * otherwise 400 "Function call `X` in the `N.` content block is missing a `thought_signature`"
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). A mock that gives signatures records them here.
 */

export const GEMINI_DUMMY_SIGNATURE = 'skip_thought_signature_validator';

/** Signatures a mock gave, by the call id it gave with them. */
export type GivenSignatures = Map<string, string>;

/** What is wrong with a request's history by Gemini 3's rule, in Gemini's words; null when nothing is. */
export function geminiSignatureProblem(body: any, given: GivenSignatures): string | null {
  // Gemini's contents are the messages without the system instruction
  const contents: any[] = (body?.messages ?? []).filter((m: any) => m.role !== 'system');
  for (let n = 0; n < contents.length; n++) {
    const m = contents[n];
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    for (let k = 0; k < m.tool_calls.length; k++) {
      const call = m.tool_calls[k];
      const sig = call?.extra_content?.google?.thought_signature;
      const want = given.get(call?.id);
      const missing = want !== undefined ? sig !== want : k === 0 && typeof sig !== 'string';
      if (missing) return `Function call \`${call?.function?.name}\` in the \`${n + 1}.\` content block is missing a \`thought_signature\`. For more information, refer to the documentation at https://ai.google.dev/gemini-api/docs/thought-signatures.`;
    }
  }
  return null;
}

/** Gemini's 400 for a request that breaks the rule, or null. */
export function geminiSignatureRefusal(body: any, given: GivenSignatures): Response | null {
  const message = geminiSignatureProblem(body, given);
  if (message === null) return null;
  return Response.json({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }, { status: 400 });
}
