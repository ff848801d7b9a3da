// One write-back (spec §3.1): shallow single-branch clone into a temp dir, edit, no-op or commit as the bot, push;
// a push rejected as non-fast-forward fetches, resets, re-applies the edit (now perhaps a no-op) and pushes again,
// with jittered backoff. The tracked branch is never force-pushed (spec §7.9). The temp dir goes in every case.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RetryOptions, withRetry } from '../http';
import type { Logger } from '../log';
import { editText, EditSpec } from './edit';
import { GitOpsContendedError, GitOpsGitError, GitOpsInputError } from './errors';
import { Git, GitCredentials, GitOutput } from './git';
import { checkImageChange } from './image-change';
import { checkDestination, resolveInClone } from './paths';

export interface UpdateRequest {
  /** https:// (http:// and file:// only with allowInsecureHttp). */
  repo: string;
  branch: string;
  file: string;
  edit: EditSpec;
  author: { name: string; email: string };
  /** Already rendered (renderMessage). */
  message: string;
  credentials?: GitCredentials;
  /** A private SSH key file: the commit is signed with it (gpg.format=ssh), or the run fails. */
  signingKey?: string;
  allowInsecureHttp: boolean;
  /** Pushes before giving up; deps.retry.maxAttempts (5) when not given. */
  maxAttempts?: number;
}

export interface UpdateResult {
  result: 'pushed' | 'noop';
  commit: string;
  branch: string;
  file: string;
  attempts: number;
}

export interface UpdateDeps {
  log: Logger;
  sleep(ms: number): Promise<void>;
  now(): number;
  retry: RetryOptions;
  /** Where the clone's temp dir goes (os.tmpdir() otherwise). */
  tmpRoot?: string;
  /** Called with the temp dir just before it is removed: tests look there for leaked tokens. */
  beforeCleanup?(workDir: string): Promise<void>;
}

// Spec §3.1 step 7: five attempts, backoff from 1 s; jitter spreads pipelines that finished together.
export const PUSH_RETRY: RetryOptions = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 16_000, maxRetryAfterMs: 0 };
// No attempt starts after this: a CI step should fail rather than hang.
const RETRY_BUDGET_MS = 5 * 60_000;

export async function updateRepository(request: UpdateRequest, deps: UpdateDeps): Promise<UpdateResult> {
  checkRepositoryUrl(request.repo, request.allowInsecureHttp);
  checkBranch(request.branch);
  checkDestination(request.file);
  checkImageChange(request.edit.change);
  if (request.credentials) deps.log.registerSecret(request.credentials.token);
  const workDir = await mkdtemp(path.join(deps.tmpRoot ?? tmpdir(), 'gitops-'));
  try {
    const git = await Git.create(workDir, new URL(request.repo).host, request.credentials);
    const clone = path.join(workDir, 'clone');
    await cloneBranch(git, request, workDir, clone);
    let attempts = 0;
    const result = await withRetry(
      `push to ${request.branch}`,
      async () => {
        attempts += 1;
        if (attempts > 1) await refresh(git, request, clone);
        return attempt(git, request, clone, attempts, deps.log);
      },
      { options: { ...deps.retry, maxAttempts: request.maxAttempts ?? deps.retry.maxAttempts }, sleep: deps.sleep, now: deps.now, log: deps.log, deadlineMs: deps.now() + RETRY_BUDGET_MS },
    ).catch((err: unknown) => {
      if (!(err instanceof GitOpsContendedError)) throw err;
      throw new GitOpsContendedError(
        {
          message: `gave up after ${attempts} pushes to ${request.branch}: each was rejected as non-fast-forward, others kept moving the branch`,
          fix: 'run the step again; if pipelines write this branch all the time, give each its own file or raise the attempts',
        },
        attempts,
      );
    });
    deps.log.info('gitops update', { repo: request.repo, ...result });
    return result;
  } finally {
    await deps.beforeCleanup?.(workDir);
    await rm(workDir, { recursive: true, force: true });
  }
}

async function attempt(git: Git, request: UpdateRequest, clone: string, attempts: number, log: Logger): Promise<UpdateResult> {
  const target = await resolveInClone(clone, request.file);
  const current = await readFile(target, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  const next = editText(current, request.edit, request.file);
  const done = { branch: request.branch, file: request.file, attempts };
  if (next === current) return { result: 'noop', commit: await head(git, clone), ...done };
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, next);
  await runOrFail(git, ['add', '--', request.file], clone, 'staging the file');
  await commit(git, request, clone);
  const push = await git.run(['push', '--porcelain', 'origin', `HEAD:refs/heads/${request.branch}`], { cwd: clone });
  if (push.code !== 0) {
    if (isRaceLost(push)) {
      log.info('gitops push rejected: the branch moved, retrying on top of it', { repo: request.repo, branch: request.branch, attempt: attempts });
      throw new GitOpsContendedError({ message: `the push to ${request.branch} was rejected as non-fast-forward`, fix: 'retry', retryable: true }, attempts);
    }
    throw gitFailure('pushing', push, request);
  }
  return { result: 'pushed', commit: await head(git, clone), ...done };
}

async function cloneBranch(git: Git, request: UpdateRequest, workDir: string, clone: string): Promise<void> {
  const args = ['clone', '--quiet', '--depth', '1', '--single-branch', '--no-tags', '--branch', request.branch, '--', request.repo, clone];
  const output = await git.run(args, { cwd: workDir });
  if (output.code === 0) return;
  if (/Remote branch .* not found/.test(output.stderr)) {
    throw new GitOpsGitError({ message: `the branch ${request.branch} does not exist in ${request.repo}`, fix: 'create the branch in the repository first, or pass the right --branch' });
  }
  throw gitFailure('cloning', output, request);
}

/**
 * After a lost race: the branch as the remote has it now, our commit dropped. No --depth: the server then sends only
 * the commits since our shallow tip, not the whole tree again, which keeps each retry short and so the race window.
 */
async function refresh(git: Git, request: UpdateRequest, clone: string): Promise<void> {
  await runOrFail(git, ['fetch', '--quiet', '--no-tags', 'origin', `refs/heads/${request.branch}`], clone, 'fetching the moved branch');
  await runOrFail(git, ['reset', '--quiet', '--hard', 'FETCH_HEAD'], clone, 'resetting to the moved branch');
}

/** Author = committer = the bot (spec §7.8), so a branch protection that checks the committer sees the bot. */
async function commit(git: Git, request: UpdateRequest, clone: string): Promise<void> {
  const { name, email } = request.author;
  const identity = { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
  const signing = request.signingKey ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${path.resolve(request.signingKey)}`] : [];
  const args = [...signing, 'commit', '--quiet', '--no-verify', ...(request.signingKey ? ['-S'] : ['--no-gpg-sign']), '-F', '-'];
  const output = await git.run(args, { cwd: clone, input: request.message, extraEnv: identity });
  if (output.code === 0) return;
  if (request.signingKey) {
    throw new GitOpsGitError({
      message: `signing the commit with the SSH key ${request.signingKey} failed (${lastLine(output)}); nothing was pushed`,
      fix: 'give a readable private key without a passphrase (ssh-keygen -t ed25519 -N ""), and make sure ssh-keygen is installed',
    });
  }
  throw gitFailure('committing', output, request);
}

async function head(git: Git, clone: string): Promise<string> {
  return (await runOrFail(git, ['rev-parse', 'HEAD'], clone, 'reading the commit')).stdout.trim();
}

async function runOrFail(git: Git, args: string[], cwd: string, what: string): Promise<GitOutput> {
  const output = await git.run(args, { cwd });
  if (output.code !== 0) throw new GitOpsGitError({ message: `git failed ${what}: ${lastLine(output)}`, fix: 'see the message; the remote may have changed under us, run the step again' });
  return output;
}

/**
 * A lost race: "[rejected] … (fetch first|non-fast-forward)" from our side, or a remote that lost the ref lock to a
 * concurrent push ("[remote rejected] … failed to update ref / cannot lock ref / incorrect old value").
 */
function isRaceLost(push: GitOutput): boolean {
  const text = `${push.stdout}\n${push.stderr}`;
  return /\[rejected\].*\((fetch first|non-fast-forward)\)/.test(text) || /\[remote rejected\].*(failed to update ref|cannot lock ref|incorrect old value)/.test(text) || /failed to lock/.test(text);
}

function gitFailure(what: string, output: GitOutput, request: UpdateRequest): GitOpsGitError {
  const text = output.stderr;
  const isAuth = /Authentication failed|could not read (Username|Password)|returned error: (401|403)|permission|denied|not authorized/i.test(text);
  return new GitOpsGitError({
    message: `git failed ${what} ${request.repo}: ${lastLine(output)}`,
    fix: isAuth
      ? `check the access token and that it may push to ${request.branch} (user name ${request.credentials?.username ?? 'none'}: GitHub and Gitea take x-access-token, GitLab oauth2)`
      : 'check the repository URL and that the git server is reachable from here',
  });
}

function lastLine(output: GitOutput): string {
  const lines = `${output.stderr}\n${output.stdout}`.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines.slice(-2).join(' / ') || `exit code ${output.code}`;
}

function checkRepositoryUrl(repo: string, allowInsecureHttp: boolean): void {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    throw new GitOpsInputError({ message: `the repository "${repo.replace(/:\/\/[^@/]+@/, '://***@')}" is not a URL`, fix: 'give the https:// URL of the infrastructure repository, e.g. https://git.example/team/infra.git' });
  }
  if (url.username !== '' || url.password !== '') {
    throw new GitOpsInputError({
      message: 'the repository URL carries a user name or token, which would end up in .git/config and in error messages',
      fix: 'give the URL without user@ and pass the token as the access token (PLUGIN_ACCESS_TOKEN, --token-file)',
    });
  }
  const isSecure = url.protocol === 'https:';
  const isInsecureAllowed = allowInsecureHttp && (url.protocol === 'http:' || url.protocol === 'file:');
  if (!isSecure && !isInsecureAllowed) {
    throw new GitOpsInputError({ message: `the repository ${url.protocol}//${url.host}${url.pathname} is not https://`, fix: 'use the https:// URL; --allow-insecure-http allows http:// and file:// (tests, a local mirror)' });
  }
}

function checkBranch(branch: string): void {
  if (!/^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]{1,200}(?<![./])$/.test(branch) || branch.endsWith('.lock')) {
    throw new GitOpsInputError({ message: `the branch "${branch}" is not a branch name`, fix: 'give a branch name such as main or deploy/prod' });
  }
}
