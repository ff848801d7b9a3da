// Attack: a hostile registry (here on 127.0.0.2) sends the bridge to a service it must not reach from the GoCD
// server: a "token realm" or a blob redirect to this machine's other services (here on 127.0.0.1 and ::1) or to
// the cloud metadata address, spelled in IPv6 forms an IP-literal check misses, or behind a host name. The answer
// of such a service must never come back in an error message either. Only loopback targets are used here, so a
// regression sends nothing off this machine; test/registry/address-guard.test.ts covers the metadata address.

import { createHash } from 'node:crypto';
import type http from 'node:http';
import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { testDeps } from '../support/deps';
import { answerJson, ScriptedServer, startScriptedServer } from '../support/scripted-server';
import { rejection } from '../support/thrown';

const SECRET = 'SECRET-METADATA-7f3a';
const CONFIG = JSON.stringify({ created: '2026-01-01T00:00:00Z', architecture: 'amd64', os: 'linux' });
const CONFIG_DIGEST = `sha256:${createHash('sha256').update(CONFIG).digest('hex')}`;
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: CONFIG_DIGEST, size: CONFIG.length },
  layers: [],
});
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

describe('a hostile registry pointing the bridge at internal services', () => {
  let victim: ScriptedServer; // this machine's "internal service" on 127.0.0.1
  let victim6: ScriptedServer; // the same on ::1, for [::] and localhost's IPv6 answer
  let registry: ScriptedServer;
  let ownTokenService: ScriptedServer; // on the registry's own address, another port: a legitimate realm
  let realm = '';
  let blobRedirect = '';
  let tokenAnswer: (res: http.ServerResponse) => void = (res) => answerJson(res, 200, { token: 'good' });

  const victimHandler = (_req: http.IncomingMessage, res: http.ServerResponse) => answerJson(res, 200, `{"${SECRET}": "` + 'x'.repeat(100));

  beforeAll(async () => {
    victim = await startScriptedServer(victimHandler, '127.0.0.1');
    victim6 = await startScriptedServer(victimHandler, '::1', victim.port).catch(() => startScriptedServer(victimHandler, '::1'));
    ownTokenService = await startScriptedServer((_req, res) => tokenAnswer(res), '127.0.0.2');
    registry = await startScriptedServer((req, res) => {
      if (req.headers.authorization !== 'Bearer good') {
        answerJson(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'WWW-Authenticate': `Bearer realm="${realm}",service="hostile"` });
        return;
      }
      if (req.url === '/v2/') return answerJson(res, 200, {});
      if (req.url?.startsWith('/v2/team/app/tags/list')) return answerJson(res, 200, { name: 'team/app', tags: ['1.0'] });
      if (req.url === `/v2/team/app/manifests/${MANIFEST_DIGEST}`) {
        return answerJson(res, 200, MANIFEST, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': MANIFEST_DIGEST });
      }
      if (req.url === `/v2/team/app/blobs/${CONFIG_DIGEST}`) {
        res.writeHead(307, { Location: blobRedirect, 'Content-Length': 0 });
        return res.end();
      }
      if (req.url === '/same-origin-blob') return answerJson(res, 200, CONFIG);
      answerJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
    }, '127.0.0.2');
  });
  afterAll(async () => {
    await Promise.all([victim, victim6, registry, ownTokenService].map((s) => s.close()));
  });
  beforeEach(() => {
    victim.requests.length = 0;
    victim6.requests.length = 0;
    realm = `${ownTokenService.url}/token`;
    blobRedirect = `${registry.url}/same-origin-blob`;
    tokenAnswer = (res) => answerJson(res, 200, { token: 'good' });
  });

  const image = () => ({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app' });
  const victimHits = () => victim.requests.length + victim6.requests.length;

  it('follows a realm on the registry\'s own address (another port), as a local token server needs', async () => {
    const client = new RegistryClient(testDeps());
    expect((await client.listTags(image())).tags).toEqual(['1.0']);
    expect(ownTokenService.requests).toHaveLength(1);
  });

  it.each([
    ['an IPv4-mapped IPv6 literal', (port: number) => `http://[::ffff:127.0.0.1]:${port}/token`, 'an address of this machine'],
    ['an IPv4-mapped IPv6 literal in hex', (port: number) => `http://[::ffff:7f00:1]:${port}/token`, 'an address of this machine'],
    ['an IPv4-compatible IPv6 literal', (port: number) => `http://[::127.0.0.1]:${port}/token`, 'an address of this machine'],
    ['the unspecified IPv6 address', (port: number) => `http://[::]:${port}/token`, 'an address of this machine'],
    ['a NAT64 form of 127.0.0.1', (port: number) => `http://[64:ff9b::7f00:1]:${port}/token`, 'an address of this machine'],
    ['a host name that resolves to this machine', (port: number) => `http://localhost:${port}/token`, 'an address of this machine'],
    ['0.0.0.0', (port: number) => `http://0.0.0.0:${port}/token`, 'an address of this machine'],
  ])('refuses a realm at %s before connecting, and names the address', async (_name, realmAt, kind) => {
    realm = realmAt(victim.port);
    const error = await rejection(new RegistryClient(testDeps()).listTags(image()));
    expect(error.message).toMatch(new RegExp(`^127\\.0\\.0\\.2:\\d+ sends clients to a token service at .+, which is ${kind}`));
    expect(error.message).not.toContain(SECRET);
    expect(victimHits()).toBe(0);
  });

  it('refuses a blob redirect to another service of this machine', async () => {
    blobRedirect = `http://[::ffff:127.0.0.1]:${victim.port}/blob`;
    const error = await rejection(new RegistryClient(testDeps()).getImageMetadata(image(), MANIFEST_DIGEST));
    expect(error.message).toMatch(/^127\.0\.0\.2:\d+ redirected the request for the image config team\/app@sha256:[0-9a-f]+ to \[::ffff:7f00:1\]:\d+, which is an address of this machine/);
    expect(victimHits()).toBe(0);
  });

  it("refuses a blob redirect to another port of the registry's own loopback address", async () => {
    blobRedirect = `${ownTokenService.url}/blob`;
    const error = await rejection(new RegistryClient(testDeps()).getImageMetadata(image(), MANIFEST_DIGEST));
    expect(error.message).toMatch(/redirected the request for the image config .* which is an address of this machine \(127\.0\.0\.2\)/);
    expect(ownTokenService.requests.some((r) => r.url === '/blob')).toBe(false);
  });

  it('follows a blob redirect within the registry origin', async () => {
    const metadata = await new RegistryClient(testDeps()).getImageMetadata(image(), MANIFEST_DIGEST);
    expect(metadata.created).toBe('2026-01-01T00:00:00Z');
  });

  it('never quotes the bytes of a token service that answers malformed JSON', async () => {
    tokenAnswer = (res) => answerJson(res, 200, `${SECRET} is not json`, { 'Content-Type': 'text/plain' });
    const error = await rejection(new RegistryClient(testDeps(), { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } }).listTags(image()));
    expect(error.message).toMatch(/^the token service of 127\.0\.0\.2:\d+ answered with malformed JSON \(\d+ bytes, text\/plain\)$/);
  });

  it("never quotes a token service's own error text", async () => {
    tokenAnswer = (res) => answerJson(res, 400, { errors: [{ code: 'DENIED', message: SECRET }] });
    const error = await rejection(new RegistryClient(testDeps()).listTags(image()));
    expect(error.message).toMatch(/answered HTTP 400 while reading a token from 127\.0\.0\.2:\d+$/);
    expect(error.message).not.toContain(SECRET);
  });
});
