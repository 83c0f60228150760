/**
 * @module routing/table
 * The routing table, built once from config: exposed model name → channels that serve it, with the upstream name.
 * Exact names win over patterns (`claude-*`); a pattern sends the requested name upstream unchanged, or the one
 * upstream name a map gives it (`{"claude-*": "deepseek-chat"}`).
 */
import type { Channel } from '../channels/types.ts';
import { globMatch } from '../util/glob.ts';

export interface Route {
  channel: Channel;
  upstreamModel: string;
  priority: number;
  weight: number;
}

/** `upstream` null: the requested name goes upstream (a listed pattern, or one mapped to itself). */
interface PatternRoute { pattern: string; upstream: string | null; channel: Channel; priority: number; weight: number }

export class RoutingTable {
  private readonly exact = new Map<string, Route[]>();
  private readonly patterns: PatternRoute[] = [];

  constructor(channels: Channel[]) {
    for (const channel of channels) {
      const { models, priority, weight } = channel.config;
      const entries: Array<[string, string]> = Array.isArray(models) ? models.map((m) => [m, m]) : Object.entries(models);
      const patterns: PatternRoute[] = [];
      for (const [exposed, upstream] of entries) {
        if (exposed.includes('*')) {
          patterns.push({ pattern: exposed, upstream: upstream === exposed ? null : upstream, channel, priority, weight });
          continue;
        }
        let list = this.exact.get(exposed);
        if (!list) this.exact.set(exposed, (list = []));
        // a name listed twice is one candidate: the channel is tried once, at its own weight
        if (!list.some((r) => r.channel === channel)) list.push({ channel, upstreamModel: upstream, priority, weight });
      }
      // of a channel's patterns matching a name, the first is its candidate (routes): the longest, as for the quirks'
      // max_output_tokens, so `claude-opus-*` beats `claude-*` in whatever order the map lists them
      this.patterns.push(...patterns.sort((a, b) => b.pattern.length - a.pattern.length));
    }
  }

  /** Every route for a model (unordered), or an empty list. */
  routes(model: string): Route[] {
    const hit = this.exact.get(model);
    if (hit) return hit;
    const out: Route[] = [];
    for (const p of this.patterns) {
      // two of one channel's patterns matching (`claude-*`, `*-sonnet-*`) make one candidate, the longest's (above)
      if (globMatch(p.pattern, model) && !out.some((r) => r.channel === p.channel)) {
        out.push({ channel: p.channel, upstreamModel: p.upstream ?? model, priority: p.priority, weight: p.weight });
      }
    }
    return out;
  }

  /** Exposed names for /v1/models (patterns are not listable). */
  exposedModels(): Array<{ id: string; channels: string[] }> {
    return [...this.exact.entries()].map(([id, routes]) => ({ id, channels: routes.map((r) => r.channel.name) }));
  }
}
