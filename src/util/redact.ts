/**
 * @module util/redact
 * Credentials out of text an upstream wrote (an error message echoing the key it was given) before it reaches a
 * client or a log.
 */

/**
 * Mask anything that looks like a credential before the message reaches a client or a log: provider keys
 * (`sk-…`, `gsk_…`, `xai-…`, `hf_…`, `AIza…`), bearer tokens, and `key=` query parameters echoed back in URLs.
 */
export function redactSecrets(s: string): string {
  return s
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1[redacted]')
    .replace(/\b(sk|rk|pk|gsk|xai|csk|hf|sk-or|sk-ant)[-_][A-Za-z0-9_*.-]{8,}/g, '[redacted]')
    .replace(/\bAIza[0-9A-Za-z_-]{20,}/g, '[redacted]')
    .replace(/([?&](?:key|api_key|api-key|access_token)=)[^&\s"']+/gi, '$1[redacted]');
}

/** A channel's credentials (channels/shared/upstream-headers.ts: channelSecrets), or one of them. */
export type Secrets = string | readonly string[] | undefined;

const each = (keys: Secrets): readonly string[] => (keys === undefined ? [] : typeof keys === 'string' ? [keys] : keys);

/** `keys` (a channel's own credentials, each of 8 characters or more) masked wherever they occur in `s`. */
export function redactKey(s: string, keys: Secrets): string {
  for (const key of each(keys)) if (key.length >= 8 && s.includes(key)) s = s.replaceAll(key, '[redacted]');
  return s;
}

/**
 * `keys` masked in `bytes` wherever their UTF-8 bytes occur, every other byte as it was (a relayed body need not be
 * UTF-8): the same array when no key is there or each is shorter than 8 characters.
 */
export function redactKeyBytes(bytes: Uint8Array, keys: Secrets): Uint8Array {
  for (const key of each(keys)) bytes = redactOne(bytes, key);
  return bytes;
}

function redactOne(bytes: Uint8Array, key: string): Uint8Array {
  if (key.length < 8) return bytes;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const needle = Buffer.from(key, 'utf8');
  let at = buf.indexOf(needle);
  if (at < 0) return bytes;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (; at >= 0; at = buf.indexOf(needle, from)) {
    parts.push(buf.subarray(from, at), REDACTED);
    from = at + needle.length;
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

const REDACTED = Buffer.from('[redacted]');
