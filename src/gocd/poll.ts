// One poll of one package: list every tag, keep those the filter accepts, take the greatest in natural order,
// and HEAD it for the digest. A registry failure is an error, never "no tags" (spec registry-v2.md §8).

import { BridgeError } from '../errors';
import type { ImageRef, ManifestDigest } from '../registry';
import { compareNatural, pickGreatest } from '../selection';
import type { PackageSettings, RepositorySettings } from './configuration';
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

export function imageRef(repository: RepositorySettings, pkg: PackageSettings): ImageRef {
  return { endpoint: repository.endpoint, repository: pkg.repository, credentials: repository.credentials };
}

export async function pollLatestTag(repository: RepositorySettings, pkg: PackageSettings, ctx: GoCdContext): Promise<PolledTag> {
  const image = imageRef(repository, pkg);
  const { tags } = await ctx.registry.listTags(image);
  const matching = tags.filter(pkg.acceptsTag);
  const tag = pickGreatest(matching, compareNatural);
  if (tag === undefined) {
    const where = `${repository.endpoint.host}/${pkg.repository}`;
    const examples = [...tags].sort(compareNatural).reverse().slice(0, EXAMPLE_TAGS);
    throw tags.length === 0
      ? new NoMatchingTagError(`${where} has no tags yet`, 'push a tag to the image; GoCD keeps asking and picks it up then')
      : new NoMatchingTagError(
          `none of the ${tags.length} tags of ${where} matches the tag filter ${JSON.stringify(pkg.tagFilter)} (newest tags: ${examples.join(', ')})`,
          'fix DOCKER_TAG_FILTER on the package; the pattern may match anywhere in the tag unless anchored with ^…$',
        );
  }
  const manifest = await ctx.registry.headManifest(image, tag);
  return { tag, manifest, tagsScanned: tags.length, tagsMatching: matching.length };
}
