// The credential store: who the bridge is at each registry host, from the sources an admin configures. No HTTP
// inside (credential helpers are programs, not requests); imports only errors and log.

export { CredentialSourceError, credentialIdentity, DOCKER_HUB_HOSTS } from './credentials';
export type { Credentials, RegistryHost } from './credentials';
export { dockerConfigCredentials, runCredentialHelper } from './docker-config';
export type { DockerConfigOptions, DockerConfigSource } from './docker-config';
export { CredentialStore, credentialsFileSource, dockerConfigSource } from './store';
export type { CredentialSource, FoundCredentials } from './store';
export { CredentialsFileStore, InvalidCredentialsFileError, readSecretFile } from './credentials-file';
export type { CredentialsEntry, CredentialsFileStatus, DroneCredentialsRequest } from './credentials-file';
export { normalizeRegistryAddress } from './registry-address';
