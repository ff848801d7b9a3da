// Bearer token flow against docker-registry in token mode, with a token server that signs JWTs it trusts.

import { parseRegistryUrl, RegistryAuthError, RegistryClient } from '../../src/registry';
import { RecordedRequest, testDeps } from '../support/deps';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

const user = { username: 'puller', password: 'token-pa55word' };

describe('RegistryClient against a token-auth registry with users', () => {
  let registry: StartedRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ token: { users: [user] } });
    await pushImage({ ...registry, credentials: user }, 'team/app', ['1.0', '1.1']);
  });
  afterAll(() => registry.stop());

  const image = (credentials = user) => ({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app', credentials });
  const tokenRequests = () => registry.tokenServer!.requests.length;

  it('fetches a token with the credentials and lists tags', async () => {
    const before = tokenRequests();
    const client = new RegistryClient(testDeps());
    expect((await client.listTags(image())).tags.sort()).toEqual(['1.0', '1.1']);
    expect(registry.tokenServer!.requests.slice(before)).toEqual([{ scopes: ['repository:team/app:pull'], username: 'puller', status: 200 }]);
  });

  it('reports credentials the token service refuses, without revealing them', async () => {
    const client = new RegistryClient(testDeps());
    const error: RegistryAuthError = await client.listTags(image({ username: 'puller', password: 'wrong-token-pw' })).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toBe(`the token service of ${registry.host} (${new URL(registry.tokenServer!.realm).host}) refused the username and password (HTTP 401)`);
    expect(`${error.message}${error.fix}`).not.toContain('wrong-token-pw');
  });

  it('lets N concurrent polls of one image fetch one token and walk the tags once', async () => {
    const requests: RecordedRequest[] = [];
    const before = tokenRequests();
    const client = new RegistryClient(testDeps(requests));
    const lists = await Promise.all(Array.from({ length: 10 }, () => client.listTags(image())));
    expect(lists.every((list) => list.tags.length === 2)).toBe(true);
    expect(tokenRequests() - before).toBe(1);
    expect(requests.filter((r) => r.url.includes('/tags/list') && r.status === 200)).toHaveLength(1);
  });

  it('costs no token request and no manifest GET when an unchanged image is polled again', async () => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient(testDeps(requests), { tagListReuseMs: 0 });
    const poll = async () => {
      await client.listTags(image());
      const { digest } = await client.resolveTag(image(), '1.1');
      return client.getImageMetadata(image(), digest);
    };
    await poll();
    const tokensAfterFirst = tokenRequests();
    const requestsAfterFirst = requests.length;
    await poll();
    const second = requests.slice(requestsAfterFirst);
    expect(tokenRequests()).toBe(tokensAfterFirst);
    expect(second.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.status}`)).toEqual([
      'GET /v2/team/app/tags/list 200',
      'HEAD /v2/team/app/manifests/1.1 200',
    ]);
  });

  it('never sends credentials in clear text to another host', async () => {
    // localhost and the realm's 127.0.0.1 are different hosts to the realm rules.
    const client = new RegistryClient(testDeps());
    const elsewhere = { ...image(), endpoint: parseRegistryUrl(registry.url.replace('127.0.0.1', 'localhost')) };
    const before = tokenRequests();
    await expect(client.listTags(elsewhere)).rejects.toThrow(/asks for the credentials to be sent in clear text to another host \(http:\/\/127\.0\.0\.1:\d+\)$/);
    expect(tokenRequests()).toBe(before);
  });

  it('fetches a new token once the old one expires', async () => {
    let offsetMs = 0;
    const deps = { ...testDeps(), now: () => Date.now() + offsetMs };
    const client = new RegistryClient(deps, { tagListReuseMs: 0 });
    const before = tokenRequests();
    await client.listTags(image());
    await client.listTags(image());
    expect(tokenRequests() - before).toBe(1);
    offsetMs = 301_000; // the token server issues 300-second tokens
    await client.listTags(image());
    expect(tokenRequests() - before).toBe(2);
  });
});

describe.each([
  ['"token"', { responseField: 'token' as const }],
  ['"access_token" without expiry fields', { responseField: 'access_token' as const, omitExpiry: true }],
])('RegistryClient against an anonymous token registry answering %s', (_name, tokenOptions) => {
  let registry: StartedRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ token: tokenOptions });
    await pushImage(registry, 'library/base', ['3.19']);
  });
  afterAll(() => registry.stop());

  it('fetches an anonymous token and reads the digest', async () => {
    const client = new RegistryClient(testDeps());
    const image = { endpoint: parseRegistryUrl(registry.url), repository: 'library/base' };
    expect((await client.ping(image)).auth).toEqual({ scheme: 'bearer', hasCredentials: false });
    expect((await client.resolveTag(image, '3.19')).digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(registry.tokenServer!.requests.every((r) => r.username === undefined)).toBe(true);
  });
});
