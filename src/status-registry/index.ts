// The build-status registry (issue 12): downstream builds of a package version report success or failure, one
// cumulative verdict decides, and its follow-up action (webhook, Drone deploy or promote, GoCD schedule) fires exactly
// once. Imports errors, log and credentials (secret files); never registry, gocd or server, which mounts it.

export { StatusRegistry, ACTION_DEFAULTS } from './service';
export type { ActionFetch, ActionPolicy, PackageView, StatusRegistryEvent, StatusRegistryOptions } from './service';
export { defaultDataDir, openStore, statusRegistryLocation } from './store';
export { importEntries } from './import-entries';
export type { ImportReport } from './import-entries';
export type { RecordStore, StoreLocation } from './store';
export { StatusRegistryError, normaliseStatus, verdictOf } from './record';
export type { ActionState, PackageRecord, Verdict } from './record';
export type { Handler } from './handlers';
