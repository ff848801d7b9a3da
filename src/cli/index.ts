// Command-line entry points besides `serve`: poll (what GoCD would get), images (inside a GoCD task) and
// status-registry (the build-status registry's pipeline step, a client of serve).
// Imports gocd/, selection/, registry/; never server/.

export { runPoll, POLL_USAGE } from './poll-command';
export { runImages, IMAGES_USAGE, materialImages } from './images-command';
export { runStatusRegistry, STATUS_REGISTRY_USAGE } from './status-registry-command';
export { EXIT, UsageError } from './command-io';
export type { CommandIo } from './command-io';
export { envName, jobEnvironment, materialName } from './environment';
export { GITOPS_EXIT, GITOPS_USAGE, runGitOpsUpdate } from './gitops-command';
