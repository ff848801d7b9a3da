// The credential store: who the bridge is at each registry host, from the sources an admin configures. No HTTP
// inside (credential helpers are programs, not requests); imports only errors and log.

export { CredentialSourceError, credentialIdentity, DOCKER_HUB_HOSTS } from './credentials';
export type { Credentials, RegistryHost } from './credentials';
export { dockerConfigCredentials, runCredentialHelper } from './docker-config';
export type { DockerConfigOptions, DockerConfigSource } from './docker-config';
