// The credential store: who the bridge is at each registry host, from the sources an admin configures. No HTTP of
// its own (credential helpers are programs; ECR tokens come through the AWS SDK); imports only errors and log.

export { CredentialSourceError, credentialIdentity, DOCKER_HUB_HOSTS } from './credentials';
export type { Credentials, RegistryHost } from './credentials';
export { dockerConfigCredentials, runCredentialHelper } from './docker-config';
export type { DockerConfigOptions, DockerConfigSource } from './docker-config';
export { CredentialStore, credentialsFileSource, dockerConfigSource, entryCredentials, ecrSource } from './store';
export type { CredentialSource, FoundCredentials } from './store';
export { CredentialsFileStore, entitlementKey, InvalidCredentialsFileError, readSecretFile } from './credentials-file';
export type { CredentialsEntry, CredentialsFileStatus, CredentialsList, DroneCredentialsRequest } from './credentials-file';
export { normalizeRegistryAddress } from './registry-address';
export { createEcrClient, ECR_TOKENS_DEFAULTS, EcrTokens } from './ecr';
export type { EcrClientConfig, EcrClientFactory, EcrKeys, EcrTokenClient, EcrTokensOptions } from './ecr';
export { parseEcrAddress } from './ecr-address';
export type { EcrRegistry } from './ecr-address';
