import type { GoCdContext } from './context';
import { requirePackageSettings } from './configuration';
import { defineHandler } from './define-handler';
import { pollLatest } from './poll';
import { PackageRequest, packageRequestSchema } from './request-schemas';
import { GoCdRevision, toRevision } from './revision';

/** The revision GoCD gets for a package; also what `gocd-registry-bridge poll` shows. Throws typed errors. */
export async function findLatestRevision(request: PackageRequest, ctx: GoCdContext): Promise<GoCdRevision> {
  const { repository, pkg } = requirePackageSettings(request, ctx.log);
  return toRevision(repository, pkg, await pollLatest(repository, pkg, ctx), ctx.now());
}

/** Must answer a revision: GoCD rejects {} here, so "no matching tag" is an error naming the cause. */
export const latestRevision = defineHandler({
  schema: packageRequestSchema,
  errorReply: 'plain-text',
  handle: findLatestRevision,
});
