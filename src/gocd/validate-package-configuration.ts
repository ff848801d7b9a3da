import { readPackageConfiguration, readRepositoryConfiguration } from './configuration';
import { defineHandler } from './define-handler';
import { packageRequestSchema } from './request-schemas';

/** Package keys only: repository problems belong to the repository form, which GoCD validated on its own. */
export const validatePackageConfiguration = defineHandler({
  schema: packageRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => {
    const repository = readRepositoryConfiguration(request['repository-configuration'], ctx.log).settings;
    return readPackageConfiguration(request['package-configuration'], repository?.access.endpoint).errors;
  },
});
