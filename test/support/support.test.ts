// Proves the test support against the real docker-registry: token auth, TLS, and the fault proxy's pages,
// links and scripted failures. Other suites rely on these behaving exactly as described here.

import { readFileSync } from 'node:fs';
import { FaultProxy, startFaultProxy } from './fault-proxy';
import { httpRequest, HttpResponse } from './http-request';
import { pushImage, pushTags } from './push-image';
import { startRegistry, StartedRegistry } from './registry-server';
import { startTokenServer } from './token-server';

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

const json = (response: HttpResponse) => JSON.parse(response.body.toString());
const basic = ({ username, password }: { username: string; password: string }) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

describe('token mode', () => {
  const credentials = { username: 'ci-bot', password: 'pa55-word-for-tests' };
  let registry: StartedRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ token: { users: [credentials] } });
    await pushImage({ ...registry, credentials }, 'team/app', ['1.1', '1.0']);
  });
  afterAll(() => registry.stop());

  const tokenUrl = (service: string, scope: string) => `${registry.tokenServer?.realm}?service=${service}&scope=${scope}`;

  it('challenges an anonymous request, then takes a token from the token server', async () => {
    const tokenServer = registry.tokenServer!;
    const challenge = await httpRequest(`${registry.url}/v2/`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toBe(`Bearer realm="${tokenServer.realm}",service="bridge-test-registry"`);

    tokenServer.requests.length = 0;
    const tokenResponse = await httpRequest(tokenUrl('bridge-test-registry', 'repository:team/app:pull'), { headers: { Authorization: basic(credentials) } });
    expect(tokenResponse.status).toBe(200);
    const { token, expires_in, issued_at } = json(tokenResponse);
    expect(expires_in).toBe(300);
    expect(new Date(issued_at).toISOString()).toBe(issued_at);

    const tags = await httpRequest(`${registry.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${token}` } });
    expect(tags.status).toBe(200);
    expect(json(tags).tags.sort()).toEqual(['1.0', '1.1']);
    expect(tokenServer.requests).toEqual([{ scopes: ['repository:team/app:pull'], username: 'ci-bot', status: 200 }]);
  });

  it('refuses an unknown user at the token server, and a token for another service at the registry', async () => {
    const wrong = await httpRequest(tokenUrl('bridge-test-registry', 'repository:team/app:pull'), {
      headers: { Authorization: basic({ ...credentials, password: 'wrong' }) },
    });
    expect(wrong.status).toBe(401);

    const other = await httpRequest(tokenUrl('some-other-service', 'repository:team/app:pull'), { headers: { Authorization: basic(credentials) } });
    const tags = await httpRequest(`${registry.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${json(other).token}` } });
    expect(tags.status).toBe(401);
  });

  it('answers access_token without expiry fields when asked, granting only pull and push', async () => {
    const tokenServer = await startTokenServer({ responseField: 'access_token', omitExpiry: true });
    try {
      const response = await httpRequest(`${tokenServer.realm}?service=s&scope=repository:team/app:pull,delete&scope=registry:catalog:*`);
      const body = json(response);
      expect(Object.keys(body)).toEqual(['access_token']);
      const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ iss: tokenServer.issuer, sub: '', aud: 's', access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] });
    } finally {
      await tokenServer.stop();
    }
  });
});

describe('TLS mode (with anonymous tokens)', () => {
  let registry: StartedRegistry;
  let ca: Buffer;

  beforeAll(async () => {
    registry = await startRegistry({ tls: true, token: {} });
    ca = readFileSync(registry.caFile!);
    await pushImage(registry, 'team/app', ['2.0']);
  });
  afterAll(() => registry.stop());

  it('serves https, token realm included, to a client that trusts the CA', async () => {
    expect(registry.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const challenge = await httpRequest(`${registry.url}/v2/`, { ca });
    expect(challenge.headers['www-authenticate']).toBe(`Bearer realm="${registry.tokenServer?.realm}",service="bridge-test-registry"`);
    expect(registry.tokenServer?.realm).toMatch(/^https:/);
    const { token } = json(await httpRequest(`${registry.tokenServer?.realm}?service=bridge-test-registry&scope=repository:team/app:pull`, { ca }));
    const tags = await httpRequest(`${registry.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${token}` }, ca });
    expect(json(tags).tags).toEqual(['2.0']);
  });

  it('fails the handshake for a client without the CA', async () => {
    await expect(httpRequest(`${registry.url}/v2/`)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('can sit behind the fault proxy, pushes included', async () => {
    const proxy = await startFaultProxy(registry.url, { upstreamCaFile: registry.caFile });
    try {
      // The CA is still needed: the token realm is the token server's own https address.
      await pushImage({ url: proxy.url, caFile: registry.caFile }, 'team/proxied', ['3.0']);
      // The upload Location the registry built pointed back through the proxy.
      expect(proxy.requests.map((r) => `${r.method} ${r.path.replace(/\?.*/, '').replace(/uploads\/.+/, 'uploads/<id>')} ${r.status}`)).toEqual([
        'POST /v2/team/proxied/blobs/uploads/ 401',
        'POST /v2/team/proxied/blobs/uploads/ 202',
        'PUT /v2/team/proxied/blobs/uploads/<id> 201',
        'POST /v2/team/proxied/blobs/uploads/ 202',
        'PUT /v2/team/proxied/blobs/uploads/<id> 201',
        'PUT /v2/team/proxied/manifests/3.0 201',
      ]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('fault proxy', () => {
  const tags = Array.from({ length: 250 }, (_, i) => `1.${i}`);
  const sorted = [...tags].sort();
  let registry: StartedRegistry;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushTags(registry, 'big/app', tags);
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  afterAll(() => registry.stop());

  /** Follows rel="next" links verbatim, resolved against the page that carried them. */
  async function walk(start: string): Promise<{ pages: string[][]; links: string[] }> {
    const pages: string[][] = [];
    const links: string[] = [];
    for (let url: URL | undefined = new URL(start); url; ) {
      const response = await httpRequest(url);
      expect(response.status).toBe(200);
      pages.push(json(response).tags);
      const link = /<([^>]*)>;\s*rel="next"/.exec(String(response.headers.link ?? ''))?.[1];
      if (link) links.push(link);
      url = link === undefined ? undefined : new URL(link, url);
    }
    return { pages, links };
  }

  it.each(['relative', 'absolute', 'opaque'] as const)('serves sorted pages of 100 with %s links that reassemble the full list', async (linkStyle) => {
    proxy = await startFaultProxy(registry.url, { paginateTags: { pageSize: 100, linkStyle } });
    const { pages, links } = await walk(`${proxy.url}/v2/big/app/tags/list`);
    expect(pages.map((page) => page.length)).toEqual([100, 100, 50]);
    expect(pages.flat()).toEqual(sorted);
    const expectedFirstLink = {
      relative: `/v2/big/app/tags/list?n=100&last=${sorted[99]}`,
      absolute: `${proxy.url}/v2/big/app/tags/list?n=100&last=${sorted[99]}`,
      opaque: expect.stringMatching(/^\/v2\/big\/app\/tags\/list\?next_page=[^&]+&n=100$/),
    }[linkStyle];
    expect(links[0]).toEqual(expectedFirstLink);
    expect(proxy.requests.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('ignores last under opaque cursors, as Quay does', async () => {
    proxy = await startFaultProxy(registry.url, { paginateTags: { pageSize: 100, linkStyle: 'opaque' } });
    const response = await httpRequest(`${proxy.url}/v2/big/app/tags/list?n=100&last=${sorted[99]}`);
    expect(json(response).tags).toEqual(sorted.slice(0, 100));
  });

  it('honours a smaller n, ignores a larger one, and rejects one above the limit', async () => {
    proxy = await startFaultProxy(registry.url, { paginateTags: { pageSize: 100, linkStyle: 'relative' }, rejectPageSizeAbove: 1000 });
    const small = await httpRequest(`${proxy.url}/v2/big/app/tags/list?n=30`);
    expect(json(small).tags).toEqual(sorted.slice(0, 30));
    expect(small.headers.link).toBe(`</v2/big/app/tags/list?n=30&last=${sorted[29]}>; rel="next"`);
    expect(json(await httpRequest(`${proxy.url}/v2/big/app/tags/list?n=500`)).tags).toHaveLength(100);
    const tooBig = await httpRequest(`${proxy.url}/v2/big/app/tags/list?n=5000`);
    expect(tooBig.status).toBe(400);
    expect(json(tooBig).errors[0].code).toBe('PAGINATION_NUMBER_INVALID');
  });

  it('points the first next link at another host when asked', async () => {
    proxy = await startFaultProxy(registry.url, { paginateTags: { pageSize: 100, linkStyle: 'relative' }, crossHostNextLink: true });
    const first = await httpRequest(`${proxy.url}/v2/big/app/tags/list`);
    const port = new URL(proxy.url).port;
    expect(first.headers.link).toBe(`<http://127.0.0.2:${port}/v2/big/app/tags/list?n=100&last=${sorted[99]}>; rel="next"`);
    const second = await httpRequest(`${proxy.url}/v2/big/app/tags/list?n=100&last=${sorted[99]}`);
    expect(second.headers.link).toBe(`</v2/big/app/tags/list?n=100&last=${sorted[199]}>; rel="next"`);
  });

  it('serves a scripted 429 once to the matching method, then passes through', async () => {
    proxy = await startFaultProxy(registry.url, { faults: [{ match: /\/manifests\//, method: 'GET', fault: { status: 429, retryAfter: '7' }, times: 1 }] });
    const manifest = `${proxy.url}/v2/big/app/manifests/1.0`;
    const headers = { Accept: MANIFEST_TYPE };
    const limited = await httpRequest(manifest, { headers });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(json(limited).errors[0].code).toBe('TOOMANYREQUESTS');
    expect((await httpRequest(manifest, { method: 'HEAD', headers })).status).toBe(200);
    expect((await httpRequest(manifest, { headers })).status).toBe(200);
    expect(proxy.requests).toEqual([
      { method: 'GET', path: '/v2/big/app/manifests/1.0', status: 429 },
      { method: 'HEAD', path: '/v2/big/app/manifests/1.0', status: 200 },
      { method: 'GET', path: '/v2/big/app/manifests/1.0', status: 200 },
    ]);
  });

  it('answers 503, resets the connection and truncates the body on cue, in order', async () => {
    proxy = await startFaultProxy(registry.url);
    const url = `${proxy.url}/v2/big/app/tags/list`;
    const whole = await httpRequest(url);
    proxy.setFaults([
      { match: /\/tags\/list/, fault: { status: 503 }, times: 1 },
      { match: /\/tags\/list/, fault: { reset: true }, times: 1 },
      { match: /\/tags\/list/, fault: { truncateJson: true }, times: 1 },
    ]);
    expect((await httpRequest(url)).status).toBe(503);
    await expect(httpRequest(url)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const truncated = await httpRequest(url);
    expect(truncated.status).toBe(200);
    expect(truncated.body).toEqual(whole.body.subarray(0, Math.floor(whole.body.length / 2)));
    expect(() => json(truncated)).toThrow(SyntaxError);
    expect(await httpRequest(url)).toMatchObject({ status: 200, body: whole.body });
    expect(proxy.requests.map((r) => r.status)).toEqual([200, 503, 0, 200, 200]);
  });
});
