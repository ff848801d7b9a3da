// An esbuild plugin that keeps a large package that few sidecars use out of the bundle's source until its first
// import: the package is bundled on its own, compressed with brotli and embedded as a base64 string; the first import
// decompresses and runs it. V8 keeps a script's whole source and pre-parse data in memory whether or not a function
// runs: @aws-sdk/client-ecr (0.85 MB bundled, needed only for ECR registries) cost 3 MiB of RSS at start that way;
// compressed it is 0.16 MB of string until used.

import { build } from 'esbuild';
import { brotliCompressSync } from 'node:zlib';

const NAMESPACE = 'lazy-package';

/** names: packages to load lazily; options: the esbuild settings the package is bundled with (target, minify …). */
export function lazyPackages(names, options) {
  const filter = new RegExp(`^(?:${names.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'lazy-packages',
    setup(outer) {
      outer.onResolve({ filter }, (args) => ({ path: args.path, namespace: NAMESPACE }));
      outer.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const inner = await build({
          ...options,
          stdin: { contents: `module.exports = require(${JSON.stringify(args.path)});`, resolveDir: process.cwd() },
          bundle: true,
          platform: 'node',
          format: 'cjs',
          write: false,
          legalComments: 'none',
        });
        const payload = brotliCompressSync(inner.outputFiles[0].contents).toString('base64');
        const filename = JSON.stringify(`${args.path} (bundled)`);
        // The package runs as a CommonJS module of its own, with this bundle's require: Node built-ins only, since
        // everything else is inside it (and the bundle's module.paths is empty).
        const contents = [
          "const { brotliDecompressSync } = require('node:zlib');",
          "const { runInThisContext } = require('node:vm');",
          `const code = brotliDecompressSync(Buffer.from(${JSON.stringify(payload)}, 'base64')).toString('utf8');`,
          `const run = runInThisContext('(function (exports, require, module, __filename, __dirname) {' + code + '\\n})', { filename: ${filename} });`,
          'const lazy = { exports: {} };',
          `run.call(lazy.exports, lazy.exports, require, lazy, ${filename}, __dirname);`,
          'module.exports = lazy.exports;',
        ].join('\n');
        return { contents, loader: 'js', resolveDir: process.cwd() };
      });
    },
  };
}
