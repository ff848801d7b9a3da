// updateRepository against a real smart-HTTP git server (git http-backend behind Basic auth) and plain bare
// repositories: clone, edit, commit as the bot, push, the non-fast-forward retry loop, and where the token may not go.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GitOpsContendedError, GitOpsGitError, GitOpsInputError, PUSH_RETRY, renderMessage, UpdateDeps, UpdateRequest, updateRepository } from '../../src/gitops';
import { createLogger } from '../../src/log';
import { createBareRepo, git, GitServer, startGitServer, TEST_GIT_ENV } from '../support/git-server';

const TOKEN = 'ghp_test0token0that0must0never0leak';

function testDeps(overrides: Partial<UpdateDeps> = {}) {
  const lines: string[] = [];
  const deps: UpdateDeps = {
    log: createLogger((line) => lines.push(line), 'debug'),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    // Millisecond backoff: the loop is under test here, the production delays in the bench.
    retry: { ...PUSH_RETRY, baseDelayMs: 20, maxDelayMs: 400 },
    ...overrides,
  };
  return { deps, lines };
}

/** Every file under dir, as text: where a token could have been written. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).toString('latin1'))
    .join('\n');
}

describe('updateRepository over smart HTTP', () => {
  let server: GitServer;
  let repoUrl: string;
  let bare: string;
  beforeAll(async () => {
    server = await startGitServer({ token: TOKEN });
  });
  afterAll(async () => {
    await server.close();
    rmSync(server.root, { recursive: true, force: true });
  });
  let counter = 0;
  beforeEach(() => {
    counter += 1;
    bare = createBareRepo(server.root, `infra${counter}`, { 'deployed_tags/prod': '1.0.0\n', 'README.md': 'infra\n' });
    repoUrl = `${server.url}infra${counter}.git`;
  });

  const request = (overrides: Partial<UpdateRequest> = {}): UpdateRequest => ({
    repo: repoUrl,
    branch: 'main',
    file: 'deployed_tags/prod',
    edit: { mode: 'whole-file', change: { tag: '1.4.2' } },
    author: { name: 'Auto Update Bot', email: 'auto-update-bot@example.com' },
    message: renderMessage(undefined, { PLUGIN_DESTINATION_FILE: 'deployed_tags/prod', PLUGIN_IMAGE_TAG: '1.4.2' }, { skipCi: true }),
    credentials: { username: 'x-access-token', token: TOKEN },
    allowInsecureHttp: true,
    ...overrides,
  });

  it('pushes one commit by the bot as author and committer, then the same tag again is a no-op', async () => {
    const { deps } = testDeps();
    const first = await updateRepository(request(), deps);
    expect(first).toEqual({ result: 'pushed', commit: git(bare, 'rev-parse', 'main').trim(), branch: 'main', file: 'deployed_tags/prod', attempts: 1 });
    expect(git(bare, 'show', 'main:deployed_tags/prod')).toBe('1.4.2\n');
    expect(git(bare, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%B', 'main').trim()).toBe(
      'Auto Update Bot <auto-update-bot@example.com>|Auto Update Bot <auto-update-bot@example.com>|[Auto] Update deployed_tags/prod to 1.4.2 [skip ci]',
    );
    const second = await updateRepository(request(), deps);
    expect(second).toEqual({ ...first, result: 'noop' });
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('2');
  });

  it('creates a missing file and its directories', async () => {
    await updateRepository(request({ file: 'envs/staging/tag' }), testDeps().deps);
    expect(git(bare, 'show', 'main:envs/staging/tag')).toBe('1.4.2\n');
  });

  it('lands all of 10 concurrent runs writing 10 files on one branch, in a linear history', async () => {
    // The loop, not its production timing (bench P7 measures five attempts from 1 s): enough attempts that a
    // loaded CI machine, where each git step takes seconds, cannot make this fail.
    const { deps } = testDeps({ retry: { ...PUSH_RETRY, maxAttempts: 20, baseDelayMs: 250, maxDelayMs: 4000 } });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => updateRepository(request({ file: `apps/app${i}/tag`, edit: { mode: 'whole-file', change: { tag: `2.0.${i}` } } }), deps)));
    expect(results.map((result) => result.result)).toEqual(Array(10).fill('pushed'));
    expect(results.some((result) => result.attempts > 1)).toBe(true);
    for (let i = 0; i < 10; i += 1) expect(git(bare, 'show', `main:apps/app${i}/tag`)).toBe(`2.0.${i}\n`);
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('11');
    expect(git(bare, 'rev-list', '--merges', 'main').trim()).toBe('');
  });

  it('turns a retry into a no-op when a concurrent run already wrote the same tag', async () => {
    const { deps } = testDeps();
    // Two pipelines (their bots differ, so their commits do): whichever loses the race finds the tag already there.
    const runs = ['a', 'b'].map((bot) => updateRepository(request({ author: { name: `Bot ${bot}`, email: `${bot}@example.com` } }), deps));
    const results = await Promise.all(runs);
    expect(results.map((result) => result.result).sort()).toEqual(['noop', 'pushed']);
    expect(results[0]?.commit).toBe(results[1]?.commit);
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('2');
  });

  it('fails with a git error for a wrong token, and the token is nowhere: output, log, temp dir, .git/config', async () => {
    const wrong = 'glpat-wrong0token0value0000000';
    const { deps, lines } = testDeps({
      beforeCleanup: async (workDir) => {
        const written = allText(workDir);
        expect(written).not.toContain(wrong);
        expect(readFileSync(path.join(workDir, 'clone/.git/config'), 'utf8')).not.toMatch(/@|token/);
        expect(written).toContain('[remote "origin"]');
      },
    });
    const error = await updateRepository(request({ credentials: { username: 'oauth2', token: wrong } }), deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsGitError);
    const text = `${(error as GitOpsGitError).message} ${(error as GitOpsGitError).fix} ${lines.join('\n')}`;
    expect(text).toContain('check the access token');
    expect(text).not.toContain(wrong);
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('1');
    const basic = server.requests.map((entry) => entry.authorization).filter(Boolean);
    expect(basic).toContain(`Basic ${Buffer.from(`oauth2:${wrong}`).toString('base64')}`);
    expect(server.requests.every((entry) => !entry.url.includes(wrong))).toBe(true);
  });

  it('gives the token to the repository host only, not to a host it redirects to', async () => {
    // A front that sends every request on to the git server, another host:port to git.
    const front = createServer((req, res) => {
      res.writeHead(301, { Location: `${server.url.slice(0, -1)}${req.url}` });
      res.end();
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const before = server.requests.length;
      const error = await updateRepository(request({ repo: `http://127.0.0.1:${(front.address() as AddressInfo).port}/${path.basename(bare)}` }), testDeps().deps).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(GitOpsGitError);
      expect(server.requests.slice(before).every((entry) => entry.authorization === undefined)).toBe(true);
      expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('1');
    } finally {
      front.close();
    }
  });

  it('fails with a git error when the branch does not exist, and does not create it', async () => {
    const error = await updateRepository(request({ branch: 'release' }), testDeps().deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsGitError);
    expect((error as Error).message).toBe(`the branch release does not exist in ${repoUrl}`);
    expect(git(bare, 'branch', '--list').trim()).toBe('* main');
  });

  it('removes its temp dir, on success and on failure', async () => {
    const tmpRoot = mkdtempSync(path.join(tmpdir(), 'gitops-tmproot-'));
    await updateRepository(request(), testDeps({ tmpRoot }).deps);
    await updateRepository(request({ branch: 'nope' }), testDeps({ tmpRoot }).deps).catch(() => undefined);
    expect(readdirSync(tmpRoot)).toEqual([]);
    rmSync(tmpRoot, { recursive: true });
  });

  it.each([
    ['a token in the URL', { repo: `http://x:${TOKEN}@127.0.0.1/r.git` }, 'carries a user name or token'],
    ['http without the opt-in', { allowInsecureHttp: false }, 'is not https://'],
    ['a path out of the repository', { file: '../../etc/passwd' }, 'climbs out of the repository'],
    ['a path into .git/', { file: '.git/config' }, 'inside .git/'],
    ['a bad tag', { edit: { mode: 'whole-file' as const, change: { tag: '-x' } } }, 'is not a Docker tag'],
    ['a bad branch', { branch: '--upload-pack=x' }, 'is not a branch name'],
  ])('refuses %s before any git runs', async (_name, overrides, message) => {
    const before = server.requests.length;
    const error = await updateRepository(request(overrides), testDeps().deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsInputError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain(TOKEN);
    expect(server.requests.length).toBe(before);
  });

  it('answers a marker that matches nothing with an input error and pushes nothing', async () => {
    const error = await updateRepository(request({ file: 'README.md', edit: { mode: 'marker', marker: 'apps:app', change: { tag: '1.0.1' } } }), testDeps().deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsInputError);
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('1');
  });
});

describe('updateRepository on a plain bare repository', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'gitops-bare-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const plain = (bare: string, overrides: Partial<UpdateRequest> = {}): UpdateRequest => ({
    repo: `file://${bare}`,
    branch: 'main',
    file: 'tag',
    edit: { mode: 'whole-file', change: { tag: '2.0.0' } },
    author: { name: 'Bot', email: 'bot@example.com' },
    message: 'm',
    allowInsecureHttp: true,
    ...overrides,
  });

  it('leaves a file that holds the tag without a newline alone', async () => {
    const bare = createBareRepo(root, 'r', { tag: '2.0.0' });
    expect((await updateRepository(plain(bare), testDeps().deps)).result).toBe('noop');
    expect(git(bare, 'show', 'main:tag')).toBe('2.0.0');
  });

  it('signs the commit with an SSH key (gpg.format=ssh), and fails without pushing when signing fails', async () => {
    const bare = createBareRepo(root, 'r', {});
    const key = path.join(root, 'signing_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bot@example.com', '-f', key]);
    await updateRepository(plain(bare, { signingKey: key }), testDeps().deps);
    const signers = path.join(root, 'allowed_signers');
    writeFileSync(signers, `bot@example.com ${readFileSync(`${key}.pub`, 'utf8')}`);
    const verified = execFileSync('git', ['-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', 'main'], { cwd: bare, env: TEST_GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(verified).toBe('');
    const error = await updateRepository(plain(bare, { signingKey: path.join(root, 'no-such-key'), edit: { mode: 'whole-file', change: { tag: '2.0.1' } } }), testDeps().deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsGitError);
    expect((error as Error).message).toContain('signing the commit with the SSH key');
    expect(git(bare, 'show', 'main:tag')).toBe('2.0.0\n');
  });

  it('refuses to write through a symbolic link committed to the repository', async () => {
    const bare = createBareRepo(root, 'r', {});
    const work = path.join(root, 'work');
    git(root, 'clone', '--quiet', bare, work);
    execFileSync('ln', ['-s', '/etc', path.join(work, 'etc')]);
    git(work, 'add', 'etc');
    git(work, 'commit', '--quiet', '-m', 'link');
    git(work, 'push', '--quiet', 'origin', 'main');
    const error = await updateRepository(plain(bare, { file: 'etc/passwd' }), testDeps().deps).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsInputError);
    expect((error as Error).message).toContain('symbolic link "etc"');
  });

});

describe('updateRepository when every push loses the race', () => {
  let server: GitServer;
  let mover: string;
  let moves = 0;
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'gitops-contended-'));
    const bare = createBareRepo(root, 'busy', {});
    mover = path.join(root, 'mover');
    git(root, 'clone', '--quiet', bare, mover);
    // Someone else pushes right after each of our clones and fetches: every push of ours starts behind.
    server = await startGitServer({
      token: TOKEN,
      root,
      afterUploadPack: () => {
        moves += 1;
        git(mover, 'commit', '--quiet', '--allow-empty', '-m', `move ${moves}`);
        git(mover, 'push', '--quiet', 'origin', 'main');
      },
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(server.root, { recursive: true, force: true });
  });

  it('gives up after maxAttempts pushes with a contended error, and never force-pushes', async () => {
    // The request's maxAttempts wins over the retry settings' five.
    const { deps } = testDeps({ retry: { ...PUSH_RETRY, baseDelayMs: 1, maxDelayMs: 5 } });
    const error = await updateRepository(
      {
        repo: `${server.url}busy.git`,
        branch: 'main',
        file: 'tag',
        edit: { mode: 'whole-file', change: { tag: '3.0.0' } },
        author: { name: 'Bot', email: 'bot@example.com' },
        message: 'm',
        credentials: { username: 'x-access-token', token: TOKEN },
        allowInsecureHttp: true,
        maxAttempts: 3,
      },
      deps,
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GitOpsContendedError);
    expect((error as GitOpsContendedError).attempts).toBe(3);
    expect((error as Error).message).toBe('gave up after 3 pushes to main: each was rejected as non-fast-forward, others kept moving the branch');
    // Only the mover's commits are on the branch: ours never replaced them.
    expect(git(mover, 'log', '--format=%s', 'origin/main').trim().split('\n')).toEqual([...Array.from({ length: moves }, (_, i) => `move ${moves - i}`), 'seed']);
  });
});
