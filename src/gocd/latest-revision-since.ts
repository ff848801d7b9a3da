import { compareNatural } from '../selection';
import { requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { pollLatestTag } from './poll';
import { latestRevisionSinceRequestSchema } from './request-schemas';
import { toRevision } from './revision';

/**
 * {} means "nothing new". GoCD stores any other revision as a new modification and triggers, even an older tag
 * (spec §3.9), so a tag that does not sort after the previous revision is not reported. The previous revision is
 * the tag itself, as the old plugin wrote it too.
 */
export const latestRevisionSince = defineHandler({
  schema: latestRevisionSinceRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => {
    const { repository, pkg } = requirePackageSettings(request, ctx.log);
    const polled = await pollLatestTag(repository, pkg, ctx);
    if (compareNatural(polled.tag, request['previous-revision'].revision) <= 0) return {};
    return toRevision(repository, pkg, polled, ctx.now());
  },
});
