// What every credential source answers, and how the rest of the bridge refers to credentials without holding them.

import { createHash } from 'node:crypto';
import { BridgeError, BridgeErrorInit } from '../errors';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** A registry as credential sources key it: host[:port] as users write it, and whether it is Docker Hub. */
export interface RegistryHost {
  /** host[:port], lower case. */
  readonly host: string;
  readonly isDockerHub: boolean;
}

// The names Docker Hub goes by: docker.io in image references, index.docker.io the docker CLI's v1 index,
// registry-1.docker.io the API host, registry.hub.docker.com an old alias.
export const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Who is asking, for cache keys: a hash, so no cache key holds a password. */
export function credentialIdentity(credentials: Credentials | undefined): string {
  return credentials ? createHash('sha256').update(`${credentials.username}\0${credentials.password}`).digest('hex') : 'anonymous';
}

/** A credential source (docker config, credential helper, credentials file) that cannot be used as it stands. */
export class CredentialSourceError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('CREDENTIAL_SOURCE', init);
  }
}
