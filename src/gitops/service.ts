// The write-back as the sidecar serves it (POST /gitops/update): the same settings as the CLI in a JSON body, the
// git token from the credentials file's entry named by the repository's host (never in the body), and runs for one
// (repo, branch) one at a time (spec §3.1 step 8), so two requests for one branch do not race each other's pushes
// inside one sidecar. The entry is always the repository host's own: a caller who could name another entry could
// have a registry's password sent to a git host of its choosing.

import type { CredentialsEntry } from '../credentials';
import type { Logger } from '../log';
import { GitOpsInputError } from './errors';
import type { GitCredentials } from './git';
import { requestFromSettings, SETTING_NAMES, Settings } from './settings';
import { PUSH_RETRY, UpdateDeps, UpdateResult, updateRepository } from './update';

export interface GitOpsServiceOptions {
  /** The credentials file (CredentialsFileStore): an entry's password or token is the git token. */
  credentials: { findForHost(host: string): CredentialsEntry | undefined } | undefined;
  /** serve --gitops-allow-insecure-http: http:// and file:// repositories (tests, a local mirror). */
  allowInsecureHttp: boolean;
  /** serve --gitops-signing-key: every commit is signed with this SSH key. Not a request field: it names a file here. */
  signingKey?: string;
  log: Logger;
  deps?: Partial<Omit<UpdateDeps, 'log'>>;
}

// Body keys that would carry a secret: refused, so a caller learns at once that the token does not travel here.
const SECRET_KEYS = ['access_token', 'token', 'password'];
const BODY_KEYS: readonly string[] = SETTING_NAMES.filter((name) => name !== 'allow_insecure_http' && name !== 'signing_key');

export class GitOpsService {
  /** The last run queued per repo and branch; removed once the queue is empty. */
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly options: GitOpsServiceOptions) {}

  /** One update from a parsed JSON body; throws GitOps*Error for the route to map to a status. */
  async update(body: unknown): Promise<UpdateResult> {
    const settings = this.readBody(body);
    const { username, ...request } = requestFromSettings({ ...settings, allow_insecure_http: String(this.options.allowInsecureHttp) }, {});
    const credentials = request.repo.startsWith('file:') ? undefined : this.credentialsFor(hostOf(request.repo), username);
    const key = `${request.repo}\n${request.branch}`;
    const signed = { ...request, credentials, signingKey: this.options.signingKey };
    const run = (this.tails.get(key) ?? Promise.resolve()).then(() => updateRepository(signed, this.updateDeps()));
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** The repository host's own entry: its token, or its username and password. A file:// mirror needs none. */
  private credentialsFor(host: string, defaultUsername: string): GitCredentials {
    const entry = this.options.credentials?.findForHost(host);
    const token = entry?.password ?? entry?.token;
    if (!entry || token === undefined) {
      throw new GitOpsInputError({
        message: `the credentials file has no entry "${host}" with a password or token for git`,
        fix: `add "- address: ${host}" with token (or username and password_file) to the credentials file given to serve --credentials`,
      });
    }
    return { username: entry.username ?? defaultUsername, token };
  }

  private readBody(body: unknown): Settings {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GitOpsInputError({ message: 'the body is not a JSON object', fix: 'send {"git_repo": …, "destination_file": …, "image_tag": …}' });
    const settings: Settings = {};
    for (const [key, value] of Object.entries(body)) {
      if (SECRET_KEYS.includes(key)) throw new GitOpsInputError({ message: `the body carries "${key}": secrets never travel in a request`, fix: 'leave it out; the token comes from the credentials file entry of the repository host' });
      if (!BODY_KEYS.includes(key)) throw new GitOpsInputError({ message: `unknown field "${key}"`, fix: `use only ${BODY_KEYS.join(', ')}` });
      if (typeof value !== 'string' && typeof value !== 'boolean') throw new GitOpsInputError({ message: `"${key}" is not a string`, fix: 'send each field as a JSON string (skip_ci may be true or false)' });
      settings[key as keyof Settings] = String(value);
    }
    return settings;
  }

  private updateDeps(): UpdateDeps {
    return { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), now: Date.now, retry: PUSH_RETRY, ...this.options.deps, log: this.options.log };
  }
}

function hostOf(repo: string): string {
  try {
    return new URL(repo).host;
  } catch {
    return repo;
  }
}
