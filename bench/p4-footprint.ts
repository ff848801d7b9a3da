// P4 footprint: the sidecar's resident memory after the P3 fleet cycles (VmRSS from /proc, ≤ 80 MB), and cold
// start: the first handle() of a fresh JVM, which finds node, checks its version, unpacks the sidecar, spawns it,
// waits for its ready line and forwards the call (≤ 700 ms). Timed from sending the first call after GoCdHost
// printed READY to its answer. A fresh work dir is the first start after installing the plugin (the sidecar file
// is written too); a reused one is every later GoCD restart. Both are measured; the target is judged on the first.

import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FleetLeftRunning } from './p3-fleet';
import { startHost } from './stage';
import { log, Memory, memoryOf, ROOT, round, Row, sleep, spread } from './support';

const execFileAsync = promisify(execFile);
const RUNS = 5;
const MIB_PER_MB = 1e6 / 2 ** 20;

interface ColdStart {
  /** Send → answer of the first call. */
  firstCallMs: number;
  /** Send → the shim logging the sidecar's ready line (the rest is the first forwarded request). */
  readyMs: number;
}

export async function runP4(fleet: FleetLeftRunning): Promise<{ rows: Row[]; details: unknown }> {
  let sidecar: Memory;
  let jvm: Memory;
  try {
    sidecar = memoryOf(fleet.host.sidecarPid());
    jvm = memoryOf(fleet.host.host.process.pid!);
    if (process.env.BENCH_HEAP_SNAPSHOT) {
      process.kill(fleet.host.sidecarPid(), 'SIGUSR2'); // --heapsnapshot-signal: see stage.ts
      await sleep(5000); // writing the snapshot takes a few seconds
    }
  } finally {
    await fleet.stop();
  }
  log(`p4: sidecar after the fleet cycles: VmRSS ${sidecar.rssMiB} MiB (peak ${sidecar.peakRssMiB} MiB)`);
  const bareNode = await idleNodeMemory();

  await coldStart(mkdtempSync(path.join(tmpdir(), 'bridge-bench-'))); // page cache warm, as on a running server
  const fresh: ColdStart[] = [];
  const reused: ColdStart[] = [];
  const sharedDir = mkdtempSync(path.join(tmpdir(), 'bridge-bench-shared-'));
  try {
    await coldStart(sharedDir, false); // unpacks the sidecar into the shared dir once
    for (let run = 1; run <= RUNS; run += 1) {
      fresh.push(await coldStart(mkdtempSync(path.join(tmpdir(), 'bridge-bench-'))));
      reused.push(await coldStart(sharedDir, false));
      log(`p4: run ${run}: cold start ${fresh.at(-1)!.firstCallMs} ms (fresh work dir), ${reused.at(-1)!.firstCallMs} ms (reused)`);
    }
  } finally {
    rmSync(sharedDir, { recursive: true, force: true });
  }
  const nodeAlone = Array.from({ length: RUNS }, () => timeCommand(process.execPath, [path.join(ROOT, 'dist/gocd-registry-bridge.js'), '--version']));
  const nodeBare = Array.from({ length: RUNS }, () => timeCommand(process.execPath, ['--version']));
  const firstCalls = await firstCallsInFreshJvms();

  const rssMB = round(sidecar.rssMiB / MIB_PER_MB);
  const first = spread(fresh.map((c) => c.firstCallMs));
  const ready = (list: ColdStart[]) => spread(list.map((c) => c.readyMs)).median;
  const start = fleet.sidecarAtStart;
  const rows: Row[] = [
    {
      metric: 'sidecar RSS after the P3 fleet cycles',
      target: '≤ 80 MB',
      unit: 'MB',
      value: spread([rssMB]),
      pass: rssMB <= 80,
      note:
        `VmRSS ${sidecar.rssMiB} MiB (anon ${sidecar.anonMiB}, file ${sidecar.fileMiB}), peak ${sidecar.peakRssMiB} MiB; ` +
        `after its first call, before any poll: ${start.rssMiB} MiB (anon ${start.anonMiB}, file ${start.fileMiB}); ` +
        `an idle \`node -e\` process: ${bareNode.rssMiB} MiB (anon ${bareNode.anonMiB}, file ${bareNode.fileMiB}); the JVM host: ${jvm.rssMiB} MiB`,
    },
    {
      metric: 'cold start: first handle() of a fresh JVM, fresh work dir',
      target: '≤ 700 ms',
      unit: 'ms',
      value: first,
      pass: first.median <= 700,
      note: `the shim logged the sidecar's ready line at ${ready(fresh)} ms (median); then it forwarded the call`,
    },
    {
      metric: 'cold start: first handle() of a fresh JVM, sidecar already unpacked',
      target: '—',
      unit: 'ms',
      value: spread(reused.map((c) => c.firstCallMs)),
      pass: null,
      note: `ready line at ${ready(reused)} ms (median)`,
    },
    {
      metric: 'for comparison: node loading the sidecar bundle alone (`--version`)',
      target: '—',
      unit: 'ms',
      value: spread(nodeAlone),
      pass: null,
      note: `\`node --version\`, which the shim runs first: ${spread(nodeBare).median} ms`,
    },
    {
      metric: "for comparison: the shim's HTTP client alone in a fresh JVM, first POST (bench/jvm/FirstCallInFreshJvm.java)",
      target: '—',
      unit: 'ms',
      value: spread(firstCalls.urlConnection.map((call) => call.firstMs)),
      pass: null,
      note: `HttpURLConnection, the second POST ${spread(firstCalls.urlConnection.map((call) => call.secondMs)).median} ms; the java.net.http.HttpClient the shim used before 4f820e9: built and first POST ${spread(firstCalls.httpClient.map((call) => call.firstMs)).median} ms (median)`,
    },
  ];
  return {
    rows,
    details: { sidecarAfterFleet: sidecar, sidecarAtStart: start, idleNode: bareNode, jvmAfterFleet: jvm, freshWorkDir: fresh, reusedWorkDir: reused, nodeLoadsBundleMs: nodeAlone, nodeVersionMs: nodeBare, firstCallInFreshJvm: firstCalls },
  };
}

/** RSS of a node process that loaded nothing: the floor under any Node.js sidecar. */
async function idleNodeMemory(): Promise<Memory> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(500);
  const memory = memoryOf(child.pid!);
  child.kill();
  return memory;
}

interface FirstCall {
  firstMs: number;
  secondMs: number;
}

/** The first two POSTs of fresh JVMs against a trivial loopback server, RUNS times with each JDK client. */
async function firstCallsInFreshJvms(): Promise<{ urlConnection: FirstCall[]; httpClient: FirstCall[] }> {
  const classes = path.join(ROOT, 'build/bench/jvm');
  execFileSync('javac', ['-d', classes, path.join(ROOT, 'bench/jvm/FirstCallInFreshJvm.java')]);
  const server = http.createServer((req, res) => {
    req.resume().on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const runsWith = async (client: string): Promise<FirstCall[]> => {
    const runs = [];
    for (let run = 0; run < RUNS; run += 1) {
      // async: the server answering the JVM lives in this process's event loop
      const { stdout } = await execFileAsync('java', ['-cp', classes, 'FirstCallInFreshJvm', `http://127.0.0.1:${port}/`, client]);
      const call = JSON.parse(stdout) as FirstCall;
      runs.push({ firstMs: round(call.firstMs), secondMs: round(call.secondMs) });
    }
    return runs;
  };
  try {
    return { urlConnection: await runsWith('url-connection'), httpClient: await runsWith('http-client') };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** One fresh JVM: READY, then the first call timed from here, with the moment the shim logged the ready line. */
async function coldStart(workDir: string, removeAfter = true): Promise<ColdStart> {
  const bench = await startHost({}, workDir);
  try {
    let readyAt = NaN;
    bench.host.process.stderr!.on('data', (chunk: Buffer) => {
      if (Number.isNaN(readyAt) && chunk.toString().includes(' ready on port ')) readyAt = performance.now();
    });
    const sent = performance.now();
    const reply = await bench.host.handle('package-configuration');
    const answered = performance.now();
    if (reply.code !== 200) throw new Error(`p4: first call answered ${reply.code}: ${reply.body}`);
    return { firstCallMs: round(answered - sent), readyMs: round(readyAt - sent) };
  } finally {
    const timer = setTimeout(() => bench.host.process.kill('SIGKILL'), 10_000);
    await bench.host.exit();
    clearTimeout(timer);
    if (removeAfter) rmSync(workDir, { recursive: true, force: true });
  }
}

function timeCommand(command: string, args: string[]): number {
  const began = performance.now();
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
  return round(performance.now() - began);
}
