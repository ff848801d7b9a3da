// Tag filters. DOCKER_TAG_FILTER keeps the old plugin's semantics: the pattern may match anywhere in the tag
// (Java's Pattern.asPredicate, i.e. find), and an empty filter accepts every tag. `^…$` anchors it.

import { BridgeError } from '../errors';

export class InvalidFilterError extends BridgeError {
  constructor(message: string, fix: string, cause?: unknown) {
    super('INVALID_FILTER', { message, fix, cause });
  }
}

export type TagPredicate = (tag: string) => boolean;

export function compileTagFilter(pattern: string): TagPredicate {
  if (pattern === '') return () => true;
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch (err) {
    throw new InvalidFilterError(
      `the tag filter ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`,
      'fix the pattern (JavaScript regular expression syntax, e.g. ^v?\\d+\\.\\d+\\.\\d+$), or leave it empty to accept every tag',
      err,
    );
  }
  return (tag) => regex.test(tag);
}
