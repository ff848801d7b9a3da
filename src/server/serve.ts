// `gocd-registry-bridge serve`: listen (127.0.0.1 unless --listen says otherwise), print the ready line the shim
// waits for, and exit when the shim's stdin closes (docs/sidecar-protocol.md).

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { CredentialsFileStore, EcrTokens } from '../credentials';
import { credentialStoreWith, openCredentialsFile, realLogger, realMetadataStore, realRegistryDeps } from '../deps';
import { BridgeError } from '../errors';
import { DroneRegistryExtension, ownLogin, SIGNATURE_DEFAULTS, SignatureOptions } from '../drone';
import type { Logger } from '../log';
import { RegistryClient } from '../registry';
import { describePolicy, isLoopbackAddress } from './access';
import { AppOptions, createSidecarServer, createStatusServer, sidecarRoutes } from './app';
import { Observability } from './observability';
import { ListenAddress, parseTagReuseMs, readDroneSecrets, readStatusToken, ServeOptionError, urlHost } from './serve-options';

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
  const appOptions: AppOptions = { token, allowRemoteGoCd: options.allowRemoteGoCd, statusToken, version: options.version, context, log, observability, drone: drone?.extension };
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
  const extension = new DroneRegistryExtension({ ...settings, credentials: credentialsFile, resolveEntry: (entry) => ownLogin(entry) ?? ecrTokens.credentialsForEntry(entry), log, observe: observeDroneRequest });
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
