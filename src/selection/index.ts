// Choosing tags: filters and orderings as pure functions. No I/O, no clock; may only `import type` from registry/.

export { compileTagFilter, InvalidFilterError } from './filter';
export type { TagPredicate } from './filter';
export { compareNatural, pickGreatest } from './order';
export type { TagComparator } from './order';
