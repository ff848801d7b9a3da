// `gocd-registry-bridge gitops-update`: the Drone plugin "auto-repo-update" as a command (spec §1, §3). Settings come
// from flags, then PLUGIN_* variables, then the bare names; inside a GoCD job the tag, digest and image default to
// the package material's, and the message names the pipeline run. Exit codes and the one-line JSON summary are the
// spec's, so a Drone step or a GoCD task can act on them.

import { parseArgs } from 'node:util';
import { InvalidCredentialsFileError, readSecretFile } from '../credentials';
import { BridgeError } from '../errors';
import { createLogger } from '../log';
import { GitOpsContendedError, GitOpsGitError, GitOpsInputError, PUSH_RETRY, requestFromSettings, SETTING_DEFAULTS, SETTING_NAMES, SettingName, Settings, updateRepository } from '../gitops';
import type { CommandIo } from './command-io';

export const GITOPS_USAGE = `Usage: gocd-registry-bridge gitops-update [options]

Writes an image tag into a file of an infrastructure repository, commits and pushes it (for Argo CD or Flux).
Each option can also be given as PLUGIN_<NAME> (a Drone step's settings) or <NAME>, e.g. PLUGIN_GIT_REPO.

Options:
  --git-repo URL           https:// URL of the repository (required; no token in it)
  --destination-file PATH  the file to write, relative to the repository root (required)
  --image-tag TAG          the tag to write (required; in a GoCD job: the package material's tag)
  --branch NAME            the branch to commit on (default ${SETTING_DEFAULTS.branch}; it must exist)
  --mode MODE              whole-file (default: the file is TAG and a newline), marker or kustomize
  --marker ID              marker mode: the id before :tag/:name/:digest, apps:app for
                           # {"$imagepolicy": "apps:app:tag"}, or ours: # {"$gitops": "ID:tag"}
  --image NAME             the image name: :name markers, full references, kustomize's images: entry
  --digest sha256:...      the digest: :digest markers, full references, kustomize
  --author-name NAME       author and committer (default "${SETTING_DEFAULTS.author_name}")
  --author-email EMAIL     (default ${SETTING_DEFAULTS.author_email})
  --commit-message TEXT    $VAR and \${VAR} expanded as envsubst does (the access token never is)
  --skip-ci                append [skip ci] to the message
  --username NAME          the user name sent with the token (default ${SETTING_DEFAULTS.username}; GitLab: oauth2)
  --access-token-file FILE the token, from a file owned by you and closed to others; otherwise the token is
                           read from PLUGIN_ACCESS_TOKEN or ACCESS_TOKEN (never from an option: argv is public)
  --signing-key FILE       sign the commit with this SSH private key (gpg.format=ssh); failing to sign fails
  --material NAME          in a GoCD job with several package materials: the one to take tag and digest from
  --allow-insecure-http    allow http:// and file:// repositories (tests, a local mirror)
  --monotonic              refuse a tag that semver orders below the one already written (a late older build)
  --max-attempts N         pushes before giving up when others keep moving the branch (default ${PUSH_RETRY.maxAttempts}, at most 20)

Exit codes: 0 pushed or nothing to do, 1 bad input, 2 git or authentication failure, 3 gave up after
--max-attempts pushes rejected as non-fast-forward. The last line of output is a JSON summary:
{"result":"pushed|noop","commit":"<sha>","branch":"main","file":"...","attempts":1}
`;

export const GITOPS_EXIT = { OK: 0, BAD_INPUT: 1, GIT_FAILED: 2, GAVE_UP: 3 } as const;

const MAX_TOKEN_FILE_BYTES = 64 * 1024;
const TOKEN_VARIABLES = ['PLUGIN_ACCESS_TOKEN', 'ACCESS_TOKEN'];
const BOOLEAN_SETTINGS: readonly SettingName[] = ['skip_ci', 'allow_insecure_http', 'monotonic'];

export async function runGitOpsUpdate(argv: string[], io: CommandIo): Promise<number> {
  const log = createLogger((line) => io.stderr(`${line}\n`), io.env.GOCD_REGISTRY_BRIDGE_LOG_LEVEL === 'debug' ? 'debug' : 'info');
  try {
    const options = Object.fromEntries(SETTING_NAMES.map((name) => [flagOf(name), { type: BOOLEAN_SETTINGS.includes(name) ? 'boolean' : 'string' } as const]));
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { ...options, 'access-token-file': { type: 'string' }, material: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }) as { values: Record<string, string | boolean | undefined> };
    if (values.help) {
      io.stdout(GITOPS_USAGE);
      return GITOPS_EXIT.OK;
    }
    const settings = { ...goCdDefaults(io.env, values.material as string | undefined), ...fromEnvironment(io.env), ...fromFlags(values) };
    // GNU envsubst sees the whole environment; the token is taken out so no message can carry it.
    const variables = Object.fromEntries(Object.entries(io.env).filter(([name]) => !TOKEN_VARIABLES.includes(name)));
    const { username, ...request } = requestFromSettings(settings, variables);
    const token = await readToken(values['access-token-file'] as string | undefined, io.env);
    if (token !== undefined) log.registerSecret(token);
    const result = await updateRepository(
      { ...request, credentials: token === undefined ? undefined : { username, token } },
      { log, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), now: Date.now, retry: PUSH_RETRY },
    );
    io.stdout(`${JSON.stringify(result)}\n`);
    return GITOPS_EXIT.OK;
  } catch (err) {
    const parseProblem = (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    if (!(err instanceof BridgeError) && !parseProblem) throw err;
    io.stderr(`gocd-registry-bridge gitops-update: ${err instanceof BridgeError ? err.describe() : `${(err as Error).message}. Fix: run gitops-update --help`}\n`);
    if (err instanceof GitOpsContendedError) return GITOPS_EXIT.GAVE_UP;
    return err instanceof GitOpsGitError ? GITOPS_EXIT.GIT_FAILED : GITOPS_EXIT.BAD_INPUT;
  }
}

function flagOf(name: SettingName): string {
  return name.replace(/_/g, '-');
}

function fromFlags(values: Record<string, string | boolean | undefined>): Settings {
  const settings: Settings = {};
  for (const name of SETTING_NAMES) {
    const value = values[flagOf(name)];
    if (value !== undefined && value !== false) settings[name] = String(value);
  }
  return settings;
}

/** PLUGIN_<NAME> wins over the bare <NAME> (spec §1: the bare names are aliases). */
function fromEnvironment(env: NodeJS.ProcessEnv): Settings {
  const settings: Settings = {};
  for (const name of SETTING_NAMES) {
    const value = env[`PLUGIN_${name.toUpperCase()}`] || env[name.toUpperCase()];
    if (value) settings[name] = value;
  }
  return settings;
}

/**
 * Inside a GoCD job (GO_PIPELINE_NAME is set): tag, digest and image of the only package material of this plugin
 * (GO_PACKAGE_<M>_IMAGE_REF marks them) or the one --material names, and a message naming the pipeline run.
 */
function goCdDefaults(env: NodeJS.ProcessEnv, material: string | undefined): Settings {
  const pipeline = env.GO_PIPELINE_NAME;
  if (!pipeline) return {};
  const materials = Object.keys(env).flatMap((name) => /^GO_PACKAGE_(.+)_IMAGE_REF$/.exec(name)?.slice(1, 2) ?? []);
  const chosen = material?.toUpperCase() ?? (materials.length === 1 ? materials[0] : undefined);
  if (material !== undefined && !materials.includes(chosen as string)) {
    throw new GitOpsInputError({ message: `no package material ${chosen} in this job`, fix: `name one of: ${materials.join(', ') || '(none: no GO_PACKAGE_<M>_IMAGE_REF variable)'}` });
  }
  const run = `${pipeline}/${env.GO_PIPELINE_COUNTER ?? '?'}`;
  const defaults: Settings = {
    author_name: `GoCD ${pipeline}`,
    commit_message: `[Auto] Update $PLUGIN_DESTINATION_FILE to $PLUGIN_IMAGE_TAG (GoCD ${run})`,
  };
  if (chosen === undefined) return defaults;
  const variable = (key: string) => env[`GO_PACKAGE_${chosen}_${key}`] || undefined;
  return { ...defaults, image_tag: variable('TAG'), digest: variable('DIGEST'), image: variable('IMAGE') };
}

async function readToken(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (file === undefined) return env.PLUGIN_ACCESS_TOKEN || env.ACCESS_TOKEN || undefined;
  try {
    const token = (await readSecretFile(file, '--access-token-file', { uid: process.getuid?.(), maxBytes: MAX_TOKEN_FILE_BYTES })).trim();
    if (token === '') throw new GitOpsInputError({ message: `--access-token-file ${file} is empty`, fix: 'put the access token in it' });
    return token;
  } catch (err) {
    if (!(err instanceof InvalidCredentialsFileError)) throw err;
    throw new GitOpsInputError({ message: err.message, fix: err.fix, cause: err });
  }
}
