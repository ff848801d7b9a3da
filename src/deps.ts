// The real-world dependencies (network, clock, stderr), built only by the entry points; every layer below
// takes them as arguments so tests can run on a fake clock and a loopback registry.

import os from 'node:os';
import path from 'node:path';
import { createLogger, Logger, LogLevel } from './log';
import {
  CredentialsFileStore,
  credentialsFileSource,
  CredentialStore,
  dockerConfigCredentials,
  dockerConfigSource,
  EcrTokens,
  ecrSource,
  runCredentialHelper,
} from './credentials';
import { DISK_STORE_DEFAULTS, DiskStore, MetadataStoreError } from './metadata-store';
import type { FetchLike, MetadataStore, RegistryDeps } from './registry';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function realLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const wanted = env.GOCD_REGISTRY_BRIDGE_LOG_LEVEL as LogLevel | undefined;
  const level = wanted && LOG_LEVELS.includes(wanted) ? wanted : 'info';
  return createLogger(
    batchedLines((text) => process.stderr.write(text)),
    level,
  );
}

/**
 * Lines logged in one turn of the event loop go out in one write: a write per line was a tenth of the sidecar's CPU
 * under a burst of Drone requests (P5). Lines still pending when the process exits are written first.
 */
function batchedLines(write: (text: string) => void): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    write(text);
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.push(`${line}\n`) === 1) setImmediate(flush);
  };
}

/**
 * node-fetch, loaded on the first request (with whatwg-url and tr46 it is a tenth of the sidecar's start), since
 * many calls never reach a registry. The registry transport hands every request its own keep-alive agent.
 */
export function realFetch(): FetchLike {
  let nodeFetch: Promise<typeof import('node-fetch')> | undefined;
  return async (url, init) => {
    const { default: fetch } = await (nodeFetch ??= import('node-fetch'));
    return fetch(url, init);
  };
}

/**
 * The credential store of a sidecar or CLI run: the credentials file (a path from GOCD_REGISTRY_BRIDGE_CREDENTIALS or
 * serve --credentials; read, checked and watched for edits) with its usernames and passwords, then ECR tokens for the
 * ECR registries it lists, then the docker config of the user running us. `ecrTokens` is shared with whatever else
 * serves the same file (one token cache per sidecar). A credentials file that cannot be used at start is an error,
 * not a silent fallback.
 */
export async function realCredentialStore(log: Logger, env: NodeJS.ProcessEnv = process.env, credentialsFile = env.GOCD_REGISTRY_BRIDGE_CREDENTIALS): Promise<CredentialStore> {
  return credentialStoreWith(log, env, credentialsFile ? await openCredentialsFile(log, env, credentialsFile) : undefined, new EcrTokens({ log }));
}

/** The credentials file, loaded and watched: serve hands the same one to the registry client and to Drone requests. */
export function openCredentialsFile(log: Logger, env: NodeJS.ProcessEnv, credentialsFile: string): Promise<CredentialsFileStore> {
  return CredentialsFileStore.open(credentialsFile, { log, env });
}

/** The credential store over an opened credentials file (if any) and its ECR registries, then the docker config. */
export function credentialStoreWith(log: Logger, env: NodeJS.ProcessEnv, file: CredentialsFileStore | undefined, ecrTokens: EcrTokens): CredentialStore {
  const dockerConfig = dockerConfigSource(
    dockerConfigCredentials({ configDir: env.DOCKER_CONFIG, homeDir: os.homedir(), runHelper: runCredentialHelper, now: Date.now, log }),
  );
  return new CredentialStore(file ? [credentialsFileSource(file), ecrSource(file, ecrTokens), dockerConfig] : [dockerConfig]);
}

/**
 * The metadata cache of a sidecar: GOCD_REGISTRY_BRIDGE_CACHE_DIR, else metadata/ in the shim's work dir (its
 * setting GOCD_REGISTRY_BRIDGE_WORK_DIR, else the user's XDG cache dir, as the shim picks it). A named dir that
 * cannot be used stops the sidecar; the default one only turns the cache off, with a warning: it saves requests
 * after a restart, no poll needs it.
 */
export async function realMetadataStore(log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DiskStore | undefined> {
  const options = { ...DISK_STORE_DEFAULTS, uid: process.getuid?.(), log };
  if (env.GOCD_REGISTRY_BRIDGE_CACHE_DIR) return DiskStore.open(env.GOCD_REGISTRY_BRIDGE_CACHE_DIR, options);
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  const dir = path.join(env.GOCD_REGISTRY_BRIDGE_WORK_DIR || path.join(xdg, 'gocd-registry-bridge'), 'metadata');
  try {
    return await DiskStore.open(dir, options);
  } catch (err) {
    if (!(err instanceof MetadataStoreError)) throw err;
    log.warn('metadata cache off: a restart will fetch image metadata again', { error: err.message, fix: err.fix });
    return undefined;
  }
}

export function realRegistryDeps(log: Logger, credentialStore: CredentialStore, observe?: RegistryDeps['observe'], metadataStore?: MetadataStore): RegistryDeps {
  return {
    metadataStore,
    fetch: realFetch(),
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log,
    observe,
    credentialStore,
  };
}
