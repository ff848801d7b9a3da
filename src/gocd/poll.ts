// One poll of one package: a filter that names one tag follows that tag's digest with a
// single HEAD; otherwise every tag is listed, filtered and ordered, and the newest is HEADed. Metadata (creation
// time, labels, platforms) is read for the chosen digest only, and is cached by digest, so an unchanged image
// costs no manifest GET. With PLATFORMS, candidates are tried from the newest until one provides them all; each
// costs a HEAD, and its metadata only once per digest. A registry failure is an error, never "no tags".

import { cacheKey } from '../cache-key';
import { BridgeError } from '../errors';
import { ImageMetadata, ImageRef, ManifestDigest, RegistryNotFoundError } from '../registry';
import { Candidate, compareCandidates, compareNatural, compareSemver, CreatedOf, filterCandidates, keepInRange, missingPlatforms, namedTag, pickNewest } from '../selection';
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
  /** Tags that pass every rule but the semver range; undefined without one. */
  beforeRange?: number;
  candidates?: number;
  /** Candidates newer than the chosen tag that lack one of PLATFORMS, newest first. */
  lackingPlatforms?: string[];
  /** For newest-build: creation times the poll learned, by tag. */
  createdOf: CreatedOf;
}

export class NoMatchingTagError extends BridgeError {
  constructor(message: string, fix: string) {
    super('NO_MATCHING_TAG', { message, fix });
  }
}

const EXAMPLE_TAGS = 5;
// PLATFORMS: how many candidates one poll may try. Each costs a HEAD on every poll (and its metadata once), so a
// platform that no recent image has, on a repository of thousands of tags, would otherwise HEAD them all each minute.
const MOST_PLATFORM_TRIES = 100;
// One poll (tag walk, HEADs, metadata) must end before the shim gives up at 60 s, so GoCD shows our error.
const POLL_BUDGET_MS = 50_000;

export interface PollOptions {
  /** check-package-connection: a person is looking, so list the tags now rather than reuse a recent walk. */
  isFreshListingRequired?: boolean;
  /** latest-revision-since: is this answer news to GoCD? Recorded with the poll, for its log line. */
  isNewToGoCd?: (polled: PolledImage) => boolean;
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
    const isNewToGoCd = options.isNewToGoCd?.(polled);
    ctx.observePoll?.({ ...record, outcome: { tag: polled.tag, digest: polled.manifest.digest }, ...(isNewToGoCd === undefined ? {} : { isNewToGoCd }) });
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
    const wanted = pkg.selection.platforms;
    const looked = wanted && (await lookAtPlatforms(image, { tag: named, key: named }, manifest, wanted, call, ctx));
    if (wanted && looked && looked.missing.length > 0) throw noPlatform([looked], wanted, image);
    const metadata = looked ? looked.metadata : await readMetadata(image, manifest.digest, call, ctx);
    return { tag: named, key: named, manifest, metadata, isMutableTag: true, createdOf: () => undefined };
  }

  // The material asks: it shares its image's walk with the other materials of this cycle, never reuses its own last.
  const askerKey = cacheKey(pkg.tagFilter, pkg.excludeFilter, pkg.selection.order, pkg.selection.sortKey?.source ?? '', pkg.selection.semverRange?.source ?? '', pkg.selection.platforms?.join(',') ?? '');
  const { tags } = await ctx.registry.listTags(image, { ...call, isFreshListingRequired: options.isFreshListingRequired, maxTags: pkg.maxTags, askerKey });
  const filtered = filterCandidates(tags, pkg.selection);
  const candidates = keepInRange(filtered, pkg.selection);
  if (candidates.length === 0) throw filtered.length > 0 ? outsideRange(filtered, pkg, image) : noMatch(tags, pkg, image);
  const known = new Map<string, { manifest: ManifestDigest; metadata?: ImageMetadata }>();
  if (pkg.selection.order === 'newest-build') {
    // Build dates live in each image's config: one HEAD per candidate, and metadata only for digests not yet cached.
    await Promise.all(
      candidates.map(async ({ tag }) => {
        const manifest = await ctx.registry.resolveTag(image, tag, call);
        known.set(tag, { manifest, metadata: await readMetadata(image, manifest.digest, call, ctx) });
      }),
    );
  }
  const createdOf: CreatedOf = (tag) => createdMs(known.get(tag)?.metadata);
  const counts = {
    tagsScanned: tags.length,
    beforeRange: pkg.selection.semverRange ? filtered.length : undefined,
    candidates: candidates.length,
  };
  const newest = pickNewest(candidates, pkg.selection.order, createdOf) as Candidate;
  const headOf = async (tag: string) => known.get(tag)?.manifest ?? (await ctx.registry.resolveTag(image, tag, call));
  if (pkg.selection.platforms) {
    const newestFirst = (a: Candidate, b: Candidate) => compareCandidates(b, a, pkg.selection.order, createdOf);
    const { chosen, lacking } = await walkToPlatforms(image, { candidates, newest, newestFirst }, pkg.selection.platforms, headOf, call, ctx);
    return { ...chosen.candidate, manifest: chosen.manifest, metadata: chosen.metadata, isMutableTag: false, ...counts, lackingPlatforms: lacking, createdOf };
  }
  const manifest = await headOf(newest.tag);
  const metadata = known.get(newest.tag)?.metadata ?? (await readMetadata(image, manifest.digest, call, ctx));
  return { ...newest, manifest, metadata, isMutableTag: false, ...counts, createdOf };
}

/** From the newest candidate down, the first whose image provides every wanted platform; and the newer ones that did not. */
async function walkToPlatforms(
  image: ImageRef,
  { candidates, newest, newestFirst }: { candidates: readonly Candidate[]; newest: Candidate; newestFirst: (a: Candidate, b: Candidate) => number },
  wanted: string[],
  headOf: (tag: string) => Promise<ManifestDigest>,
  call: { deadlineMs: number },
  ctx: GoCdContext,
): Promise<{ chosen: Looked; lacking: string[] }> {
  const look = async (candidate: Candidate) => lookAtPlatforms(image, candidate, await headOf(candidate.tag), wanted, call, ctx);
  // The newest alone first: a steady poll whose newest tag qualifies costs no more than one without PLATFORMS, and
  // only a poll that must walk further pays for sorting the candidates.
  const first = await look(newest);
  if (first.missing.length === 0) return { chosen: first, lacking: [] };
  const lacking = [first];
  const older = candidates.filter((c) => c !== newest).sort(newestFirst);
  for (const candidate of older.slice(0, MOST_PLATFORM_TRIES - 1)) {
    const looked = await look(candidate); // one at a time: the walk stops at the first that qualifies
    if (looked.missing.length === 0) return { chosen: looked, lacking: lacking.map((l) => l.candidate.tag) };
    lacking.push(looked);
  }
  throw noPlatform(lacking, wanted, image, candidates.length);
}

interface Looked {
  candidate: Candidate;
  manifest: ManifestDigest;
  metadata: ImageMetadata;
  /** Wanted platforms the image does not provide. */
  missing: string[];
}

/** Unlike readMetadata, a failure here fails the poll: an image whose platforms are unknown cannot be chosen or passed over. */
async function lookAtPlatforms(image: ImageRef, candidate: Candidate, manifest: ManifestDigest, wanted: string[], call: { deadlineMs: number }, ctx: GoCdContext): Promise<Looked> {
  const metadata = await ctx.registry.getImageMetadata(image, manifest.digest, call);
  return { candidate, manifest, metadata, missing: missingPlatforms(metadata.platforms, wanted) };
}

async function headNamedTag(image: ImageRef, tag: string, call: { deadlineMs: number }, ctx: GoCdContext): Promise<ManifestDigest> {
  try {
    return await ctx.registry.resolveTag(image, tag, call);
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

function outsideRange(filtered: readonly Candidate[], pkg: PackageSettings, image: ImageRef): NoMatchingTagError {
  const range = pkg.selection.semverRange?.source ?? '';
  const examples = filtered.map((c) => c.key).sort(compareSemver).reverse().slice(0, EXAMPLE_TAGS);
  return new NoMatchingTagError(
    `none of the ${filtered.length} versions of ${image.endpoint.host}/${pkg.repository} that pass the other tag settings satisfies the semver range ${JSON.stringify(range)} (newest versions: ${examples.join(', ')})`,
    'widen SEMVER_RANGE on the package, or push a version inside it; GoCD keeps asking and picks it up then',
  );
}

function noPlatform(lacking: readonly Looked[], wanted: readonly string[], image: ImageRef, candidates = lacking.length): NoMatchingTagError {
  const has = (l: Looked) => `${l.candidate.tag} has ${l.metadata.platforms.join(', ') || 'no platform in its config'}`;
  const where = `${image.endpoint.host}/${image.repository}`;
  const platforms = wanted.join(' and ');
  const examples = `(${lacking.slice(0, EXAMPLE_TAGS).map(has).join('; ')})`;
  const push = `push an image for ${wanted.join(',')} (docker buildx build --platform ${wanted.join(',')} …)`;
  if (lacking.length < candidates) {
    return new NoMatchingTagError(
      `none of the newest ${lacking.length} of the ${candidates} candidate tags of ${where} provides ${platforms} ${examples}; a poll tries no more`,
      `narrow the candidates with SEMVER_RANGE or DOCKER_TAG_FILTER to versions built for ${platforms}, ${push}, or change PLATFORMS on the package`,
    );
  }
  const verdict = lacking.length === 1 ? `the only candidate tag of ${where} does not provide ${platforms}` : `none of the ${lacking.length} candidate tags of ${where} provides ${platforms}`;
  return new NoMatchingTagError(`${verdict} ${examples}`, `${push}, or change PLATFORMS on the package`);
}

function noMatch(tags: readonly string[], pkg: PackageSettings, image: ImageRef): NoMatchingTagError {
  const where = `${image.endpoint.host}/${pkg.repository}`;
  if (tags.length === 0) return new NoMatchingTagError(`${where} has no tags yet`, 'push a tag to the image; GoCD keeps asking and picks it up then');
  const rules = [
    pkg.tagFilter !== '' ? `the tag filter ${JSON.stringify(pkg.tagFilter)}` : '',
    pkg.excludeFilter !== '' ? `the exclusion ${JSON.stringify(pkg.excludeFilter)}` : '',
    pkg.selection.sortKey ? `the sort key pattern ${JSON.stringify(pkg.selection.sortKey.source)}` : '',
    pkg.selection.order === 'semver' ? `semver order (${pkg.selection.includePrereleases ? 'with' : 'without'} pre-releases)` : '',
    pkg.selection.semverRange ? `the semver range ${JSON.stringify(pkg.selection.semverRange.source)}` : '',
  ].filter(Boolean);
  const examples = [...tags].sort(compareNatural).reverse().slice(0, EXAMPLE_TAGS);
  return new NoMatchingTagError(
    `none of the ${tags.length} tags of ${where} passes ${rules.join(', ') || 'the default exclusions'} (newest tags: ${examples.join(', ')})`,
    'fix the package\'s tag settings; DOCKER_TAG_FILTER may match anywhere in the tag unless anchored with ^…$',
  );
}
