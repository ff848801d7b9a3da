// Who the bridge is at a registry host when the package repository names nobody: the sources an admin configured,
// asked in order, the first answer wins. The package repository's own USERNAME/PASSWORD come before all of them
// (the registry client applies that rule, since only it holds the repository's settings). The order a sidecar uses
// (deps.ts): the credentials file's username and password for the host; then, for an ECR host the file lists
// without them, a token from ECR; then the docker config of the user running GoCD.

import type { CredentialsEntry, CredentialsFileStore } from './credentials-file';
import type { Credentials, RegistryHost } from './credentials';
import type { DockerConfigSource } from './docker-config';
import type { EcrTokens } from './ecr';

export interface CredentialSource {
  /** Where the credentials came from, for check-connection answers and logs, e.g. "the credentials file /etc/…". */
  readonly description: string;
  lookup(registry: RegistryHost): Promise<Credentials | undefined>;
}

export interface FoundCredentials {
  credentials: Credentials;
  source: string;
}

export class CredentialStore {
  constructor(private readonly sources: readonly CredentialSource[]) {}

  async lookup(registry: RegistryHost): Promise<FoundCredentials | undefined> {
    for (const source of this.sources) {
      const credentials = await source.lookup(registry);
      if (credentials) return { credentials, source: source.description };
    }
    return undefined;
  }
}

/**
 * The credentials file's first entry for the host, by the address rules of registry-address.ts. Its Drone filters do
 * not apply: a GoCD package repository is no Drone build. An entry without username and password (ECR keys, a
 * bare token) answers nothing here, so the next source is asked.
 */
export function credentialsFileSource(file: CredentialsFileStore): CredentialSource {
  return {
    description: `the credentials file ${file.file}`,
    lookup: async (registry) => {
      const entry = file.findForHost(registry.isDockerHub ? 'docker.io' : registry.host);
      return entry && entryCredentials(entry);
    },
  };
}

/** An entry's own username and password, when it has both (ECR entries and bare tokens have none). */
export function entryCredentials(entry: Pick<CredentialsEntry, 'username' | 'password'>): Credentials | undefined {
  return entry.username !== undefined && entry.password !== undefined ? { username: entry.username, password: entry.password } : undefined;
}

/**
 * An ECR registry host's credentials-file entry without username and password (AWS keys, or none for the default
 * chain): a token from ECR GetAuthorizationToken, cached and refreshed by `tokens`. Other hosts answer nothing.
 */
export function ecrSource(file: CredentialsFileStore, tokens: EcrTokens): CredentialSource {
  return {
    description: `an ECR token for the AWS keys in the credentials file ${file.file}`,
    lookup: async (registry) => {
      const entry = registry.isDockerHub ? undefined : file.findForHost(registry.host);
      return entry ? tokens.credentialsForEntry(entry) : undefined;
    },
  };
}

export function dockerConfigSource(config: DockerConfigSource): CredentialSource {
  return { description: 'the docker config of the user running GoCD', lookup: (registry) => config.lookup(registry) };
}
