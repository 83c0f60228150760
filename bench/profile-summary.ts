#!/usr/bin/env bun
/**
 * @module bench/profile-summary
 * A `.cpuprofile` (from `bun run bench --cpu-prof DIR`) summed by samples: self and inclusive share of each function.
 * The `.md` Bun writes beside it weighs each sample by the time since the previous one, so an idle stretch lands on
 * whatever ran last (a byte parser showed 70% of a 200 KB translation there); counting samples only counts the time
 * the JavaScript thread was busy. Native work on other threads (the HTTP client, the collector) is in neither: use
 * `perf` for that (bench/README.md).
 *
 *   bun bench/profile-summary.ts DIR/CPU.….cpuprofile [top N, default 40]
 */
export {};

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[] }

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: bun bench/profile-summary.ts FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const profile = JSON.parse(await Bun.file(file).text()) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const root = `${process.cwd()}/`;
const label = (n: Node) => {
  const where = n.callFrame.url.replace(/^file:\/\//, '').replace(root, '');
  return `${n.callFrame.functionName || '(anonymous)'}${where ? ` ${where}:${n.callFrame.lineNumber + 1}` : ''}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const id of profile.samples) {
  const leaf = byId.get(id);
  if (!leaf) continue;
  const name = label(leaf);
  self.set(name, (self.get(name) ?? 0) + 1);
  const seen = new Set<string>(); // a recursive function counts once per sample
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = label(byId.get(at)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
  }
}

const total = profile.samples.length;
const table = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, count] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * count) / total).toFixed(1).padStart(5)}% ${String(count).padStart(7)}  ${name}\n`);
  }
};
process.stdout.write(`${total} samples\n`);
table('self (the function itself was running)', self);
table('inclusive (the function was on the stack)', inclusive);
