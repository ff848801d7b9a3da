// Bundles the sidecar into one file (dist/gocd-registry-bridge.js): the npm bin, and what the jar carries.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/gocd-registry-bridge.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: false, // readable stack traces in GoCD's plugin log matter more than a few hundred KiB
  sourcemap: false,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
