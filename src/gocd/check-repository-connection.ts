import type { PingResult } from '../registry';
import { readRepositoryConfiguration, requireSettings } from './configuration';
import { defineHandler } from './define-handler';
import { repositoryRequestSchema } from './request-schemas';

/** One real ping: is it a V2 registry, which auth scheme, and did the credentials work? */
export const checkRepositoryConnection = defineHandler({
  schema: repositoryRequestSchema,
  errorReply: 'connection-result',
  handle: async (request, ctx) => {
    const settings = requireSettings('package repository', readRepositoryConfiguration(request['repository-configuration'], ctx.log));
    const { endpoint, credentials } = settings.access;
    const ping = await ctx.registry.ping(settings.access);
    return {
      status: 'success',
      messages: [`${endpoint.host} answers the Docker Registry HTTP API V2 at ${endpoint.baseUrl}/v2/`, describeAuth(ping, credentials?.username)],
    };
  },
});

function describeAuth({ auth, credentialSource }: PingResult, username: string | undefined): string {
  if (auth.scheme === 'none') {
    return username ? 'the registry needs no authentication; the configured credentials were not needed' : 'anonymous access (the registry needs no authentication)';
  }
  const scheme = auth.scheme === 'basic' ? 'Basic authentication' : 'Bearer token authentication';
  if (credentialSource) return `${scheme}: credentials from ${credentialSource} were accepted`;
  return username ? `${scheme}: the credentials of user "${username}" were accepted` : `${scheme}: an anonymous token was issued`;
}
