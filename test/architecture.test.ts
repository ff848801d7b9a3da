// What may import what: every folder and top-level file of src/ is a module
// with an allow-list of src/ modules, npm packages and Node built-ins; folders are entered only through index.ts;
// only package.json may come from outside src/. The checker (test/support/import-graph.ts) reads every import form
// with TypeScript's parser; the planted cases below prove that each kind of break makes it fail.

import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Allowance, checkLayering, Layering } from './support/import-graph';

const SRC = path.resolve(__dirname, '../src');

const NETWORK = ['http', 'https', 'net', 'dns', 'tls', 'crypto', 'timers'];

/** The layout issue 10 aims at: one row per module, its one idea after it. Rows for modules not written yet are fine. */
const MODULES: Record<string, Allowance> = {
  errors: {}, // BridgeError (message, fix, retryable) and the stable codes; imports nothing
  log: {}, // one-line JSON logger that scrubs registered secrets
  'cache-key': {}, // one unambiguous key from several parts; imports nothing
  http: { modules: ['errors', 'log'], types: ['node-fetch'], packages: ['ipaddr.js', 'async-mutex'], builtins: NETWORK }, // generic retry, deadlines, redaction, agents: no registry words
  credentials: { modules: ['errors', 'log', 'http', 'cache-key'], packages: ['yaml', 'ajv', 'lru-cache', '@aws-sdk/client-ecr'], builtins: ['fs', 'path', 'os', 'child_process', 'crypto', 'net'] }, // Credentials, identity hash, credentials file, docker config + helpers
  registry: { modules: ['errors', 'log', 'http', 'credentials', 'cache-key'], packages: ['node-fetch', 'async-mutex', 'ajv', 'lru-cache', 'ipaddr.js', '@streamparser/json'], builtins: NETWORK }, // Docker Registry V2 client: transport, auth, tags, manifests
  selection: { modules: ['errors'], types: ['registry'], packages: ['semver', 'lru-cache', 're2js'] }, // choosing tags as pure functions: no I/O, no clock, no built-ins
  gocd: { modules: ['selection', 'registry', 'credentials', 'errors', 'log', 'cache-key'], packages: ['ajv', 'lru-cache'] }, // GoCD package-repository handlers and dispatch; no HTTP server
  drone: { modules: ['errors', 'log', 'http', 'credentials'], packages: ['lru-cache'], builtins: ['crypto'] }, // Drone registry-credentials extension; never gocd, server
  'status-registry': { modules: ['errors', 'log', 'http', 'credentials', 'cache-key'], packages: ['ajv', 'async-mutex', 'better-sqlite3', 'pg', 'sanitize-filename', 'lru-cache'], builtins: ['crypto', 'fs', 'path', 'os'] }, // build-status registry: record, verdict, store engines, actions; never registry, gocd, server
  gitops: { modules: ['errors', 'log', 'http', 'credentials'], packages: ['yaml', 'semver'], builtins: ['child_process', 'fs', 'path', 'os'] }, // GitOps tag write-back to git; never gocd, server
  server: { modules: ['gocd', 'registry', 'credentials', 'http', 'drone', 'status-registry', 'gitops', 'errors', 'log', 'deps', 'cache-key'], packages: ['express', 'prom-client', 'lru-cache', 'ipaddr.js'], builtins: ['crypto', 'http', 'net', 'readline', 'fs', 'path'] }, // the one router; the only express user
  cli: { modules: ['gocd', 'selection', 'registry', 'credentials', 'http', 'gitops', 'errors', 'log', 'deps', 'status-registry'], packages: ['dotenv'], builtins: ['child_process', 'util', 'fs'] }, // `poll`, `images`, `status-registry` and `gitops-update` commands; never server
  'metadata-store': { modules: ['errors', 'log'], builtins: ['crypto', 'fs', 'path'] }, // what is learned about digests, on disk across restarts; never registry
  deps: { modules: ['log', 'http', 'credentials', 'registry', 'metadata-store'], packages: ['node-fetch'], builtins: ['os', 'path'] }, // the real network, clock and stderr, built only by entry points
  main: { modules: ['cli', 'server'], builtins: ['util'] }, // argv → command
};

/** Where the current tree still keeps code in its old place. Each line fails the test once nothing needs it. */
const EXCEPTIONS: Record<string, Allowance> = {
  // TLS_CA_FILE, the one file a registry's settings name, is read here under the hardening rules (regular file,
  // size cap, timeout): the only file system access registry/ has.
  'registry/ca-file.ts': { builtins: ['fs'] },
  // until the time-bounded JS engine for tag filters leaves selection/: it runs the user's RegExp in node:vm with a
  // timeout (once RE2 lands, only for lookaround and backreferences), the one built-in selection/ may use.
  'selection/tag-pattern.ts': { builtins: ['vm'] },
};

const LAYERING: Layering = { modules: MODULES, exceptions: EXCEPTIONS };
const ALL_ROWS = Object.entries({ ...MODULES, ...EXCEPTIONS });

describe('src/ import structure', () => {
  it('follows the layering table', () => {
    expect(checkLayering(SRC, LAYERING)).toEqual([]);
  });

  it('keeps express and prom-client in server/ and supertest out of src/', () => {
    const users = (pkg: string) => ALL_ROWS.filter(([, allowance]) => allowance.packages?.includes(pkg)).map(([name]) => name);
    expect([users('express'), users('prom-client'), users('supertest')]).toEqual([['server'], ['server'], []]);
  });

  it('keeps selection/ free of Node built-ins except the one marked file', () => {
    const builtinsIn = ALL_ROWS.filter(([name, allowance]) => name.split('/')[0] === 'selection' && allowance.builtins?.length);
    expect(builtinsIn).toEqual([['selection/tag-pattern.ts', { builtins: ['vm'] }]]);
  });
});

describe('the layering check, on a copy of src/ with one planted file', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'bridge-architecture-'));
    cpSync(SRC, path.join(root, 'src'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const plant = (file: string, text: string) => {
    const full = path.join(root, 'src', file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    return checkLayering(path.join(root, 'src'), LAYERING);
  };

  it.each([
    ['an unknown folder', 'webhooks/index.ts', 'export const hook = 1;\n', 'webhooks/: not in the module table of test/architecture.test.ts; add a row'],
    ['an unknown top-level file', 'helpers.ts', 'export const help = 1;\n', 'helpers: not in the module table'],
    ['a double-quoted upward import', 'selection/planted.ts', 'import { dispatch } from "../gocd";\nexport const planted = dispatch;\n', 'selection/planted.ts:1 → ../gocd: selection may not import gocd'],
    ['a multi-line import list', 'selection/planted.ts', "import {\n  dispatch,\n  KNOWN_REQUESTS,\n} from '../gocd';\nexport const planted = [dispatch, KNOWN_REQUESTS];\n", 'selection/planted.ts:1 → ../gocd: selection may not import gocd'],
    ['a dynamic import()', 'cli/planted.ts', 'export const load = () => import("../server");\n', 'cli/planted.ts:1 → ../server: cli may not import server'],
    ['a dynamic import() of a template literal', 'gocd/planted.ts', 'export const load = () => import(`../server`);\n', 'gocd/planted.ts:1 → ../server: gocd may not import server'],
    ['a dynamic import() of a computed name', 'gocd/planted.ts', "const name = '../server';\nexport const load = () => import(name);\n", 'gocd/planted.ts:2 → (computed): write the import as a string literal'],
    ['a require()', 'registry/planted.ts', "const gocd = require('../gocd');\nexport const planted = gocd;\n", 'registry/planted.ts:1 → ../gocd: registry may not import gocd'],
    ['an import = require()', 'registry/planted.ts', "import gocd = require('../gocd');\nexport const planted = gocd;\n", 'registry/planted.ts:1 → ../gocd: registry may not import gocd'],
    ['an export * from', 'registry/planted.ts', "export * from '../gocd';\n", 'registry/planted.ts:1 → ../gocd: registry may not import gocd'],
    ['an export { … } from', 'log/planted.ts', 'export { BridgeError } from "../errors";\n', 'log/planted.ts:1 → ../errors: log may not import errors'],
    ['a side-effect import', 'registry/planted.ts', "import '../server';\n", 'registry/planted.ts:1 → ../server: registry may not import server'],
    ['a type import in a type position', 'gocd/planted.ts', "export type Serve = typeof import('../server').serve;\n", 'gocd/planted.ts:1 → ../server: gocd may not import server'],
    ['a deep import into another folder', 'gocd/planted.ts', "import { RegistryTransport } from '../registry/transport';\nexport type T = RegistryTransport;\n", 'gocd/planted.ts:1 → ../registry/transport: enter registry/ through its index.ts'],
    ['a value import where only types are allowed', 'selection/planted.ts', "import { RegistryClient } from '../registry';\nexport const planted = RegistryClient;\n", 'selection/planted.ts:1 → ../registry: use `import type` for registry'],
    ['node:fs in selection/', 'selection/planted.ts', "import { readFileSync } from 'node:fs';\nexport const planted = readFileSync;\n", 'selection/planted.ts:1 → node:fs: selection may not use the Node built-in fs (allowed: none)'],
    ['bare fs in selection/', 'selection/planted.ts', "import fs from 'fs';\nexport const planted = fs;\n", 'selection/planted.ts:1 → fs: selection may not use the Node built-in fs'],
    ['node:fs/promises in selection/', 'selection/planted.ts', "import { readFile } from 'node:fs/promises';\nexport const planted = readFile;\n", 'selection/planted.ts:1 → node:fs/promises: selection may not use the Node built-in fs'],
    ['node:vm in a selection/ file other than tag-pattern.ts', 'selection/planted.ts', "import vm from 'node:vm';\nexport const planted = vm;\n", 'selection/planted.ts:1 → node:vm: selection may not use the Node built-in vm'],
    ['express in gocd/', 'gocd/planted.ts', "import express from 'express';\nexport const planted = express;\n", 'gocd/planted.ts:1 → express: gocd may not use the npm package express'],
    ['node:http in gocd/', 'gocd/planted.ts', "import { createServer } from 'node:http';\nexport const planted = createServer;\n", 'gocd/planted.ts:1 → node:http: gocd may not use the Node built-in http'],
    ['an unknown npm package in registry/', 'registry/planted.ts', "import leftPad from 'left-pad';\nexport const planted = leftPad;\n", 'registry/planted.ts:1 → left-pad: registry may not use the npm package left-pad'],
    ['a file from outside src/', 'gocd/planted.ts', "import config from '../../tsconfig.json';\nexport const planted = config;\n", 'gocd/planted.ts:1 → ../../tsconfig.json: only package.json may be imported from outside src/'],
  ])('fails on %s', (_kind, file, text, problem) => {
    expect(plant(file, text)).toEqual([expect.stringContaining(problem)]);
  });

  it('fails when a temporary exception is no longer needed', () => {
    rmSync(path.join(root, 'src/registry/ca-file.ts'));
    expect(plant('selection/tag-pattern.ts', 'export const tagPattern = 1;\n')).toEqual([
      expect.stringContaining('registry/ca-file.ts: named in the exceptions of test/architecture.test.ts but not in src/'),
      expect.stringContaining('selection/tag-pattern.ts: its exception allows vm, which nothing there imports'),
    ]);
  });

  it('passes type-only imports where types are allowed, and ignores imports in comments and strings', () => {
    const text = [
      "import type { RegistryEndpoint } from '../registry';",
      'import { type ImageRef } from "../registry";',
      "// import { dispatch } from '../gocd';",
      "/* const express = require('express'); */",
      'export const looksLikeImports = ["import(\'../server\')", `require("node:fs")`];',
      'export type Planted = [RegistryEndpoint, ImageRef];',
      '',
    ].join('\n');
    expect(plant('selection/planted.ts', text)).toEqual([]);
  });
});
