// The registry extension as a Drone runner sees it: every call here goes through drone-go v1.7.1's own
// plugin/registry client (test/drone/client), which signs the request and reads the answer exactly as
// drone-runner-docker does, against the sidecar listening on 127.0.0.1.

import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DRONE_CLIENT_BUILD_TIMEOUT_MS, droneClientBinary, DroneRequest, runDroneClient } from '../support/drone-client';
import { DRONE_SECRET, startDroneSidecar } from '../support/drone-sidecar';

const CREDENTIALS = `
- address: registry.example.com:5000
  username: ci-bot
  password: registry-pa55word
  namespaces: [octocat, acme]
- address: docker.io
  username: hub-bot
  password: hub-pa55word
  repos: [octocat/*]
  events: [push, tag]
- address: https://GHCR.io/v2/
  username: gh-bot
  password: ghcr-pa55word
  branches: [main, release/**]
  deny_forks: true
- address: 012345678910.dkr.ecr.us-east-1.amazonaws.com
`;

const build = (event: string, target: string, sourceRepo = '') => ({ event, target, source_repo: sourceRepo, ref: `refs/heads/${target}`, number: 7 });
const repo = (slug: string) => ({ slug, namespace: slug.split('/')[0], name: slug.split('/')[1], uid: '1234', default_branch: 'main' });
const login = (address: string, username: string, password: string) => ({ address, username, password, email: '', token: '' });
const REGISTRY = login('registry.example.com:5000', 'ci-bot', 'registry-pa55word');
const HUB = login('docker.io', 'hub-bot', 'hub-pa55word');
const GHCR = login('ghcr.io', 'gh-bot', 'ghcr-pa55word');

describe('drone-go\'s registry client against POST /drone/registry', () => {
  let sidecar: Awaited<ReturnType<typeof startDroneSidecar>>;
  beforeAll(async () => {
    await droneClientBinary();
    sidecar = await startDroneSidecar({ credentials: CREDENTIALS });
  }, DRONE_CLIENT_BUILD_TIMEOUT_MS);
  afterAll(() => sidecar?.close());

  const list = (request: DroneRequest, secret = DRONE_SECRET, images?: string[]) => runDroneClient({ endpoint: sidecar.endpoint, secret, request, images });

  it('gets every entry the build is entitled to, in file order, with normalized addresses', async () => {
    const result = await list({ repo: repo('octocat/hello'), build: build('push', 'main') });
    expect(result.error).toBeUndefined();
    expect(result.registries).toEqual([REGISTRY, HUB, GHCR]);
  });

  it('gets the credential each image needs, as the runner picks them', async () => {
    const images = ['alpine:3.20', 'registry.example.com:5000/team/app:1.0', 'ghcr.io/octocat/tool@sha256:' + 'a'.repeat(64), 'registry.example.com/team/app', 'gcr.io/x/y'];
    const result = await list({ repo: repo('octocat/hello'), build: build('tag', 'main') }, DRONE_SECRET, images);
    expect(result.picked).toEqual({
      'alpine:3.20': 'docker.io',
      'registry.example.com:5000/team/app:1.0': 'registry.example.com:5000',
      ['ghcr.io/octocat/tool@sha256:' + 'a'.repeat(64)]: 'ghcr.io',
      'registry.example.com/team/app': null, // no port: another registry
      'gcr.io/x/y': null,
    });
  });

  it.each([
    ['without the entry whose repos leave out the repository', repo('acme/tool'), build('push', 'main'), [REGISTRY, GHCR]],
    ['without the entry whose events leave out the event', repo('octocat/hello'), build('cron', 'main'), [REGISTRY, GHCR]],
    ['without the entry whose branches leave out the target branch', repo('octocat/hello'), build('push', 'feature/x'), [REGISTRY, HUB]],
    ['with the entry whose ** glob takes in the branch', repo('octocat/hello'), build('push', 'release/2026/03'), [REGISTRY, HUB, GHCR]],
    ['without the deny_forks entry to a pull request from a fork', repo('octocat/hello'), build('pull_request', 'main', 'mallory/hello'), [REGISTRY]],
    ['with the deny_forks entry to a pull request from the repository itself', repo('octocat/hello'), build('pull_request', 'main', 'octocat/hello'), [REGISTRY, GHCR]],
    ['without the entry whose namespaces leave out the namespace', repo('stranger/thing'), build('push', 'main'), [GHCR]],
  ])('answers %s', async (_case, repository, buildInfo, expected) => {
    const result = await list({ repo: repository, build: buildInfo });
    expect(result.error).toBeUndefined();
    expect(result.registries).toEqual(expected);
  });

  it('gets an empty list and no error when nothing is entitled (204), so the runner keeps its other credentials', async () => {
    const result = await list({ repo: repo('stranger/thing'), build: build('pull_request', 'main', 'mallory/thing') });
    expect(result).toEqual({ registries: [] });
    expect(sidecar.log.lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'drone registry request', repo: 'stranger/thing', event: 'pull_request', addresses: [], status: 204 }),
    );
  });

  it('leaves out an ECR entry until the ECR exchange gives it a login', async () => {
    const result = await list({ repo: repo('octocat/hello'), build: build('push', 'main') }, DRONE_SECRET, ['012345678910.dkr.ecr.us-east-1.amazonaws.com/app']);
    expect(result.registries.map((registry) => registry.address)).not.toContain('012345678910.dkr.ecr.us-east-1.amazonaws.com');
  });

  it('gets an error, and no credentials, with a wrong secret', async () => {
    const result = await list({ repo: repo('octocat/hello'), build: build('push', 'main') }, 'another-secret-0123456789abcdef');
    expect(result.status).toBe(400);
    expect(result.error).toBe('gocd-registry-bridge: Invalid or Missing Signature: invalid signature');
    expect(result.registries).toEqual([]);
  });

  it('logs repo, event and addresses for each answer, never a password or the secret', async () => {
    await list({ repo: repo('octocat/hello'), build: build('push', 'main') });
    const lines = sidecar.log.lines.join('\n');
    expect(sidecar.log.lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ msg: 'drone registry request', repo: 'octocat/hello', event: 'push', addresses: ['registry.example.com:5000', 'docker.io', 'ghcr.io'], status: 200 }),
    );
    for (const secret of ['registry-pa55word', 'hub-pa55word', 'ghcr-pa55word', DRONE_SECRET]) expect(lines).not.toContain(secret);
    // The logger masks the passwords it was told about: a line that tried to show one would hold the mask.
    expect(lines).not.toContain('***');
  });
});

describe('what drone-go\'s client makes of each kind of answer (why "nothing" must be 204, never an error)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    await droneClientBinary();
    // Answers as its path says, whatever the signature: the client's side of each status is under test here.
    server = createServer((req, res) => {
      const [status, body] = { '/204': [204, ''], '/empty': [200, '[]'], '/null': [200, 'null'], '/500': [500, 'backend down'], '/404': [404, ''], '/302': [302, ''] }[req.url!]!;
      res.writeHead(status as number, status === 302 ? { Location: '/empty' } : {}).end(body);
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, DRONE_CLIENT_BUILD_TIMEOUT_MS);
  afterAll(() => server.close());

  const list = (path: string) => runDroneClient({ endpoint: `${base}${path}`, secret: DRONE_SECRET, request: {} });

  it.each(['/204', '/empty', '/null'])('reads %s as no credentials and no error', async (path) => {
    expect(await list(path)).toEqual({ registries: [] });
  });

  it.each([
    ['/500', 500, 'backend down'],
    ['/404', 404, 'Not Found'],
    ['/302', 302, 'Found'], // redirects are not followed
  ])('reads %s as an error, which makes the runner drop every credential source', async (path, status, error) => {
    expect(await list(path)).toMatchObject({ registries: [], status, error });
  });
});
