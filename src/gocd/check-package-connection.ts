import { requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { pollLatest } from './poll';
import { packageRequestSchema } from './request-schemas';

/** One real poll: the image exists, how many tags, how many pass the settings, and the tag GoCD would get. */
export const checkPackageConnection = defineHandler({
  schema: packageRequestSchema,
  errorReply: 'connection-result',
  handle: async (request, ctx) => {
    const { repository, pkg } = requirePackageSettings(request, ctx.log);
    const polled = await pollLatest(repository, pkg, ctx, { isFreshListingRequired: true });
    const where = `${repository.access.endpoint.host}/${pkg.repository}`;
    const created = polled.metadata?.created ? `, created ${polled.metadata.created}` : '';
    const platforms = polled.metadata?.platforms.length ? `, ${polled.metadata.platforms.join(', ')}` : '';
    const found = polled.isMutableTag
      ? `${where}: follows the tag ${polled.tag}; a re-push with a new digest is a new revision`
      : `${where}: ${polled.tagsScanned} tags; ${polled.candidates} pass ${describeSettings(pkg)}; ordered ${pkg.selection.order}`;
    return { status: 'success', messages: [found, `GoCD would get ${polled.tag} (${polled.manifest.digest}${created}${platforms})`] };
  },
});

function describeSettings(pkg: { tagFilter: string; excludeFilter: string }): string {
  const parts = [
    pkg.tagFilter === '' ? 'no tag filter' : `the tag filter ${JSON.stringify(pkg.tagFilter)}`,
    pkg.excludeFilter === '' ? '' : `the exclusion ${JSON.stringify(pkg.excludeFilter)}`,
  ].filter(Boolean);
  return parts.join(' and ');
}
