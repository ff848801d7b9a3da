// What every benchmark shares: statistics, the machine description, result files, and readings of the processes
// under test (/proc: RSS, CPU time) so a number can be explained, not only reported.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..'); // bundled into build/bench/
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Median (mean of the middle two for an even count) with min and max: what the results table shows. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2, 3);
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

/** One line of the BENCHMARKS.md table. pass is null for a reading that has no target of its own. */
export interface Row {
  metric: string;
  target: string;
  unit: string;
  value: Spread;
  pass: boolean | null;
  note?: string;
}

export interface Machine {
  cores: number;
  memoryGiB: number;
  cpuModel: string;
  kernel: string;
  node: string;
  java: string;
  dockerRegistry: string;
}

export interface BenchResult {
  name: string;
  title: string;
  command: string;
  date: string;
  durationS: number;
  machine: Machine;
  /** The commit measured, and whether the product sources (src/, the shim, the lock file) differed from it. */
  source: { commit: string; dirty: boolean };
  /** Share of the machine's CPU other processes (not this benchmark's) used while it ran: noise. */
  foreignCpuPercent: number;
  rows: Row[];
  details: unknown;
}

export function machine(): Machine {
  // java -version and -XshowSettings write to stderr.
  const settings = spawnSync('java', ['-XshowSettings:properties', '-version'], { encoding: 'utf8' }).stderr;
  const runtime = /java\.runtime\.version = (.+)/.exec(settings)?.[1] ?? 'unknown';
  const vm = /java\.vm\.name = (.+)/.exec(settings)?.[1] ?? '';
  return {
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    java: `${runtime} ${vm}`.trim(),
    dockerRegistry: dpkgVersion('docker-registry'),
  };
}

function dpkgVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function sourceState(): BenchResult['source'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'plugin-java-shim/src/main', 'package-lock.json') !== '' };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

/** Wraps one benchmark run: times it, watches the machine's CPU, writes bench/results/<name>.json. */
export async function recordBenchmark(
  name: string,
  title: string,
  command: string,
  run: () => Promise<{ rows: Row[]; details: unknown }>,
): Promise<BenchResult> {
  const started = Date.now();
  const cpu = cpuWindow();
  const { rows, details } = await run();
  const result: BenchResult = {
    name,
    title,
    command,
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 100) / 10,
    machine: machine(),
    source: sourceState(),
    foreignCpuPercent: cpu.foreignPercent(),
    rows,
    details,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

// --- process readings (/proc) ---

const CLOCK_TICKS = 100; // USER_HZ on Linux x86 and arm64

export interface Memory {
  rssMiB: number;
  /** VmHWM: the most the process was ever resident. */
  peakRssMiB: number;
  /** RssAnon: heap and stacks; RssFile: mapped files, mostly the node (or java) binary's code. */
  anonMiB: number;
  fileMiB: number;
}

/** From /proc/<pid>/status, in MiB. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) => round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024);
  return { rssMiB: mib('VmRSS'), peakRssMiB: mib('VmHWM'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile') };
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMsOf(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** cpuMsOf plus the CPU of its children it has reaped (cutime + cstime), in ms. */
function cpuWithReapedChildrenMsOf(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

/** /proc/<pid>/stat from the state field on: the command name before it may hold spaces. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** PIDs of this process's tree (the children any of its threads started, recursively: the JVM spawns node). */
function treePids(pid: number, into: number[] = []): number[] {
  into.push(pid);
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return into; // gone
  }
  for (const task of tasks) {
    try {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const child of children) treePids(Number(child), into);
    } catch {
      // the thread ended
    }
  }
  return into;
}

/** Children of this process (any depth) whose command name (/proc/<pid>/comm) is name, e.g. docker-registry. */
export function descendantsNamed(name: string): number[] {
  return treePids(process.pid)
    .slice(1)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    });
}

function machineBusyMs(): number {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const [, user, nice, system, , , irq, softirq, steal] = (cpu ?? '').trim().split(/\s+/).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLOCK_TICKS;
}

/**
 * Starts watching: foreignPercent() is how much of the machine (all cores) processes outside this benchmark's
 * process tree used since. The 2-core machine may be shared (a build or test run beside us shows up here).
 * Our processes are sampled every 250 ms with the CPU of the children they reaped, so a process that exits, however
 * short its life, is counted in full through its parent: what it used is then in the parent's figure, not its own.
 */
export function cpuWindow(): { foreignPercent(): number } {
  const began = Date.now();
  const busy0 = machineBusyMs();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const exited = new Set<number>();
  let initial = true;
  const sample = () => {
    const alive = new Set(treePids(process.pid));
    for (const pid of alive) {
      try {
        const ms = cpuWithReapedChildrenMsOf(pid);
        if (!first.has(pid)) first.set(pid, initial ? ms : 0); // processes born meanwhile count in full
        last.set(pid, ms);
      } catch {
        // exited between listing and reading
      }
    }
    for (const pid of last.keys()) if (!alive.has(pid)) exited.add(pid);
  };
  sample();
  initial = false;
  const timer = setInterval(sample, 250);
  timer.unref();
  return {
    foreignPercent() {
      sample();
      clearInterval(timer);
      const wall = Date.now() - began;
      let ours = 0;
      for (const [pid, ms] of last) ours += ms - (first.get(pid) ?? 0);
      // An exited process's whole use is now in its parent's reaped-children figure; drop what we sampled of it.
      for (const pid of exited) ours -= last.get(pid) ?? 0;
      const foreign = machineBusyMs() - busy0 - ours;
      return Math.max(0, Math.round((foreign / (wall * os.cpus().length)) * 1000) / 10);
    },
  };
}

// A run during which the hypervisor kept more than this share of the CPU from the VM is repeated (P5, P6): on the
// 2-core VM of these benchmarks an idle host steals 0.1-0.4 %, and with 5-17 % the same code's p99 latency was 1.5-2×
// (the floor's too), so such a run measures the neighbours.
export const MAX_STEAL_PERCENT = 1;

/**
 * Starts a window on /proc/stat's "steal": time this VM's vCPUs were ready to run while the host ran something
 * else, which no process here accounts for. The function returned reads it as a share of all CPU time since.
 */
export function stealWindow(): () => number {
  const read = () => {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: fields[7] ?? 0, total: fields.reduce((sum, value) => sum + value, 0) };
  };
  const start = read();
  return () => {
    const now = read();
    return now.total > start.total ? round((100 * (now.steal - start.steal)) / (now.total - start.total), 1) : 0;
  };
}

// How many times a run over MAX_STEAL_PERCENT is repeated; the last one counts whatever its steal.
const STEAL_REPEATS = 3;

/**
 * measure(attempt) until a run keeps the host's steal within MAX_STEAL_PERCENT, or STEAL_REPEATS more times; the runs
 * set aside go to `repeated`, and pauseMs passes before each repeat.
 */
export async function repeatWhileStolen<T extends { stealPercent: number }>(label: string, repeated: T[], measure: (attempt: number) => Promise<T>, pauseMs = 0): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const run = await measure(attempt);
    if (run.stealPercent <= MAX_STEAL_PERCENT || attempt === STEAL_REPEATS) return run;
    log(`${label}: repeating, the host took ${run.stealPercent}% of the CPU`);
    repeated.push(run);
    await sleep(pauseMs);
  }
}

/** What a results row says of the runs repeated for steal: how much the host took, and what p99 it came to. */
export function repeatedForStealNote(repeated: ReadonlyArray<{ stealPercent: number; p99Ms: number }>): string {
  if (repeated.length === 0) return 'no run repeated';
  return `${repeated.length} run(s) repeated (host steal ${repeated.map((run) => `${run.stealPercent}%`).join(', ')}; p99 ${repeated.map((run) => `${run.p99Ms} ms`).join(', ')})`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * The diagnosis switches for a node process the benchmark starts itself, as stage.ts reads them for the sidecar:
 * BENCH_CPU_PROF=<dir> (a V8 CPU profile written there at exit) and BENCH_NODE_FLAGS (after the product's own flags,
 * so they win).
 */
export function diagnosisNodeFlags(): string[] {
  const { BENCH_CPU_PROF, BENCH_NODE_FLAGS } = process.env;
  return [...(BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(BENCH_CPU_PROF)}`] : []), ...(BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
}
