// The credentials file (GOCD_REGISTRY_BRIDGE_CREDENTIALS): drone/drone-registry-plugin's YAML list of registry
// credentials, read by the GoCD poller (by registry host) and by Drone requests (through the entry filters). Loaded
// and checked as a whole, then reloaded when it changes; a broken edit never replaces a working configuration.
// Only the file's owner (or root) may have written it: it decides which builds get which password.
// Imports errors and log only; no HTTP.

import { createHash } from 'node:crypto';
import { constants, Stats, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import { cacheKey } from '../cache-key';
import { BridgeError, BridgeErrorInit } from '../errors';
import type { Logger } from '../log';
import { credentialsFileSchema, DRONE_EVENTS, DroneEvent, ENTRY_KEYS, RawCredentialsEntry, STRING_KEYS } from './credentials-file-schema';
import { parseEcrAddress } from './ecr-address';
import { compileGlob, globProblem, PathGlob } from './path-glob';
import { InvalidRegistryAddressError, normalizeRegistryAddress, redactUserInfo } from './registry-address';

export class InvalidCredentialsFileError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('INVALID_CONFIGURATION', init);
  }
}

/** Where an entry's password comes from; never the password itself. */
export type PasswordSource = { kind: 'inline' } | { kind: 'file'; path: string } | { kind: 'env'; name: string };

export interface CredentialsFilters {
  readonly repos?: readonly string[]; // globs on the Drone repo slug
  readonly namespaces?: readonly string[]; // exact Drone repo namespaces
  readonly events?: readonly DroneEvent[];
  readonly branches?: readonly string[]; // globs on the build's target branch
  readonly denyForks: boolean; // no credentials for a build whose source repository is another one (a fork's PR)
}

export interface CredentialsEntry {
  readonly index: number; // position in the file, from 0
  readonly line: number; // where the entry starts, from 1
  /** `host[:port]`, lower case, `docker.io` for Docker Hub: what the Drone runner compares with image domains. */
  readonly address: string;
  readonly username?: string;
  /** Resolved from password, password_file or password_env. */
  readonly password?: string;
  readonly passwordSource?: PasswordSource;
  readonly email?: string;
  readonly token?: string;
  readonly awsAccessKeyId?: string;
  readonly awsSecretAccessKey?: string;
  readonly filters: CredentialsFilters;
}

/** The parts of a Drone registry request the filters read (drone-go wire names: repo.slug, build.source_repo …). */
export interface DroneCredentialsRequest {
  repo: { slug?: string; namespace?: string };
  build: { event?: string; target?: string; sourceRepo?: string };
}

/**
 * Everything entitledFor reads of a request, as one string: two requests with the same key are entitled to the same
 * entries of one file version. A filter that reads another field must add it here, or answers cached by this key
 * (the Drone extension's) go to builds the filter would refuse.
 */
export function entitlementKey(request: DroneCredentialsRequest): string {
  const { slug, namespace } = request.repo;
  const { event, target } = request.build;
  return cacheKey(slug, namespace, event, target, isForkBuild(request));
}

/** A pull request from a fork runs code its author chose: deny_forks withholds credentials from it. */
function isForkBuild(request: DroneCredentialsRequest): boolean {
  const { sourceRepo } = request.build;
  return sourceRepo !== undefined && sourceRepo !== '' && sourceRepo !== request.repo.slug;
}

export interface CredentialsFileOptions {
  env: NodeJS.ProcessEnv; // where password_env names are looked up
  /** The sidecar's user; undefined where the OS has none (Windows), which skips the owner and mode checks. */
  uid: number | undefined;
  maxFileBytes: number; // 1 MiB: a thousand entries take ~100 KiB; more is not a credentials file
  maxPasswordFileBytes: number; // 64 KiB: a GCR JSON key, the largest password in use, is ~2.5 KiB
}

export const CREDENTIALS_FILE_DEFAULTS: CredentialsFileOptions = {
  env: process.env,
  uid: process.getuid?.(),
  maxFileBytes: 1024 * 1024,
  maxPasswordFileBytes: 64 * 1024,
};

/** One loaded, checked credentials file. Immutable: a reload builds a new one. */
export class CredentialsList {
  /** @internal built by loadCredentialsFile */
  constructor(
    readonly entries: readonly CredentialsEntry[],
    private readonly globs: readonly { repos?: PathGlob[]; branches?: PathGlob[] }[],
  ) {}

  /**
   * For the GoCD poller: the first entry, in file order, filed under this registry host (`host[:port]`; case and
   * Docker Hub's aliases do not matter). The Drone filters do not apply here: a GoCD package repository has no
   * Drone repo, event or branch to test them against, so an entry kept from some Drone builds still serves every
   * GoCD package repository on its registry that has no USERNAME. An entry may hold no username and password (ECR
   * keys, a token): the poller then goes on to its next credential source.
   */
  findForHost(host: string): CredentialsEntry | undefined {
    let address: string;
    try {
      address = normalizeRegistryAddress(host);
    } catch {
      return undefined; // not a host name: nothing is filed under it
    }
    return this.entries.find((entry) => entry.address === address);
  }

  /**
   * For a Drone request: every entry whose filters all pass, in file order (the runner takes the first match per
   * image). An entry without filters goes to everyone, as in drone-registry-plugin. A filter whose request field is
   * missing fails: credentials are withheld rather than guessed.
   */
  entitledFor(request: DroneCredentialsRequest): CredentialsEntry[] {
    const { slug, namespace } = request.repo;
    const { event, target } = request.build;
    const isFork = isForkBuild(request);
    return this.entries.filter((entry, i) => {
      const { filters } = entry;
      const globs = this.globs[i]!;
      if (globs.repos && !(slug !== undefined && globs.repos.some((glob) => glob.matches(slug)))) return false;
      if (filters.namespaces && !(namespace !== undefined && filters.namespaces.includes(namespace))) return false;
      if (filters.events && !(event !== undefined && (filters.events as readonly string[]).includes(event))) return false;
      if (globs.branches && !(target !== undefined && globs.branches.some((glob) => glob.matches(target)))) return false;
      if (filters.denyForks && isFork) return false;
      return true;
    });
  }
}

export interface LoadedCredentialsFile {
  readonly list: CredentialsList;
  /** Problems that do not stop the file being used (an inline password in a file others can read). */
  readonly warnings: string[];
  /** A hash of every entry, secrets included: tells a real change from a rewrite of the same content. Never logged. */
  readonly digest: string;
}

/**
 * Reads, parses and checks the file and every password it points to (a relative password_file is taken from the
 * credentials file's folder); an InvalidCredentialsFileError naming the file, entry, key and fix otherwise.
 */
export async function loadCredentialsFile(file: string, options: Partial<CredentialsFileOptions> = {}): Promise<LoadedCredentialsFile> {
  return load(path.resolve(file), { ...CREDENTIALS_FILE_DEFAULTS, ...options }, new Map());
}

/** `touched`: each file read (or tried), with the fingerprint of what was found there, for change detection. */
async function load(file: string, options: CredentialsFileOptions, touched: Map<string, string>): Promise<LoadedCredentialsFile> {
  const shown = `credentials file ${file}`;
  const { bytes, stats } = await readProtected(file, CREDENTIALS_FILE_RULES, options, options.maxFileBytes, touched).catch((err) => {
    throw fileProblemError(err, shown, CREDENTIALS_FILE_RULES.fixes(file, options.uid));
  });
  const parsed = parseEntries(bytes.toString('utf8'), shown);
  const entries: CredentialsEntry[] = [];
  for (const item of parsed) {
    entries.push(await resolveEntry(item, file, options, touched));
  }
  const warnings: string[] = [];
  const hasInlineSecret = parsed.some(({ raw }) => raw.password || raw.token || raw.aws_secret_access_key);
  if (options.uid !== undefined && hasInlineSecret && stats.mode & 0o004) {
    warnings.push(
      `${shown} holds passwords or tokens and is readable by every user on this machine (mode ${formatMode(stats.mode)}): ` +
        `chmod o-r ${file}, or move the secrets to password_file / password_env`,
    );
  }
  const digest = createHash('sha256').update(JSON.stringify(entries)).digest('hex');
  return { list: new CredentialsList(entries, parsed.map(({ globs }) => globs)), warnings, digest };
}

/** An entry once checkEntry has refused every key without a value. */
type CheckedEntry = { [K in keyof RawCredentialsEntry]: Exclude<RawCredentialsEntry[K], null> };

interface ParsedEntry {
  raw: CheckedEntry;
  index: number;
  line: number;
  /** "entry 2 of 3 (line 4, address docker.io)", for messages. */
  label: string;
  address: string;
  globs: { repos?: PathGlob[]; branches?: PathGlob[] };
}

// Aliases let an entry reuse another's filter lists; a hundred is plenty, and bounds an alias bomb.
const MAX_ALIASES = 100;
const FILE_FIX = 'write the file as a YAML list with one item per registry: "- address: docker.io", then username, password … indented below it';

let validator: ValidateFunction<RawCredentialsEntry[]> | undefined;
const validateFile = (): ValidateFunction<RawCredentialsEntry[]> =>
  (validator ??= new Ajv({ allErrors: false, strict: true, validateSchema: false }).compile(credentialsFileSchema));

function parseEntries(text: string, shown: string): ParsedEntry[] {
  const lineCounter = new LineCounter();
  // prettyErrors off: a pretty error quotes the lines around the problem, and those may hold a password.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: 'silent', uniqueKeys: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
    throw new InvalidCredentialsFileError({
      message: `${shown}, line ${line}, column ${col}: not valid YAML (${syntaxError.message})`,
      fix: `correct the YAML there; ${FILE_FIX}`,
    });
  }
  if (doc.contents === null) {
    throw new InvalidCredentialsFileError({ message: `${shown} is empty`, fix: `list the registries in it, or write [] for none; ${FILE_FIX}` });
  }
  stringifyScalarsOfStringKeys(doc);
  const lineOf = (item: unknown) => (isNode(item) && item.range ? lineCounter.linePos(item.range[0]).line : 0);
  const lines = isSeq(doc.contents) ? doc.contents.items.map(lineOf) : [];
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    // yaml refuses a document whose aliases expand past maxAliasCount (a "billion laughs" file).
    throw new InvalidCredentialsFileError({
      message: `${shown}: ${(err as Error).message}`,
      fix: `use at most ${MAX_ALIASES} YAML aliases (*name)`,
      cause: err,
    });
  }
  const validate = validateFile();
  if (!validate(data)) throw schemaError(validate.errors![0]!, data, lines, shown);
  return data.map((raw, index) => checkEntry(raw, index, lines[index] ?? 0, data.length, shown));
}

/**
 * drone-registry-plugin reads the file with yaml.v2 into string fields, so `password: 123456` or `username: 0042`
 * is the text as written. YAML 1.2 would make them numbers (and 0042 would become 42): use the source text.
 */
function stringifyScalarsOfStringKeys(doc: ReturnType<typeof parseDocument>): void {
  visit(doc, {
    Scalar(key, node, nodePath) {
      const pair = nodePath[nodePath.length - 1];
      if (key !== 'value' || !isPair(pair) || !isScalar(pair.key) || !STRING_KEYS.has(String(pair.key.value))) return;
      if (typeof node.value === 'number' || typeof node.value === 'boolean') node.value = node.source ?? String(node.value);
    },
  });
}

function entryLabel(index: number, count: number, line: number, address: unknown): string {
  const where = line > 0 ? `line ${line}` : '';
  const what = typeof address === 'string' && address !== '' ? `address ${redactUserInfo(address)}` : '';
  const details = [where, what].filter(Boolean).join(', ');
  return `entry ${index + 1} of ${count}${details ? ` (${details})` : ''}`;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = { deny_forks: 'true or false', repos: 'a list', namespaces: 'a list', events: 'a list', branches: 'a list' };

/** ajv's first complaint, in the file's words: which entry, which key, what is wrong and how to fix it. Never a value, except events. */
function schemaError(error: ErrorObject, data: unknown, lines: number[], shown: string): InvalidCredentialsFileError {
  const [indexText, key, itemText] = error.instancePath.split('/').slice(1);
  if (indexText === undefined) {
    return new InvalidCredentialsFileError({ message: `${shown}: the top level is ${describeValue(data)}, not a list`, fix: FILE_FIX });
  }
  const entries = data as unknown[];
  const index = Number(indexText);
  const entry = entries[index];
  const at = `${shown}, ${entryLabel(index, entries.length, lines[index] ?? 0, (entry as { address?: unknown } | null)?.address)}`;
  const fail = (message: string, fix: string) => new InvalidCredentialsFileError({ message: `${at}: ${message}`, fix });
  if (key === undefined) {
    if (error.keyword === 'required') return fail('has no address', 'add "address: <registry host>" to it, e.g. address: docker.io');
    if (error.keyword === 'additionalProperties') {
      const unknown = String((error.params as { additionalProperty: string }).additionalProperty).slice(0, 40);
      const guess = closestKey(unknown);
      const hint = guess ? `did you mean ${guess}? ` : '';
      return fail(`${JSON.stringify(unknown)} is not a credentials-file key`, `${hint}an entry takes ${ENTRY_KEYS.join(', ')}`);
    }
    return fail(`is ${describeValue(entry)}, not a map of keys`, FILE_FIX);
  }
  const value = (entry as Record<string, unknown>)[key];
  if (itemText === undefined) {
    if (error.keyword === 'minItems') {
      return fail(`${key} is an empty list, which matches nothing`, `list at least one value, or remove ${key} to leave that filter off`);
    }
    if (error.keyword === 'minLength') return fail(`${key} is empty`, `give ${key} a value, or remove it`);
    return fail(`${key} is ${describeValue(value)}, not ${EXPECTED[key] ?? 'a string'}`, `write ${key} as ${EXPECTED[key] ?? 'a string'}`);
  }
  const item = Number(itemText);
  const itemValue = (value as unknown[])[item];
  const which = `${key} item ${item + 1}`;
  if (error.keyword === 'enum') {
    return fail(`${which} ${JSON.stringify(String(itemValue).slice(0, 40))} is not a Drone event`, `use ${DRONE_EVENTS.join(', ')}`);
  }
  if (error.keyword === 'minLength') return fail(`${which} is empty`, `remove it from ${key}, or give it a value`);
  return fail(`${which} is ${describeValue(itemValue)}, not a string`, `write each item of ${key} as a string`);
}

/** The entry key a typo was meant to be: one edit away, or the same but for case and separators. */
function closestKey(typed: string): string | undefined {
  const squash = (key: string) => key.toLowerCase().replace(/[-_ ]/g, '');
  return ENTRY_KEYS.find((key) => squash(key) === squash(typed)) ?? ENTRY_KEYS.find((key) => isOneEditApart(key, typed));
}

function isOneEditApart(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  const rest = (x: string, skip: number) => x.slice(i + skip);
  return rest(a, 1) === rest(b, 1) || rest(a, 1) === rest(b, 0) || rest(a, 0) === rest(b, 1);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PASSWORD_KEYS = ['password', 'password_file', 'password_env'] as const;
const PASSWORD_FIX =
  'keep one of password (inline), password_file (path of a file holding it) or password_env (name of an environment variable holding it)';
const GLOB_FIX = 'only * (any characters but /) and ** (any characters, / included) are wildcards, e.g. octocat/* or release/**';

/** The checks a schema cannot state: one password source, complete pairs, a usable address, valid globs. */
function checkEntry(written: RawCredentialsEntry, index: number, line: number, count: number, shown: string): ParsedEntry {
  const label = entryLabel(index, count, line, written.address);
  const fail = (message: string, fix: string) => new InvalidCredentialsFileError({ message: `${shown}, ${label}: ${message}`, fix });
  for (const [key, value] of Object.entries(written)) {
    if (value === null) throw fail(`${key} has no value`, `give ${key} a value, or remove the line`);
  }
  const raw = written as CheckedEntry;
  let address: string;
  try {
    address = normalizeRegistryAddress(raw.address);
  } catch (err) {
    if (!(err instanceof InvalidRegistryAddressError)) throw err;
    throw fail(`address: ${err.message}`, err.fix);
  }
  const passwordKeys = PASSWORD_KEYS.filter((key) => raw[key] !== undefined);
  if (passwordKeys.length > 1) throw fail(`sets ${passwordKeys.join(' and ')}; only one may be set`, PASSWORD_FIX);
  if (passwordKeys.length === 1 && raw.username === undefined) {
    throw fail(`has ${passwordKeys[0]} but no username`, 'add the username that goes with the password');
  }
  if (passwordKeys.length === 0 && raw.username !== undefined) throw fail('has a username but no password', PASSWORD_FIX);
  if ((raw.aws_access_key_id === undefined) !== (raw.aws_secret_access_key === undefined)) {
    throw fail(
      'has only one of aws_access_key_id and aws_secret_access_key',
      'give both AWS keys, or neither to use the default AWS credential chain',
    );
  }
  // ECR entries get their password from AWS (keys here, or the default chain), so they need none in the file.
  const isEcr = parseEcrAddress(address) !== undefined;
  if (raw.aws_access_key_id !== undefined && !isEcr) {
    throw fail(
      'has AWS keys, but its address is not an ECR registry, so nothing would use them',
      'write the ECR registry address, <12-digit account>.dkr.ecr.<region>.amazonaws.com, or remove the AWS keys',
    );
  }
  if (passwordKeys.length === 0 && raw.token === undefined && !isEcr) {
    throw fail('gives no credentials', `add username with password, password_file or password_env (or token)`);
  }
  if (raw.password_env !== undefined && !ENV_NAME.test(raw.password_env)) {
    throw fail(
      `password_env ${JSON.stringify(raw.password_env.slice(0, 40))} is not an environment variable name`,
      'write the name of the variable (letters, digits, _), e.g. HUB_PASSWORD, without $',
    );
  }
  const globs: ParsedEntry['globs'] = {};
  for (const key of ['repos', 'branches'] as const) {
    const patterns = raw[key];
    if (!patterns) continue;
    patterns.forEach((pattern, i) => {
      const problem = globProblem(pattern);
      if (problem) throw fail(`${key} item ${i + 1} ${JSON.stringify(pattern.slice(0, 40))} ${problem}`, GLOB_FIX);
    });
    globs[key] = patterns.map(compileGlob);
  }
  return { raw, index, line, label, address, globs };
}

async function resolveEntry(
  parsed: ParsedEntry,
  file: string,
  options: CredentialsFileOptions,
  touched: Map<string, string>,
): Promise<CredentialsEntry> {
  const { raw } = parsed;
  const at = `credentials file ${file}, ${parsed.label}`;
  let password = raw.password;
  let passwordSource: PasswordSource | undefined = raw.password !== undefined ? { kind: 'inline' } : undefined;
  if (raw.password_env) {
    const value = options.env[raw.password_env];
    if (!value) {
      throw new InvalidCredentialsFileError({
        message: `${at}: password_env names ${raw.password_env}, which is ${value === undefined ? 'not set' : 'empty'} in the sidecar's environment`,
        fix: `set ${raw.password_env} in the environment the sidecar starts in (the GoCD server's), or use password_file`,
      });
    }
    [password, passwordSource] = [value, { kind: 'env', name: raw.password_env }];
  }
  if (raw.password_file) {
    // Relative to the credentials file, so the two can be moved together.
    const passwordFile = path.resolve(path.dirname(file), raw.password_file);
    const shown = `${at}: password_file ${passwordFile}`;
    const { bytes } = await readProtected(passwordFile, PASSWORD_FILE_RULES, options, options.maxPasswordFileBytes, touched).catch((err) => {
      throw fileProblemError(err, shown, PASSWORD_FILE_RULES.fixes(passwordFile, options.uid));
    });
    // As `docker login --password-stdin` does: the newline an editor or `echo` leaves at the end is not part of it.
    const value = bytes.toString('utf8').replace(/\n$/, '').replace(/\r$/, '');
    if (value === '') throw new InvalidCredentialsFileError({ message: `${shown} is empty`, fix: `write the password into ${passwordFile}` });
    [password, passwordSource] = [value, { kind: 'file', path: passwordFile }];
  }
  return {
    index: parsed.index,
    line: parsed.line,
    address: parsed.address,
    username: raw.username,
    password,
    passwordSource,
    email: raw.email,
    token: raw.token,
    awsAccessKeyId: raw.aws_access_key_id,
    awsSecretAccessKey: raw.aws_secret_access_key,
    filters: {
      repos: raw.repos,
      namespaces: raw.namespaces,
      events: raw.events,
      branches: raw.branches,
      denyForks: raw.deny_forks === true,
    },
  };
}

/** What may be wrong with a file the sidecar trusts, without saying which file: the caller does. */
type ProblemKind = 'missing' | 'unreadable' | 'not-a-small-file' | 'untrusted';

class FileProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly problem: string,
  ) {
    super(problem);
  }
}

interface FileRules {
  /** Mode bits that must be clear: who else may write (or read) the file. */
  forbiddenModeBits: number;
  fixes(file: string, uid: number | undefined): Record<ProblemKind, string>;
}

const sidecarUser = (uid: number | undefined) => (uid === undefined ? "the sidecar's user" : `the sidecar's user (uid ${uid})`);

// The credentials file decides who gets which password, so nobody else may write it. Reading is allowed: it may
// hold only password_file / password_env references (a warning covers inline secrets).
const CREDENTIALS_FILE_RULES: FileRules = {
  forbiddenModeBits: 0o022,
  fixes: (file, uid) => ({
    missing: 'create it, or point GOCD_REGISTRY_BRIDGE_CREDENTIALS (serve --credentials) at the right file',
    unreadable: `make it readable by ${sidecarUser(uid)}`,
    'not-a-small-file': 'point GOCD_REGISTRY_BRIDGE_CREDENTIALS (serve --credentials) at a regular file holding the YAML list',
    untrusted:
      "it decides which builds get which password, so only the sidecar's user may write it: " +
      `chown ${uid ?? '<sidecar user>'} ${file} && chmod go-w ${file}`,
  }),
};
// A file of secrets: nobody else may read it, and nobody else may swap it. `setting` names where its path is given.
const secretFileRules = (setting: string, holds: string): FileRules => ({
  forbiddenModeBits: 0o066,
  fixes: (file, uid) => ({
    missing: `create it, owned by ${sidecarUser(uid)} with mode 600, or correct ${setting}`,
    unreadable: `make it readable by ${sidecarUser(uid)}`,
    'not-a-small-file': `point ${setting} at a regular file holding only ${holds}`,
    untrusted: `it holds ${holds}, so only the sidecar's user may read or write it: chown ${uid ?? '<sidecar user>'} ${file} && chmod 600 ${file}`,
  }),
});
const PASSWORD_FILE_RULES = secretFileRules('password_file', 'a password');

/**
 * A file of secrets the sidecar itself uses (serve --drone-registry-secret-file), read under the password_file
 * rules: a regular file of at most maxBytes, owned by the sidecar's user or root, that nobody else may read or
 * write. `setting` names the option that gave the path, for the message and its fix.
 */
export async function readSecretFile(file: string, setting: string, options: { uid: number | undefined; maxBytes: number }): Promise<string> {
  const rules = secretFileRules(setting, 'secrets');
  const { bytes } = await readProtected(file, rules, { ...CREDENTIALS_FILE_DEFAULTS, uid: options.uid }, options.maxBytes, new Map()).catch((err) => {
    throw fileProblemError(err, `${setting} ${file}`, rules.fixes(file, options.uid));
  });
  return bytes.toString('utf8');
}

// O_NONBLOCK: a FIFO put at the path opens at once instead of waiting for a writer. O_NOCTTY: a terminal never
// becomes the sidecar's controlling terminal.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** A regular file owned by the sidecar's user (or root, who may write anything anyway), with no forbidden mode bits. */
async function readProtected(
  file: string,
  rules: FileRules,
  options: CredentialsFileOptions,
  maxBytes: number,
  touched: Map<string, string>,
): Promise<{ bytes: Buffer; stats: Stats }> {
  // Stat before opening: opening some devices acts; the path is checked again on what was opened.
  const found = await fileCall(() =>
    stat(file).catch((err: NodeJS.ErrnoException) => {
      touched.set(file, missingFingerprint(err));
      throw err;
    }),
  );
  touched.set(file, fingerprintOf(found));
  checkStats(found, rules, options.uid, maxBytes);
  const handle = await fileCall(() => open(file, OPEN_FLAGS));
  try {
    const stats = await fileCall(() => handle.stat());
    touched.set(file, fingerprintOf(stats));
    checkStats(stats, rules, options.uid, maxBytes);
    // At most one byte past the limit (end is inclusive): a file that grew since the check is still not read whole.
    const chunks: Buffer[] = [];
    await fileCall(async () => {
      for await (const chunk of handle.createReadStream({ start: 0, end: maxBytes, autoClose: false })) chunks.push(chunk as Buffer);
    });
    const bytes = Buffer.concat(chunks);
    if (bytes.length > maxBytes) throw new FileProblem('not-a-small-file', `holds more than ${maxBytes} bytes`);
    return { bytes, stats };
  } finally {
    await handle.close();
  }
}

function checkStats(stats: Stats, rules: FileRules, uid: number | undefined, maxBytes: number): void {
  if (!stats.isFile()) {
    throw new FileProblem('not-a-small-file', `is ${stats.isDirectory() ? 'a directory' : 'a device, FIFO or socket'}, not a regular file`);
  }
  if (stats.size > maxBytes) throw new FileProblem('not-a-small-file', `holds ${stats.size} bytes, more than the ${maxBytes} allowed`);
  if (uid === undefined) return;
  if (stats.uid !== uid && stats.uid !== 0) {
    const owner = `is owned by uid ${stats.uid}, not by the sidecar's user (uid ${uid}) or root`;
    throw new FileProblem('untrusted', `${owner}, so another user could change it`);
  }
  const bad = stats.mode & rules.forbiddenModeBits;
  if (bad) {
    const who = [bad & 0o070 ? 'its group' : '', bad & 0o007 ? 'other users' : ''].filter(Boolean).join(' and ');
    const what = [bad & 0o044 ? 'read' : '', bad & 0o022 ? 'written' : ''].filter(Boolean).join(' and ');
    throw new FileProblem('untrusted', `may be ${what} by ${who} (mode ${formatMode(stats.mode)}, owner uid ${stats.uid})`);
  }
}

async function fileCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof FileProblem) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileProblem('missing', 'does not exist');
    throw new FileProblem('unreadable', `cannot be read by the sidecar's user (${code ?? (err as Error).message})`);
  }
}

function fileProblemError(err: unknown, shown: string, fixes: Record<ProblemKind, string>): unknown {
  if (!(err instanceof FileProblem)) return err;
  return new InvalidCredentialsFileError({ message: `${shown} ${err.problem}`, fix: fixes[err.kind] });
}

function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** Changes whenever the file's content may have: replaced (inode), rewritten (size, times). */
function fingerprintOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function missingFingerprint(err: NodeJS.ErrnoException): string {
  return `unreadable:${err.code ?? err.message}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reloading

/** Cancellable timers; the real ones never keep the process alive. */
export interface StoreTimers {
  setTimeout(callback: () => void, ms: number): { cancel(): void };
  setInterval(callback: () => void, ms: number): { cancel(): void };
}

export interface CredentialsFileStoreOptions extends CredentialsFileOptions {
  log: Logger;
  now(): number;
  debounceMs: number; // 200 ms: editors save in steps (truncate, write; or write a temporary file, rename): load once, after the last
  debounceMaxMs: number; // 1 s: a directory written to all the time (a log beside the file) must not put the check off for ever
  recheckMs: number; // 5 s: fs.watch misses changes on network file systems and through some symlink swaps; a stat is cheap
  timers: StoreTimers;
  /** Calls onEvent when anything in the directory changes; onError when watching stops working. */
  watchDirectory(directory: string, onEvent: () => void, onError: (err: Error) => void): { close(): void };
}

export const REAL_TIMERS: StoreTimers = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms).unref();
    return { cancel: () => clearTimeout(timer) };
  },
  setInterval(callback, ms) {
    const timer = setInterval(callback, ms).unref();
    return { cancel: () => clearInterval(timer) };
  },
};

function watchRealDirectory(directory: string, onEvent: () => void, onError: (err: Error) => void): { close(): void } {
  try {
    const watcher = watch(directory, { persistent: false }, onEvent);
    watcher.on('error', (err) => {
      watcher.close();
      onError(err);
    });
    return watcher;
  } catch (err) {
    onError(err as Error);
    return { close: () => undefined };
  }
}

export const CREDENTIALS_FILE_STORE_DEFAULTS: Omit<CredentialsFileStoreOptions, 'log'> = {
  ...CREDENTIALS_FILE_DEFAULTS,
  now: Date.now,
  debounceMs: 200,
  debounceMaxMs: 1_000,
  recheckMs: 5_000,
  timers: REAL_TIMERS,
  watchDirectory: watchRealDirectory,
};

/** For a status page: what is loaded and from where, never a secret. */
export interface CredentialsFileStatus {
  file: string;
  lastReloadAt?: string; // ISO time of the last successful read
  lastError?: { message: string; fix: string; at: string };
  entries: {
    address: string;
    username?: string;
    credentials: string; // "password (inline)", "password (file /run/secrets/hub)", "token", "AWS (ECR)"
    /** As written in the file; a filter that is not set is left out. */
    filters: {
      repos?: readonly string[];
      namespaces?: readonly string[];
      events?: readonly string[];
      branches?: readonly string[];
      deny_forks?: boolean;
    };
  }[];
}

/**
 * The credentials file, loaded at start and kept current: a change in its directory (debounced) or a change of any
 * file it was read from (found by a periodic stat) loads it again. A new version replaces the old one only once it
 * is valid as a whole; otherwise the old one stays and one warning says why.
 */
export class CredentialsFileStore {
  private current!: LoadedCredentialsFile;
  /** Each file the last attempt read or tried, with its fingerprint then. */
  private touched = new Map<string, string>();
  private lastReloadAt?: number;
  private lastError?: { error: BridgeError; at: number };
  private loading: Promise<void> = Promise.resolve();
  private debounce?: { cancel(): void };
  /** When the first directory event since the last check came. */
  private burstStartedAt?: number;
  private recheck?: { cancel(): void };
  private watcher?: { close(): void };

  private constructor(
    readonly file: string,
    private readonly options: CredentialsFileStoreOptions,
  ) {}

  /** Loads the file (an InvalidCredentialsFileError when it cannot be used), then watches it. */
  static async open(file: string, options: Partial<CredentialsFileStoreOptions> & { log: Logger }): Promise<CredentialsFileStore> {
    const store = new CredentialsFileStore(path.resolve(file), { ...CREDENTIALS_FILE_STORE_DEFAULTS, ...options });
    const touched = new Map<string, string>();
    store.accept(await load(store.file, store.options, touched), touched);
    store.watch();
    return store;
  }

  get list(): CredentialsList {
    return this.current.list;
  }

  findForHost(host: string): CredentialsEntry | undefined {
    return this.current.list.findForHost(host);
  }

  entitledFor(request: DroneCredentialsRequest): CredentialsEntry[] {
    return this.current.list.entitledFor(request);
  }

  /** Loads the file again now; resolves once done, whether the new version was taken or refused. */
  reload(): Promise<void> {
    this.loading = this.loading.then(() => this.attempt());
    return this.loading;
  }

  /** Loads the file again if a file it was read from has changed since (the periodic check). */
  async reloadIfChanged(): Promise<void> {
    for (const [file, fingerprint] of this.touched) {
      const now = await stat(file).then(fingerprintOf, missingFingerprint);
      if (now !== fingerprint) return this.reload();
    }
  }

  status(): CredentialsFileStatus {
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      file: this.file,
      lastReloadAt: this.lastReloadAt === undefined ? undefined : iso(this.lastReloadAt),
      lastError: this.lastError && { message: this.lastError.error.message, fix: this.lastError.error.fix, at: iso(this.lastError.at) },
      entries: this.current.list.entries.map((entry) => ({
        address: entry.address,
        username: entry.username,
        credentials: describeCredentials(entry),
        filters: {
          repos: entry.filters.repos,
          namespaces: entry.filters.namespaces,
          events: entry.filters.events,
          branches: entry.filters.branches,
          deny_forks: entry.filters.denyForks || undefined,
        },
      })),
    };
  }

  close(): void {
    this.watcher?.close();
    this.debounce?.cancel();
    this.recheck?.cancel();
  }

  private watch(): void {
    const { timers, log } = this.options;
    // Any event in the directory, not only for the file's name: Kubernetes updates a mounted ConfigMap or Secret by
    // swapping a ..data symlink, and the file's own name never appears in an event.
    this.watcher = this.options.watchDirectory(
      path.dirname(this.file),
      () => {
        this.debounce?.cancel();
        const { debounceMs, debounceMaxMs, now } = this.options;
        const nowMs = now();
        this.burstStartedAt ??= nowMs;
        // Only a change of a file it was read from is worth a parse: the directory may also hold files written all
        // the time (a log, the Drone secret's neighbours), and a reparse of a large file on each of their writes
        // is what the periodic check already avoids. Their events still come, so a burst waits debounceMaxMs at most.
        const waitMs = Math.max(0, Math.min(debounceMs, this.burstStartedAt + debounceMaxMs - nowMs));
        this.debounce = timers.setTimeout(() => {
          this.burstStartedAt = undefined;
          void this.reloadIfChanged();
        }, waitMs);
      },
      (err) => log.debug('cannot watch the credentials file directory; checking it periodically instead', { file: this.file, err }),
    );
    this.recheck = timers.setInterval(() => void this.reloadIfChanged(), this.options.recheckMs);
  }

  private async attempt(): Promise<void> {
    const touched = new Map<string, string>();
    try {
      this.accept(await load(this.file, this.options, touched), touched);
    } catch (err) {
      this.refuse(err, touched);
    }
  }

  private accept(loaded: LoadedCredentialsFile, touched: Map<string, string>): void {
    const { log } = this.options;
    // Registered before anything is logged, so no later line can show one.
    for (const entry of loaded.list.entries) {
      for (const secret of [entry.password, entry.token, entry.awsSecretAccessKey]) if (secret) log.registerSecret(secret);
    }
    const isChange = this.current?.digest !== loaded.digest || this.lastError !== undefined;
    this.current = loaded;
    this.touched = touched;
    this.lastReloadAt = this.options.now();
    this.lastError = undefined;
    if (!isChange) return;
    log.info('credentials file loaded', { file: this.file, entries: loaded.list.entries.length });
    for (const warning of loaded.warnings) log.warn(warning, { file: this.file });
  }

  private refuse(err: unknown, touched: Map<string, string>): void {
    const { log } = this.options;
    const error =
      err instanceof BridgeError
        ? err
        : new InvalidCredentialsFileError({
            message: `credentials file ${this.file} could not be loaded (${(err as Error).message})`,
            fix: 'report this as a bug with the sidecar log; the last good credentials stay in use',
            cause: err,
          });
    // The files of the failed attempt are the ones to watch: fixing any of them is worth another try.
    this.touched = new Map([...this.touched, ...touched]);
    const isRepeat = this.lastError?.error.message === error.message;
    this.lastError = { error, at: this.options.now() };
    if (isRepeat) return;
    log.warn('credentials file not reloaded, keeping the last good one', {
      file: this.file,
      problem: error.message,
      fix: error.fix,
      entries: this.current.list.entries.length,
    });
  }
}

function describeCredentials(entry: CredentialsEntry): string {
  const source = entry.passwordSource;
  if (source) return `password (${source.kind === 'inline' ? 'inline' : source.kind === 'file' ? `file ${source.path}` : `env ${source.name}`})`;
  if (entry.token) return 'token';
  return 'AWS (ECR)';
}
