// Issue 9, finding 1: a local user plants a sidecar file for the shim to run as the GoCD user (who then hands it
// the per-launch token on stdin). The shim must run only the jar's own copy, from a work dir no other user can
// write. Each case goes through the real JVM harness and the built jar.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import { GoCdHost, PLUGIN_JAR } from '../support/gocd-host';

jest.setTimeout(60_000);

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
// Another user's files need root to make; CI runs as root, so this skips only on a developer's own account.
const itAsRoot = isRoot ? it : it.skip;

describe('a planted sidecar file', () => {
  let jarCopy: Buffer;
  let hash: string;
  const cleanup: string[] = [];

  beforeAll(async () => {
    const jar = await JSZip.loadAsync(readFileSync(PLUGIN_JAR));
    jarCopy = await jar.file('sidecar/gocd-registry-bridge.js')!.async('nodebuffer');
    hash = createHash('sha256').update(jarCopy).digest('hex');
  });

  afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix)); // 0700, as the shim wants its work dir
    cleanup.push(dir);
    return dir;
  };
  /** Code that proves it ran by writing the marker, padded to the jar's copy's size (the old shim compared only sizes). */
  const payload = (marker: string) => {
    const code = Buffer.from(`require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran as ' + process.getuid());\n//`);
    return Buffer.concat([code, Buffer.alloc(jarCopy.length - code.length, 'x')]);
  };
  const callOnce = async (env: Record<string, string>) => {
    const host = await GoCdHost.start(env);
    try {
      return { reply: await host.handle('repository-configuration'), log: host.stderr };
    } finally {
      await host.exit();
    }
  };

  it('is replaced by the jar\'s copy before launch: the planted code never runs and the call succeeds', async () => {
    const workDir = tempDir('bridge-planted-');
    const marker = path.join(workDir, 'planted-code-ran');
    const planted = path.join(workDir, hash, 'gocd-registry-bridge.js');
    mkdirSync(path.dirname(planted), { mode: 0o700 });
    writeFileSync(planted, payload(marker), { mode: 0o600 });

    const { reply, log } = await callOnce({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(200);
    expect(readFileSync(planted).equals(jarCopy)).toBe(true);
    expect(log).toContain(`sidecar: ${planted} is not the jar's copy`);
  });

  itAsRoot('refuses a work dir owned by another user, naming the path, and runs nothing from it', async () => {
    const workDir = path.join(tempDir('bridge-foreign-'), 'work');
    const marker = path.join(workDir, 'planted-code-ran');
    mkdirSync(path.join(workDir, hash), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(workDir, hash, 'gocd-registry-bridge.js'), payload(marker));
    chownSync(path.join(workDir, hash, 'gocd-registry-bridge.js'), NOBODY, NOBODY);
    chownSync(path.join(workDir, hash), NOBODY, NOBODY);
    chownSync(workDir, NOBODY, NOBODY);

    const { reply } = await callOnce({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });

    expect(existsSync(marker)).toBe(false);
    expect(reply).toEqual({
      code: 500,
      body:
        `gocd-registry-bridge: unsafe work dir ${workDir}: owned by nobody, not root, so another local user could ` +
        'replace the sidecar that runs as root; remove it or chown it to root and chmod it 700, or set ' +
        'GOCD_REGISTRY_BRIDGE_WORK_DIR to a directory only root can write',
    });
  });

  itAsRoot('refuses the default dir in java.io.tmpdir when another user created it first', async () => {
    const sharedTmp = tempDir('bridge-shared-tmp-');
    chmodSync(sharedTmp, 0o1777); // like /tmp
    const homeIsAFile = path.join(sharedTmp, 'home');
    writeFileSync(homeIsAFile, ''); // so ~/.cache cannot be made and the shim falls back to java.io.tmpdir
    const workDir = path.join(sharedTmp, `gocd-registry-bridge-${userInfo().username}`);
    const marker = path.join(sharedTmp, 'planted-code-ran');
    // The attacker, as uid 65534, gets there first and plants a same-size sidecar at the exact path.
    execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'sh', '-c',
      'mkdir -m 777 "$1" "$1/$2" && cat > "$1/$2/gocd-registry-bridge.js"', 'sh', workDir, hash], { input: payload(marker) });

    const { reply, log } = await callOnce({
      JAVA_TOOL_OPTIONS: `-Duser.home=${homeIsAFile} -Djava.io.tmpdir=${sharedTmp}`,
      XDG_CACHE_HOME: 'relative/is/ignored',
    });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(500);
    expect(reply.body).toMatch(new RegExp(`^gocd-registry-bridge: unsafe work dir ${workDir}: owned by nobody, not root, .*set GOCD_REGISTRY_BRIDGE_WORK_DIR`));
    expect(log).toContain(`${path.join(homeIsAFile, '.cache', 'gocd-registry-bridge')}`); // why it did not use ~/.cache
  });
});
