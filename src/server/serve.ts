// `gocd-registry-bridge serve`: listen on loopback, print the ready line the shim waits for, and exit when the
// shim's stdin closes (docs/sidecar-protocol.md).

import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { realLogger, realRegistryDeps } from '../deps';
import { RegistryClient } from '../registry';
import { createApp } from './app';

export interface ServeOptions {
  port: number;
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
  const context = { registry: new RegistryClient(realRegistryDeps(log)), log, now: Date.now };
  const app = createApp({ token, version: options.version, context, log });
  // Loopback only: the shim is the one client, and the token is not meant to cross a network.
  const server = app.listen(options.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`GOCD_REGISTRY_BRIDGE_READY port=${port} version=${options.version} pid=${process.pid}\n`);
  log.info('listening', { port, version: options.version, pid: process.pid });

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
