/**
 * @module formats/openai-chat/thought-signature
 * Gemini's thought signatures carried through the client, in the tool_use id (quirks.thought_signatures).
 *
 * Gemini 3 answers a function call with a signature (`tool_calls[i].extra_content.google.thought_signature` on its
 * OpenAI-compatible endpoint) and refuses a later request whose history holds that call without it (400 "Function
 * call `X` in the `N.` content block is missing a `thought_signature`"): "pass it back exactly as received"
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). An Anthropic tool_use block has nowhere to keep it but
 * its `id`, which every client sends back (the assistant turn replayed, and `tool_result.tool_use_id`), so the id the
 * client sees is `tsig_<form><length>_<signature, base64url><the provider's own id>`: within Anthropic's id pattern
 * `^[a-zA-Z0-9_-]+$`, and read back into the provider's id and the signature when the conversation goes upstream
 * again. No state is kept in the gateway. Form `b`: the signature was canonical base64 (Gemini's are), its bytes
 * are written as base64url (a quarter shorter); form `u`: any other string, its UTF-8 as base64url. The length
 * tells where the signature ends, since every character Anthropic allows in an id is also a base64url character.
 */

/** The dummy Google documents for function calls whose signature is not known (a history from another model). */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

const PREFIX = 'tsig_';
const SIGNED = /^tsig_([bu])([1-9][0-9]{0,6})_/;
const ID_PATTERN = /^[a-zA-Z0-9_-]+$/;

/** The id the client sees for a call the provider signed: the signature and the provider's id, reversibly. */
export function signedToolId(signature: string, upstreamId: string): string {
  const bytes = Buffer.from(signature, 'base64');
  const canonical = bytes.toString('base64') === signature;
  const payload = canonical ? bytes.toString('base64url') : Buffer.from(signature, 'utf8').toString('base64url');
  if (payload === '') return upstreamId;
  return `${PREFIX}${canonical ? 'b' : 'u'}${payload.length}_${payload}${upstreamId}`;
}

/** The provider's id and signature a client's tool_use id carries (signedToolId), or null for any other id. */
export function readSignedToolId(id: string): { id: string; signature: string } | null {
  if (!id.startsWith(PREFIX)) return null;
  const m = SIGNED.exec(id);
  if (!m) return null;
  const start = m[0].length;
  const length = Number(m[2]);
  const upstreamId = id.slice(start + length);
  if (upstreamId === '' || !ID_PATTERN.test(id)) return null;
  const payload = id.slice(start, start + length);
  const bytes = Buffer.from(payload, 'base64url');
  // written by signedToolId, or not ours: a payload that does not come back the same is not taken for a signature
  if (bytes.toString('base64url') !== payload) return null;
  return { id: upstreamId, signature: m[1] === 'b' ? bytes.toString('base64') : bytes.toString('utf8') };
}

/** `extra_content.google.thought_signature` of a tool call, a delta or a message; '' when it has none. */
export function thoughtSignatureOf(x: { extra_content?: unknown }): string {
  const extra = x.extra_content as { google?: { thought_signature?: unknown } } | null | undefined;
  const sig = typeof extra === 'object' && extra !== null ? extra.google?.thought_signature : undefined;
  return typeof sig === 'string' ? sig : '';
}
