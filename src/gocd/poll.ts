// One poll of one package: list every tag, keep those the filter accepts, take the greatest in natural order,
// and HEAD it for the digest. A registry failure is an error, never "no tags" (spec registry-v2.md §8).

import { BridgeError } from '../errors';
import type { ManifestDigest } from '../registry';
import { compareNatural, pickGreatest } from '../selection';
import { imageRef, PackageSettings, RepositorySettings } from './configuration';
import type { GoCdContext } from './context';

export interface PolledTag {
  tag: string;
  manifest: ManifestDigest;
  tagsScanned: number;
  tagsMatching: number;
}

export class NoMatchingTagError extends BridgeError {
  constructor(message: string, fix: string) {
    super('NO_MATCHING_TAG', { message, fix });
  }
}

const EXAMPLE_TAGS = 5;
// One poll (tag walk, HEAD, metadata) must end before the shim gives up at 60 s, so GoCD shows our error.
const POLL_BUDGET_MS = 50_000;

export async function pollLatestTag(repository: RepositorySettings, pkg: PackageSettings, ctx: GoCdContext): Promise<PolledTag> {
  const image = imageRef(repository, pkg);
  const call = { deadlineMs: ctx.registry.deadlineIn(POLL_BUDGET_MS) };
  const { tags } = await ctx.registry.listTags(image, call);
  const matching = tags.filter(pkg.acceptsTag);
  const tag = pickGreatest(matching, compareNatural);
  if (tag === undefined) {
    const where = `${image.endpoint.host}/${pkg.repository}`;
    const examples = [...tags].sort(compareNatural).reverse().slice(0, EXAMPLE_TAGS);
    throw tags.length === 0
      ? new NoMatchingTagError(`${where} has no tags yet`, 'push a tag to the image; GoCD keeps asking and picks it up then')
      : new NoMatchingTagError(
          `none of the ${tags.length} tags of ${where} matches the tag filter ${JSON.stringify(pkg.tagFilter)} (newest tags: ${examples.join(', ')})`,
          'fix DOCKER_TAG_FILTER on the package; the pattern may match anywhere in the tag unless anchored with ^…$',
        );
  }
  const manifest = await ctx.registry.headManifest(image, tag, call);
  return { tag, manifest, tagsScanned: tags.length, tagsMatching: matching.length };
}
