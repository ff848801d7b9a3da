// Bundles the sidecar into one file (dist/gocd-registry-bridge.js): the npm bin, and what the jar carries.
import { build } from 'esbuild';
import { lazyPackages } from './lazy-packages.mjs';

// Whitespace and syntax only: identifiers stay, so a stack trace in GoCD's plugin log still names its functions.
// The sidecar keeps its source in memory: 2.2 -> 1.7 MB of it measured 2.5 MiB less RSS (BENCHMARKS.md, P4).
const MINIFY = { target: 'node20', minifyWhitespace: true, minifySyntax: true };

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/gocd-registry-bridge.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  ...MINIFY,
  // The AWS SDK serves ECR registries only, pg the status registry on PostgreSQL only; see lazy-packages.mjs.
  plugins: [lazyPackages(['@aws-sdk/client-ecr', 'pg'], MINIFY)],
  // better-sqlite3 is native (a .node file per platform and Node ABI) and cannot be bundled; only a serve with the
  // status registry on SQLite loads it, from NODE_PATH (README, "Build-status registry"). pg-native is pg's optional
  // native client, which the status registry does not use.
  external: ['better-sqlite3', 'pg-native'],
  // node-fetch's URL parser (whatwg-url, tr46) requires Node's punycode module, which Node 21+ flags as deprecated
  // with a warning in GoCD's plugin log on the first registry request; the npm package is the same code, maintained.
  alias: { punycode: 'punycode/' },
  sourcemap: false,
  legalComments: 'none',
  // No module search paths: the shim may unpack this file under /tmp, where any user can create /tmp/node_modules,
  // and an optional require (node-fetch's "encoding") would load another user's code as the GoCD user (issue 9).
  // Everything the sidecar needs is bundled; Node builtins need no search path.
  banner: { js: '#!/usr/bin/env node\nmodule.paths = [];' },
  logLevel: 'warning',
});
