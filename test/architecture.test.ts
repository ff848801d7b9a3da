// Imports flow one way: server/cli → gocd → selection → registry (DEVELOPERS.md, shared/style.md). Each folder is
// entered only through its index.ts. This test reads every import in src/ and fails on any other edge.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../src');

/** Module (folder, or top-level file without .ts) → the modules it may import. */
const ALLOWED: Record<string, string[]> = {
  errors: [],
  log: [],
  http: ['errors', 'log'],
  credentials: ['errors', 'log'],
  registry: ['errors', 'log', 'http', 'credentials'],
  selection: ['errors'],
  gocd: ['selection', 'registry', 'errors', 'log'],
  server: ['gocd', 'registry', 'errors', 'log', 'deps'],
  cli: ['gocd', 'selection', 'registry', 'errors', 'log', 'deps'],
  deps: ['log', 'registry', 'credentials'],
  main: ['server', 'cli'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

function moduleOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first!.replace(/\.ts$/, '');
}

const edges = sourceFiles(SRC).flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => {
    const target = path.resolve(path.dirname(file), m[1]!);
    return { file: path.relative(SRC, file), from: moduleOf(file), target, to: path.relative(SRC, target).startsWith('..') ? 'outside' : moduleOf(`${target}.ts`) };
  }),
);

describe('src/ import structure', () => {
  it('finds the imports it checks', () => {
    expect(edges.length).toBeGreaterThan(30);
  });

  it.each(Object.keys(ALLOWED))('%s imports only what the layering allows', (module) => {
    const bad = edges.filter((e) => e.from === module && e.to !== module && e.to !== 'outside' && !ALLOWED[module]!.includes(e.to));
    expect(bad.map((e) => `${e.file} → ${e.to}`)).toEqual([]);
  });

  it('enters another folder only through its index.ts', () => {
    const deep = edges.filter((e) => e.to !== e.from && e.to !== 'outside' && path.relative(SRC, e.target).includes(path.sep));
    expect(deep.map((e) => `${e.file} → ${path.relative(SRC, e.target)}`)).toEqual([]);
  });

  it('imports only package.json from outside src/', () => {
    expect(edges.filter((e) => e.to === 'outside').map((e) => path.relative(SRC, e.target))).toEqual(['../package.json']);
  });
});
