// The Docker Registry HTTP API V2 client: references, auth, tags, manifests.
// Imports nothing from selection/, gocd/, server/ or cli/.

export { parseRegistryUrl, parseRepositoryName, isValidTag, InvalidReferenceError } from './reference';
export type { RegistryEndpoint } from './reference';
export { RegistryClient, REGISTRY_CLIENT_DEFAULTS } from './client';
export type { PingResult } from './client';
export type { ImageRef, ImageMetadata, ManifestDigest } from './manifests';
export type { FetchLike, MetadataKind, MetadataStore, RegistryAccess, RegistryDeps, RegistryEvent } from './transport';
export { readCaFile } from './ca-file';
export type { CaFileSystem } from './ca-file';
export {
  RegistryAuthError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryTlsError,
  RegistryUnreachableError,
  NotARegistryError,
} from './errors';
