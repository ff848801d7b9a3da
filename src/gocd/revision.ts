// The revision object GoCD stores. `revision` is the tag, so GO_PACKAGE_<M>_LABEL stays the tag as
// with the old plugin; a material that follows one named tag adds the digest (`latest@sha256:…`) so a re-push is
// a new revision. `data` entries become GO_PACKAGE_<M>_<KEY> in jobs: keys match [A-Z0-9_] and never equal LABEL or
// a property key (they would override those variables), values are strings, and nothing secret goes in.

import type { ImageMetadata } from '../registry';
import type { PackageSettings, RepositorySettings } from './configuration';
import { createdMs, PolledImage } from './poll';

export interface GoCdRevision {
  revision: string;
  timestamp: string;
  user?: string;
  revisionComment?: string;
  trackbackUrl?: string;
  data: Record<string, string>;
}

// Reproducible builds pin `created` to the epoch (fluxcd/flux#2931); such a date says nothing, so GoCD gets now.
const EARLIEST_MEANINGFUL_CREATED_MS = Date.parse('2000-01-01T00:00:00Z');
const MAX_USER_LENGTH = 255; // GoCD's MODIFICATIONS.USERNAME is VARCHAR(255)

export function revisionString(polled: PolledImage): string {
  return polled.isMutableTag ? `${polled.tag}@${polled.manifest.digest}` : polled.tag;
}

export function toRevision(repository: RepositorySettings, pkg: PackageSettings, polled: PolledImage, nowMs: number): GoCdRevision {
  const image = `${repository.registryName}/${pkg.repository}`;
  const { digest } = polled.manifest;
  const meta = polled.metadata;
  const created = createdMs(meta);
  const description = label(meta, 'org.opencontainers.image.description');
  const platforms = meta?.platforms ?? [];
  const data: Record<string, string> = {
    IMAGE: image,
    TAG: polled.tag,
    DIGEST: digest,
    IMAGE_REF: `${image}@${digest}`,
    IMAGE_TAG_REF: `${image}:${polled.tag}`,
  };
  const optional: Record<string, string | undefined> = {
    CREATED: meta?.created,
    PLATFORMS: platforms.length > 0 ? platforms.join(',') : undefined,
    SOURCE: label(meta, 'org.opencontainers.image.source'),
    SOURCE_REVISION: label(meta, 'org.opencontainers.image.revision'),
    VERSION: label(meta, 'org.opencontainers.image.version'),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) data[key] = value;

  const revision: GoCdRevision = {
    revision: revisionString(polled),
    // UTC with exactly three fraction digits and Z: the one form every GoCD version parses.
    timestamp: new Date(created !== undefined && created >= EARLIEST_MEANINGFUL_CREATED_MS ? created : nowMs).toISOString(),
    revisionComment: [`${image}:${polled.tag}`, platforms.length > 0 ? `(${platforms.join(', ')})` : '', description ? `: ${description}` : '']
      .filter(Boolean)
      .join(' '),
    data,
  };
  const authors = label(meta, 'org.opencontainers.image.authors');
  if (authors) revision.user = authors.slice(0, MAX_USER_LENGTH);
  const trackback = label(meta, 'org.opencontainers.image.source') ?? label(meta, 'org.opencontainers.image.url');
  if (trackback && /^https?:\/\//.test(trackback)) revision.trackbackUrl = trackback;
  return revision;
}

/** OCI annotations (buildx --annotation) win over config labels (Dockerfile LABEL) of the same name. */
function label(meta: ImageMetadata | undefined, name: string): string | undefined {
  const value = meta?.annotations[name] ?? meta?.labels[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
