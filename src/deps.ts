// The real-world dependencies (network, clock, stderr), built only by the entry points; every layer below
// takes them as arguments so tests can run on a fake clock and a loopback registry.

import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { createLogger, Logger, LogLevel } from './log';
import { dockerConfigCredentials, FetchLike, RegistryDeps, runCredentialHelper } from './registry';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function realLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const wanted = env.GOCD_REGISTRY_BRIDGE_LOG_LEVEL as LogLevel | undefined;
  const level = wanted && LOG_LEVELS.includes(wanted) ? wanted : 'info';
  return createLogger((line) => process.stderr.write(`${line}\n`), level);
}

/**
 * node-fetch with keep-alive: a poll cycle talks to the same few registries again and again. Loaded on the first
 * request (with whatwg-url and tr46 it is a tenth of the sidecar's start), since many calls never reach a registry.
 */
export function realFetch(): FetchLike {
  const httpAgent = new http.Agent({ keepAlive: true });
  const httpsAgent = new https.Agent({ keepAlive: true });
  const byProtocol = (parsed: URL) => (parsed.protocol === 'https:' ? httpsAgent : httpAgent);
  let nodeFetch: Promise<typeof import('node-fetch')> | undefined;
  return async (url, init) => {
    const { default: fetch } = await (nodeFetch ??= import('node-fetch'));
    // A caller's own agent (a registry with its own CA) wins over the shared ones.
    return fetch(url, { ...init, agent: init?.agent ?? byProtocol });
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
