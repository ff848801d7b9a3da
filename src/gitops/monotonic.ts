// --monotonic (spec §6 case 3): two pipelines writing different tags to one file end with the last writer's, which
// may be the older build. With the option, a tag that semver orders below the one already written is refused.

import semver from 'semver';
import { GitOpsInputError } from './errors';

/** Called with each tag the edit replaces; tags that are not semver (a6b6e8, latest) are never compared. */
export type TagGuard = (oldTag: string, where: string) => void;

export const ANY_TAG: TagGuard = () => undefined;

export function refuseOlderThan(newTag: string): TagGuard {
  const next = semver.valid(newTag, { loose: true });
  return (oldTag, where) => {
    const old = semver.valid(oldTag, { loose: true });
    if (next === null || old === null || !semver.lt(next, old)) return;
    throw new GitOpsInputError({
      message: `${where} already holds ${oldTag}, newer than ${newTag}; --monotonic does not go back`,
      fix: 'nothing to do if a newer build was written first; to roll back on purpose, run without --monotonic',
    });
  };
}
