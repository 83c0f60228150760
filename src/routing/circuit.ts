/**
 * @module routing/circuit
 * Per-channel circuit breaker: after `failures` consecutive failures a channel is skipped for `cooldownMs`,
 * then one request is let through (half-open); a success closes it, a failure opens it again.
 * In-memory, per instance: each instance learns from the failures it sees.
 */

interface State { failures: number; openUntil: number }

export class CircuitBreaker {
  private readonly states = new Map<string, State>();
  constructor(private readonly failures: number, private readonly cooldownMs: number, private readonly now: () => number = Date.now) {}

  /** True when the channel should be skipped now. */
  isOpen(channel: string): boolean {
    const s = this.states.get(channel);
    if (!s || s.openUntil === 0) return false;
    if (this.now() >= s.openUntil) {
      // half-open: let the next attempt through; one more failure re-opens at once
      s.openUntil = 0;
      s.failures = this.failures - 1;
      return false;
    }
    return true;
  }

  success(channel: string): void {
    const s = this.states.get(channel);
    if (s) { s.failures = 0; s.openUntil = 0; }
  }

  failure(channel: string): void {
    let s = this.states.get(channel);
    if (!s) this.states.set(channel, (s = { failures: 0, openUntil: 0 }));
    s.failures++;
    if (s.failures >= this.failures) s.openUntil = this.now() + this.cooldownMs;
  }

  snapshot(): Record<string, { failures: number; open: boolean }> {
    const out: Record<string, { failures: number; open: boolean }> = {};
    for (const [k, s] of this.states) out[k] = { failures: s.failures, open: s.openUntil > this.now() };
    return out;
  }
}
