// The Docker Registry HTTP API V2 client: references, auth, tags, manifests.
// Imports nothing from selection/, gocd/, server/ or cli/.

export { parseRegistryUrl, parseRepositoryName, isValidTag, InvalidReferenceError } from './reference';
export type { RegistryEndpoint } from './reference';
export { RegistryClient, REGISTRY_CLIENT_DEFAULTS } from './client';
export type { CallOptions, PingResult, RegistryClientOptions } from './client';
export type { ImageRef, ImageMetadata, ManifestDigest } from './manifests';
export type { TagList } from './tags';
export type { AuthOutcome, FetchLike, RegistryAccess, RegistryDeps, RegistryEvent, TlsSettings } from './transport';
export { readCaFile, CA_FILE_DEFAULTS } from './ca-file';
export type { CaFileOptions, CaFileSystem } from './ca-file';
export {
  RegistryAuthError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryTlsError,
  RegistryUnreachableError,
  NotARegistryError,
} from './errors';
