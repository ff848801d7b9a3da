// Bundles the sidecar into one file (dist/gocd-registry-bridge.js): the npm bin, and what the jar carries.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/gocd-registry-bridge.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Whitespace and syntax only: identifiers stay, so a stack trace in GoCD's plugin log still names its functions.
  // The sidecar keeps its source in memory: 2.2 -> 1.7 MB of it measured 2.5 MiB less RSS (BENCHMARKS.md, P4).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: false,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
