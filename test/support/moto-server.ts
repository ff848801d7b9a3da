// Starts moto's server (a local stand-in for the AWS APIs; the Python package moto[server]) on a free loopback port,
// for the ECR token tests: there is no AWS here. Without moto the test fails and names the install step; it never
// skips.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort } from './free-port';
import { httpRequest } from './http-request';

export interface StartedMoto {
  /** http://127.0.0.1:<port>: the endpoint for every AWS service moto serves. */
  url: string;
  stop(): Promise<void>;
}

const PYTHON = 'python3';
// moto imports every service's models on start: about 2 s here, more on a busy machine.
const START_TIMEOUT_MS = 30_000;
const INSTALL_STEP = `bash scripts/install-deps.sh (or: ${PYTHON} -m pip install 'moto[server]')`;

export async function startMoto(): Promise<StartedMoto> {
  const probe = spawnSync(PYTHON, ['-c', 'import moto.server'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop();
    throw new Error(`moto's server is not installed for ${PYTHON} (${why}); the ECR tests need it: run ${INSTALL_STEP}`);
  }
  let lastError: unknown;
  // A fresh port per attempt, in case another process took the one found free.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(url, child, () => stderr);
      return { url, stop: () => stopMoto(child) };
    } catch (err) {
      lastError = err;
      await stopMoto(child);
    }
  }
  throw lastError;
}

async function waitUntilServing(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto's server exited with ${child.exitCode}: ${stderr()}`);
    try {
      // moto's own API: answers once the server is up, whatever services have state.
      if ((await httpRequest(`${url}/moto-api/data.json`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto's server did not start within ${START_TIMEOUT_MS} ms: ${stderr()}`);
}

async function stopMoto(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}
