// How long tag patterns take over 10,000 tags: JavaScript's RegExp in a timed vm script (the engine before
// issue 9, still used for lookaround and backreferences) against re2js (linear-time), raw and through TagPattern.
// Not part of `npm run bench` (no target; numbers for the record):
//   npx esbuild bench/tag-pattern-engines.ts --bundle --platform=node --outfile=build/bench/tag-pattern-engines.js
//   node build/bench/tag-pattern-engines.js

import vm from 'node:vm';
import { RE2JS } from 're2js';
import { TagPattern } from '../src/selection';
import { translateToRe2 } from '../src/selection/re2-syntax';

const TAG_COUNT = 10_000;
const ROUNDS = 20;

const tagSet = (round: number) =>
  Array.from({ length: TAG_COUNT }, (_, i) => {
    const n = round * TAG_COUNT + i;
    return [`${n % 7}.${n % 13}.${n}`, `v${n % 5}.${n}.0-rc.${n % 3}`, `2024${String(n).padStart(10, '0')}-${(n * 2654435761).toString(16)}`, `build-${n}-alpine`][n % 4]!;
  });

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(run: (round: number) => void): string {
  run(ROUNDS); // warm-up
  const samples = Array.from({ length: ROUNDS }, (_, round) => {
    const start = process.hrtime.bigint();
    run(round);
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  return `${median(samples).toFixed(2)} ms`;
}

const PATTERNS = ['^\\d+\\.\\d+\\.\\d+$', '-alpine$', '^v?\\d+\\.\\d+\\.\\d+(-rc\\.\\d+)?$', '^(?:2024|2025)\\d{10}-[0-9a-f]+$', '.'];
const sandbox = vm.createContext({ pattern: undefined, tags: undefined });
const script = new vm.Script('tags.map((tag) => pattern.test(tag))');
const tagsByRound = new Map<number, string[]>();
const tags = (round: number) => tagsByRound.get(round) ?? tagsByRound.set(round, tagSet(round)).get(round)!;
for (let round = 0; round <= ROUNDS; round++) tags(round);

console.log(`${TAG_COUNT} tags, median of ${ROUNDS} rounds`);
for (const source of PATTERNS) {
  const regex = new RegExp(source);
  const translation = translateToRe2(source);
  const re2 = RE2JS.compile('re2' in translation ? translation.re2 : source);
  const pattern = TagPattern.compile(source, 'bench');
  const results = {
    'RegExp in a timed vm script (before: each unseen tag)': time((round) => {
      sandbox.pattern = regex;
      sandbox.tags = tags(round);
      script.runInContext(sandbox, { timeout: 1000 });
    }),
    'RegExp, no vm': time((round) => tags(round).forEach((tag) => regex.test(tag))),
    're2js test()': time((round) => tags(round).forEach((tag) => re2.test(tag))),
    // Every round brings 10,000 new tags: compile, evaluate, remember the answers.
    [`TagPattern.test, unseen tags (after: ${pattern.engine})`]: time((round) => pattern.test(tags(round))),
    'TagPattern.test, answers remembered (after)': time(() => pattern.test(tags(0))),
  };
  console.log(JSON.stringify(source), JSON.stringify(results));
}

const keys = TagPattern.compile('^build-(?<key>\\d+)', 'bench', { keyGroup: true });
const captureScript = new vm.Script('tags.map((tag) => { const m = pattern.exec(tag); return m && m.groups ? m.groups.key : undefined; })');
const keyRegex = new RegExp(keys.source);
console.log('sort key ^build-(?<key>\\d+):', {
  'RegExp in a timed vm script (before)': time((round) => {
    sandbox.pattern = keyRegex;
    sandbox.tags = tags(round);
    captureScript.runInContext(sandbox, { timeout: 1000 });
  }),
  'TagPattern.captureKeys (after: compiles, answers not remembered)': time((round) => keys.captureKeys(tags(round))),
});
for (const [source, tag] of [
  ['^(x+x+)+y$', 'x'.repeat(5000)],
  ['^(x+x+)+y$', 'x'.repeat(5000) + 'yx'], // a y, so that no literal prefilter answers before the automaton runs
  ['^(x|x)*y$', 'x'.repeat(5000)],
  ['^(x|x)*y$', 'x'.repeat(5000) + 'yx'],
  ['(a+)+$', 'a'.repeat(30) + '!'],
] as const) {
  const translation = translateToRe2(source) as { re2: string };
  const program = RE2JS.compile(translation.re2);
  console.log(`re2js ${source} over one ${tag.length}-character tag:`, time(() => program.test(tag)));
}
