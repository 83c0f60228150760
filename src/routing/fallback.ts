/**
 * @module routing/fallback
 * When a failed attempt may move on to the next candidate. Only before the first byte reached the client.
 * Retryable: connection errors, timeouts, 408, 409 (Anthropic's lock conflicts), 429, 5xx, 529.
 * Other 4xx are the client's problem and are returned as they are.
 */

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
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
