/**
 * @module formats/openai-chat/foreign-tool-id
 * A provider's tool-call id that Anthropic would refuse, carried through the client within Anthropic's pattern.
 *
 * Anthropic takes a `tool_use` id and a `tool_result`'s `tool_use_id` of `^[a-zA-Z0-9_-]+$` only (400 "messages.1.
 * content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"). Some OpenAI-compatible providers name
 * their calls outside it: Kimi K2 `functions.Read:0`, as SGLang's and vLLM's kimi_k2 parsers write them
 * (sgl-project/sglang#9606). A Messages client keeps the id it was given and sends it with every later turn, to
 * whatever channel serves the conversation then; so such an id reaches the client as `tid_<its UTF-8, base64url>`,
 * which Anthropic takes, and is read back into the provider's own id, byte for byte, when the conversation goes to an
 * openai channel again (request-from-hub.ts, `tool_calls[].id` and `tool_call_id` alike): Kimi gets its ids back,
 * and its prompt cache its prefix. No state is kept in the gateway. An id already within the pattern goes as it is.
 *
 * An id that only looks like one of these is left alone: the payload must be canonical base64url of well-formed
 * UTF-8 that is itself outside the pattern (this module never encodes any other). A provider id that is not
 * well-formed UTF-16 (a lone surrogate) has no UTF-8 to carry and goes as it is (pipeline/tool-ids.ts repairs it for
 * an anthropic channel). With a thought signature (thought-signature.ts) the encoded id is the one it carries.
 */

const PREFIX = 'tid_';
const ID_PATTERN = /^[a-zA-Z0-9_-]+$/;

/** The id the client sees for a provider's tool-call id: the id itself when Anthropic takes it, else `tid_…`. */
export function clientToolId(upstreamId: string): string {
  if (ID_PATTERN.test(upstreamId) || upstreamId === '') return upstreamId;
  const bytes = Buffer.from(upstreamId, 'utf8');
  // a lone surrogate becomes U+FFFD in UTF-8: that id could not come back as it was
  if (bytes.toString('utf8') !== upstreamId) return upstreamId;
  return PREFIX + bytes.toString('base64url');
}

/** The provider's id a client's tool_use id carries (clientToolId), or null for any other id. */
export function readClientToolId(id: string): string | null {
  if (!id.startsWith(PREFIX) || id.length === PREFIX.length || !ID_PATTERN.test(id)) return null;
  const payload = id.slice(PREFIX.length);
  const bytes = Buffer.from(payload, 'base64url');
  // written by clientToolId, or not ours: canonical base64url of well-formed UTF-8 that is outside the pattern
  if (bytes.toString('base64url') !== payload) return null;
  const upstreamId = bytes.toString('utf8');
  if (Buffer.from(upstreamId, 'utf8').toString('base64url') !== payload || ID_PATTERN.test(upstreamId)) return null;
  return upstreamId;
}
