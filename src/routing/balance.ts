/**
 * @module routing/balance
 * Candidate order: higher priority first; among equal priority, a weighted random permutation
 * (each next pick proportional to weight among those left). Weight 0 = only after the others.
 */
import type { Route } from './table.ts';

export function orderRoutes(routes: Route[], random: () => number = Math.random): Route[] {
  if (routes.length <= 1) return routes;
  const byPriority = new Map<number, Route[]>();
  for (const r of routes) {
    let g = byPriority.get(r.priority);
    if (!g) byPriority.set(r.priority, (g = []));
    g.push(r);
  }
  const out: Route[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => b - a)) out.push(...weightedShuffle(byPriority.get(p)!, random));
  return out;
}

function weightedShuffle(group: Route[], random: () => number): Route[] {
  if (group.length === 1) return group;
  const left = group.slice();
  const out: Route[] = [];
  while (left.length) {
    const total = left.reduce((s, r) => s + r.weight, 0);
    let i = 0;
    if (total > 0) {
      let x = random() * total;
      for (i = 0; i < left.length - 1; i++) {
        x -= left[i]!.weight;
        if (x < 0) break;
      }
      // skip zero-weight entries the loop may land on when x hits the boundary
      while (left[i]!.weight === 0 && i > 0) i--;
    }
    out.push(left.splice(i, 1)[0]!);
  }
  return out;
}
