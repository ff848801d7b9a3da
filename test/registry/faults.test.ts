// What the real registry cannot show on its own, added by a proxy in front of it (test/support/fault-proxy.ts):
// Link pagination, page-size limits, throttling, bursts of 5xx, resets, truncated and altered bodies.

import { parseRegistryUrl, RegistryClient, RegistryResponseError } from '../../src/registry';
import { RecordedRequest, testDeps } from '../support/deps';
import { FaultProxy, FaultProxyOptions, ScriptedFault, startFaultProxy } from '../support/fault-proxy';
import { pushImage, pushTags } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

jest.setTimeout(180_000);

const TEN_THOUSAND = Array.from({ length: 10_000 }, (_, i) => `1.0.${i}`);

/** A client whose retries record their delays instead of waiting them. */
function recordingClient(requests: RecordedRequest[] = []) {
  const slept: number[] = [];
  const deps = { ...testDeps(requests), sleep: async (ms: number) => void slept.push(ms) };
  return { client: new RegistryClient(deps, { tagListReuseMs: 0 }), slept, log: deps.log };
}

describe('tag pagination', () => {
  let registry: StartedRegistry;
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    await pushTags(registry, 'big/repo', TEN_THOUSAND);
  });
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await registry.stop();
  });

  const through = async (options: FaultProxyOptions) => {
    const proxy = await startFaultProxy(registry.url, options);
    proxies.push(proxy);
    return { proxy, image: { endpoint: parseRegistryUrl(proxy.url), repository: 'big/repo' } };
  };
  const tagPages = (proxy: FaultProxy) => proxy.requests.filter((r) => r.path.startsWith('/v2/big/repo/tags/list'));

  it.each(['relative', 'absolute', 'opaque'] as const)('lists all 10,000 tags over pages of 100 with %s next links', async (linkStyle) => {
    const { proxy, image } = await through({ paginateTags: { pageSize: 100, linkStyle } });
    const list = await recordingClient().client.listTags(image);
    expect(list.tags).toHaveLength(10_000);
    expect(new Set(list.tags)).toEqual(new Set(TEN_THOUSAND));
    expect(list.pages).toBe(100);
    expect(tagPages(proxy)).toHaveLength(100);
  });

  it('asks again without a page size when the registry rejects ours', async () => {
    const { proxy, image } = await through({ paginateTags: { pageSize: 100, linkStyle: 'relative' }, rejectPageSizeAbove: 100 });
    const { client, log } = recordingClient();
    expect((await client.listTags(image)).tags).toHaveLength(10_000);
    expect(tagPages(proxy)[0]).toEqual({ method: 'GET', path: '/v2/big/repo/tags/list?n=1000', status: 400 });
    expect(tagPages(proxy)[1]).toEqual({ method: 'GET', path: '/v2/big/repo/tags/list', status: 200 });
    expect(log.lines.some((line) => line.includes('registry rejected the tag page size'))).toBe(true);
  });

  it('refuses a next link to another host', async () => {
    const { image } = await through({ paginateTags: { pageSize: 100, linkStyle: 'relative' }, crossHostNextLink: true });
    const error: RegistryResponseError = await recordingClient().client.listTags(image).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error.message).toMatch(/sent a next-page link to another host \(http:\/\/127\.0\.0\.2:\d+\) while listing tags of big\/repo$/);
  });
});

describe('transient failures', () => {
  let registry: StartedRegistry;
  let proxy: FaultProxy;
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry();
    digest = await pushImage(registry, 'team/app', ['1.0', '1.1']);
    proxy = await startFaultProxy(registry.url);
  });
  afterAll(async () => {
    await proxy.stop();
    await registry.stop();
  });

  const image = () => ({ endpoint: parseRegistryUrl(proxy.url), repository: 'team/app' });
  const withFaults = (...faults: ScriptedFault[]) => {
    proxy.setFaults(faults);
    proxy.requests.length = 0;
  };
  const statuses = () => proxy.requests.map((r) => r.status);
  const TAGS = /\/tags\/list/;
  const MANIFEST = /\/manifests\//;

  it('waits exactly what Retry-After asks (seconds) and then succeeds', async () => {
    withFaults({ match: TAGS, fault: { status: 429, retryAfter: '1' }, times: 1 });
    const { client, slept } = recordingClient();
    expect((await client.listTags(image())).tags.sort()).toEqual(['1.0', '1.1']);
    expect(slept).toEqual([1000]);
    expect(statuses()).toEqual([429, 200]);
  });

  it('reads Retry-After as an HTTP date', async () => {
    withFaults({ match: TAGS, fault: { status: 429, retryAfter: new Date(Date.now() + 3000).toUTCString() }, times: 1 });
    const { client, slept } = recordingClient();
    await client.listTags(image());
    expect(slept).toHaveLength(1);
    expect(slept[0]).toBeGreaterThan(1000);
    expect(slept[0]).toBeLessThanOrEqual(3000);
  });

  it('names Docker Hub\'s pull limit in a 429 and reports it as an event', async () => {
    withFaults({ match: TAGS, fault: { status: 429, retryAfter: '3600', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' } }, times: 1 });
    const events: unknown[] = [];
    const client = new RegistryClient({ ...testDeps(), observe: (event) => events.push(event) }, { tagListReuseMs: 0 });
    await expect(client.listTags(image())).rejects.toThrow(/while reading the tag list of team\/app; pull limit 100 per 6 h, 0 left; it asks to retry after 60 min$/);
    expect(events).toContainEqual({ type: 'rate-limit', host: proxy.host, limit: 100, remaining: 0, windowS: 21600 });
  });

  it('fails at once, with the hint, when Retry-After is beyond what it will wait', async () => {
    withFaults({ match: TAGS, fault: { status: 429, retryAfter: '3600' }, times: 1 });
    const { client, slept } = recordingClient();
    await expect(client.listTags(image())).rejects.toThrow(/is rate-limiting us \(HTTP 429, TOOMANYREQUESTS: too many requests\) while reading the tag list of team\/app; it asks to retry after 60 min$/);
    expect(slept).toEqual([]);
  });

  it('rides out a burst of three 503s', async () => {
    withFaults({ match: TAGS, fault: { status: 503 }, times: 3 });
    const { client, slept } = recordingClient();
    expect((await client.listTags(image())).tags).toHaveLength(2);
    expect(statuses()).toEqual([503, 503, 503, 200]);
    expect(slept).toHaveLength(3);
  });

  it('reports a registry that keeps failing after four attempts, as an error and never as "no tags"', async () => {
    withFaults({ match: TAGS, fault: { status: 503 }, times: 10 });
    const { client } = recordingClient();
    await expect(client.listTags(image())).rejects.toThrow(`${proxy.host} answered HTTP 503 while reading the tag list of team/app, UNAVAILABLE: service unavailable`);
    expect(statuses()).toEqual([503, 503, 503, 503]);
  });

  it('retries a connection reset', async () => {
    withFaults({ match: MANIFEST, method: 'GET', fault: { reset: true }, times: 1 });
    const { client } = recordingClient();
    expect((await client.resolveTag(image(), '1.0')).digest).toBe(digest);
    expect(statuses()).toEqual([0, 200]);
  });

  it('retries a truncated JSON body, and names it when it persists', async () => {
    withFaults({ match: TAGS, fault: { truncateJson: true }, times: 1 });
    expect((await recordingClient().client.listTags(image())).tags).toHaveLength(2);
    withFaults({ match: TAGS, fault: { truncateJson: true }, times: 10 });
    await expect(recordingClient().client.listTags(image())).rejects.toThrow(/^the tag list of team\/app answered with malformed JSON \(\d+ bytes: /);
  });

  it('hashes the manifest itself when a GET or a HEAD lacks Docker-Content-Digest', async () => {
    withFaults({ match: MANIFEST, fault: { dropHeader: 'docker-content-digest' }, times: 3 });
    const { client } = recordingClient();
    expect((await client.resolveTag(image(), '1.1')).digest).toBe(digest);
    expect((await client.resolveTag(image(), '1.1')).digest).toBe(digest);
    expect(proxy.requests.map((r) => r.method)).toEqual(['GET', 'HEAD', 'GET']);
  });

  it('refuses content that does not match its digest', async () => {
    withFaults({ match: MANIFEST, method: 'GET', fault: { corruptBody: true }, times: 10 });
    const { client } = recordingClient();
    await expect(client.getImageMetadata(image(), digest)).rejects.toThrow(
      new RegExp(`served content for team/app@${digest} whose sha256 is [0-9a-f]{64}$`),
    );
  });

  it('stops retrying at the overall deadline', async () => {
    withFaults({ match: TAGS, fault: { status: 429, retryAfter: '5' }, times: 10 });
    const { client, slept } = recordingClient();
    await expect(client.listTags(image(), { deadlineMs: Date.now() + 2000 })).rejects.toThrow(/HTTP 429/);
    expect(slept).toEqual([]);
  });

});
