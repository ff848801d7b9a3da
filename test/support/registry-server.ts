// Starts Debian's docker-registry (the real distribution registry) on a free loopback port, its config and
// keys in a throwaway directory: plain, htpasswd or token auth, over http or (with a throwaway CA) https.

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeServerCertificate, ServerCertificate } from './certs';
import { freePort } from './free-port';
import { httpRequest } from './http-request';
import { Credentials, startTokenServer, TokenServer, TokenServerOptions } from './token-server';

export interface StartedRegistry {
  /** http://127.0.0.1:<port>, or https:// in TLS mode */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  /** TLS mode: PEM of the CA that signed the registry's (and token server's) certificate. */
  caFile?: string;
  /** Token mode: the token server the registry's challenge points at. */
  tokenServer?: TokenServer;
  stop(): Promise<void>;
}

export interface RegistryMode {
  htpasswd?: Credentials;
  /** Bearer-token auth through a token server started alongside; see token-server.ts for the options. */
  token?: Omit<TokenServerOptions, 'tls'>;
  /** Serve https with a certificate for 127.0.0.1 signed by a throwaway CA (StartedRegistry.caFile). */
  tls?: boolean;
}

const REGISTRY_BINARY = process.env.DOCKER_REGISTRY_BINARY ?? 'docker-registry';
const START_TIMEOUT_MS = 15_000;

export async function startRegistry(mode: RegistryMode = {}): Promise<StartedRegistry> {
  // distribution takes exactly one auth provider.
  if (mode.htpasswd && mode.token) throw new Error('a registry takes htpasswd or token auth, not both');
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-registry-'));
  let tokenServer: TokenServer | undefined;
  const cleanUp = async () => {
    await tokenServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tls = mode.tls ? makeServerCertificate(dir) : undefined;
    tokenServer = mode.token ? await startTokenServer({ ...mode.token, tls }) : undefined;
    const { child, url, port } = await spawnRegistry(dir, mode, tls, tokenServer);
    return {
      url,
      host: `127.0.0.1:${port}`,
      ...(tls && { caFile: tls.caFile }),
      ...(tokenServer && { tokenServer }),
      stop: async () => {
        await stopRegistry(child);
        await cleanUp();
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

/** Runs docker-registry until it answers /v2/, on a fresh port per attempt in case another process took one. */
async function spawnRegistry(dir: string, mode: RegistryMode, tls?: ServerCertificate, tokenServer?: TokenServer) {
  const ca = tls && readFileSync(tls.caFile);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'config.yml'), registryConfig(dir, port, mode, tls, tokenServer));
    const child = spawn(REGISTRY_BINARY, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    try {
      await waitUntilServing(url, ca, child, () => stderr);
      return { child, url, port };
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
    }
  }
  throw lastError;
}

function registryConfig(dir: string, port: number, mode: RegistryMode, tls?: ServerCertificate, tokenServer?: TokenServer): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    // The filesystem driver fsyncs every file it writes, three per tag; in memory, tags push about twice as fast.
    '  inmemory: {}',
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (tls) lines.push('  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`);
  if (mode.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    // bcrypt is the only hash distribution accepts; htpasswd (apache2-utils) makes it.
    writeFileSync(file, execFileSync('htpasswd', ['-Bbn', mode.htpasswd.username, mode.htpasswd.password]));
    lines.push('auth:', '  htpasswd:', '    realm: bridge-test', `    path: ${file}`);
  }
  if (tokenServer) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${tokenServer.realm}`,
      `    service: ${tokenServer.service}`,
      `    issuer: ${tokenServer.issuer}`,
      `    rootcertbundle: ${tokenServer.rootCertBundle}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function waitUntilServing(url: string, ca: Buffer | undefined, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    try {
      const response = await httpRequest(`${url}/v2/`, { ca });
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not start within ${START_TIMEOUT_MS} ms: ${stderr()}`);
}

async function stopRegistry(child: ChildProcess): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
