/**
 * @module routing/circuit
 * Per-channel circuit breaker: after `failures` consecutive failures a channel is skipped for `cooldownMs`,
 * then one request is let through (half-open) while the others still skip it; that probe's success closes it (any
 * answer that is not a failure: a 2xx, or a 4xx that is the request's own fault), its failure opens it again. A probe
 * that never reports (its request was cancelled) gives way to another after `cooldownMs`. The probe is claimed when
 * an attempt on the channel starts (`admit`), not when candidates are listed (`isOpen`), and given back by one that is
 * refused before it is sent (`withdraw`).
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
   * True when the channel should be skipped now: open, or probed by another request. False for a closed channel and
   * for one whose cool-down is over (it may be probed: `admit` claims that). Asking changes nothing.
   */
  isOpen(channel: string): boolean {
    const s = this.states.get(channel);
    if (!s) return false;
    const now = this.now();
    return now < s.openUntil || now < s.probeUntil;
  }

  /**
   * Asked as an attempt on the channel starts: true for a closed channel, and for the one request that gets to probe
   * a channel whose cool-down (or a lost probe's wait) is over; false when it is open or another request probes it.
   */
  admit(channel: string): boolean {
    const s = this.states.get(channel);
    if (!s || (s.openUntil === 0 && s.probeUntil === 0)) return true;
    const now = this.now();
    if (now < s.openUntil || now < s.probeUntil) return false;
    // this attempt probes; one more failure re-opens at once
    s.openUntil = 0;
    s.probeUntil = now + this.cooldownMs;
    s.failures = this.failures - 1;
    return true;
  }

  /**
   * An attempt `admit` let through that was never sent (the request refused before it left: its translation failed
   * on the client's fault): a probe it claimed goes back, so the next attempt may make it at once. Nothing changes for
   * a closed channel. Called right after `admit`, with nothing awaited between: a probe out is this attempt's.
   */
  withdraw(channel: string): void {
    const s = this.states.get(channel);
    if (!s || s.probeUntil === 0) return;
    // open until the moment the probe was claimed: over, so the next `admit` probes
    s.openUntil = s.probeUntil - this.cooldownMs;
    s.probeUntil = 0;
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
