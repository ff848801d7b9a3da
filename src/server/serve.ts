// `gocd-registry-bridge serve`: listen on loopback, print the ready line the shim waits for, and exit when the
// shim's stdin closes (docs/sidecar-protocol.md).

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { realCredentialStore, realLogger, realRegistryDeps } from '../deps';
import type { Logger } from '../log';
import { RegistryClient } from '../registry';
import { createApp, createStatusApp } from './app';
import { Observability } from './observability';

export interface ServeOptions {
  port: number;
  /** GOCD_REGISTRY_BRIDGE_STATUS_PORT: also serve /status and /metrics here. */
  statusPort?: number;
  tokenFromStdin: boolean;
  exitOnStdinEof: boolean;
  version: string;
}

export async function serve(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = realLogger(env);
  const token = options.tokenFromStdin ? await readFirstStdinLine() : env.GOCD_REGISTRY_BRIDGE_TOKEN ?? '';
  if (token === '') {
    throw new Error('no token: pass --token-stdin (the shim does) or set GOCD_REGISTRY_BRIDGE_TOKEN (external mode)');
  }
  log.registerSecret(token);
  const observability = new Observability(log);
  const credentialStore = await realCredentialStore(log, env);
  const registry = new RegistryClient(realRegistryDeps(log, credentialStore, observability.observeRegistry));
  const context = { registry, log, now: Date.now, observePoll: observability.observePoll };
  const app = createApp({ token, version: options.version, context, log, observability });
  // Loopback only: the shim is the one client, and the token is not meant to cross a network.
  const server = createServer(app).listen(options.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`GOCD_REGISTRY_BRIDGE_READY port=${port} version=${options.version} pid=${process.pid}\n`);
  log.info('listening', { port, version: options.version, pid: process.pid, status: `http://127.0.0.1:${port}/status` });
  if (options.statusPort !== undefined) listenForStatus(options.statusPort, options.version, observability, log);

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

/** A fixed port for /status and /metrics, so an admin need not look up the sidecar's port; busy is not fatal. */
function listenForStatus(port: number, version: string, observability: Observability, log: Logger): void {
  const server = createServer(createStatusApp(version, observability)).listen(port, '127.0.0.1');
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
