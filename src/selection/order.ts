// Tag orderings. Natural order compares digit runs as numbers of any
// length: the old plugin padded them to six places and parsed them as a Java int, so build numbers past 2^31
// threw and 1,000,000+ sorted wrong.

import semver from 'semver';

export type TagComparator = (a: string, b: string) => number;

const RUNS = /(\d+)|(\D+)/g;

export const compareNatural: TagComparator = (a, b) => {
  const left = a.match(RUNS) ?? [];
  const right = b.match(RUNS) ?? [];
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i += 1) {
    const x = left[i] as string;
    const y = right[i] as string;
    const order = isDigits(x) && isDigits(y) ? compareDigitRuns(x, y) : compareText(x, y);
    if (order !== 0) return order;
  }
  if (left.length !== right.length) return left.length - right.length;
  return compareText(a, b); // "1.01" vs "1.1": equal as numbers, still a stable total order
};

/** Plain code-point order, what the OCI spec says registries list in. */
export const compareAlphabetical: TagComparator = compareText;

/** Semantic Versioning 2.0.0 §11 (a v prefix allowed; 1.0.0-rc10 < 1.0.0-rc9, but rc.10 > rc.9), ties natural. */
export const compareSemver: TagComparator = (a, b) => {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (x && y) return semver.compare(x, y) || compareNatural(a, b);
  if (x || y) return x ? 1 : -1; // a non-version sorts below every version
  return compareNatural(a, b);
};

export function parseSemver(tag: string): semver.SemVer | undefined {
  return semver.parse(tag, { loose: true }) ?? undefined;
}

function isDigits(run: string): boolean {
  const code = run.charCodeAt(0);
  return code >= 48 && code <= 57;
}

/** Numeric comparison of arbitrarily long digit strings without converting them to numbers. */
function compareDigitRuns(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '');
  const b = y.replace(/^0+(?=\d)/, '');
  if (a.length !== b.length) return a.length - b.length;
  return compareText(a, b);
}

function compareText(x: string, y: string): number {
  if (x === y) return 0;
  return x < y ? -1 : 1;
}
