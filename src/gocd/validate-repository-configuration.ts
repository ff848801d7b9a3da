import { readRepositoryConfiguration } from './configuration';
import { defineHandler } from './define-handler';
import { repositoryRequestSchema } from './request-schemas';

/** Every problem as {key, message}; an empty array means valid (spec §3.5). */
export const validateRepositoryConfiguration = defineHandler({
  schema: repositoryRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => readRepositoryConfiguration(request['repository-configuration'], ctx.log).errors,
});
