// Starts Debian's docker-registry (the real distribution registry) on a free loopback port, in plain or
// htpasswd mode, with its storage in a throwaway directory.

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export interface StartedRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  stop(): Promise<void>;
}

export interface RegistryMode {
  htpasswd?: { username: string; password: string };
}

const REGISTRY_BINARY = process.env.DOCKER_REGISTRY_BINARY ?? 'docker-registry';
const START_TIMEOUT_MS = 15_000;

export async function startRegistry(mode: RegistryMode = {}): Promise<StartedRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-registry-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'config.yml'), registryConfig(dir, port, mode));
    const child = spawn(REGISTRY_BINARY, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(url, child, () => stderr);
      return { url, host: `127.0.0.1:${port}`, stop: () => stopRegistry(child, dir) };
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function registryConfig(dir: string, port: number, mode: RegistryMode): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (mode.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    // bcrypt is the only hash distribution accepts; htpasswd (apache2-utils) makes it.
    writeFileSync(file, execFileSync('htpasswd', ['-Bbn', mode.htpasswd.username, mode.htpasswd.password]));
    lines.push('auth:', '  htpasswd:', '    realm: bridge-test', `    path: ${file}`);
  }
  return `${lines.join('\n')}\n`;
}

async function waitUntilServing(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    try {
      const response = await fetch(`${url}/v2/`);
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not start within ${START_TIMEOUT_MS} ms: ${stderr()}`);
}

async function stopRegistry(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
