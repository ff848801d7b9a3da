// Drone's own client, for the tests: test/drone/client is a Go program on drone-go v1.7.1 (the version
// drone-runner-docker pins) that calls an endpoint as a runner does and matches the answer to images with
// docker/distribution's reference parser. Built once per source version into build/drone-client/; the Go module
// cache makes later builds work offline.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE = path.join(ROOT, 'test/drone/client');
// A first build compiles drone-go and the standard library: minutes on a busy 2-core machine.
export const DRONE_CLIENT_BUILD_TIMEOUT_MS = 300_000;

/** What the runner would send, in drone-go's JSON names (drone/types.go): the Go side decodes it into its structs. */
export interface DroneRequest {
  repo?: { slug?: string; namespace?: string; name?: string; [key: string]: unknown };
  build?: { event?: string; target?: string; source_repo?: string; [key: string]: unknown };
}

export interface DroneClientJob {
  endpoint?: string;
  secret?: string;
  skip_verify?: boolean;
  request?: DroneRequest;
  /** Images to pick a credential for, as the runner does: the first registry in the answer that matches. */
  images?: string[];
  /** Image and address pairs to match, without calling anything. */
  pairs?: { image: string; address: string }[];
}

export interface DroneClientResult {
  registries: { address: string; username: string; password?: string; email: string; token: string }[];
  /** The client's error, e.g. drone-go's error for a status above 299 (its message is the body). */
  error?: string;
  status?: number;
  /** Image → the address of the credential the runner would use, or null. */
  picked?: Record<string, string | null>;
  matches?: boolean[];
}

let built: Promise<string> | undefined;

/** The client binary, built when its sources changed since the last build. */
export function droneClientBinary(): Promise<string> {
  return (built ??= build());
}

async function build(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(path.join(SOURCE, file)));
  const binary = path.join(ROOT, 'build/drone-client', hash.digest('hex').slice(0, 16), 'drone-client');
  if (existsSync(binary)) return binary;
  mkdirSync(path.dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}`;
  try {
    // -mod=mod: the module cache (filled by scripts/install-deps.sh) serves go.sum's versions without a network.
    await promisify(execFile)('go', ['build', '-o', partial, '.'], {
      cwd: SOURCE,
      env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false' },
      timeout: DRONE_CLIENT_BUILD_TIMEOUT_MS,
    });
  } catch (err) {
    const { code, stderr } = err as { code?: string; stderr?: string };
    if (code === 'ENOENT') throw new Error('go is not installed: scripts/install-deps.sh installs golang-go');
    throw new Error(`building test/drone/client failed: ${stderr ?? (err as Error).message}`);
  }
  renameSync(partial, binary); // atomic: a concurrent jest worker sees no binary or a whole one
  return binary;
}

/** Runs one job through drone-go's client. */
export async function runDroneClient(job: DroneClientJob): Promise<DroneClientResult> {
  const binary = await droneClientBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    // 'close', not 'exit': stdout may still hold data when the process has exited.
    child.once('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as DroneClientResult);
      else reject(new Error(`drone-client exited ${code}: ${stderr}`));
    });
    child.stdin.end(JSON.stringify(job));
  });
}
