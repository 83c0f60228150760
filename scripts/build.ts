/**
 * @module scripts/build
 * `bun run build` → dist/switchboard: one executable, no Bun or node_modules needed where it runs.
 * Explicit compile options so the binary never loads a stray .env, bunfig.toml, tsconfig or package.json
 * from the directory it is started in (its behaviour depends only on its flags, env and config file).
 */
import pkg from '../package.json' with { type: 'json' };

const outfile = process.argv[2] ?? 'dist/switchboard';
const result = await Bun.build({
  entrypoints: ['src/main.ts'],
  compile: {
    outfile,
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
  minify: true,
  sourcemap: 'none',
  bytecode: true,
  define: { SWITCHBOARD_VERSION: JSON.stringify(pkg.version) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (switchboard ${pkg.version})`);
