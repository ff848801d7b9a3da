// Issue 9, finding 4: big tag lists took the whole sidecar down. One 63 MB page of short tags grew it to 1.3 GB
// and blocked every other poll for 16-21 s; endless pages of 1,000 tags were followed 10,175 pages deep (1.4 GB);
// endless 60 MB pages ended in "RangeError: Set maximum size exceeded", a 500 "internal error" for GoCD.
// Now a walk stops at MAX_TAGS (default 100,000) or at its byte cap (32 MiB by default), whichever comes first,
// as the pages stream in (the rest is never downloaded), with an error naming the cap; never a partial list.

import v8 from 'node:v8';
import vm from 'node:vm';
import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { testDeps } from '../support/deps';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { HostileRegistry, startHostileRegistry, TagListAbuse } from '../support/hostile-registry';
import { configMap, sidecarApp } from '../support/sidecar-app';

const MiB = 1024 * 1024;
const BYTE_CAP = 32 * MiB; // REGISTRY_CLIENT_DEFAULTS.minTagListBytes
// What the kernel's socket buffers on loopback may have taken from the server beyond what the client read.
const SOCKET_SLACK = 16 * MiB;
// 100,001 tags of t0000001's length: where a page of short tags passes MAX_TAGS.
const ENTRIES_TO_THE_CAP = 100_001 * 11;
// The attack grew the process by 1.3 GB; a walk read as it streams holds a slice of body and the tags it keeps.
const MOST_RSS_GROWTH = 100 * MiB;
// A failed walk keeps nothing (before, the 63 MB page's 5.7 million tags were kept for reuse).
const MOST_HEAP_RETAINED = 8 * MiB;

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
const TOO_MANY_TAGS = /^127\.0\.0\.1:\d+ lists more than 100000 tags for hostile\/app \(the MAX_TAGS cap\); the poll stopped rather than pick the newest tag from part of the list\. Fix: if the repository really has that many tags, raise MAX_TAGS on the package/;
const TOO_MANY_BYTES = /^the tag list of hostile\/app on 127\.0\.0\.1:\d+ is larger than 32 MiB, the most a walk of up to 100000 tags \(MAX_TAGS\) reads; the poll stopped reading it\. Fix: .*raise MAX_TAGS/;

describe('a registry that sends huge tag lists', () => {
  const { call } = sidecarApp();
  const hostiles: HostileRegistry[] = [];
  afterAll(async () => {
    for (const hostile of hostiles) await hostile.stop();
  });

  const hostileRegistry = async (abuse: TagListAbuse) => {
    const hostile = await startHostileRegistry(abuse);
    hostiles.push(hostile);
    return hostile;
  };
  const body = (registryUrl: string, registryName: string, image: string, packageSettings: Record<string, string> = {}) => ({
    'repository-configuration': configMap({ DOCKER_REGISTRY_URL: `${registryUrl}/v2/`, DOCKER_REGISTRY_NAME: registryName }),
    'package-configuration': configMap({ DOCKER_IMAGE: image, ...packageSettings }),
  });
  const poll = (hostile: HostileRegistry, packageSettings: Record<string, string> = {}) =>
    call('latest-revision', body(hostile.url, hostile.host, 'hostile/app', packageSettings));

  /** What the heap holds after `during` that it did not before, garbage collected both times. */
  async function heapRetained<T>(during: () => Promise<T>): Promise<{ result: T; retained: number }> {
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const result = await during();
    collectGarbage();
    return { result, retained: process.memoryUsage().heapUsed - before };
  }

  /** The most the process grew (RSS) while `during` ran. */
  async function rssGrowth<T>(during: () => Promise<T>): Promise<{ result: T; growth: number }> {
    const before = process.memoryUsage().rss;
    let most = before;
    const sampler = setInterval(() => (most = Math.max(most, process.memoryUsage().rss)), 10);
    try {
      const result = await during();
      return { result, growth: Math.max(most, process.memoryUsage().rss) - before };
    } finally {
      clearInterval(sampler);
    }
  }

  it('fails a poll of one 63 MB page of short tags at MAX_TAGS, having downloaded little of it and keeping nothing', async () => {
    const hostile = await hostileRegistry({ kind: 'huge-page', bytes: 63_000_000 });
    await poll(hostile); // the first registry request of the process loads node-fetch: not what is measured
    const { result: measured, retained } = await heapRetained(() => rssGrowth(() => poll(hostile)));
    const { result: response, growth } = measured;
    expect(retained).toBeLessThan(MOST_HEAP_RETAINED);
    expect(response.status).toBe(502);
    expect(response.text).toMatch(TOO_MANY_TAGS);
    expect(hostile.pagesServed).toBe(2);
    expect(hostile.bytesSent).toBeLessThan(2 * (ENTRIES_TO_THE_CAP + SOCKET_SLACK));
    expect(growth).toBeLessThan(MOST_RSS_GROWTH);
  });

  it('fails a poll of endless pages of 1,000 tags at MAX_TAGS, after the page that passed it', async () => {
    const hostile = await hostileRegistry({ kind: 'endless-pages', tagsPerPage: 1000 });
    const { result: response, growth } = await rssGrowth(() => poll(hostile));
    expect(response.status).toBe(502);
    expect(response.text).toMatch(TOO_MANY_TAGS);
    expect(hostile.pagesServed).toBe(101);
    expect(growth).toBeLessThan(MOST_RSS_GROWTH);
  });

  it('fails a poll of endless 60 MB pages with the capped error, not a RangeError and a 500', async () => {
    const hostile = await hostileRegistry({ kind: 'endless-big-pages', bytesPerPage: 60_000_000 });
    const response = await poll(hostile);
    expect(response.status).toBe(502);
    expect(response.text).toMatch(TOO_MANY_TAGS);
    expect(hostile.pagesServed).toBe(1);
    expect(hostile.bytesSent).toBeLessThan(ENTRIES_TO_THE_CAP + SOCKET_SLACK);
  });

  it('fails a poll of a page of tags that never ends at MAX_TAGS, closing the connection', async () => {
    const hostile = await hostileRegistry({ kind: 'endless-body' });
    const response = await poll(hostile);
    expect(response.status).toBe(502);
    expect(response.text).toMatch(TOO_MANY_TAGS);
    expect(hostile.bytesSent).toBeLessThan(ENTRIES_TO_THE_CAP + SOCKET_SLACK);
  });

  it('fails a poll of a page of endless whitespace, which no tag cap stops, at the byte cap', async () => {
    const hostile = await hostileRegistry({ kind: 'endless-body', filler: 'spaces' });
    const { result: response, growth } = await rssGrowth(() => poll(hostile));
    expect(response.status).toBe(502);
    expect(response.text).toMatch(TOO_MANY_BYTES);
    expect(hostile.bytesSent).toBeGreaterThan(BYTE_CAP);
    expect(hostile.bytesSent).toBeLessThan(BYTE_CAP + SOCKET_SLACK);
    expect(growth).toBeLessThan(MOST_RSS_GROWTH);
  });

  it('counts MAX_TAGS within one page: a page of 100,001 tags fails, a page of 100,000 passes', async () => {
    const over = await hostileRegistry({ kind: 'huge-page', tags: 100_001 });
    expect((await poll(over)).text).toMatch(TOO_MANY_TAGS);
    const exactly = await hostileRegistry({ kind: 'huge-page', tags: 100_000 });
    expect(JSON.parse((await poll(exactly)).text)).toMatchObject({ revision: 't0100000' });
  });

  it('lists a big page in full when MAX_TAGS allows it and it fits the byte cap', async () => {
    const hostile = await hostileRegistry({ kind: 'huge-page', tags: 250_000 }); // 2.7 MiB
    expect((await poll(hostile)).text).toMatch(/lists more than 100000 tags/);
    const response = await poll(hostile, { MAX_TAGS: '300000' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toMatchObject({ revision: 't0250000', data: { DIGEST: hostile.digest } });
  });

  it('counts next-page links against the byte cap: empty pages with long links stop there too', async () => {
    const hostile = await hostileRegistry({ kind: 'endless-pages', tagsPerPage: 0, linkBytes: 8000 });
    const client = new RegistryClient(testDeps(), { minTagListBytes: MiB });
    const listing = client.listTags({ endpoint: parseRegistryUrl(hostile.url), repository: 'hostile/app' }, { maxTags: 1000 });
    await expect(listing).rejects.toThrow(/^the tag list of hostile\/app on 127\.0\.0\.1:\d+ is larger than 1 MiB, the most a walk of up to 1000 tags/);
    expect(hostile.pagesServed).toBeGreaterThan(100);
    expect(hostile.pagesServed).toBeLessThanOrEqual(Math.ceil(MiB / 8000));
  });

  describe('beside a healthy registry', () => {
    let registry: StartedRegistry;
    let digest: string;

    beforeAll(async () => {
      registry = await startRegistry();
      digest = await pushImage(registry, 'healthy/app', ['1.0', '1.1']);
    });
    afterAll(() => registry.stop());

    it('answers polls of the healthy registry while hostile walks run, and fails only the hostile ones', async () => {
      const attacks = await Promise.all([
        hostileRegistry({ kind: 'huge-page', bytes: 63_000_000 }),
        hostileRegistry({ kind: 'endless-pages', tagsPerPage: 1000 }),
        hostileRegistry({ kind: 'endless-body', filler: 'spaces' }),
      ]);
      const hostilePolls = attacks.map((hostile) => poll(hostile));
      const healthyPolls = Array.from({ length: 5 }, () => call('latest-revision', body(registry.url, registry.host, 'healthy/app')));
      const healthy = await Promise.all(healthyPolls);
      for (const response of healthy) expect(JSON.parse(response.text)).toMatchObject({ revision: '1.1', data: { DIGEST: digest } });
      const hostile = await Promise.all(hostilePolls);
      expect(hostile.map((response) => response.status)).toEqual([502, 502, 502]);
      expect(hostile.map((response) => response.text)).toEqual([expect.stringMatching(TOO_MANY_TAGS), expect.stringMatching(TOO_MANY_TAGS), expect.stringMatching(TOO_MANY_BYTES)]);
    });
  });
});
