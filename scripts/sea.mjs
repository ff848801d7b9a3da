// Builds the sidecar as a Node single executable application (SEA) per target platform from
// dist/gocd-registry-bridge.js, so a GoCD server needs no Node.js of its own (issue 15). Each runtime is an LTS
// Node from the npm registry's node-linux-<arch> package, pinned by version and integrity; the SEA blob is made by
// that same binary (the blob format belongs to one Node version; arm64's runs under qemu) and injected with
// postject. The result is gzipped for the jar, with the SHA-256 of the executable beside it: the shim checks an
// unpacked copy against that hash before every launch.
//
// Output: build/sea/<platform>/gocd-registry-bridge.gz and .sha256. Rebuilt only when the bundle, the runtime or this
// recipe changes (a hash of the three names the cached result), since it takes ~20 s a target and every jest run
// builds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

// Node 24 LTS (active until 2027-04, maintained until 2028-04), the newest 24.x the registry has per CPU. A newer
// release: update version and integrity together (`npm view node-linux-<arch>@<version> dist.integrity`).
const TARGETS = [
  { platform: 'linux-x64', version: '24.22.3', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
  { platform: 'linux-arm64', version: '24.22.0', integrity: 'sha512-xbI0deR0+gzJizE0IdT7x3ewSqtvWW7tx6QlJIBI6IszUY41yrPmOeS+b6WkA7DmSS8VKJRcMthWVwO1LbjamQ==' },
];
// The fuse postject flips so the binary runs the injected blob (Node's documented sentinel).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// The shim's node flags for the .js (SidecarLauncher), baked in here; DEP0169 is node-fetch 2's url.parse(), which
// Node 24 warns about on every start although the sidecar never hands it a URL it has not already checked.
const EXEC_ARGV = ['--max-semi-space-size=1', '--disable-warning=DEP0169'];
const BUNDLE = 'dist/gocd-registry-bridge.js';
// An arm64 runtime makes its blob and answers --version under qemu's user-mode emulation with Debian's arm64 libc
// (scripts/install-deps.sh installs both on x64 build machines).
const EMULATORS = { 'linux-arm64': ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'] };

/** Where a target's gzipped executable and its SHA-256 are written, and what the jar calls them. */
export const seaFiles = (platform) => ({ executable: `build/sea/${platform}/gocd-registry-bridge.gz`, sha256: `build/sea/${platform}/gocd-registry-bridge.sha256` });

/** Builds each target's executable unless its cached one is for this bundle; answers the platforms built. */
export function buildSea() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.warn(`sea: not built on ${process.platform}-${process.arch} (it runs the linux-x64 runtime, and the arm64 one under qemu); the jar will need Node.js on the GoCD server`);
    return [];
  }
  const bundle = readFileSync(BUNDLE);
  return TARGETS.filter((target) => buildTarget(target, bundle)).map((target) => target.platform);
}

function buildTarget(target, bundle) {
  const { platform } = target;
  const files = seaFiles(platform);
  const outDir = path.dirname(files.executable);
  const key = createHash('sha256').update(bundle).update(JSON.stringify({ target, EXEC_ARGV, recipe: readFileSync(new URL(import.meta.url), 'utf8') })).digest('hex');
  const stamp = `${outDir}/key`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === key && existsSync(files.executable) && existsSync(files.sha256)) return true;
  const run = runner(platform);
  if (!run) {
    console.warn(`sea: ${platform} not built: running its runtime needs ${EMULATORS[platform][0]} and /usr/aarch64-linux-gnu (bash scripts/install-deps.sh)`);
    return false;
  }

  const runtime = fetchRuntime(target);
  const work = `${outDir}/work`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // The code cache: V8's bytecode of the bundle's top level, made by the target's runtime with the blob, so a start
  // skips compiling it (--version 167-170 → 114-131 ms on x64; 2.3 MB less RSS at rest).
  const config = { main: path.resolve(BUNDLE), output: path.resolve(work, 'sea.blob'), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, execArgv: EXEC_ARGV };
  writeFileSync(`${work}/sea-config.json`, JSON.stringify(config));
  // The blob format belongs to one Node version: the target's own runtime makes it.
  run(runtime, ['--experimental-sea-config', `${work}/sea-config.json`], 'ignore');
  const executable = `${work}/gocd-registry-bridge`;
  copyFileSync(runtime, executable);
  chmodSync(executable, 0o755);
  execFileSync(process.execPath, [postjectCli(), executable, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SEA_FUSE], { stdio: 'ignore' });
  const version = run(executable, ['--version'], 'pipe').trim();
  if (version !== JSON.parse(readFileSync('package.json', 'utf8')).version) throw new Error(`sea: the ${platform} executable answers --version with ${JSON.stringify(version)}`);

  const bytes = readFileSync(executable);
  writeFileSync(files.sha256, `${createHash('sha256').update(bytes).digest('hex')}\n`);
  writeFileSync(`${files.executable}.tmp`, gzipSync(bytes, { level: 6 }));
  renameSync(`${files.executable}.tmp`, files.executable);
  writeFileSync(stamp, key);
  rmSync(work, { recursive: true, force: true });
  console.log(`sea: ${files.executable} (Node ${target.version}, ${mib(bytes.length)} MiB, gzipped ${mib(readFileSync(files.executable).length)} MiB)`);
  return true;
}

/** Runs a binary of the platform (natively, or under its emulator); undefined when neither is possible here. */
function runner(platform) {
  const emulator = EMULATORS[platform];
  if (!emulator) return (file, args, stdout) => execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', stdout, 'inherit'] });
  if (!existsSync(path.join(emulator[2], 'lib')) || !onPath(emulator[0])) return undefined;
  return (file, args, stdout) => execFileSync(emulator[0], [...emulator.slice(1), file, ...args], { encoding: 'utf8', stdio: ['ignore', stdout, 'inherit'] });
}

const onPath = (command) => (process.env.PATH ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, command)));

/**
 * The pinned runtime's binary, from npm's cache or the registry; npm checks the tarball against the integrity. Its
 * C++ headers come along: scripts/test.sh runs jest on the linux-x64 one (the Node 24 the jar ships) and compiles
 * native test dependencies for it against them.
 */
export function fetchRuntime({ platform, version, integrity } = TARGETS[0]) {
  const dir = `build/sea/node-${platform}-${version}`;
  const binary = `${dir}/package/bin/node`;
  if (existsSync(binary) && existsSync(`${dir}/package/include/node/node.h`)) return binary;
  mkdirSync(dir, { recursive: true });
  const spec = `node-${platform}@${version}`;
  const [packed] = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  if (packed.integrity !== integrity) throw new Error(`sea: ${spec} has integrity ${packed.integrity}, expected ${integrity}`);
  execFileSync('tar', ['-xzf', `${dir}/${packed.filename}`, '-C', dir, 'package/bin/node', 'package/include']);
  rmSync(`${dir}/${packed.filename}`);
  return binary;
}

function postjectCli() {
  return path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'node_modules', 'postject', 'dist', 'cli.js');
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
