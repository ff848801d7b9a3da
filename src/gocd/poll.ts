// One poll of one package: a filter that names one tag follows that tag's digest with a
// single HEAD; otherwise every tag is listed, filtered and ordered, and the newest is HEADed. Metadata (creation
// time, labels, platforms) is read for the chosen digest only, and is cached by digest, so an unchanged image
// costs no manifest GET. A registry failure is an error, never "no tags".

import { BridgeError } from '../errors';
import { ImageMetadata, ImageRef, ManifestDigest, RegistryNotFoundError } from '../registry';
import { Candidate, compareNatural, CreatedOf, namedTag, pickNewest, selectCandidates } from '../selection';
import { imageRef, PackageSettings, RepositorySettings } from './configuration';
import type { GoCdContext } from './context';

export interface PolledImage {
  tag: string;
  /** What the package's order compares: the tag, or its sort-key capture. */
  key: string;
  manifest: ManifestDigest;
  metadata?: ImageMetadata;
  /** The filter names one tag, so its digest is the revision's identity (a re-push is a new revision). */
  isMutableTag: boolean;
  /** Undefined in mutable-tag mode, which lists no tags. */
  tagsScanned?: number;
  candidates?: number;
  /** For newest-build: creation times the poll learned, by tag. */
  createdOf: CreatedOf;
}

export class NoMatchingTagError extends BridgeError {
  constructor(message: string, fix: string) {
    super('NO_MATCHING_TAG', { message, fix });
  }
}

const EXAMPLE_TAGS = 5;
// One poll (tag walk, HEADs, metadata) must end before the shim gives up at 60 s, so GoCD shows our error.
const POLL_BUDGET_MS = 50_000;

export interface PollOptions {
  /** check-package-connection: a person is looking, so list the tags now rather than reuse a recent walk. */
  isFreshListingRequired?: boolean;
}

/** Polls, and tells ctx.observePoll how it went. */
export async function pollLatest(repository: RepositorySettings, pkg: PackageSettings, ctx: GoCdContext, options: PollOptions = {}): Promise<PolledImage> {
  const record = {
    requestId: ctx.requestId,
    registry: repository.access.endpoint.host,
    image: pkg.repository,
    filter: pkg.tagFilter,
    exclude: pkg.excludeFilter,
    order: pkg.selection.order,
  };
  try {
    const polled = await pollOnce(repository, pkg, ctx, options);
    ctx.observePoll?.({ ...record, outcome: { tag: polled.tag, digest: polled.manifest.digest } });
    return polled;
  } catch (err) {
    ctx.observePoll?.({ ...record, outcome: { error: err instanceof BridgeError ? err.describe() : 'internal error' } });
    throw err;
  }
}

async function pollOnce(repository: RepositorySettings, pkg: PackageSettings, ctx: GoCdContext, options: PollOptions): Promise<PolledImage> {
  const image = imageRef(repository, pkg);
  const call = { deadlineMs: ctx.registry.deadlineIn(POLL_BUDGET_MS) };
  const named = namedTag(pkg.selection.include);
  if (named !== undefined) {
    const manifest = await headNamedTag(image, named, call, ctx);
    const metadata = await readMetadata(image, manifest.digest, call, ctx);
    return { tag: named, key: named, manifest, metadata, isMutableTag: true, createdOf: () => undefined };
  }

  const { tags } = await ctx.registry.listTags(image, { ...call, isFreshListingRequired: options.isFreshListingRequired, maxTags: pkg.maxTags });
  const candidates = selectCandidates(tags, pkg.selection);
  if (candidates.length === 0) throw noMatch(tags, pkg, image);
  const known = new Map<string, { manifest: ManifestDigest; metadata?: ImageMetadata }>();
  if (pkg.selection.order === 'newest-build') {
    // Build dates live in each image's config: one HEAD per candidate, and metadata only for digests not yet cached.
    await Promise.all(
      candidates.map(async ({ tag }) => {
        const manifest = await ctx.registry.headManifest(image, tag, call);
        known.set(tag, { manifest, metadata: await readMetadata(image, manifest.digest, call, ctx) });
      }),
    );
  }
  const createdOf: CreatedOf = (tag) => createdMs(known.get(tag)?.metadata);
  const newest = pickNewest(candidates, pkg.selection.order, createdOf) as Candidate;
  const manifest = known.get(newest.tag)?.manifest ?? (await ctx.registry.headManifest(image, newest.tag, call));
  const metadata = known.get(newest.tag)?.metadata ?? (await readMetadata(image, manifest.digest, call, ctx));
  return { ...newest, manifest, metadata, isMutableTag: false, tagsScanned: tags.length, candidates: candidates.length, createdOf };
}

async function headNamedTag(image: ImageRef, tag: string, call: { deadlineMs: number }, ctx: GoCdContext): Promise<ManifestDigest> {
  try {
    return await ctx.registry.headManifest(image, tag, call);
  } catch (err) {
    if (!(err instanceof RegistryNotFoundError)) throw err;
    throw new NoMatchingTagError(
      `${image.endpoint.host}/${image.repository} has no tag ${tag} (the tag filter names exactly this tag)`,
      'push the tag, or fix DOCKER_TAG_FILTER on the package; GoCD keeps asking and picks the tag up once it exists',
    );
  }
}

/** Metadata only enriches the revision: a registry that serves tags but not configs still yields a usable revision. */
async function readMetadata(image: ImageRef, digest: string, call: { deadlineMs: number }, ctx: GoCdContext): Promise<ImageMetadata | undefined> {
  try {
    return await ctx.registry.getImageMetadata(image, digest, call);
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    ctx.log.warn('image metadata unavailable; the revision goes without creation time and labels', {
      image: `${image.endpoint.host}/${image.repository}@${digest}`,
      error: err.message,
    });
    return undefined;
  }
}

export function createdMs(metadata: ImageMetadata | undefined): number | undefined {
  const ms = metadata?.created ? Date.parse(metadata.created) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function noMatch(tags: readonly string[], pkg: PackageSettings, image: ImageRef): NoMatchingTagError {
  const where = `${image.endpoint.host}/${pkg.repository}`;
  if (tags.length === 0) return new NoMatchingTagError(`${where} has no tags yet`, 'push a tag to the image; GoCD keeps asking and picks it up then');
  const rules = [
    pkg.tagFilter !== '' ? `the tag filter ${JSON.stringify(pkg.tagFilter)}` : '',
    pkg.excludeFilter !== '' ? `the exclusion ${JSON.stringify(pkg.excludeFilter)}` : '',
    pkg.selection.sortKey ? `the sort key pattern ${JSON.stringify(pkg.selection.sortKey.source)}` : '',
    pkg.selection.order === 'semver' ? `semver order (${pkg.selection.includePrereleases ? 'with' : 'without'} pre-releases)` : '',
  ].filter(Boolean);
  const examples = [...tags].sort(compareNatural).reverse().slice(0, EXAMPLE_TAGS);
  return new NoMatchingTagError(
    `none of the ${tags.length} tags of ${where} passes ${rules.join(', ') || 'the default exclusions'} (newest tags: ${examples.join(', ')})`,
    'fix the package\'s tag settings; DOCKER_TAG_FILTER may match anywhere in the tag unless anchored with ^…$',
  );
}
