// SEMVER_RANGE: pick the newest version inside a range, as Flux's ImagePolicy `semver.range` and Argo CD Image
// Updater's constraints do, in the range syntax of the semver package (npm's): `>=1.2.0 <2.0.0`, `~1.26`, `^1`.

import semver from 'semver';
import { InvalidFilterError } from './tag-pattern';

export interface SemverRange {
  /** As configured, for messages. */
  source: string;
  range: semver.Range;
}

const EXAMPLES = '>=1.2.0 <2.0.0, ~1.26 or ^1';
// A version written with a pre-release part: 1.0.0-0, v2.1.0-rc.1. The package adds `-0` to upper bounds itself
// (^1 is >=1.0.0 <2.0.0-0), so only what the user wrote tells whether they asked for pre-releases.
const PRERELEASE_VERSION = /\d+\.\d+\.\d+-[0-9A-Za-z]/;

/**
 * Reads a range. Flux and Argo (Masterminds semver) join comparators with commas (`>=1.2.0, <2.0.0`), which the
 * semver package rejects; a comma means "and" there, as a space does here, so commas are read as spaces.
 */
export function parseSemverRange(source: string, includePrereleases: boolean): SemverRange {
  const written = source.replace(/,\s*/g, ' ');
  let range: semver.Range;
  try {
    range = new semver.Range(written, { includePrerelease: includePrereleases });
  } catch (err) {
    throw new InvalidFilterError(
      `${JSON.stringify(source)} is not a semver range (${(err as Error).message})`,
      `write a range as Flux, Argo CD Image Updater and npm do, e.g. ${EXAMPLES}; alternatives join with ||`,
      err,
    );
  }
  if (!includePrereleases && PRERELEASE_VERSION.test(written)) {
    throw new InvalidFilterError(
      `the semver range ${JSON.stringify(source)} names a pre-release, but pre-releases are not candidates`,
      'set SEMVER_PRERELEASES to true to let pre-releases win (what a -0 suffix, as in >=1.0.0-0, asks for in Flux), or write the range without one',
    );
  }
  return { source, range };
}

export function isInRange(version: semver.SemVer, range: SemverRange): boolean {
  return range.range.test(version);
}
