// The jar's linux-arm64 single executable, run here under qemu's user-mode emulation (this machine is x64): it
// starts as the shim starts it, prints its ready line and answers on its port. What this cannot show: speed or
// memory on real arm64 hardware, and the shim choosing it there (its platform names are covered by the JUnit tests).

import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';
import JSZip from 'jszip';
import { PLUGIN_JAR } from '../support/gocd-host';
import { onPath } from '../support/processes';

jest.setTimeout(60_000);

// By full path: the executable gets a PATH without node on it (or qemu).
const QEMU = onPath('qemu-aarch64-static');
const EMULATOR = [QEMU ?? 'qemu-aarch64-static (not installed: bash scripts/install-deps.sh)', '-L', '/usr/aarch64-linux-gnu'];

describe("the jar's linux-arm64 executable (under qemu)", () => {
  let dir: string;
  let executable: string;

  beforeAll(async () => {
    const jar = await JSZip.loadAsync(readFileSync(PLUGIN_JAR));
    const gzipped = await jar.file('sidecar/linux-arm64/gocd-registry-bridge.gz')?.async('nodebuffer');
    if (!gzipped) throw new Error('the jar has no linux-arm64 executable: the build skipped it (run bash scripts/install-deps.sh for qemu)');
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-arm64-'));
    executable = path.join(dir, 'gocd-registry-bridge');
    writeFileSync(executable, gunzipSync(gzipped), { mode: 0o700 });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is an aarch64 ELF executable', () => {
    const header = readFileSync(executable).subarray(0, 20);
    expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(header.readUInt16LE(18)).toBe(183); // e_machine EM_AARCH64
  });

  it('starts as the shim starts it and answers on its port', async () => {
    const child: ChildProcess = spawn(EMULATOR[0]!, [...EMULATOR.slice(1), executable, 'serve', '--port', '0', '--token-stdin', '--exit-on-stdin-eof'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/nonexistent' }, // no node anywhere: the executable carries its own
    });
    try {
      child.stdin!.write('arm64-test-token-0123456789abcdef\n');
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => line.startsWith('GOCD_REGISTRY_BRIDGE_READY') && resolve(line));
        child.once('exit', (code) => reject(new Error(`exited ${code} before its ready line`)));
        child.once('error', reject);
      });
      const port = /port=(\d+)/.exec(ready)?.[1];
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const reply = await fetch(`http://127.0.0.1:${port}/gocd/package-repository/1.0/package-configuration`, {
        method: 'POST',
        headers: { Authorization: 'Bearer arm64-test-token-0123456789abcdef', 'Content-Type': 'application/json' },
        body: '{}',
      });
      expect(reply.status).toBe(200);
      expect(Object.keys((await reply.json()) as object)).toContain('DOCKER_IMAGE');
    } finally {
      child.stdin!.end(); // --exit-on-stdin-eof, as when the JVM goes
      if (child.pid !== undefined && child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
