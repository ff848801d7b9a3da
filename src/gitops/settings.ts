// The write-back's settings by their Drone names (spec §1), as both front doors receive them: the CLI from flags,
// PLUGIN_* and bare environment variables, the HTTP route from a JSON body. Defaults live here, once.

import { EDIT_MODES, EditMode } from './edit';
import { GitOpsInputError } from './errors';
import { renderMessage } from './message';
import type { UpdateRequest } from './update';

/** Every setting by its Drone name; values are strings as env vars and flags give them. */
export const SETTING_NAMES = [
  'git_repo',
  'branch',
  'destination_file',
  'image_tag',
  'digest',
  'image',
  'mode',
  'marker',
  'author_name',
  'author_email',
  'commit_message',
  'skip_ci',
  'username',
  'signing_key',
  'allow_insecure_http',
  'max_attempts',
  'monotonic',
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];
export type Settings = Partial<Record<SettingName, string>>;

// The original plugin's defaults (its README), and ours for what it did not have.
export const SETTING_DEFAULTS = {
  branch: 'main',
  author_name: 'Auto Update Bot',
  author_email: 'auto-update-bot@example.com',
  mode: 'whole-file',
  // GitHub and Gitea accept any user with a token; x-access-token is what GitHub Apps use. GitLab wants oauth2.
  username: 'x-access-token',
} as const satisfies Settings;

const REQUIRED: readonly SettingName[] = ['git_repo', 'destination_file', 'image_tag'];

/** The request without credentials (each front door finds those its own way); the message already rendered. */
export function requestFromSettings(given: Settings, messageVariables: Readonly<Record<string, string | undefined>>): Omit<UpdateRequest, 'credentials'> & { username: string } {
  const settings: Settings = { ...SETTING_DEFAULTS, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined && value !== '')) };
  const missing = REQUIRED.filter((name) => settings[name] === undefined);
  if (missing.length > 0) {
    throw new GitOpsInputError({
      message: `missing ${missing.join(', ')}`,
      fix: `set ${missing.map((name) => `${name} (PLUGIN_${name.toUpperCase()}, --${name.replace(/_/g, '-')})`).join(', ')}`,
    });
  }
  const mode = settings.mode as EditMode;
  if (!EDIT_MODES.includes(mode)) throw new GitOpsInputError({ message: `mode "${settings.mode}" is not one of ${EDIT_MODES.join(', ')}`, fix: 'use whole-file (the default), marker or kustomize' });
  const file = settings.destination_file as string;
  const tag = settings.image_tag as string;
  // The plugin's own variables are visible to the message under both names, whatever the environment says (§3.2).
  const own = Object.fromEntries(SETTING_NAMES.flatMap((name) => [`PLUGIN_${name.toUpperCase()}`, name.toUpperCase()].map((key) => [key, settings[name]])));
  return {
    repo: settings.git_repo as string,
    branch: settings.branch as string,
    file,
    edit: { mode, marker: settings.marker, change: { tag, digest: settings.digest, image: settings.image }, monotonic: isTrue(settings.monotonic, 'monotonic') },
    author: { name: settings.author_name as string, email: settings.author_email as string },
    message: renderMessage(settings.commit_message, { ...messageVariables, ...own }, { skipCi: isTrue(settings.skip_ci, 'skip_ci') }),
    signingKey: settings.signing_key,
    allowInsecureHttp: isTrue(settings.allow_insecure_http, 'allow_insecure_http'),
    maxAttempts: settings.max_attempts === undefined ? undefined : attempts(settings.max_attempts),
    username: settings.username as string,
  };
}

// More than 20 pushes means the branch is a hot spot that wants a file per pipeline, not more retries.
const MAX_ATTEMPTS = 20;

function attempts(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > MAX_ATTEMPTS) {
    throw new GitOpsInputError({ message: `max_attempts is "${value}", not a number from 1 to ${MAX_ATTEMPTS}`, fix: 'leave it out for 5, or raise it where many pipelines push to one branch at once' });
  }
  return Number(value);
}

function isTrue(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new GitOpsInputError({ message: `${name} is "${value}", not true or false`, fix: `set ${name} to true or false` });
}
