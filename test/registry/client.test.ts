import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log';
import { CredentialStore, dockerConfigCredentials, dockerConfigSource } from '../../src/credentials';
import {
  NotARegistryError,
  parseRegistryUrl,
  RegistryAuthError,
  RegistryClient,
  RegistryNotFoundError,
  RegistryUnreachableError,
} from '../../src/registry';
import { RecordedRequest, testDeps } from '../support/deps';
import { refusedPort } from '../support/free-port';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

describe('RegistryClient against a plain registry', () => {
  let registry: StartedRegistry;
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry();
    digest = await pushImage(registry, 'backends/database', ['1.9', '1.10', 'latest']);
    await pushImage(registry, 'backends/database', ['2.0-rc1']);
  });
  afterAll(() => registry.stop());

  const image = () => ({ endpoint: parseRegistryUrl(`${registry.url}/v2/`), repository: 'backends/database' });

  it('pings anonymously', async () => {
    const client = new RegistryClient(testDeps());
    expect(await client.ping(image())).toEqual({ auth: { scheme: 'none', hasCredentials: false }, apiVersionHeader: 'registry/2.0' });
  });

  it('lists every tag', async () => {
    const client = new RegistryClient(testDeps());
    const list = await client.listTags(image());
    expect(list.tags.sort()).toEqual(['1.10', '1.9', '2.0-rc1', 'latest']);
    expect(list.pages).toBe(1);
  });

  it('answers the digest of a new tag and its metadata with one manifest GET and the config blob, then confirms it with one HEAD', async () => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient(testDeps(requests));
    const cost = () => requests.splice(0).map((r) => `${r.method} ${new URL(r.url).pathname.split('/').slice(-2, -1)[0]}`);
    expect(await client.resolveTag(image(), '1.10')).toEqual({ digest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    expect((await client.getImageMetadata(image(), digest)).digest).toBe(digest);
    expect(cost()).toEqual(['GET manifests', 'GET blobs']);
    expect(await client.resolveTag(image(), '1.10')).toEqual({ digest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    await client.getImageMetadata(image(), digest);
    expect(cost()).toEqual(['HEAD manifests']);
  });

  it('reports an unknown image as not found, naming it', async () => {
    const client = new RegistryClient(testDeps());
    const promise = client.listTags({ ...image(), repository: 'no/such-image' });
    await expect(promise).rejects.toThrow(RegistryNotFoundError);
    await expect(promise).rejects.toThrow(`the tag list of no/such-image was not found on ${registry.host} (HTTP 404, NAME_UNKNOWN: repository name not known to registry)`);
  });
});

describe('RegistryClient against an htpasswd registry', () => {
  const credentials = { username: 'ci-bot', password: 'pa55-word-for-tests' };
  let registry: StartedRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
    await pushImage({ ...registry, credentials }, 'team/app', ['1.0', '1.1']);
  });
  afterAll(() => registry.stop());

  const endpoint = () => parseRegistryUrl(registry.url);

  it('confirms good credentials by Basic authentication', async () => {
    const client = new RegistryClient(testDeps());
    expect((await client.ping({ endpoint: endpoint(), credentials })).auth).toEqual({ scheme: 'basic', hasCredentials: true });
  });

  it('asks for credentials when none are configured', async () => {
    const client = new RegistryClient(testDeps());
    const promise = client.ping({ endpoint: endpoint() });
    await expect(promise).rejects.toThrow(RegistryAuthError);
    await expect(promise).rejects.toThrow(/requires a username and password/);
  });

  it('reports wrong credentials without revealing them', async () => {
    const deps = testDeps();
    const client = new RegistryClient(deps);
    const wrong = { username: 'ci-bot', password: 'not-the-password' };
    const error: RegistryAuthError = await client.listTags({ endpoint: endpoint(), repository: 'team/app', credentials: wrong }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toMatch(/refused access to team\/app with the configured credentials/);
    expect(`${error.message} ${error.fix}`).not.toContain('not-the-password');
  });

  it('falls back to the docker config of the user running the sidecar', async () => {
    const configDir = mkdtempSync(path.join(tmpdir(), 'bridge-docker-config-'));
    try {
      const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
      writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ auths: { [`http://${registry.host}/v2/`]: { auth } } }));
      const dockerConfig = dockerConfigCredentials({ configDir, homeDir: '/nonexistent', runHelper: async () => '', now: Date.now, log: silentLogger });
      const client = new RegistryClient({ ...testDeps(), credentialStore: new CredentialStore([dockerConfigSource(dockerConfig)]) });
      expect(await client.ping({ endpoint: endpoint() })).toMatchObject({
        auth: { scheme: 'basic' },
        credentialSource: 'the docker config of the user running GoCD',
      });
      expect((await client.listTags({ endpoint: endpoint(), repository: 'team/app' })).tags.sort()).toEqual(['1.0', '1.1']);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });

  it('authenticates up front once it has seen the host challenge', async () => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient(testDeps(requests), { tagListReuseMs: 0 });
    const image = { endpoint: endpoint(), repository: 'team/app', credentials };
    expect((await client.listTags(image)).tags.sort()).toEqual(['1.0', '1.1']);
    await client.listTags(image);
    expect(requests.map((r) => r.status)).toEqual([401, 200, 200]);
  });
});

describe('RegistryClient economy and limits', () => {
  let registry: StartedRegistry;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'team/app', Array.from({ length: 20 }, (_, i) => `1.${i}`));
  });
  afterAll(() => registry.stop());

  const image = () => ({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app' });

  it('keeps at most 4 requests in flight per registry', async () => {
    let inFlight = 0;
    let most = 0;
    const deps = testDeps();
    const inner = deps.fetch;
    const client = new RegistryClient({
      ...deps,
      fetch: async (url, init) => {
        most = Math.max(most, ++inFlight);
        try {
          return await inner(url, init);
        } finally {
          inFlight -= 1;
        }
      },
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.resolveTag(image(), `1.${i}`)));
    expect(most).toBe(4);
  });

  it('reuses a tag walk within the reuse window, and walks again after it', async () => {
    let offsetMs = 0;
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient({ ...testDeps(requests), now: () => Date.now() + offsetMs }, { tagListReuseMs: 10_000 });
    await client.listTags(image());
    offsetMs = 9_000;
    await client.listTags(image());
    expect(requests).toHaveLength(1);
    offsetMs = 11_000;
    await client.listTags(image());
    expect(requests).toHaveLength(2);
  });

  it('reuses a walk for 10 s by default, and never answers one asker twice from the same walk', async () => {
    let offsetMs = 0;
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient({ ...testDeps(requests), now: () => Date.now() + offsetMs });
    await client.listTags(image(), { askerKey: 'material A' });
    offsetMs = 3_000;
    await client.listTags(image(), { askerKey: 'material B' }); // the same GoCD cycle: B shares A's walk
    expect(requests).toHaveLength(1);
    await client.listTags(image(), { askerKey: 'material A' }); // A again (Trigger): a walk younger than its answer
    expect(requests).toHaveLength(2);
    offsetMs = 12_000; // 9 s after A's second walk: reused by B, whose last answer came from the first
    await client.listTags(image(), { askerKey: 'material B' });
    expect(requests).toHaveLength(2);
    offsetMs = 14_000; // 11 s: past the window for everyone
    await client.listTags(image(), { askerKey: 'material C' });
    expect(requests).toHaveLength(3);
  });

  it('walks apart for callers with different tag caps, so each gets the answer its cap gives', async () => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient(testDeps(requests));
    const [capped, roomy] = await Promise.allSettled([client.listTags(image(), { maxTags: 19 }), client.listTags(image(), { maxTags: 20 })]);
    expect(capped).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/lists more than 19 tags for team\/app \(the MAX_TAGS cap\)/) } });
    expect(roomy).toMatchObject({ status: 'fulfilled', value: { pages: 1 } });
    expect(requests).toHaveLength(2);
  });

  it('refuses an answer larger than the size cap', async () => {
    const client = new RegistryClient(testDeps(), { maxResponseBytes: 100 });
    await expect(client.listTags(image())).rejects.toThrow(`${registry.host} answered GET ${registry.url}/v2/team/app/tags/list with more than 100 bytes`);
  });
});

describe('RegistryClient failures', () => {
  it('names a refused connection', async () => {
    const port = await refusedPort();
    const client = new RegistryClient(testDeps());
    const promise = client.ping({ endpoint: parseRegistryUrl(`http://127.0.0.1:${port}`) });
    await expect(promise).rejects.toThrow(RegistryUnreachableError);
    await expect(promise).rejects.toThrow(`127.0.0.1:${port} refused the connection`);
  });

  it('says when a URL is not a V2 registry', async () => {
    const server = http.createServer((_req, res) => res.writeHead(404).end('<html>not here</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const client = new RegistryClient(testDeps());
      const promise = client.ping({ endpoint: parseRegistryUrl(`http://127.0.0.1:${port}/v2/`) });
      await expect(promise).rejects.toThrow(NotARegistryError);
      await expect(promise).rejects.toThrow(/answered HTTP 404, not the 200 of a Docker Registry V2 API/);
    } finally {
      server.close();
    }
  });
});
