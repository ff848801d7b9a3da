// POST /gitops/update on the sidecar's router against the smart-HTTP test server: the gitops token policy, the git
// token from the credentials file (never the body), spec §3's statuses, and runs for one branch one at a time.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { CredentialsFileStore } from '../../src/credentials';
import { GitOpsService, PUSH_RETRY } from '../../src/gitops';
import { createApp } from '../../src/server';
import { capturingLogger } from '../support/deps';
import { createBareRepo, git, GitServer, startGitServer } from '../support/git-server';
import { sidecarApp } from '../support/sidecar-app';

const GIT_TOKEN = 'ghp_route0git0token0never0in0a0body';
const API_TOKEN = 'gitops-api-token-0123456789abcdef';

describe('POST /gitops/update', () => {
  let server: GitServer;
  // The same repositories, served on other ports (other hosts to the credentials file): one whose entry holds a
  // token the server refuses, one where someone else pushes after each of our fetches.
  let refusing: GitServer;
  let busy: GitServer;
  let mover: string | undefined;
  let moves = 0;
  let dir: string;
  let credentials: CredentialsFileStore;
  let bare: string;
  let repo: string;
  let counter = 0;
  const log = capturingLogger();

  beforeAll(async () => {
    server = await startGitServer({ token: GIT_TOKEN });
    refusing = await startGitServer({ token: GIT_TOKEN, root: server.root });
    busy = await startGitServer({
      token: GIT_TOKEN,
      root: server.root,
      afterUploadPack: () => {
        if (!mover) return;
        moves += 1;
        git(mover, 'commit', '--quiet', '--allow-empty', '-m', `move ${moves}`);
        git(mover, 'push', '--quiet', 'origin', 'main');
      },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'gitops-route-'));
    const host = (git: GitServer) => new URL(git.url).host;
    const entries = [
      `- address: ${host(server)}\n  token: ${GIT_TOKEN}`,
      `- address: ${host(refusing)}\n  username: oauth2\n  password: glpat-wrong-token-000000`,
      `- address: ${host(busy)}\n  token: ${GIT_TOKEN}`,
      `- address: registry.example.com\n  username: ci\n  password: registry-password-0000`,
    ];
    writeFileSync(path.join(dir, 'credentials.yaml'), `${entries.join('\n')}\n`, { mode: 0o600 });
    credentials = await CredentialsFileStore.open(path.join(dir, 'credentials.yaml'), { log });
  });
  afterAll(async () => {
    credentials?.close();
    await Promise.all([server.close(), refusing.close(), busy.close()]);
    rmSync(server.root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    counter += 1;
    bare = createBareRepo(server.root, `route${counter}`, { 'tags/prod': '1.0.0\n' });
    repo = `${server.url}route${counter}.git`;
  });

  const sidecar = sidecarApp();
  const app = (retry = PUSH_RETRY, signingKey?: string) => {
    const service = new GitOpsService({ credentials, allowInsecureHttp: true, signingKey, log, deps: { retry } });
    return createApp({ ...sidecar.options, log, gitops: { service, tokens: ['an-older-token-0123456789', API_TOKEN] } });
  };
  const counted = async (outcome: string) => {
    const text = (await sidecar.observability.metricsText()).body;
    return Number(new RegExp(`^gocd_registry_bridge_gitops_updates_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  const post = (body: unknown, token = API_TOKEN, listener = app()) =>
    supertest(listener)
      .post('/gitops/update')
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));
  const settings = (extra: Record<string, unknown> = {}) => ({ git_repo: repo, destination_file: 'tags/prod', image_tag: '1.4.2', ...extra });

  it('pushes with the token of the credentials entry for the host and answers the result', async () => {
    const response = await post(settings({ skip_ci: true }));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ result: 'pushed', commit: git(bare, 'rev-parse', 'main').trim(), branch: 'main', file: 'tags/prod', attempts: 1 });
    expect(git(bare, 'log', '-1', '--format=%B', 'main').trim()).toBe('[Auto] Update tags/prod to 1.4.2 [skip ci]');
    expect((await post(settings())).body.result).toBe('noop');
    expect(log.lines.join('\n')).not.toContain(GIT_TOKEN);
    expect([await counted('pushed'), await counted('noop')]).toEqual([1, 1]);
  });

  it('needs no credentials entry for a file:// mirror (allowed by --gitops-allow-insecure-http)', async () => {
    const response = await post(settings({ git_repo: `file://${bare}` }));
    expect(response.status).toBe(200);
    expect(git(bare, 'show', 'main:tags/prod')).toBe('1.4.2\n');
  });

  it('runs requests for one branch one after another, so none loses a push race', async () => {
    const listener = app();
    const responses = await Promise.all([0, 1, 2, 3].map((i) => post(settings({ destination_file: `apps/${i}`, image_tag: `v${i}` }), API_TOKEN, listener)));
    expect(responses.map((response) => [response.status, response.body.attempts])).toEqual(Array(4).fill([200, 1]));
    expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('5');
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'gitops-api-token-wrong-0000000'],
  ])('refuses %s with 401 before anything runs', async (_name, token) => {
    const request = supertest(app()).post('/gitops/update').send(JSON.stringify(settings()));
    const response = await (token ? request.set('Authorization', `Bearer ${token}`) : request);
    expect(response.status).toBe(401);
    expect(response.text).toBe('gocd-registry-bridge: missing or wrong gitops token');
  });

  it('is not served without gitops tokens', async () => {
    const response = await supertest(sidecarApp().app).post('/gitops/update').set('Authorization', `Bearer ${API_TOKEN}`).send('{}');
    expect(response.status).toBe(404);
  });

  it.each([
    ['a token in the body', { access_token: GIT_TOKEN }, 'secrets never travel in a request'],
    ['an unknown field', { tag: '1' }, 'unknown field "tag"'],
    ['a path out of the repository', { destination_file: '../../etc/passwd' }, 'climbs out of the repository'],
    ['a repository host without an entry', { git_repo: 'http://127.0.0.1:1/infra.git' }, 'no entry "127.0.0.1:1"'],
    ['a field naming another entry', { credential: 'registry.example.com' }, 'unknown field "credential"'],
    ['a marker that matches nothing', { mode: 'marker', marker: 'apps:app' }, 'carries the marker'],
  ])('answers %s with 422, cause and fix', async (_name, extra, message) => {
    const response = await post(settings(extra));
    expect(response.status).toBe(422);
    expect(response.body.error).toContain(message);
    expect(response.body.fix).toEqual(expect.any(String));
    expect(response.text).not.toContain(GIT_TOKEN);
  });

  it('answers a body that is not JSON with 422', async () => {
    expect((await post('{"git_repo":')).status).toBe(422);
  });

  it('answers a git token the remote refuses with 502, the token in no answer or log line', async () => {
    const response = await post(settings({ git_repo: `${refusing.url}route${counter}.git` }));
    expect(response.status).toBe(502);
    expect(response.body.fix).toContain('check the access token');
    expect(`${response.text}${log.lines.join('\n')}`).not.toContain('glpat-wrong-token-000000');
  });

  it('signs with the serve-side SSH key, and answers 502 without pushing when it cannot sign', async () => {
    const key = path.join(dir, `key${counter}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    expect((await post(settings(), API_TOKEN, app(PUSH_RETRY, key))).status).toBe(200);
    expect(git(bare, 'cat-file', 'commit', 'main')).toContain('-----BEGIN SSH SIGNATURE-----');
    const unsigned = await post(settings({ image_tag: '1.4.3' }), API_TOKEN, app(PUSH_RETRY, path.join(dir, 'no-such-key')));
    expect(unsigned.status).toBe(502);
    expect(unsigned.body.error).toContain('signing the commit');
    expect(git(bare, 'show', 'main:tags/prod')).toBe('1.4.2\n');
  });

  it('answers 409 when every push loses the race', async () => {
    mover = path.join(dir, `mover${counter}`);
    git(dir, 'clone', '--quiet', bare, mover);
    const response = await post(settings({ git_repo: `${busy.url}route${counter}.git`, max_attempts: '2' }), API_TOKEN, app({ ...PUSH_RETRY, baseDelayMs: 1, maxDelayMs: 2 }));
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('gave up after 2 pushes to main: each was rejected as non-fast-forward, others kept moving the branch');
    expect(await counted('contended')).toBe(1);
  });
});
