import { readCaFile, RegistryTlsError } from '../registry';
import { readRepositoryConfiguration, ValidationError } from './configuration';
import { defineHandler } from './define-handler';
import { repositoryRequestSchema } from './request-schemas';

/** Every problem as {key, message}; an empty array means valid. */
export const validateRepositoryConfiguration = defineHandler({
  schema: repositoryRequestSchema,
  errorReply: 'plain-text',
  handle: async (request, ctx) => {
    const configuration = request['repository-configuration'];
    const read = readRepositoryConfiguration(configuration, ctx.log);
    const caFile = (configuration.TLS_CA_FILE?.value ?? '').trim();
    if (caFile === '' || read.errors.some((error) => error.key === 'TLS_CA_FILE')) return read.errors;
    // Polls read the file again (through the agent); checking here names a device, FIFO or non-PEM file at save time.
    return [...read.errors, ...(await checkCaFile(caFile, read.settings?.access.endpoint.host))];
  },
});

async function checkCaFile(caFile: string, registryHost: string | undefined): Promise<ValidationError[]> {
  try {
    await readCaFile(caFile, { registryHost });
    return [];
  } catch (err) {
    if (!(err instanceof RegistryTlsError)) throw err;
    return [{ key: 'TLS_CA_FILE', message: `${err.message}; ${err.fix}` }];
  }
}
