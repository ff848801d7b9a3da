// The revision object GoCD stores (spec §4). `revision` is the tag, so GO_PACKAGE_<M>_LABEL stays the tag as with
// the old plugin; `data` entries become GO_PACKAGE_<M>_<KEY> in jobs. Data keys match [A-Z0-9_] and never equal
// LABEL or a property key (they would override those variables); values are strings; no secrets.

import type { PackageSettings, RepositorySettings } from './configuration';
import type { PolledTag } from './poll';

export interface GoCdRevision {
  revision: string;
  timestamp: string;
  user?: string;
  revisionComment?: string;
  trackbackUrl?: string;
  data: Record<string, string>;
}

export function toRevision(repository: RepositorySettings, pkg: PackageSettings, polled: PolledTag, nowMs: number): GoCdRevision {
  const image = `${repository.registryName}/${pkg.repository}`;
  return {
    revision: polled.tag,
    // UTC with exactly three fraction digits and Z: the one form every GoCD version parses (spec §4.2).
    timestamp: new Date(nowMs).toISOString(),
    revisionComment: `${image}:${polled.tag}`,
    data: {
      IMAGE: image,
      TAG: polled.tag,
      DIGEST: polled.manifest.digest,
      IMAGE_REF: `${image}@${polled.manifest.digest}`,
      IMAGE_TAG_REF: `${image}:${polled.tag}`,
    },
  };
}
