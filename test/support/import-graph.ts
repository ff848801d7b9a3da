// Reads every import of a source tree and checks it against a per-module allow-list (the rules live in
// test/architecture.test.ts). Imports are read with TypeScript's parser, not its type checker: every form
// (static, `import type`, `export … from`, side-effect, `import()`, `require()`, `import x = require()`,
// `typeof import()`) comes out of the syntax tree, so comments and strings that merely look like imports are
// never read, and the quote style does not matter.

import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** What a module (or, in `exceptions`, one file) may import. Built-ins are named without `node:` and as a family: `fs` covers `fs/promises`. */
export interface Allowance {
  modules?: string[]; // src/ modules, imported through their index.ts
  types?: string[]; // src/ modules or npm packages it may use with `import type` only
  packages?: string[]; // npm packages
  builtins?: string[]; // Node built-ins
}

export interface Layering {
  modules: Record<string, Allowance>; // every folder and top-level file of src/, by name (file names without extension)
  exceptions?: Record<string, Allowance>; // extra allowances for one module or file (`registry/ca-file.ts`), each commented
}

interface ImportEdge {
  specifier: string | undefined; // undefined: `require(name)` or `import(name)` with a computed name, which cannot be checked
  isTypeOnly: boolean;
  line: number;
}

const SOURCE_FILE = /\.(?:[cm]?[jt]s|[jt]sx)$/;
const BUILTINS = new Set(builtinModules);
const parsed = new Map<string, ImportEdge[]>(); // by extension and text: the planted copies of src/ parse only their planted file

/** Every import of one file's text, in source order. */
function readImports(fileName: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, isTypeOnly: boolean) => {
    const named = specifier && (ts.isStringLiteral(specifier) || ts.isNoSubstitutionTemplateLiteral(specifier)) ? specifier.text : undefined;
    edges.push({ specifier: named, isTypeOnly, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, isTypeOnlyImport(node.importClause));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, node.isTypeOnly || isAllTypes(node.exportClause));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      add(node, ts.isLiteralTypeNode(argument) ? argument.literal : undefined, true);
    } else if (ts.isCallExpression(node) && isImportOrRequire(node.expression)) {
      add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** `import type …`, or `import { type A, type B }` with no value binding: both are erased from the output. */
function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false; // `import './x'` runs the module
  if (clause.isTypeOnly) return true;
  return !clause.name && isAllTypes(clause.namedBindings);
}

function isAllTypes(bindings: ts.NamedImportBindings | ts.NamedExportBindings | undefined): boolean {
  if (!bindings || !(ts.isNamedImports(bindings) || ts.isNamedExports(bindings))) return false;
  return bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly);
}

function isImportOrRequire(callee: ts.Expression): boolean {
  return callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : SOURCE_FILE.test(entry.name) ? [full] : [];
  });
}

const withoutExtension = (name: string) => name.replace(/(?:\.d)?\.[^./]+$/, '');
const toPosix = (relative: string) => relative.split(path.sep).join('/');

/** The modules of a source tree: its folders, and its top-level source files without extension. */
function listModules(srcDir: string): { name: string; isFolder: boolean }[] {
  return readdirSync(srcDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() || SOURCE_FILE.test(entry.name))
    .map((entry) => ({ name: entry.isDirectory() ? entry.name : withoutExtension(entry.name), isFolder: entry.isDirectory() }));
}

type Target =
  | { kind: 'module'; name: string; rest: string } // rest: the path inside a folder module, '' for its index
  | { kind: 'outside'; path: string }
  | { kind: 'builtin'; name: string } // the family: `node:fs/promises` → fs
  | { kind: 'package'; name: string };

function classify(specifier: string, fromFile: string, srcDir: string): Target {
  if (specifier.startsWith('.') || path.isAbsolute(specifier)) {
    const resolved = path.resolve(path.dirname(fromFile), specifier);
    const relative = path.relative(srcDir, resolved);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return { kind: 'outside', path: resolved };
    const [first, ...rest] = relative.split(path.sep);
    const inner = rest.join('/');
    return { kind: 'module', name: withoutExtension(first!), rest: /^index(?:\.[^./]+)?$/.test(inner) ? '' : inner };
  }
  const bare = specifier.replace(/^node:/, '');
  if (specifier.startsWith('node:') || BUILTINS.has(bare)) return { kind: 'builtin', name: bare.split('/')[0]! };
  const parts = specifier.split('/');
  return { kind: 'package', name: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
}

const list = (names: string[] | undefined) => (names?.length ? names.join(', ') : 'none');
const UNKNOWN_MODULE = 'not in the module table of test/architecture.test.ts; add a row for it with the src/ modules, npm packages and Node built-ins it may import';

/**
 * Every break of the layering in a source tree, as `file:line → specifier: why` lines (paths relative to srcDir);
 * an empty list means the tree follows the rules. Also reported: modules missing from `layering.modules`, and
 * exceptions that name a missing file or allow something nothing imports any more (so temporary ones get deleted).
 */
export function checkLayering(srcDir: string, layering: Layering): string[] {
  const modules = listModules(srcDir);
  const folders = new Set(modules.filter((m) => m.isFolder).map((m) => m.name));
  const problems = modules.filter((m) => !(m.name in layering.modules)).map((m) => `${m.isFolder ? `${m.name}/` : m.name}: ${UNKNOWN_MODULE}`);
  const exceptions = Object.entries(layering.exceptions ?? {});
  const usedExceptions = new Set<string>();
  const packageJson = path.resolve(srcDir, '../package.json');

  for (const file of sourceFiles(srcDir)) {
    const relativeFile = toPosix(path.relative(srcDir, file));
    const from = withoutExtension(relativeFile.split('/')[0]!);
    const rule = layering.modules[from];
    if (!rule) continue; // already reported as an unknown module
    const extras = exceptions.filter(([key]) => key === from || key === relativeFile);

    const text = readFileSync(file, 'utf8');
    const cacheKey = `${path.extname(file)}\0${text}`;
    if (!parsed.has(cacheKey)) parsed.set(cacheKey, readImports(file, text));
    for (const edge of parsed.get(cacheKey)!) {
      const at = `${relativeFile}:${edge.line} → ${edge.specifier ?? '(computed)'}`;
      if (edge.specifier === undefined) {
        problems.push(`${at}: write the import as a string literal, so this check can read where it goes`);
        continue;
      }
      const target = classify(edge.specifier, file, srcDir);
      const why = judge(target, edge.isTypeOnly, from, rule, folders, packageJson);
      if (!why) continue;
      const excused = extras.find(([, extra]) => !judge(target, edge.isTypeOnly, from, mergeAllowances(rule, extra), folders, packageJson));
      if (excused && 'name' in target) usedExceptions.add(`${excused[0]} ${target.name}`);
      else problems.push(`${at}: ${why}`);
    }
  }

  for (const [key, extra] of exceptions) {
    if (!modules.some((m) => m.name === key) && !existsSync(path.join(srcDir, key))) {
      problems.push(`${key}: named in the exceptions of test/architecture.test.ts but not in src/; delete its exception`);
      continue;
    }
    const unused = Object.values(extra).flat().filter((name) => !usedExceptions.has(`${key} ${name}`));
    if (unused.length) problems.push(`${key}: its exception allows ${unused.join(', ')}, which nothing there imports; delete that from the exceptions in test/architecture.test.ts`);
  }
  return problems;
}

function mergeAllowances(...allowances: Allowance[]): Allowance {
  const merged: Required<Allowance> = { modules: [], types: [], packages: [], builtins: [] };
  for (const allowance of allowances) for (const key of Object.keys(merged) as (keyof Allowance)[]) merged[key].push(...(allowance[key] ?? []));
  return merged;
}

/** Why one import breaks the rules, or undefined when it is allowed. */
function judge(target: Target, isTypeOnly: boolean, from: string, allowed: Allowance, folders: Set<string>, packageJson: string): string | undefined {
  switch (target.kind) {
    case 'outside':
      return target.path === packageJson ? undefined : 'only package.json may be imported from outside src/';
    case 'builtin':
      return allowed.builtins?.includes(target.name) ? undefined : `${from} may not use the Node built-in ${target.name} (allowed: ${list(allowed.builtins)})`;
    case 'package':
      return judgeName(`${from} may not use the npm package`, target.name, isTypeOnly, allowed.packages, allowed.types);
    case 'module':
      if (target.name === from) return undefined; // a module's own files
      if (target.rest !== '' && folders.has(target.name)) return `enter ${target.name}/ through its index.ts`;
      return judgeName(`${from} may not import`, target.name, isTypeOnly, allowed.modules, allowed.types);
  }
}

function judgeName(refusal: string, name: string, isTypeOnly: boolean, values: string[] = [], types: string[] = []): string | undefined {
  if (values.includes(name) || (isTypeOnly && types.includes(name))) return undefined;
  return types.includes(name) ? `use \`import type\` for ${name}: it is allowed for types only` : `${refusal} ${name} (allowed: ${list(values)})`;
}
