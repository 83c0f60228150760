/**
 * Import boundaries that keep the layout from decaying (STYLE rule 10).
 */
import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dir, '../src');
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}
const ALL = files(SRC).map((f) => ({ path: relative(SRC, f), text: readFileSync(f, 'utf8') }));
/** Resolved import targets of a file, relative to src/. */
function imports(f: { path: string; text: string }): string[] {
  const out: string[] = [];
  for (const m of f.text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
    const spec = m[1]!;
    out.push(spec.startsWith('.') ? relative(SRC, resolve(SRC, f.path, '..', spec)) : spec);
  }
  return out;
}

describe('architecture', () => {
  test('the tree is where we think it is', () => expect(ALL.length).toBeGreaterThan(30));

  test('formats/, sse/, hub/ and routing/ are pure: nothing from channels/, http/, pipeline/ or storage/', () => {
    for (const f of ALL.filter((f) => /^(formats|sse|hub|routing)\//.test(f.path))) {
      // routing may name the Channel type it orders, nothing more
      for (const i of imports(f)) if (i !== 'channels/types.ts') expect(`${f.path} → ${i}`).not.toMatch(/→ (channels|http|pipeline|storage)\//);
    }
  });

  test('the anthropic channel never translates: nothing from formats/', () => {
    for (const f of ALL.filter((f) => f.path.startsWith('channels/anthropic/'))) {
      for (const i of imports(f)) expect(`${f.path} → ${i}`).not.toMatch(/→ formats\//);
    }
  });

  // engine-start.ts too: main.ts's first import, it may start the process again before the rest loads (engine.ts)
  test('only main.ts and engine-start.ts read the environment or start a server', () => {
    for (const f of ALL.filter((f) => f.path !== 'main.ts' && f.path !== 'engine-start.ts')) {
      expect(`${f.path}: ${/process\.env|Bun\.serve\(/.test(f.text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))}`).toBe(`${f.path}: false`);
    }
  });

  test('engine-start.ts is main.ts\'s first import and nobody else\'s (importing it may restart the process)', () => {
    const main = ALL.find((f) => f.path === 'main.ts')!.text;
    expect(main.match(/^import\s[^\n]*$/m)?.[0]).toBe("import './engine-start.ts';");
    const others = [...ALL.filter((f) => f.path !== 'main.ts'), ...files(resolve(SRC, '../test')).map((f) => ({ path: f, text: readFileSync(f, 'utf8') }))];
    for (const f of others) expect(`${f.path}: ${/^\s*(?:import|export)\b[^;\n]*['"][^'"]*engine-start(?:\.ts)?['"]/m.test(f.text)}`).toBe(`${f.path}: false`);
  });

  test('a channel type is one folder plus one registry line', () => {
    const registry = ALL.find((f) => f.path === 'channels/registry.ts')!.text;
    const kinds = ALL.find((f) => f.path === 'channels/kinds.ts')!.text;
    for (const dir of readdirSync(join(SRC, 'channels'), { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'shared')) {
      expect(registry).toContain(`./${dir.name}/index.ts`);
      expect(kinds).toContain(`'${dir.name}'`);
    }
  });
});
