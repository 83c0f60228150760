/**
 * @module routing/fallback
 * When a failed attempt may move on to the next candidate. Only before the first byte reached the client.
 * Retryable: connection errors, timeouts, 408, 409 (Anthropic's lock conflicts), 429, 5xx, 529, and 401, 402 and 403:
 * the gateway sends the channel's own key (the client's was checked here and never goes upstream), so these say the
 * channel's key or account is refused (revoked, out of credit, no access to the model), which another channel may
 * not be. And 404: the client named a model this gateway serves, so a 404 says the channel does not have it (a model
 * retired, or not enabled for that account; a wrong base_url), which another channel may. Other 4xx are the client's
 * problem and are returned as they are.
 */

/** A status after which the next candidate is tried. */
export function isRetryableStatus(status: number): boolean {
  return isChannelFailureStatus(status) || status === 404;
}

/**
 * A status counted against the channel's circuit (routing/circuit.ts). Not 404: one model missing says nothing of
 * the others the channel serves (the channel answered).
 */
export function isChannelFailureStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500 || isChannelAccountStatus(status);
}

/** 401, 402, 403 from an upstream: the channel's key or account refused, not the client's (see above). */
export function isChannelAccountStatus(status: number): boolean {
  return status === 401 || status === 402 || status === 403;
}

/** Delay asked for by `retry-after-ms` / `retry-after` (seconds or HTTP date), in ms; null when absent or unparseable. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const ra = headers.get('retry-after');
  if (ra === null) return null;
  const t = ra.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.ceil(Number(t) * 1000);
  const date = Date.parse(t);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
