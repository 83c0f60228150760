/**
 * @module routing/circuit
 * Per-channel circuit breaker: after `failures` consecutive failures a channel is skipped for `cooldownMs`,
 * then one request is let through (half-open) while the others still skip it; that probe's success closes it, its
 * failure opens it again. A probe that never reports (its request was cancelled, or it was a later candidate that
 * an earlier channel's answer made unnecessary) gives way to another after `cooldownMs`.
 * In-memory, per instance: each instance learns from the failures it sees.
 */

interface State {
  failures: number;
  /** Skipped until then (0: not open). */
  openUntil: number;
  /** A probe is out until then (0: none): others skip the channel meanwhile. */
  probeUntil: number;
}

export class CircuitBreaker {
  private readonly states = new Map<string, State>();
  constructor(private readonly failures: number, private readonly cooldownMs: number, private readonly now: () => number = Date.now) {}

  /**
   * True when the channel should be skipped now. False for a closed channel, and for the one caller that gets to
   * probe a channel whose cool-down is over (asking is claiming: ask only for a channel that will be tried).
   */
  isOpen(channel: string): boolean {
    const s = this.states.get(channel);
    if (!s || (s.openUntil === 0 && s.probeUntil === 0)) return false;
    const now = this.now();
    if (now < s.openUntil || now < s.probeUntil) return true;
    // the cool-down (or a lost probe's wait) is over: this caller probes; one more failure re-opens at once
    s.openUntil = 0;
    s.probeUntil = now + this.cooldownMs;
    s.failures = this.failures - 1;
    return false;
  }

  success(channel: string): void {
    const s = this.states.get(channel);
    if (s) { s.failures = 0; s.openUntil = 0; s.probeUntil = 0; }
  }

  failure(channel: string): void {
    let s = this.states.get(channel);
    if (!s) this.states.set(channel, (s = { failures: 0, openUntil: 0, probeUntil: 0 }));
    s.failures++;
    s.probeUntil = 0;
    if (s.failures >= this.failures) s.openUntil = this.now() + this.cooldownMs;
  }

  snapshot(): Record<string, { failures: number; open: boolean }> {
    const out: Record<string, { failures: number; open: boolean }> = {};
    const now = this.now();
    for (const [k, s] of this.states) out[k] = { failures: s.failures, open: s.openUntil > now || s.probeUntil > now };
    return out;
  }
}
