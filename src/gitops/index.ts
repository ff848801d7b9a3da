// GitOps write-back: commit a new image tag into an infrastructure repository (issue 13). Pure edits on text, the
// git work in one place with the real git binary. Imports credentials, http, log and errors; never gocd or server.

export { editText } from './edit';
export type { EditSpec } from './edit';
export { checkDestination } from './paths';
export { GitOpsContendedError, GitOpsGitError, GitOpsInputError } from './errors';
export { renderMessage } from './message';
export { PUSH_RETRY, updateRepository } from './update';
export type { UpdateDeps, UpdateRequest } from './update';
export { requestFromSettings, SETTING_DEFAULTS, SETTING_NAMES } from './settings';
export type { SettingName, Settings } from './settings';
export { GitOpsService } from './service';
