// GoCD's package-repository extension: one handler per message, the dispatch table, and error → reply mapping.
// Imports selection/ and registry/; never server/ or cli/.

export { dispatch, KNOWN_REQUESTS } from './dispatch';
export type { GoCdCall, GoCdReply } from './dispatch';
export type { GoCdContext, PollRecord } from './context';
export { REPOSITORY_PROPERTIES, PACKAGE_PROPERTIES } from './properties';
export { findLatestRevision } from './latest-revision';
export type { GoCdRevision } from './revision';
export type { ConfigurationMap, PackageRequest } from './request-schemas';
