// The real-world dependencies (network, clock, stderr), built only by the entry points; every layer below
// takes them as arguments so tests can run on a fake clock and a loopback registry.

import os from 'node:os';
import { createLogger, Logger, LogLevel } from './log';
import { dockerConfigCredentials, runCredentialHelper } from './credentials';
import type { FetchLike, RegistryDeps } from './registry';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function realLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const wanted = env.GOCD_REGISTRY_BRIDGE_LOG_LEVEL as LogLevel | undefined;
  const level = wanted && LOG_LEVELS.includes(wanted) ? wanted : 'info';
  return createLogger((line) => process.stderr.write(`${line}\n`), level);
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

export function realRegistryDeps(log: Logger, env: NodeJS.ProcessEnv = process.env, observe?: RegistryDeps['observe']): RegistryDeps {
  return {
    fetch: realFetch(),
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log,
    observe,
    fallbackCredentials: dockerConfigCredentials({
      configDir: env.DOCKER_CONFIG,
      homeDir: os.homedir(),
      runHelper: runCredentialHelper,
      now: Date.now,
      log,
    }),
  };
}
