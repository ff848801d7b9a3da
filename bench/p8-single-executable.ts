// P8 single executable (issue 15): what carrying Node inside the jar costs. The jar's size; through the real JVM
// harness, the first call of a GoCD server start on each runtime (the embedded executable unpacked into an empty
// work dir, then again with the copy already there and only its SHA-256 checked, and the bundle on the system
// Node); the sidecar's RSS after the same polls on each; and the bare cold start (`--version`) of the executable
// against the bundle on the system Node. No targets: the issue asks what it costs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import JSZip from 'jszip';
import { GoCdHost, PLUGIN_JAR } from '../test/support/gocd-host';
import { pidsMatching } from '../test/support/processes';
import { pushImage } from '../test/support/push-image';
import { startRegistry } from '../test/support/registry-server';
import { configMap } from '../test/support/sidecar-app';
import { log, memoryOf, ROOT, round, Row, spread } from './support';

const STARTS = 3;
const POLLS = 200;
const VERSION_RUNS = 10;

type Runtime = 'embedded' | 'system';

export async function runP8(): Promise<{ rows: Row[]; details: unknown }> {
  const jarBytes = readFileSync(PLUGIN_JAR);
  const jar = await JSZip.loadAsync(jarBytes);
  const gzipped = await jar.file('sidecar/linux-x64/gocd-registry-bridge.gz')?.async('nodebuffer');
  if (!gzipped) throw new Error('p8: the jar has no linux-x64 executable; build on linux-x64');
  const executableBytes = gunzipSync(gzipped).length;
  const arm64Bytes = (await jar.file('sidecar/linux-arm64/gocd-registry-bridge.gz')?.async('nodebuffer'))?.length ?? 0;
  const bundleBytes = statSync(path.join(ROOT, 'dist', 'gocd-registry-bridge.js')).size;

  const registry = await startRegistry();
  try {
    await pushImage(registry, 'backends/database', ['1.0.0', '1.1.0', '1.2.0'], { seed: 'p8' });
    const body = {
      'repository-configuration': configMap({ DOCKER_REGISTRY_URL: `${registry.url}/v2/`, DOCKER_REGISTRY_NAME: registry.host }),
      'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database' }),
    };
    const firstCall: Record<string, number[]> = { unpack: [], unpacked: [], system: [] };
    const rss: Record<Runtime, number[]> = { embedded: [], system: [] };
    for (let run = 0; run < STARTS; run += 1) {
      const workDir = mkdtempSync(path.join(tmpdir(), 'bridge-p8-'));
      try {
        firstCall.unpack!.push(round(await timeFirstCall(workDir, 'embedded', body, rss.embedded)));
        firstCall.unpacked!.push(round(await timeFirstCall(workDir, 'embedded', body)));
        firstCall.system!.push(round(await timeFirstCall(workDir, 'system', body, rss.system)));
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
      log(`p8: start ${run + 1}: first call ${round(firstCall.unpack!.at(-1)!)} ms (unpack), ${round(firstCall.unpacked!.at(-1)!)} ms (unpacked), ${round(firstCall.system!.at(-1)!)} ms (system node)`);
    }

    const workDir = mkdtempSync(path.join(tmpdir(), 'bridge-p8-version-'));
    let versionTimes: Record<Runtime, number[]>;
    try {
      const executable = path.join(workDir, 'gocd-registry-bridge');
      execFileSync('sh', ['-c', 'gunzip -c > "$1" && chmod 700 "$1"', 'sh', executable], { input: gzipped });
      versionTimes = { embedded: timeVersion(executable, []), system: timeVersion(process.execPath, [path.join(ROOT, 'dist', 'gocd-registry-bridge.js')]) };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }

    const mib = (bytes: number) => round(bytes / 2 ** 20);
    const rows: Row[] = [
      { metric: 'plugin jar size', target: '—', unit: 'MiB', value: spread([mib(jarBytes.length)]), pass: null, note: `linux-x64 executable gzipped ${mib(gzipped.length)} MiB (${mib(executableBytes)} MiB unpacked), linux-arm64 ${mib(arm64Bytes)} MiB; without them the jar would be ${mib(jarBytes.length - gzipped.length - arm64Bytes)} MiB; the .js bundle ${mib(bundleBytes)} MiB` },
      { metric: 'first call after a GoCD start, embedded executable, empty work dir (gunzip, SHA-256, write, start)', target: '—', unit: 'ms', value: spread(firstCall.unpack!), pass: null },
      { metric: 'first call after a GoCD start, embedded executable already unpacked (SHA-256 check, start)', target: '—', unit: 'ms', value: spread(firstCall.unpacked!), pass: null },
      { metric: `first call after a GoCD start, bundle on the system Node (${process.version})`, target: '—', unit: 'ms', value: spread(firstCall.system!), pass: null },
      { metric: `sidecar RSS after ${POLLS} latest-revision calls, embedded executable (Node 24 LTS, scripts/sea.mjs)`, target: '—', unit: 'MiB', value: spread(rss.embedded), pass: null },
      { metric: `sidecar RSS after ${POLLS} latest-revision calls, bundle on the system Node (${process.version})`, target: '—', unit: 'MiB', value: spread(rss.system), pass: null },
      { metric: 'cold start, `--version`: embedded executable', target: '—', unit: 'ms', value: spread(versionTimes.embedded), pass: null },
      { metric: `cold start, \`--version\`: \`node gocd-registry-bridge.js\` on the system Node (${process.version})`, target: '—', unit: 'ms', value: spread(versionTimes.system), pass: null },
    ];
    return { rows, details: { firstCall, rss, versionTimes, jarBytes: jarBytes.length, gzippedBytes: gzipped.length, executableBytes } };
  } finally {
    await registry.stop();
  }
}

/** Starts a JVM on workDir, times the first handle() (which starts the sidecar), then polls; stops the JVM. */
async function timeFirstCall(workDir: string, runtime: Runtime, body: unknown, rss?: number[]): Promise<number> {
  const env: Record<string, string> = runtime === 'embedded' ? { PATH: path.join(workDir, 'no-node-here') } : { GOCD_REGISTRY_BRIDGE_NODE: process.execPath };
  const host = await GoCdHost.start({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir, ...env });
  try {
    const began = performance.now();
    const reply = await host.handle('latest-revision', body);
    const ms = performance.now() - began;
    if (reply.code !== 200) throw new Error(`p8: ${runtime}: latest-revision answered ${reply.code}: ${reply.body}`);
    const chosen = runtime === 'embedded' ? "running the plugin's own executable" : 'running the bundle with Node.js';
    if (!host.stderr.includes(chosen)) throw new Error(`p8: the shim did not start the ${runtime} runtime: ${host.stderr.slice(-1000)}`);
    if (rss) {
      for (let i = 0; i < POLLS; i += 1) await host.handle('latest-revision', body);
      const [pid] = pidsMatching(workDir).filter((candidate) => candidate !== host.process.pid);
      if (pid === undefined) throw new Error('p8: no sidecar process found');
      rss.push(memoryOf(pid).rssMiB);
    }
    return ms;
  } finally {
    await host.exit();
  }
}

function timeVersion(command: string, args: string[]): number[] {
  const times: number[] = [];
  for (let i = 0; i < VERSION_RUNS; i += 1) {
    const began = performance.now();
    execFileSync(command, [...args, '--version'], { stdio: 'ignore' });
    times.push(round(performance.now() - began));
  }
  return times;
}
