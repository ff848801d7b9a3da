// `gocd-registry-bridge serve`: listen (127.0.0.1 unless --listen says otherwise), print the ready line the shim
// waits for, and exit when the shim's stdin closes (docs/sidecar-protocol.md).

import type { Server } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { CredentialsFileStore, EcrTokens } from '../credentials';
import { credentialStoreWith, openCredentialsFile, realLogger, realMetadataStore, realRegistryDeps } from '../deps';
import { DroneRegistryExtension, SIGNATURE_DEFAULTS, SignatureOptions } from '../drone';
import { BridgeError } from '../errors';
import { GitOpsService } from '../gitops';
import { keepAlivePoster } from '../http';
import type { Logger } from '../log';
import { RegistryClient } from '../registry';
import { defaultDataDir, openStore, RecordStore, StatusRegistry, statusRegistryLocation, StoreLocation } from '../status-registry';
import { describePolicy, isLoopbackAddress } from './access';
import { AppOptions, createSidecarServer, createStatusServer, sidecarRoutes } from './app';
import { Observability } from './observability';
import { ListenAddress, parseTagReuseMs, readDroneSecrets, readGitOpsTokens, readStatusRegistryTokens, readStatusToken, ServeOptionError, urlHost } from './serve-options';

// A status-registry action's answer is read for the build Drone started ({"number": 18, …}): more is not such an answer.
const ACTION_ANSWER_MAX_BYTES = 64 * 1024;

export interface ServeOptions {
  listen: ListenAddress;
  /** --allow-remote-gocd: GoCD calls from peers other than loopback (still with the token). */
  allowRemoteGoCd: boolean;
  /** --status-token-file. */
  statusTokenFile?: string;
  /** --credentials; GOCD_REGISTRY_BRIDGE_CREDENTIALS otherwise. */
  credentialsFile?: string;
  /** --drone-registry-secret-file; GOCD_REGISTRY_BRIDGE_DRONE_SECRET otherwise; neither: no Drone route. */
  droneSecretFile?: string;
  /** --drone-allow-hmac-sha1. */
  droneAllowHmacSha1?: boolean;
  /** --drone-max-clock-skew, in milliseconds; 0 turns the Date check off. */
  droneMaxClockSkewMs?: number;
  /** --status-registry-token-file: turns the build-status registry on, under these API tokens. */
  statusRegistryTokenFile?: string;
  /** --data-dir: the SQLite database and the handlers' secrets directory; ~/.local/share/gocd-registry-bridge otherwise. */
  dataDir?: string;
  /** --status-registry-db postgres://…: records in PostgreSQL (several nodes) instead of SQLite. */
  statusRegistryDb?: string;
  /** --status-registry-call-timeout, in milliseconds: one action call's limit; a claim 3 times as old is retaken. */
  statusRegistryCallTimeoutMs?: number;
  /** --gitops-token-file: serve POST /gitops/update to callers with one of its tokens; needs --credentials. */
  gitopsTokenFile?: string;
  /** --gitops-allow-insecure-http: http:// and file:// repositories for the write-back. */
  gitopsAllowInsecureHttp?: boolean;
  /** --gitops-signing-key: sign every write-back commit with this SSH private key. */
  gitopsSigningKey?: string;
  /** GOCD_REGISTRY_BRIDGE_STATUS_PORT: also serve /status and /metrics here, on loopback. */
  statusPort?: number;
  tokenFromStdin: boolean;
  exitOnStdinEof: boolean;
  version: string;
}

export async function serve(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = realLogger(env);
  const statusToken = await readStatusToken(options.statusTokenFile, env.GOCD_REGISTRY_BRIDGE_STATUS_TOKEN, process.getuid?.());
  const token = options.tokenFromStdin ? await readFirstStdinLine() : env.GOCD_REGISTRY_BRIDGE_TOKEN ?? '';
  if (token === '') {
    throw new ServeOptionError({ message: 'no token', fix: 'pass --token-stdin (the shim does) or set GOCD_REGISTRY_BRIDGE_TOKEN (external mode)' });
  }
  log.registerSecret(token);
  if (statusToken !== undefined) log.registerSecret(statusToken);
  const droneSecrets = await readDroneSecrets(options.droneSecretFile, env.GOCD_REGISTRY_BRIDGE_DRONE_SECRET, process.getuid?.());
  for (const secret of droneSecrets ?? []) log.registerSecret(secret);
  if (droneSecrets === undefined && (options.droneAllowHmacSha1 || options.droneMaxClockSkewMs !== undefined)) {
    throw new ServeOptionError({
      message: '--drone-allow-hmac-sha1 and --drone-max-clock-skew set up the Drone registry extension, which is off without a Drone secret',
      fix: 'give --drone-registry-secret-file FILE (or GOCD_REGISTRY_BRIDGE_DRONE_SECRET), or leave the --drone-* options out',
    });
  }
  const credentialsPath = options.credentialsFile ?? env.GOCD_REGISTRY_BRIDGE_CREDENTIALS;
  if (droneSecrets !== undefined && !credentialsPath) {
    throw new ServeOptionError({
      message: 'the Drone registry extension is configured (a Drone secret is given) but no credentials file, from which it answers',
      fix: 'give --credentials FILE (or GOCD_REGISTRY_BRIDGE_CREDENTIALS): the YAML list of registries, with repos/events/branches filters for Drone builds',
    });
  }
  const gitopsTokens = options.gitopsTokenFile === undefined ? undefined : await readGitOpsTokens(options.gitopsTokenFile, process.getuid?.());
  for (const secret of gitopsTokens ?? []) log.registerSecret(secret);
  if (gitopsTokens && !credentialsPath) {
    throw new ServeOptionError({
      message: 'the GitOps write-back is configured (--gitops-token-file) but no credentials file, where its git tokens are',
      fix: 'give --credentials FILE with an entry per git host (address, username, password_file or token)',
    });
  }
  const observability = new Observability(log);
  const credentialsFile = credentialsPath ? await openCredentialsFile(log, env, credentialsPath) : undefined;
  if (credentialsFile) observability.showCredentialsFile(credentialsFile);
  // One ECR token cache for the GoCD poller and Drone requests alike.
  const ecrTokens = new EcrTokens({ log });
  const tagListReuseMs = parseTagReuseMs(env.GOCD_REGISTRY_BRIDGE_TAG_REUSE_SECONDS);
  // A named cache dir that cannot be used stops serve like any other bad setting: its cause and fix.
  const metadataStore = await realMetadataStore(log, env).catch((err: unknown) => {
    throw err instanceof BridgeError ? new ServeOptionError({ message: err.message, fix: err.fix, cause: err }) : err;
  });
  const registry = new RegistryClient(
    realRegistryDeps(log, credentialStoreWith(log, env, credentialsFile, ecrTokens), observability.observeRegistry, metadataStore),
    tagListReuseMs === undefined ? {} : { tagListReuseMs },
  );
  const context = { registry, log, now: Date.now, observePoll: observability.observePoll };
  const drone = droneSecrets && credentialsFile && droneExtension(droneSecrets, credentialsFile, ecrTokens, options, observability);
  const statusRegistry = await startStatusRegistry(options, observability, env);
  const gitops = gitopsTokens && { tokens: gitopsTokens, service: new GitOpsService({ credentials: credentialsFile, allowInsecureHttp: options.gitopsAllowInsecureHttp ?? false, signingKey: options.gitopsSigningKey, log }) };
  const appOptions: AppOptions = { token, allowRemoteGoCd: options.allowRemoteGoCd, statusToken, version: options.version, context, log, observability, drone: drone?.extension, statusRegistry, gitops };
  const server = createSidecarServer(appOptions);
  const { address, port } = await listen(server, options.listen);
  process.stdout.write(`GOCD_REGISTRY_BRIDGE_READY port=${port} version=${options.version} pid=${process.pid}\n`);
  const metadataCache = metadataStore ? { dir: metadataStore.dir, ...metadataStore.counts() } : 'off';
  log.info('listening', { address, port, version: options.version, pid: process.pid, status: `http://${urlHost(address)}:${port}/status`, metadataCache });
  if (drone) {
    const { secrets, allowHmacSha1, maxClockSkewMs } = drone.settings;
    log.info('drone registry extension on', { endpoint: `http://${urlHost(address)}:${port}/drone/registry`, secrets: secrets.length, allowHmacSha1, maxClockSkewSeconds: maxClockSkewMs / 1000 });
  }
  if (!isLoopbackAddress(address)) warnBeyondLoopback(address, appOptions, log);
  if (options.statusPort !== undefined) listenForStatus(options.statusPort, appOptions, log);

  const stop = (reason: string): void => {
    log.info('stopping', { reason });
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  if (options.exitOnStdinEof) {
    // The JVM holds our stdin open; EOF means it is gone, even after kill -9, which runs no shutdown hooks.
    process.stdin.on('end', () => stop('stdin closed: the GoCD server is gone'));
    process.stdin.resume();
  }
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * The build-status registry, when a token file is given: its store opened (the SQLite driver is loaded only now, so
 * a serve without the registry starts without it), and its retries of due and lost actions started.
 */
async function startStatusRegistry(options: ServeOptions, observability: Observability, env: NodeJS.ProcessEnv): Promise<AppOptions['statusRegistry']> {
  const { log } = observability;
  if (options.statusRegistryTokenFile === undefined) {
    if (options.dataDir !== undefined || options.statusRegistryDb !== undefined) {
      throw new ServeOptionError({ message: '--data-dir and --status-registry-db set up the status registry, which is off without its token file', fix: 'give --status-registry-token-file FILE, or leave those options out' });
    }
    return undefined;
  }
  const tokens = await readStatusRegistryTokens(options.statusRegistryTokenFile, process.getuid?.());
  for (const token of tokens) log.registerSecret(token);
  const dataDir = options.dataDir ?? defaultDataDir(env);
  let location: StoreLocation | undefined;
  let store: RecordStore;
  try {
    location = statusRegistryLocation(dataDir, options.statusRegistryDb);
    store = await openStore(location);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_DLOPEN_FAILED') {
      throw new ServeOptionError({ message: `the status registry's ${location?.engine} driver cannot be loaded (${code})`, fix: 'the single-file sidecar leaves the native SQLite driver out: npm install better-sqlite3@12 in a directory of your own and start serve with NODE_PATH=that/node_modules, or use --status-registry-db postgres://…', cause: err });
    }
    if (err instanceof BridgeError) throw new ServeOptionError({ message: err.message, fix: err.fix, cause: err });
    throw new ServeOptionError({ message: `the status registry's ${location?.engine} store cannot be opened: ${(err as Error).message}`, fix: location?.engine === 'sqlite' ? `check that ${dataDir} is writable by this user` : 'check the URL, that PostgreSQL runs there, and PGPASSWORD or ~/.pgpass', cause: err });
  }
  const callTimeoutMs = options.statusRegistryCallTimeoutMs;
  const policy = callTimeoutMs === undefined ? {} : { callTimeoutMs, staleClaimMs: 3 * callTimeoutMs };
  const registry = new StatusRegistry({ store, log, secretsDir: path.join(dataDir, 'secrets'), env, uid: process.getuid?.(), policy, observe: observability.observeStatusRegistry, fetch: keepAlivePoster(ACTION_ANSWER_MAX_BYTES) });
  registry.start();
  log.info('status registry on', { engine: location.engine, tokens: tokens.length, ...(location.engine === 'sqlite' ? { file: location.file } : {}) });
  return { registry, tokens };
}

/**
 * The Drone registry extension over the credentials file, and the signature settings it runs with (for the log). An
 * entry answers with its own username and password, or, for an ECR registry, with a token from the shared cache.
 */
function droneExtension(secrets: string[], credentialsFile: CredentialsFileStore, ecrTokens: EcrTokens, options: ServeOptions, observability: Observability) {
  const settings: SignatureOptions = {
    ...SIGNATURE_DEFAULTS,
    secrets,
    allowHmacSha1: options.droneAllowHmacSha1 ?? SIGNATURE_DEFAULTS.allowHmacSha1,
    maxClockSkewMs: options.droneMaxClockSkewMs ?? SIGNATURE_DEFAULTS.maxClockSkewMs,
  };
  const { log, observeDroneRequest } = observability;
  const extension = new DroneRegistryExtension({ ...settings, credentials: credentialsFile, exchangeLogin: (entry) => ecrTokens.credentialsForEntry(entry), log, observe: observeDroneRequest });
  return { extension, settings };
}

async function listen(server: Server, at: ListenAddress): Promise<AddressInfo> {
  server.listen(at.port, at.host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    throw new ServeOptionError({
      message: `cannot listen on ${urlHost(at.host)}:${at.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      fix: 'choose a free port and an address of this machine (--listen HOST:PORT)',
      cause: err,
    });
  }
  return server.address() as AddressInfo;
}

/** Anyone who can reach the address can now knock: say which policy guards which route. */
function warnBeyondLoopback(address: string, options: AppOptions, log: Logger): void {
  const policies = { allowRemoteGoCd: options.allowRemoteGoCd ?? false, statusToken: options.statusToken };
  const routes = sidecarRoutes(options).map((route) => `${route.methods.join(',')} ${route.path}: ${describePolicy(route.auth, policies)}`);
  log.warn('listening beyond loopback: each route admits only what its policy allows', { address, routes });
}

/** A fixed port for /status and /metrics, so an admin need not look up the sidecar's port; busy is not fatal. */
function listenForStatus(port: number, options: AppOptions, log: Logger): void {
  const server = createStatusServer(options).listen(port, '127.0.0.1');
  server.once('listening', () => log.info('status page listening', { url: `http://127.0.0.1:${port}/status` }));
  server.once('error', (err) => log.warn('status port unavailable; /status stays on the main port', { port, error: err.message }));
}

function readFirstStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.once('line', (line) => {
      resolve(line.trim()); // before close(): close() emits 'close' at once, which would resolve ''
      lines.close();
    });
    lines.once('close', () => resolve(''));
    process.stdin.once('error', reject);
  });
}
