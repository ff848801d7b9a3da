// Command-line entry points besides `serve`: poll (what GoCD would get) and images (inside a GoCD task).
// Imports gocd/, selection/, registry/; never server/.

export { runPoll, POLL_USAGE } from './poll-command';
export { runImages, IMAGES_USAGE, materialImages } from './images-command';
export { EXIT, UsageError } from './command-io';
export type { CommandIo } from './command-io';
export { envName, jobEnvironment, materialName } from './environment';
export { GITOPS_EXIT, GITOPS_USAGE, runGitOpsUpdate } from './gitops-command';
