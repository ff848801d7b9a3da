import type { AuthOutcome } from '../registry';
import { readRepositoryConfiguration, requireSettings } from './configuration';
import { defineHandler } from './define-handler';
import { repositoryRequestSchema } from './request-schemas';

/** One real ping: is it a V2 registry, which auth scheme, and did the credentials work? */
export const checkRepositoryConnection = defineHandler({
  schema: repositoryRequestSchema,
  errorReply: 'connection-result',
  handle: async (request, ctx) => {
    const settings = requireSettings('package repository', readRepositoryConfiguration(request['repository-configuration'], ctx.log));
    const { auth } = await ctx.registry.ping(settings.endpoint, settings.credentials);
    return {
      status: 'success',
      messages: [
        `${settings.endpoint.host} answers the Docker Registry HTTP API V2 at ${settings.endpoint.baseUrl}/v2/`,
        describeAuth(auth, settings.credentials?.username),
      ],
    };
  },
});

function describeAuth(auth: AuthOutcome, username: string | undefined): string {
  if (auth.scheme === 'none') {
    return username ? 'the registry needs no authentication; the configured credentials were not needed' : 'anonymous access (the registry needs no authentication)';
  }
  const scheme = auth.scheme === 'basic' ? 'Basic authentication' : 'Bearer token authentication';
  return username ? `${scheme}: the credentials of user "${username}" were accepted` : `${scheme}: an anonymous token was issued`;
}
