// `npm run bench [-- p1 …]`: bundles bench/main.ts (which imports test/support) into build/bench/ with esbuild and
// runs it with node. Bundling instead of ts-node keeps to the project's one TypeScript runner for scripts.
// Type-check the benchmarks with `npx tsc -p bench`.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';

await build({
  entryPoints: ['bench/main.ts'],
  outfile: 'build/bench/bench.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  logLevel: 'warning',
});
const { status, signal } = spawnSync(process.execPath, ['--enable-source-maps', 'build/bench/bench.js', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(status ?? (signal ? 1 : 0));
