// Which tag a package material follows: include and exclude filters, an ordering, an optional sort key, and the
// rule that picks one tag. Pure: the creation dates newest-build needs are handed in by the caller.

import { compareAlphabetical, compareNatural, compareSemver, parseSemver, TagComparator } from './order';
import type { TagPattern } from './tag-pattern';
import { isInRange, SemverRange } from './version-range';

export const TAG_ORDERS = ['natural', 'semver', 'newest-build', 'alphabetical'] as const;
export type TagOrder = (typeof TAG_ORDERS)[number];

export interface SelectionSettings {
  /** DOCKER_TAG_FILTER: matches anywhere in the tag, as with the old plugin; absent accepts every tag. */
  include?: TagPattern;
  /** Tags it matches (anywhere) are dropped. */
  exclude?: TagPattern;
  order: TagOrder;
  /** Orders by the (?<key>…) capture instead of the whole tag; tags it does not match are not candidates. */
  sortKey?: TagPattern;
  /** semver: pre-releases (1.0.0-rc.1) are candidates only when asked for. */
  includePrereleases: boolean;
  /** semver: only versions inside it are candidates (built with includePrereleases, so it agrees). */
  semverRange?: SemverRange;
  /** Normalised os/architecture[/variant] the image must provide; the caller checks them (it takes I/O). */
  platforms?: string[];
}

export interface Candidate {
  tag: string;
  /** What the ordering compares: the tag, or its sort-key capture. */
  key: string;
}

/** Creation time of a tag's image in epoch ms, when known; only newest-build asks. */
export type CreatedOf = (tag: string) => number | undefined;

// Signatures, attestations and SBOMs stored as tags (cosign `sha256-<hex>.sig`, OCI referrers fallback tags):
// never an image to deploy, and `sha…` sorts above every version, so the old plugin picked them as newest.
const ARTEFACT_TAG = /^sha256-[0-9a-f]{64}(\.[a-z]+)?$/;

/** The candidates under every rule; keepInRange() last, so that a caller can tell what the range left out. */
export function selectCandidates(tags: readonly string[], settings: SelectionSettings): Candidate[] {
  return keepInRange(filterCandidates(tags, settings), settings);
}

/** Candidates under every rule but the semver range. */
export function filterCandidates(tags: readonly string[], settings: SelectionSettings): Candidate[] {
  let kept = tags.filter((tag) => !ARTEFACT_TAG.test(tag));
  if (settings.include) kept = keepWhere(kept, settings.include.test(kept), true);
  if (settings.exclude) kept = keepWhere(kept, settings.exclude.test(kept), false);
  let candidates: Candidate[] = kept.map((tag) => ({ tag, key: tag }));
  if (settings.sortKey) {
    const keys = settings.sortKey.captureKeys(kept);
    candidates = candidates.flatMap((candidate, i) => (keys[i] === undefined ? [] : [{ tag: candidate.tag, key: keys[i] as string }]));
  }
  if (settings.order === 'semver') {
    candidates = candidates.filter(({ key }) => {
      const version = parseSemver(key);
      return version !== undefined && (settings.includePrereleases || version.prerelease.length === 0);
    });
  }
  return candidates;
}

export function keepInRange(candidates: Candidate[], settings: SelectionSettings): Candidate[] {
  return settings.semverRange ? candidates.filter(({ key }) => isKeyInRange(key, settings)) : candidates;
}

/** Does this key (a tag, or its sort-key capture) satisfy the package's semver range? True without one. */
export function isKeyInRange(key: string, settings: SelectionSettings): boolean {
  if (!settings.semverRange) return true;
  const version = parseSemver(key);
  return version !== undefined && isInRange(version, settings.semverRange);
}

/** What a tag is compared by under these settings: itself, or its sort-key capture (undefined if none). */
export function keyOf(tag: string, settings: SelectionSettings): string | undefined {
  return settings.sortKey ? settings.sortKey.captureKeys([tag])[0] : tag;
}

/** Orders two candidates; > 0 when `a` is newer. newest-build: by creation time, unknown dates last, ties natural. */
export function compareCandidates(a: Candidate, b: Candidate, order: TagOrder, createdOf: CreatedOf = () => undefined): number {
  if (order === 'newest-build') {
    const x = createdOf(a.tag);
    const y = createdOf(b.tag);
    if (x !== undefined && y !== undefined && x !== y) return x - y;
    if ((x === undefined) !== (y === undefined)) return x === undefined ? -1 : 1;
    return compareNatural(a.key, b.key);
  }
  return KEY_ORDER[order](a.key, b.key) || compareNatural(a.tag, b.tag);
}

const KEY_ORDER: Record<Exclude<TagOrder, 'newest-build'>, TagComparator> = {
  natural: compareNatural,
  semver: compareSemver,
  alphabetical: compareAlphabetical,
};

export function pickNewest(candidates: readonly Candidate[], order: TagOrder, createdOf?: CreatedOf): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (best === undefined || compareCandidates(candidate, best, order, createdOf) > 0) best = candidate;
  }
  return best;
}

/**
 * The one tag an include filter names: a bare word like `latest`, or an anchored literal like `^stable$` or
 * `^1\.0$`. Then the material follows that tag's digest (a re-push is a new revision). An unanchored `1\.0` still
 * names a set (it matches 1.0.2 and 11.0 too, as in the old plugin).
 */
export function namedTag(include: TagPattern | undefined): string | undefined {
  if (!include) return undefined;
  if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(include.source)) return include.source;
  const anchored = /^\^([A-Za-z0-9_](?:[A-Za-z0-9_-]|\\\.)*)\$$/.exec(include.source);
  return anchored?.[1]?.replace(/\\\./g, '.');
}

function keepWhere(tags: string[], matches: boolean[], keep: boolean): string[] {
  return tags.filter((_tag, i) => matches[i] === keep);
}
