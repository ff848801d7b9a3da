import { compareCandidates, CreatedOf, isKeyInRange, keyOf } from '../selection';
import { PackageSettings, requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { PolledImage, pollLatest } from './poll';
import { latestRevisionSinceRequestSchema, PreviousRevision } from './request-schemas';
import { revisionString, toRevision } from './revision';

/**
 * {} means "nothing new". GoCD stores any other revision as a new modification and triggers, even an older tag,
 * so only a tag newer than the previous one under the package's own order is reported. The previous
 * revision may come from the old plugin (a bare tag, no data) or from a material that follows one tag
 * (`latest@sha256:…`, digest in data).
 */
export const latestRevisionSince = defineHandler({
  schema: latestRevisionSinceRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => {
    const { repository, pkg } = requirePackageSettings(request, ctx.log);
    const previous = request['previous-revision'];
    const polled = await pollLatest(repository, pkg, ctx, { isNewToGoCd: (image) => isNewer(image, previous, pkg) });
    if (!isNewer(polled, previous, pkg)) return {};
    return toRevision(repository, pkg, polled, ctx.now());
  },
});

function isNewer(polled: PolledImage, previous: PreviousRevision, pkg: PackageSettings): boolean {
  if (revisionString(polled) === previous.revision) return false;
  const [previousTag = '', previousDigestInRevision] = previous.revision.split('@');
  if (polled.isMutableTag) {
    // The same tag with the same digest is no news, whichever way the previous revision was written.
    const previousDigest = previous.data?.DIGEST ?? previousDigestInRevision;
    return !(previousTag === polled.tag && previousDigest === polled.manifest.digest);
  }
  const previousKey = keyOf(previousTag, pkg.selection);
  // The previous tag no longer fits the settings (a new sort key or range, or it lacks a platform now listed):
  // follow the new ones. Both settings are outside the material's identity, so GoCD keeps its history.
  if (previousKey === undefined || !isKeyInRange(previousKey, pkg.selection)) return true;
  if (polled.lackingPlatforms?.includes(previousTag)) return true;
  const previousCreated = Date.parse(previous.data?.CREATED ?? '');
  const createdOf: CreatedOf = (tag) => (tag === previousTag && !Number.isNaN(previousCreated) ? previousCreated : polled.createdOf(tag));
  return compareCandidates(polled, { tag: previousTag, key: previousKey }, pkg.selection.order, createdOf) > 0;
}
