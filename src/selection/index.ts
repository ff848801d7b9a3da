// Choosing tags: filters, orderings and the pick, as pure functions (user regexes run in linear time, or, for
// lookaround and backreferences, under a time bound).
// No I/O, no clock; may only `import type` from registry/.

export { TagPattern, InvalidFilterError } from './tag-pattern';
export type { PatternEngine } from './tag-pattern';
export { compareNatural, compareSemver, compareAlphabetical } from './order';
export type { TagComparator } from './order';
export { TAG_ORDERS, selectCandidates, filterCandidates, keepInRange, isKeyInRange, compareCandidates, pickNewest, namedTag, keyOf } from './selection';
export { parseSemverRange } from './version-range';
export type { SemverRange } from './version-range';
export { parsePlatforms, normalisePlatform, missingPlatforms } from './platform';
export type { TagOrder, SelectionSettings, Candidate, CreatedOf } from './selection';
