// Issue 9, finding 1: a local user plants code for the shim to run as the GoCD user (who then hands it the
// per-launch token on stdin). The shim must run only the jar's own copy, from a work dir no other user can
// write, and the sidecar must load nothing from the dirs above it. Each case drives the built jar in a real JVM.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import { refusedPort } from '../support/free-port';
import { GoCdHost, PluginReply, PLUGIN_JAR } from '../support/gocd-host';
import { configMap } from '../support/sidecar-app';

jest.setTimeout(60_000);

const NOBODY = 65534;
const SCRIPT = 'gocd-registry-bridge.cjs';
// Another user's files need root to make; CI runs as root, so these skip only on a developer's own account.
const itAsRoot = process.getuid?.() === 0 ? it : it.skip;

// The bundle on a system Node, where a planted .cjs or node_modules could matter (the jar's executable is the
// default runtime on linux-x64 and loads no files beside itself).
const SYSTEM_NODE = { GOCD_REGISTRY_BRIDGE_NODE: process.execPath };

/** Runs a shell script as uid 65534, the other local user. */
function asNobody(script: string, args: string[], input: string | Buffer = ''): void {
  execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'sh', '-c', script, 'sh', ...args], { input });
}

describe('code another local user planted', () => {
  let jarCopy: Buffer;
  let hash: string;
  const cleanup: string[] = [];

  beforeAll(async () => {
    const jar = await JSZip.loadAsync(readFileSync(PLUGIN_JAR));
    jarCopy = await jar.file('sidecar/gocd-registry-bridge.js')!.async('nodebuffer');
    hash = createHash('sha256').update(jarCopy).digest('hex');
  });

  afterAll(() => cleanup.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  const tempDir = (prefix: string, mode = 0o700) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    chmodSync(dir, mode);
    cleanup.push(dir);
    return dir;
  };
  /** Code that proves it ran by writing the marker, padded to the jar's copy's size (the old shim compared only sizes). */
  const payload = (marker: string) => {
    const code = Buffer.from(`require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran as ' + process.getuid());\n//`);
    return Buffer.concat([code, Buffer.alloc(jarCopy.length - code.length, 'x')]);
  };
  const callOnce = async (env: Record<string, string>, requestName = 'repository-configuration', body?: unknown) => {
    const host = await GoCdHost.start(env);
    try {
      const reply: PluginReply = await host.handle(requestName, body);
      return { reply, log: host.stderr };
    } finally {
      await host.exit();
    }
  };

  it('a same-size sidecar file is replaced by the jar\'s copy before launch: it never runs and the call succeeds', async () => {
    const workDir = tempDir('bridge-planted-');
    const marker = path.join(workDir, 'planted-code-ran');
    const planted = path.join(workDir, hash, SCRIPT);
    mkdirSync(path.dirname(planted), { mode: 0o700 });
    writeFileSync(planted, payload(marker), { mode: 0o600 });

    const { reply, log } = await callOnce({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir, ...SYSTEM_NODE });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(200);
    expect(readFileSync(planted).equals(jarCopy)).toBe(true);
    expect(log).toContain(`sidecar: ${planted} is not the jar's copy (SHA-256 `);
  });

  it('an unpacked single executable that was swapped is replaced by the jar\'s copy before launch: it never runs', async () => {
    const jar = await JSZip.loadAsync(readFileSync(PLUGIN_JAR));
    const executableHash = (await jar.file('sidecar/linux-x64/gocd-registry-bridge.sha256')!.async('string')).trim();
    const workDir = tempDir('bridge-planted-executable-');
    const marker = path.join(workDir, 'planted-code-ran');
    const planted = path.join(workDir, executableHash, 'gocd-registry-bridge');
    mkdirSync(path.dirname(planted), { mode: 0o700 });
    writeFileSync(planted, `#!/bin/sh\necho ran > '${marker}'\n`, { mode: 0o700 });

    const { reply, log } = await callOnce({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(200);
    expect(createHash('sha256').update(readFileSync(planted)).digest('hex')).toBe(executableHash);
    expect(log).toContain(`sidecar: ${planted} is not the jar's copy (SHA-256 `);
    expect(log).toContain("sidecar: running the plugin's own executable for linux-x64");
  });

  itAsRoot('a work dir owned by another user is refused, naming the path, and nothing runs from it', async () => {
    const workDir = path.join(tempDir('bridge-foreign-'), 'work');
    const marker = path.join(workDir, 'planted-code-ran');
    mkdirSync(path.join(workDir, hash), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(workDir, hash, SCRIPT), payload(marker));
    for (const owned of [path.join(workDir, hash, SCRIPT), path.join(workDir, hash), workDir]) chownSync(owned, NOBODY, NOBODY);

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

  itAsRoot('the default dir in java.io.tmpdir is refused when another user created it first', async () => {
    const sharedTmp = tempDir('bridge-shared-tmp-', 0o1777); // like /tmp
    const homeIsAFile = path.join(sharedTmp, 'home');
    writeFileSync(homeIsAFile, ''); // so ~/.cache cannot be made and the shim falls back to java.io.tmpdir
    const workDir = path.join(sharedTmp, `gocd-registry-bridge-${userInfo().username}`);
    const marker = path.join(sharedTmp, 'planted-code-ran');
    asNobody('mkdir -m 777 "$1" "$1/$2" && cat > "$1/$2/$3"', [workDir, hash, SCRIPT], payload(marker));

    const { reply, log } = await callOnce({
      JAVA_TOOL_OPTIONS: `-Duser.home=${homeIsAFile} -Djava.io.tmpdir=${sharedTmp}`,
      XDG_CACHE_HOME: 'relative/is/ignored',
    });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(500);
    expect(reply.body).toContain(`gocd-registry-bridge: unsafe work dir ${workDir}: owned by nobody, not root, so `);
    expect(log).toContain(`sidecar: not using ${path.join(homeIsAFile, '.cache', 'gocd-registry-bridge')} (`);
  });

  itAsRoot('a module or package.json in a parent dir others can write (as /tmp) is never loaded', async () => {
    const sharedTmp = tempDir('bridge-shared-parent-', 0o1777);
    const marker = path.join(sharedTmp, 'planted-code-ran');
    // node-fetch tries require('encoding'), which Node looks for in every parent's node_modules; a package.json
    // with "type": "module" would make Node refuse a CommonJS .js file.
    asNobody('mkdir -p "$1/node_modules/encoding" && cat > "$1/node_modules/encoding/index.js" && echo \'{"type":"module"}\' > "$1/package.json"',
      [sharedTmp], `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); module.exports = {};`);
    const port = await refusedPort();
    const registry = configMap({ DOCKER_REGISTRY_URL: `http://127.0.0.1:${port}/v2/`, DOCKER_REGISTRY_NAME: `127.0.0.1:${port}` });

    const { reply } = await callOnce({ GOCD_REGISTRY_BRIDGE_WORK_DIR: path.join(sharedTmp, 'work'), ...SYSTEM_NODE }, 'check-repository-connection', {
      'repository-configuration': registry,
    });

    expect(existsSync(marker)).toBe(false);
    expect(reply.code).toBe(200);
    expect(JSON.parse(reply.body).messages[0]).toBe(`127.0.0.1:${port} refused the connection`);
  });
});
