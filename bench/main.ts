// `npm run bench [-- <filter>…]`: builds the jar if its sources are newer, runs the benchmarks whose name contains
// a filter (all without one), one after another so they do not share the two cores, writes
// bench/results/<name>.json for each and regenerates the table in BENCHMARKS.md.

import buildOnce from '../test/support/build-once';
import { runP1 } from './p1-bridge-overhead';
import { runP2 } from './p2-large-repository';
import { FleetLeftRunning, runP3 } from './p3-fleet';
import { runP4 } from './p4-footprint';
import { runP5 } from './p5-drone-registry';
import { runP6 } from './p6-status-registry';
import { runP7 } from './p7-gitops';
import { runP8 } from './p8-single-executable';
import { runR1 } from './r1-hostile-registry';
import { writeReport } from './report';
import { BenchResult, log, recordBenchmark, Row } from './support';

interface Benchmark {
  name: string;
  title: string;
  run(shared: Shared): Promise<{ rows: Row[]; details: unknown }>;
}

/** P4 reads the memory of the sidecar P3 drove, so P3 hands its running stack over. */
interface Shared {
  fleet?: FleetLeftRunning;
  wantsFleet: boolean;
}

const BENCHMARKS: Benchmark[] = [
  { name: 'p1-bridge-overhead', title: 'P1 bridge overhead', run: () => runP1() },
  { name: 'p2-large-repository', title: 'P2 large repository', run: () => runP2() },
  { name: 'p3-fleet', title: 'P3 fleet', run: (shared) => runP3(shared.wantsFleet ? (fleet) => (shared.fleet = fleet) : undefined) },
  {
    name: 'p4-footprint',
    title: 'P4 footprint',
    run: (shared) => {
      const fleet = shared.fleet;
      if (!fleet) throw new Error('p4 needs the sidecar p3 left running');
      shared.fleet = undefined; // P4 stops it
      return runP4(fleet);
    },
  },
  { name: 'p5-drone-registry', title: 'P5 Drone registry extension', run: () => runP5() },
  { name: 'p6-status-registry', title: 'P6 build-status registry', run: () => runP6() },
  { name: 'p7-gitops', title: 'P7 GitOps write-back', run: () => runP7() },
  { name: 'p8-single-executable', title: 'P8 single executable', run: () => runP8() },
  { name: 'r1-hostile-registry', title: 'R1 hostile registry', run: () => runR1() },
];

async function main(filters: string[]): Promise<void> {
  const chosen = BENCHMARKS.filter((b) => filters.length === 0 || filters.some((f) => b.name.includes(f)));
  if (chosen.length === 0) throw new Error(`no benchmark matches ${filters.join(' ')}; there are ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  // P4 measures the sidecar after P3's cycles: asking for P4 alone runs P3 first.
  const wantsP4 = chosen.some((b) => b.name === 'p4-footprint');
  if (wantsP4 && !chosen.some((b) => b.name === 'p3-fleet')) {
    chosen.splice(chosen.findIndex((b) => b.name === 'p4-footprint'), 0, BENCHMARKS.find((b) => b.name === 'p3-fleet')!);
  }
  const shared: Shared = { wantsFleet: wantsP4 };
  const command = `npm run bench${filters.length > 0 ? ` -- ${filters.join(' ')}` : ''}`;

  buildOnce();
  const results: BenchResult[] = [];
  try {
    for (const benchmark of chosen) {
      log(`${benchmark.name}: starting`);
      results.push(await recordBenchmark(benchmark.name, benchmark.title, command, () => benchmark.run(shared)));
      log(`${benchmark.name}: done in ${results.at(-1)!.durationS} s`);
    }
  } finally {
    await shared.fleet?.stop().catch(() => undefined); // left only when P4 never took it over
  }
  writeReport();
  for (const result of results) {
    for (const row of result.rows) {
      const verdict = row.pass === null ? '    ' : row.pass ? 'pass' : 'FAIL';
      process.stdout.write(`${verdict}  ${result.title}: ${row.metric}: ${row.value.median} ${row.unit} (target ${row.target})\n`);
    }
  }
  log('results in bench/results/*.json and BENCHMARKS.md');
}

main(process.argv.slice(2)).then(
  () => process.exit(0), // child processes' pipes (the registry's stderr) would keep the loop alive
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
