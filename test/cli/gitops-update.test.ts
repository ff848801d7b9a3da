// gitops-update in-process against the smart-HTTP test server: the Drone plugin's variables and their bare aliases,
// GoCD job defaults, exit codes, the JSON summary line, and the token kept out of every line of output.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GITOPS_EXIT, runGitOpsUpdate } from '../../src/cli';
import { capturedIo } from '../support/command-io';
import { createBareRepo, git, GitServer, startGitServer } from '../support/git-server';

const TOKEN = 'ghp_cli0token0that0must0never0leak';

describe('gitops-update', () => {
  let server: GitServer;
  let bare: string;
  let repo: string;
  let counter = 0;
  beforeAll(async () => {
    server = await startGitServer({ token: TOKEN });
  });
  afterAll(async () => {
    await server.close();
    rmSync(server.root, { recursive: true, force: true });
  });
  beforeEach(() => {
    counter += 1;
    bare = createBareRepo(server.root, `cli${counter}`, { 'deploy/values.yaml': 'image:\n  tag: "1.0.0" # {"$imagepolicy": "apps:app:tag"}\n' });
    repo = `${server.url}cli${counter}.git`;
  });

  const plugin = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PLUGIN_GIT_REPO: repo,
    PLUGIN_DESTINATION_FILE: 'deployed_tags/prod',
    PLUGIN_IMAGE_TAG: 'a6b6e8',
    PLUGIN_ACCESS_TOKEN: TOKEN,
    PLUGIN_ALLOW_INSECURE_HTTP: 'true',
    ...extra,
  });
  const run = async (env: NodeJS.ProcessEnv, argv: string[] = []) => {
    const io = capturedIo(env);
    const code = await runGitOpsUpdate(argv, io);
    const lines = io.out().trim().split('\n');
    return { code, out: io.out(), err: io.err(), summary: code === 0 ? JSON.parse(lines[lines.length - 1] as string) : undefined };
  };
  const lastMessage = () => git(bare, 'log', '-1', '--format=%B', 'main').trim();

  it('takes the Drone plugin variables with their defaults, prints the JSON summary, then is a no-op', async () => {
    const first = await run(plugin());
    expect(first.code).toBe(GITOPS_EXIT.OK);
    expect(first.summary).toEqual({ result: 'pushed', commit: git(bare, 'rev-parse', 'main').trim(), branch: 'main', file: 'deployed_tags/prod', attempts: 1 });
    expect(git(bare, 'show', 'main:deployed_tags/prod')).toBe('a6b6e8\n');
    expect(git(bare, 'log', '-1', '--format=%an <%ae>', 'main').trim()).toBe('Auto Update Bot <auto-update-bot@example.com>');
    expect(lastMessage()).toBe('[Auto] Update deployed_tags/prod to a6b6e8');
    const second = await run(plugin());
    expect(second.summary).toEqual({ ...first.summary, result: 'noop' });
    expect(`${first.out}${first.err}${second.out}${second.err}`).not.toContain(TOKEN);
  });

  it('takes the bare names as aliases, and flags over both', async () => {
    const env = { GIT_REPO: repo, DESTINATION_FILE: 'x', IMAGE_TAG: 'bare', ACCESS_TOKEN: TOKEN, PLUGIN_IMAGE_TAG: 'prefixed', ALLOW_INSECURE_HTTP: 'true' };
    expect((await run(env)).code).toBe(0);
    expect(git(bare, 'show', 'main:x')).toBe('prefixed\n');
    expect((await run(env, ['--image-tag', 'flagged', '--skip-ci', '--author-name', 'Deploy Bot'])).code).toBe(0);
    expect(git(bare, 'show', 'main:x')).toBe('flagged\n');
    expect(git(bare, 'log', '-1', '--format=%an|%cn|%B', 'main').trim()).toBe('Deploy Bot|Deploy Bot|[Auto] Update x to flagged [skip ci]');
  });

  it('expands the message envsubst-style: unset names become empty, an empty message the default, the token never', async () => {
    await run(plugin({ PLUGIN_COMMIT_MESSAGE: 'deploy ${IMAGE_TAG} by $BUILD_USER$UNSET to $PLUGIN_BRANCH ($PLUGIN_ACCESS_TOKEN)', BUILD_USER: 'ann' }));
    expect(lastMessage()).toBe('deploy a6b6e8 by ann to main ()');
    await run(plugin({ PLUGIN_IMAGE_TAG: 'b2', PLUGIN_COMMIT_MESSAGE: '$UNSET' }));
    expect(lastMessage()).toBe('[Auto] Update deployed_tags/prod to b2');
  });

  it('in a GoCD job, takes tag and digest from the package material and names the pipeline run', async () => {
    const digest = `sha256:${'12'.repeat(32)}`;
    const env = {
      GO_PIPELINE_NAME: 'build-app',
      GO_PIPELINE_COUNTER: '42',
      GO_PACKAGE_REG_APP_IMAGE_REF: `registry.example/app@${digest}`,
      GO_PACKAGE_REG_APP_TAG: '1.4.2',
      GO_PACKAGE_REG_APP_DIGEST: digest,
      GO_PACKAGE_REG_APP_IMAGE: 'registry.example/app',
      PLUGIN_GIT_REPO: repo,
      PLUGIN_ACCESS_TOKEN: TOKEN,
    };
    const result = await run(env, ['--destination-file', 'deploy/values.yaml', '--mode', 'marker', '--marker', 'apps:app', '--allow-insecure-http']);
    expect(result.code).toBe(0);
    expect(git(bare, 'show', 'main:deploy/values.yaml')).toBe('image:\n  tag: "1.4.2" # {"$imagepolicy": "apps:app:tag"}\n');
    expect(git(bare, 'log', '-1', '--format=%an|%B', 'main').trim()).toBe('GoCD build-app|[Auto] Update deploy/values.yaml to 1.4.2 (GoCD build-app/42)');
  });

  it.each([
    ['a wrong token', { PLUGIN_ACCESS_TOKEN: 'ghp_wrong0token0000000000' }, GITOPS_EXIT.GIT_FAILED, 'check the access token'],
    ['a missing branch', { PLUGIN_BRANCH: 'prod' }, GITOPS_EXIT.GIT_FAILED, 'the branch prod does not exist'],
    ['a path out of the repository', { PLUGIN_DESTINATION_FILE: '../../etc/passwd' }, GITOPS_EXIT.BAD_INPUT, 'climbs out of the repository'],
    ['.git/config', { PLUGIN_DESTINATION_FILE: '.git/config' }, GITOPS_EXIT.BAD_INPUT, 'inside .git/'],
    ['a marker that matches nothing', { PLUGIN_DESTINATION_FILE: 'deploy/values.yaml', PLUGIN_MODE: 'marker', PLUGIN_MARKER: 'apps:other' }, GITOPS_EXIT.BAD_INPUT, 'carries the marker "apps:other"'],
    ['missing settings', { PLUGIN_GIT_REPO: '', PLUGIN_IMAGE_TAG: '' }, GITOPS_EXIT.BAD_INPUT, 'missing git_repo, image_tag'],
    ['an unknown mode', { PLUGIN_MODE: 'sed' }, GITOPS_EXIT.BAD_INPUT, 'mode "sed" is not one of'],
    ['http:// without the opt-in', { PLUGIN_ALLOW_INSECURE_HTTP: '' }, GITOPS_EXIT.BAD_INPUT, 'is not https://'],
    ['no attempts at all', { PLUGIN_MAX_ATTEMPTS: '0' }, GITOPS_EXIT.BAD_INPUT, 'max_attempts is "0"'],
    ['an older tag with --monotonic', { PLUGIN_DESTINATION_FILE: 'deploy/values.yaml', PLUGIN_MODE: 'marker', PLUGIN_MARKER: 'apps:app', PLUGIN_IMAGE_TAG: '0.9.0', PLUGIN_MONOTONIC: 'true' }, GITOPS_EXIT.BAD_INPUT, 'already holds 1.0.0'],
  ])('exits with its code for %s, saying why, with the token nowhere', async (_name, extra: NodeJS.ProcessEnv, code, message) => {
    const wrong = extra.PLUGIN_ACCESS_TOKEN;
    const result = await run(plugin(extra));
    expect(result.code).toBe(code);
    expect(result.err).toContain(message);
    expect(result.err).toContain('Fix:');
    expect(`${result.out}${result.err}`).not.toContain(TOKEN);
    if (wrong) expect(`${result.out}${result.err}`).not.toContain(wrong);
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('1');
  });

  it('reads the token from a file closed to others, and refuses one others may read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gitops-token-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const env = plugin({ PLUGIN_ACCESS_TOKEN: '' });
    expect((await run(env, ['--access-token-file', file])).code).toBe(0);
    chmodSync(file, 0o644);
    const open = await run(plugin({ PLUGIN_ACCESS_TOKEN: '', PLUGIN_IMAGE_TAG: 'other' }), ['--access-token-file', file]);
    expect(open.code).toBe(GITOPS_EXIT.BAD_INPUT);
    expect(open.err).toContain('--access-token-file');
    rmSync(dir, { recursive: true });
  });

  it('answers an unknown option with exit 1', async () => {
    expect((await run(plugin(), ['--access-token', TOKEN])).code).toBe(GITOPS_EXIT.BAD_INPUT);
  });
});
