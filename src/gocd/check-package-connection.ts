import { PackageSettings, requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { PolledImage, pollLatest } from './poll';
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
      : `${where}: ${polled.tagsScanned} tags; ${describeCounts(polled, pkg)}; ordered ${pkg.selection.order}${describePlatforms(polled, pkg)}`;
    return { status: 'success', messages: [found, `GoCD would get ${polled.tag} (${polled.manifest.digest}${created}${platforms})`] };
  },
});

function describeCounts(polled: PolledImage, pkg: PackageSettings): string {
  const range = pkg.selection.semverRange;
  if (!range || polled.beforeRange === undefined) return `${polled.candidates} pass ${describeSettings(pkg)}`;
  return `${polled.beforeRange} pass ${describeSettings(pkg)}; the semver range ${JSON.stringify(range.source)} keeps ${polled.candidates} of them`;
}

function describePlatforms(polled: PolledImage, pkg: PackageSettings): string {
  const wanted = pkg.selection.platforms?.join(' and ');
  if (!wanted) return '';
  const lacking = polled.lackingPlatforms ?? [];
  if (lacking.length === 0) return `; the newest provides ${wanted}`;
  const shown = lacking.slice(0, 5).join(', ') + (lacking.length > 5 ? ', …' : '');
  return `; passed over ${lacking.length} newer without ${wanted} (${shown})`;
}

function describeSettings(pkg: { tagFilter: string; excludeFilter: string }): string {
  const parts = [
    pkg.tagFilter === '' ? 'no tag filter' : `the tag filter ${JSON.stringify(pkg.tagFilter)}`,
    pkg.excludeFilter === '' ? '' : `the exclusion ${JSON.stringify(pkg.excludeFilter)}`,
  ].filter(Boolean);
  return parts.join(' and ');
}
