// Whether the addresses we answer make the runner use the credential for an image. Each case goes through the whole
// chain: the address as written in the credentials file, our answer to drone-go's client, then the runner's rule
// (docker/distribution v2.7.1's domain of the image, compared exactly with the address; test/drone/client). The
// address as written is matched too, to show where our normalization changes the outcome.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCredentialsFile } from '../../src/credentials/credentials-file';
import { DRONE_CLIENT_BUILD_TIMEOUT_MS, droneClientBinary, runDroneClient } from '../support/drone-client';
import { DRONE_SECRET, startDroneSidecar } from '../support/drone-sidecar';
import { rejection } from '../support/thrown';

interface MatchCase {
  image: string;
  /** The address as written in the credentials file. */
  written: string;
  /** Whether the runner matches the image with the address as written. */
  asWritten: boolean;
  /** Whether it matches the address we answer. */
  answered: boolean;
}

const ECR = '012345678910.dkr.ecr.us-east-1.amazonaws.com';
const same = (image: string, written: string, matches: boolean): MatchCase => ({ image, written, asWritten: matches, answered: matches });

const CASES: [string, MatchCase][] = [
  // drone-runner-docker internal/docker/image/image_test.go, Test_matchHostname
  ['golang on docker.io', same('golang', 'docker.io', true)],
  ['golang:latest on docker.io', same('golang:latest', 'docker.io', true)],
  ['golang:latest on index.docker.io', same('golang:latest', 'index.docker.io', true)],
  ['library/golang:latest on docker.io', same('library/golang:latest', 'docker.io', true)],
  ['docker.io/library/golang:1.0.0 on docker.io', same('docker.io/library/golang:1.0.0', 'docker.io', true)],
  ['gcr.io/golang not on docker.io', same('gcr.io/golang', 'docker.io', false)],
  ['gcr.io/golang:1.0.0 on gcr.io', same('gcr.io/golang:1.0.0', 'gcr.io', true)],
  ['an ECR image on its registry', same(`${ECR}/foo:latest`, ECR, true)],
  ['an ECR image on its registry written as an https URL', same(`${ECR}/foo:latest`, `https://${ECR}`, true)],
  ['an invalid reference on nothing', same('*&^%', '1.2.3.4:8000', false)],
  // the spec's section 4
  ['alpine on index.docker.io', same('alpine', 'index.docker.io', true)],
  ['library/golang on index.docker.io', same('library/golang', 'index.docker.io', true)],
  ['gcr.io/x not on docker.io', same('gcr.io/x', 'docker.io', false)],
  ['a port-qualified image on its host:port', same('registry.local:5000/app', 'registry.local:5000', true)],
  ['a port-qualified image not on the host alone', same('registry.local:5000/app', 'registry.local', false)],
  ['a host image not on the host with a port', same('registry.local/app', 'registry.local:5000', false)],
  ['an image on an http URL with a path (its host)', same('registry.local:5000/app', 'http://registry.local:5000/some/path', true)],
  ['a bare image ID on nothing', same('a'.repeat(64), 'docker.io', false)],
  // where the address as written fails the runner and ours does not
  ['Docker Hub images on https://index.docker.io/v1/ (the docker config key)', { image: 'alpine', written: 'https://index.docker.io/v1/', asWritten: false, answered: true }],
  ['Docker Hub images on registry-1.docker.io', { image: 'library/golang', written: 'registry-1.docker.io', asWritten: false, answered: true }],
  ['an image on an upper-case address', { image: 'registry.local:5000/app', written: 'REGISTRY.Local:5000', asWritten: false, answered: true }],
  ['an image on an upper-case Hub alias in a URL', { image: 'alpine', written: 'HTTPS://INDEX.DOCKER.IO/v1/', asWritten: false, answered: true }],
  // the price of lower-casing: docker/distribution v2.7.1 keeps an image's host as written, so one written in upper case
  // matches no answer of ours (and no lower-case docker config key either)
  ['an image written with an upper-case host, on its address as written', { image: 'Registry.Local:5000/app', written: 'Registry.Local:5000', asWritten: true, answered: false }],
];

describe('the addresses we answer, as drone-runner-docker matches them to images', () => {
  let sidecar: Awaited<ReturnType<typeof startDroneSidecar>>;
  beforeAll(async () => {
    await droneClientBinary();
    // One entry per case, given only to the repository case/<n>: each request gets exactly that case's address.
    const entries = CASES.map(([, { written }], n) => `- address: ${JSON.stringify(written)}\n  username: user-${n}\n  password: pa55word-${n}\n  repos: [case/${n}]\n`);
    sidecar = await startDroneSidecar({ credentials: entries.join('') });
  }, DRONE_CLIENT_BUILD_TIMEOUT_MS);
  afterAll(() => sidecar?.close());

  it.each(CASES.map(([name, match], n) => [name, match, n] as const))('%s', async (_name, { image, written, asWritten, answered }, n) => {
    const result = await runDroneClient({
      endpoint: sidecar.endpoint,
      secret: DRONE_SECRET,
      request: { repo: { slug: `case/${n}` }, build: { event: 'push' } },
      images: [image],
      pairs: [{ image, address: written }],
    });
    expect(result.registries).toHaveLength(1);
    expect(result.matches).toEqual([asWritten]);
    expect(result.picked).toEqual({ [image]: answered ? result.registries[0]!.address : null });
  });

  it('answers bare host[:port] in lower case, docker.io for Docker Hub', async () => {
    const addresses = await Promise.all(
      CASES.map(async (_case, n) => (await runDroneClient({ endpoint: sidecar.endpoint, secret: DRONE_SECRET, request: { repo: { slug: `case/${n}` } } })).registries[0]!.address),
    );
    for (const address of addresses) expect(address).toMatch(/^[a-z0-9.-]+(:\d+)?$/);
    expect(addresses[CASES.findIndex(([, c]) => c.written === 'https://index.docker.io/v1/')]).toBe('docker.io');
  });
});

describe('a path-scoped address', () => {
  it('never matches in the runner, so the credentials file refuses it and says why', async () => {
    const result = await runDroneClient({ pairs: [{ image: 'registry.gitlab.com/group/app', address: 'registry.gitlab.com/group' }] });
    expect(result.matches).toEqual([false]);
    const dir = mkdtempSync(path.join(tmpdir(), 'bridge-drone-path-'));
    const file = path.join(dir, 'credentials.yml');
    writeFileSync(file, '- address: registry.gitlab.com/group\n  username: u\n  password: p4ssword\n');
    chmodSync(file, 0o600);
    const err = await rejection<Error & { fix: string }>(loadCredentialsFile(file));
    rmSync(dir, { recursive: true, force: true });
    expect(err.message).toContain('has a path after the host; the runner matches credentials by registry host only, so such an entry never matches');
    expect(err.fix).toBe('write the host alone (registry.gitlab.com): it then applies to every repository on that registry');
  }, DRONE_CLIENT_BUILD_TIMEOUT_MS);
});
