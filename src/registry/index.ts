// The Docker Registry HTTP API V2 client: references, auth, tags, manifests.
// Imports nothing from selection/, gocd/, server/ or cli/.

export { parseRegistryUrl, parseRepositoryName, isValidTag, InvalidReferenceError } from './reference';
export type { RegistryEndpoint } from './reference';
export { RegistryClient, REGISTRY_CLIENT_DEFAULTS } from './client';
export type { ImageRef, PingResult, TagList, ManifestDigest, RegistryClientOptions } from './client';
export type { Credentials, FetchLike, RegistryDeps, AuthOutcome } from './transport';
export {
  RegistryAuthError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryTlsError,
  RegistryUnreachableError,
  NotARegistryError,
} from './errors';
