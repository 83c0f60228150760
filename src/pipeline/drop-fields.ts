/**
 * @module pipeline/drop-fields
 * A channel's `drop_fields` (README: "channels[]"): top-level request fields left out before the request goes upstream.
 * Anthropic-compatible endpoints (Bedrock or Vertex behind LiteLLM, DeepSeek's, Z.ai's, Kimi's) answer 400 to fields
 * they do not know ("context_management: Extra inputs are not permitted": anthropics/claude-code#49548,
 * BerriAI/litellm#27532), and Claude Code sends `context_management`, `output_config` and adaptive `thinking` with every
 * request, with no setting to stop it. A relayed body loses them at the byte level (util/json.ts: dropMembers; the rest
 * byte for byte), a translated one from the object its translation built, before it is encoded. What was there and
 * left out is named, as a translation names what it cannot carry: `context_management (channel drop_fields)`.
 */
import { dropMembers, scanTopLevel } from '../util/json.ts';
import type { Inbound } from './inbound.ts';

/** How a field left out by the channel's setting is named in `x-switchboard-dropped` and the log line's `dropped`. */
export const droppedByChannel = (field: string) => `${field} (channel drop_fields)`;

/**
 * The client's body as it goes to the channel: without `fields`, the model rewritten to `upstreamModel`, both in one
 * copy. A small body (parsed, not scanned: pipeline/inbound.ts) is scanned here, only for a channel that drops fields.
 * `dropped`: what was left out, named; `bytes` is the client's very buffer when nothing changes.
 */
export function relayedWithout(inbound: Inbound, fields: readonly string[], upstreamModel: string): { bytes: Uint8Array; dropped: string[] } {
  const keys = inbound.keys ?? scanTopLevel(inbound.bytes);
  // not reached: a body read in full is one JSON object, which scans (should it not, it goes as the client sent it)
  if (!keys) return { bytes: inbound.bytes, dropped: [] };
  const { bytes, removed } = dropMembers(inbound.bytes, fields, keys, upstreamModel === inbound.model ? undefined : upstreamModel);
  return { bytes, dropped: removed.map(droppedByChannel) };
}

/** `body` (a request built for the channel, ours to change) without `fields`; what was there is added to `dropped`. */
export function dropFromBody(body: Record<string, unknown>, fields: readonly string[], dropped: string[]) {
  for (const f of fields) {
    if (!Object.hasOwn(body, f)) continue;
    delete body[f];
    dropped.push(droppedByChannel(f));
  }
}
