import { requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { pollLatest } from './poll';
import { packageRequestSchema } from './request-schemas';
import { toRevision } from './revision';

/** Must answer a revision: GoCD rejects {} here, so "no matching tag" is an error naming the cause (spec §3.9). */
export const latestRevision = defineHandler({
  schema: packageRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => {
    const { repository, pkg } = requirePackageSettings(request, ctx.log);
    return toRevision(repository, pkg, await pollLatest(repository, pkg, ctx), ctx.now());
  },
});
