import { requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { pollLatestTag } from './poll';
import { packageRequestSchema } from './request-schemas';

/** One real poll: the image exists, how many tags, how many the filter accepts, and the tag GoCD would get. */
export const checkPackageConnection = defineHandler({
  schema: packageRequestSchema,
  errorReply: 'connection-result',
  handle: async (request, ctx) => {
    const { repository, pkg } = requirePackageSettings(request, ctx.log);
    const polled = await pollLatestTag(repository, pkg, ctx);
    const filter = pkg.tagFilter === '' ? 'no tag filter, so every tag is a candidate' : `${polled.tagsMatching} match the tag filter ${JSON.stringify(pkg.tagFilter)}`;
    return {
      status: 'success',
      messages: [
        `${repository.access.endpoint.host}/${pkg.repository}: ${polled.tagsScanned} tags; ${filter}`,
        `the newest tag is ${polled.tag} (${polled.manifest.digest})`,
      ],
    };
  },
});
