// Credentials from the Docker CLI's config.json of the user running the sidecar, used when a
// package repository has no Username/Password. Looks them up as the docker CLI does: credHelpers, credsStore, auths.

import { spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { cacheKey } from '../cache-key';
import type { Logger } from '../log';
import { CredentialSourceError, Credentials, DOCKER_HUB_HOSTS, RegistryHost } from './credentials';

export interface DockerConfigSource {
  /** The Docker CLI's credentials for this registry, or undefined when it holds none the bridge can use. */
  lookup(endpoint: RegistryHost): Promise<Credentials | undefined>;
}

export interface DockerConfigOptions {
  configDir: string | undefined; // $DOCKER_CONFIG; unset or empty means ~/.docker, as for the docker CLI
  homeDir: string;
  /** Stdout of `docker-credential-<helper> get` for serverUrl; '' when the helper holds nothing for it. */
  runHelper(helper: string, serverUrl: string): Promise<string>;
  now(): number;
  log: Logger;
}

// The docker CLI runs the helper once per command; the bridge makes several requests per registry in each poll cycle,
// and a helper may take a second (keychain, cloud SDK). A minute still picks up a rotated secret soon.
const HELPER_CACHE_MS = 60_000;
// Every poll without credentials of its own looks here; checking the file once per few seconds instead of on every
// lookup takes a stat (and, with no file, a thrown ENOENT) off every poll (BENCHMARKS.md, P3).
const CONFIG_RECHECK_MS = 5_000;
// A helper waiting for a locked keychain or a GPG pinentry never returns under GoCD, where nobody can answer it.
export const CREDENTIAL_HELPER_TIMEOUT_MS = 10_000;

// The docker CLI files Hub credentials under its v1 index URL, not the API host.
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
// The name becomes part of an executable name: no path separators, no shell syntax.
const HELPER_NAME = /^[a-zA-Z0-9._-]+$/;
// docker-credential-helpers' errCredentialsNotFound, printed with exit code 1; the docker CLI matches it the same way.
const CREDENTIALS_NOT_FOUND = 'credentials not found in native keychain';
// Username docker-credential-helpers uses to say that Secret is an identity (refresh) token.
const IDENTITY_TOKEN_USERNAME = '<token>';
const MAX_DIAGNOSTIC_LENGTH = 300;

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfig {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

type Answer =
  | { kind: 'credentials'; credentials: Credentials }
  | { kind: 'token-only'; token: string }
  | { kind: 'none' };

const NONE: Answer = { kind: 'none' };

/** What to look for: the key the docker CLI passes to helpers, and the normalised names that match an auths key. */
interface RegistryKey {
  serverUrl: string;
  names: ReadonlySet<string>;
}

export function dockerConfigCredentials(options: DockerConfigOptions): DockerConfigSource {
  const file = options.configDir
    ? path.join(options.configDir, 'config.json')
    : path.join(options.homeDir, '.docker', 'config.json');
  let loaded: { stats: Stats; config: DockerConfig } | undefined;
  // A broken file is reported again on the next lookup, and read again once it is fixed.
  const recentConfig = recentAnswers<DockerConfig | undefined>(CONFIG_RECHECK_MS, options.now);
  // Failures are not kept: the keychain may be unlocked or the helper installed by the next request.
  const helperAnswers = recentAnswers<Answer>(HELPER_CACHE_MS, options.now);
  const warnedHosts = new Set<string>();

  async function readConfig(): Promise<DockerConfig | undefined> {
    let stats: Stats;
    try {
      stats = await stat(file);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw unreadable(file, err);
    }
    // Size and inode too: a rewrite within the file system's timestamp granularity, or docker login's atomic rename,
    // can leave the mtime as it was.
    if (loaded && sameVersion(loaded.stats, stats)) return loaded.config;
    loaded = undefined;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw unreadable(file, err);
    }
    const config = parseConfig(text, file);
    loaded = { stats, config };
    return config;
  }

  function askHelper(helper: string, serverUrl: string, field: string): Promise<Answer> {
    if (!HELPER_NAME.test(helper)) throw invalidHelperName(helper, `${field} in ${file}`);
    return helperAnswers(cacheKey(helper, serverUrl), () =>
      options.runHelper(helper, serverUrl).then((stdout) => parseHelperOutput(stdout, helper, serverUrl)),
    );
  }

  function settle(endpoint: RegistryHost, answer: Answer, source: string): Credentials | undefined {
    if (answer.kind === 'credentials') {
      options.log.registerSecret(answer.credentials.password);
      options.log.debug('using credentials from the Docker config', { host: endpoint.host, source });
      return answer.credentials;
    }
    if (answer.kind === 'token-only') {
      options.log.registerSecret(answer.token);
      if (!warnedHosts.has(endpoint.host)) {
        warnedHosts.add(endpoint.host);
        options.log.warn(
          `the Docker config has only a token for ${endpoint.host}, no username and password; the bridge does not ` +
            'implement the OAuth2 flow such tokens need, so it polls without credentials',
          {
            host: endpoint.host,
            source,
            fix: 'set Username and Password on the package repository (a registry access token works as the password)',
          },
        );
      }
    }
    return undefined;
  }

  return {
    async lookup(endpoint) {
      const config = await recentConfig('config', readConfig);
      if (!config) return undefined;
      const key = registryKey(endpoint);
      // A per-registry helper is authoritative, as in the docker CLI: "not found" there means no credentials.
      const perRegistry = findEntry(config.credHelpers, key);
      if (perRegistry) {
        const [name, helper] = perRegistry;
        const field = `credHelpers["${name}"]`;
        return settle(endpoint, await askHelper(helper, key.serverUrl, field), `${file} ${field}`);
      }
      // Docker Desktop sets credsStore and leaves empty auths entries; a store without this registry falls through.
      if (config.credsStore) {
        const answer = await askHelper(config.credsStore, key.serverUrl, 'credsStore');
        if (answer.kind !== 'none') return settle(endpoint, answer, `${file} credsStore`);
      }
      const auth = findEntry(config.auths, key);
      if (!auth) return undefined;
      const field = `auths["${auth[0]}"]`;
      return settle(endpoint, authEntryAnswer(auth[1], `${field} in ${file}`), `${file} ${field}`);
    },
  };
}

/**
 * Runs `docker-credential-<helper> get` with serverUrl on stdin and answers its stdout, or '' when the helper says it
 * holds no credentials for serverUrl (protocol: docker/docker-credential-helpers client/client.go).
 */
export function runCredentialHelper(
  helper: string,
  serverUrl: string,
  timeoutMs: number = CREDENTIAL_HELPER_TIMEOUT_MS,
): Promise<string> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    if (!HELPER_NAME.test(helper)) throw invalidHelperName(helper, 'the credential helper name');
    const child = spawn(program, ['get'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // Explicit although it is spawn's default: under jest, spawn's default reads the real process.env, not the
      // copy a test puts its helpers' directory on the PATH of.
      env: process.env,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A helper that exits without reading stdin breaks the pipe; its exit status is the error worth reporting.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => reject(spawnError(err, program, serverUrl, timeoutMs)));
    child.on('close', (code, signal) => {
      const out = Buffer.concat(stdout).toString('utf8');
      const errText = Buffer.concat(stderr).toString('utf8');
      if (code === 0) return resolve(out);
      if (out.trim() === CREDENTIALS_NOT_FOUND || errText.trim() === CREDENTIALS_NOT_FOUND) return resolve('');
      const status = signal ? `killed by ${signal}` : `exit code ${code}`;
      const said = diagnostic(out, errText);
      reject(
        new CredentialSourceError({
          message: `${program} get failed for ${serverUrl} (${status})${said ? `: ${said}` : ''}`,
          fix: `run "printf ${serverUrl} | ${program} get" as the user running the GoCD server to see the problem, or set Username and Password on the package repository`,
        }),
      );
    });
    // The docker CLI writes the server URL without a newline.
    child.stdin.end(serverUrl);
  });
}

function registryKey(endpoint: RegistryHost): RegistryKey {
  return endpoint.isDockerHub
    ? { serverUrl: DOCKER_HUB_KEY, names: DOCKER_HUB_HOSTS }
    : { serverUrl: endpoint.host, names: new Set([endpoint.host]) };
}

/** `http://Registry.example.com:5000/v2/` → `registry.example.com:5000`: docker login has written keys in all forms. */
function normaliseKey(key: string): string {
  return key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
}

/** The exact key the docker CLI would write wins; otherwise the first key in the file that names the same registry. */
function findEntry<T>(entries: Record<string, T>, key: RegistryKey): [string, T] | undefined {
  if (Object.hasOwn(entries, key.serverUrl)) return [key.serverUrl, entries[key.serverUrl]!];
  return Object.entries(entries).find(([name]) => key.names.has(normaliseKey(name)));
}

function authEntryAnswer(entry: AuthEntry, where: string): Answer {
  // As in the docker CLI, `auth` wins over the separate username and password fields.
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new CredentialSourceError({
        message: `"auth" of ${where} is not base64 of "username:password"`,
        fix: 'run docker login for that registry again as the user running the GoCD server, or set Username and Password on the package repository',
      });
    }
    // Only the first colon separates: passwords and access tokens may contain colons, user names may not.
    const credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    if (credentials.username !== '' && credentials.password !== '') return { kind: 'credentials', credentials };
  }
  if (entry.username && entry.password) {
    return { kind: 'credentials', credentials: { username: entry.username, password: entry.password } };
  }
  const token = entry.identitytoken || entry.registrytoken;
  return token ? { kind: 'token-only', token } : NONE;
}

function parseHelperOutput(stdout: string, helper: string, serverUrl: string): Answer {
  if (stdout.trim() === '') return NONE;
  let body: unknown;
  try {
    body = JSON.parse(stdout);
  } catch {
    body = undefined;
  }
  // Never quote the output: it is where the secret would be.
  if (!isObject(body) || typeof body.Username !== 'string' || typeof body.Secret !== 'string') {
    throw new CredentialSourceError({
      message: `docker-credential-${helper} get answered for ${serverUrl} with something other than {"ServerURL","Username","Secret"} JSON`,
      fix: `check that docker-credential-${helper} is a Docker credential helper and works for the user running the GoCD server`,
    });
  }
  if (body.Username === IDENTITY_TOKEN_USERNAME) return body.Secret === '' ? NONE : { kind: 'token-only', token: body.Secret };
  if (body.Username === '' || body.Secret === '') return NONE;
  return { kind: 'credentials', credentials: { username: body.Username, password: body.Secret } };
}

function parseConfig(text: string, file: string): DockerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a password: report the place only.
    throw new CredentialSourceError({
      message: `the Docker config ${file} is not valid JSON`,
      fix: `correct the file (for example, find the error with "python3 -m json.tool ${file}"), or remove it and run docker login again as the user running the GoCD server`,
    });
  }
  if (!isObject(raw)) throw malformed(file, 'the file', 'a JSON object');
  const auths = raw.auths ?? {};
  const credHelpers = raw.credHelpers ?? {};
  const credsStore = raw.credsStore ?? undefined;
  if (!isObject(auths) || !Object.values(auths).every(isAuthEntry)) {
    throw malformed(file, '"auths"', 'an object of objects whose auth, username, password and token fields are strings');
  }
  if (!isObject(credHelpers) || !Object.values(credHelpers).every((helper) => typeof helper === 'string')) {
    throw malformed(file, '"credHelpers"', 'an object of credential helper names');
  }
  if (credsStore !== undefined && typeof credsStore !== 'string') {
    throw malformed(file, '"credsStore"', 'a credential helper name');
  }
  return { auths: auths as Record<string, AuthEntry>, credHelpers: credHelpers as Record<string, string>, credsStore };
}

function isAuthEntry(value: unknown): value is AuthEntry {
  return (
    isObject(value) &&
    (['auth', 'username', 'password', 'identitytoken', 'registrytoken'] as const).every(
      (field) => value[field] === undefined || typeof value[field] === 'string',
    )
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameVersion(a: Stats, b: Stats): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function unreadable(file: string, err: unknown): CredentialSourceError {
  return new CredentialSourceError({
    message: `cannot read the Docker config ${file} (${(err as { code?: unknown })?.code ?? String(err)})`,
    fix: 'make the file readable by the user running the GoCD server, or point DOCKER_CONFIG of the GoCD server at a readable directory',
    cause: err,
  });
}

function malformed(file: string, what: string, expected: string): CredentialSourceError {
  return new CredentialSourceError({
    message: `${what} in the Docker config ${file} is not ${expected}`,
    fix: 'correct the file, or remove it and run docker login again as the user running the GoCD server',
  });
}

function invalidHelperName(helper: string, where: string): CredentialSourceError {
  return new CredentialSourceError({
    message: `${JSON.stringify(helper)} (${where}) is not a valid credential helper name`,
    fix: 'use the helper\'s name without the docker-credential- prefix, e.g. "ecr-login" or "pass": letters, digits, ".", "_" and "-" only',
  });
}

function spawnError(err: Error, program: string, serverUrl: string, timeoutMs: number): CredentialSourceError {
  const code = (err as { code?: unknown }).code;
  if (err.name === 'AbortError') {
    return new CredentialSourceError({
      message: `${program} get did not answer within ${timeoutMs / 1000} s for ${serverUrl}`,
      fix: 'a helper cannot prompt under GoCD: unlock its keychain or key for the user running the GoCD server, or set Username and Password on the package repository',
      retryable: true,
      cause: err,
    });
  }
  if (code === 'ENOENT' || code === 'EACCES') {
    return new CredentialSourceError({
      message: `${program} is ${code === 'ENOENT' ? 'not on the PATH' : 'not executable'} for the user running the GoCD server`,
      fix: `install ${program} on the GoCD server's PATH, or remove it from credsStore/credHelpers in the Docker config`,
      cause: err,
    });
  }
  return new CredentialSourceError({
    message: `${program} could not be started (${String(code ?? err.message)})`,
    fix: `check that ${program} runs for the user running the GoCD server, or set Username and Password on the package repository`,
    cause: err,
  });
}

/** What a failed helper said, as one short line; JSON on stdout is left out because it may carry the secret. */
function diagnostic(stdout: string, stderr: string): string {
  const text = stderr.trim() || (stdout.trim().startsWith('{') ? '' : stdout.trim());
  const line = text.replace(/\s+/g, ' ');
  return line.length > MAX_DIAGNOSTIC_LENGTH ? `${line.slice(0, MAX_DIAGNOSTIC_LENGTH)}…` : line;
}

/**
 * Answers by key, kept for ttlMs. The promise is kept, not its value, so concurrent lookups of one poll cycle share
 * a single run; a failed answer is dropped at once, so the next lookup tries again.
 */
function recentAnswers<T>(ttlMs: number, now: () => number): (key: string, produce: () => Promise<T>) => Promise<T> {
  const kept = new Map<string, { atMs: number; answer: Promise<T> }>();
  return (key, produce) => {
    const recent = kept.get(key);
    if (recent && now() - recent.atMs < ttlMs) return recent.answer;
    const entry = { atMs: now(), answer: produce() };
    kept.set(key, entry);
    entry.answer.catch(() => {
      if (kept.get(key) === entry) kept.delete(key);
    });
    return entry.answer;
  };
}
