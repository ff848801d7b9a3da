// The route table and its policies. A peer on another host is played by the app's injectable peerAddress
// (AccessOptions.peerAddress): the requests themselves still go over 127.0.0.1, so no traffic leaves the machine.

import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import path from 'node:path';
import supertest from 'supertest';
import { SIGNATURE_DEFAULTS } from '../../src/drone';
import { GitOpsService } from '../../src/gitops';
import { accessChecks, createRouter, isLoopbackAddress, Route, sidecarRoutes } from '../../src/server';
import { capturingLogger } from '../support/deps';
import type { StatusRegistry } from '../../src/status-registry';
import { sidecarApp, TEST_TOKEN } from '../support/sidecar-app';

const REMOTE = '203.0.113.7'; // TEST-NET-3 (RFC 5737): documentation only, never a real peer
const STATUS_TOKEN = 'status-token-fedcba9876543210';
const GOCD_ROUTE = '/gocd/package-repository/1.0/package-configuration';
const asPeer = (address: string) => ({ peerAddress: () => address });

describe('gocd policy: the shim\'s token, from loopback unless --allow-remote-gocd', () => {
  it('serves a loopback peer that sends the token', async () => {
    const { call } = sidecarApp();
    expect((await call('package-configuration')).status).toBe(200);
  });

  it.each(['127.0.0.1', '127.45.6.7', '::1', '::ffff:127.0.0.1'])('counts %s as loopback', async (peer) => {
    const { call } = sidecarApp(asPeer(peer));
    expect((await call('package-configuration')).status).toBe(200);
  });

  it('refuses a peer on another host even with the right token, naming --allow-remote-gocd', async () => {
    const { call } = sidecarApp(asPeer(REMOTE));
    const response = await call('package-configuration');
    expect(response.status).toBe(403);
    expect(response.text).toBe(
      'gocd-registry-bridge: GoCD calls are accepted from loopback peers only; for external mode with the sidecar in another container or host, start serve with --allow-remote-gocd',
    );
  });

  it('refuses an IPv4-mapped address of another host as such', async () => {
    const { call } = sidecarApp(asPeer('::ffff:10.1.2.3'));
    expect((await call('package-configuration')).status).toBe(403);
  });

  it('serves a peer on another host with --allow-remote-gocd and the token', async () => {
    const { call } = sidecarApp({ ...asPeer(REMOTE), allowRemoteGoCd: true });
    expect((await call('package-configuration')).status).toBe(200);
  });

  it('still wants the token from that peer with --allow-remote-gocd', async () => {
    const { app } = sidecarApp({ ...asPeer(REMOTE), allowRemoteGoCd: true });
    const response = await supertest(app).post(GOCD_ROUTE).set('Authorization', `Bearer ${STATUS_TOKEN}`).send('');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="gocd-registry-bridge"');
    expect(response.text).toBe('gocd-registry-bridge: missing or wrong sidecar token');
  });
});

describe('none policy: /health', () => {
  it('answers a peer on another host without a token', async () => {
    const { app } = sidecarApp(asPeer(REMOTE));
    const response = await supertest(app).get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', version: '0.0.0-test' });
  });
});

describe('status policy: /status and /metrics', () => {
  it.each(['/status', '/metrics'])('serves %s to a loopback peer without a token', async (route) => {
    const { app } = sidecarApp({ statusToken: STATUS_TOKEN });
    expect((await supertest(app).get(route)).status).toBe(200);
  });

  it.each(['/status', '/metrics'])('refuses %s to another host when no status token is configured, saying how to allow it', async (route) => {
    const { app } = sidecarApp(asPeer(REMOTE));
    const response = await supertest(app).get(route).set('Authorization', `Bearer ${TEST_TOKEN}`);
    expect(response.status).toBe(403);
    expect(response.text).toBe(
      'gocd-registry-bridge: /status and /metrics are served to loopback peers only; to let other hosts in, start serve with ' +
        '--status-token-file FILE (or GOCD_REGISTRY_BRIDGE_STATUS_TOKEN) and send "Authorization: Bearer <that token>"',
    );
  });

  it.each([
    ['no Authorization header', undefined],
    ['the shim\'s token instead', `Bearer ${TEST_TOKEN}`],
    ['the status token without the Bearer scheme', STATUS_TOKEN],
  ])('refuses another host that sends %s, with 401', async (_name, authorization) => {
    const { app } = sidecarApp({ ...asPeer(REMOTE), statusToken: STATUS_TOKEN });
    const request = supertest(app).get('/metrics');
    const response = await (authorization ? request.set('Authorization', authorization) : request);
    expect(response.status).toBe(401);
    expect(response.text).toBe('gocd-registry-bridge: missing or wrong status token');
  });

  it.each(['/status', '/metrics'])('serves %s to another host that sends the status token', async (route) => {
    const { app } = sidecarApp({ ...asPeer(REMOTE), statusToken: STATUS_TOKEN });
    const response = await supertest(app).get(route).set('Authorization', `Bearer ${STATUS_TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.text).not.toContain(STATUS_TOKEN);
  });

  it('does not let the status token make GoCD calls', async () => {
    const { app } = sidecarApp({ statusToken: STATUS_TOKEN });
    expect((await supertest(app).post(GOCD_ROUTE).set('Authorization', `Bearer ${STATUS_TOKEN}`).send('')).status).toBe(401);
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['fe80::1', false],
    ['not an address', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

describe('the router', () => {
  const log = capturingLogger();
  const access = accessChecks({ gocdToken: TEST_TOKEN, allowRemoteGoCd: false });
  const route = (overrides: Partial<Route> & Pick<Route, 'name' | 'handle'>): Route => ({
    methods: ['POST'],
    path: `/${overrides.name}`,
    auth: 'none',
    maxBodyBytes: 16,
    timeoutMs: 50,
    ...overrides,
  });
  const app = createRouter(
    [
      route({ name: 'echo', methods: ['GET', 'POST'], handle: ({ body }) => ({ status: 200, body: `got ${body}`, contentType: 'text/plain' }) }),
      route({ name: 'items/:id', methods: ['DELETE'], handle: ({ params }) => ({ status: 200, body: `deleted ${params.id}`, contentType: 'text/plain' }) }),
      route({ name: 'stuck', handle: () => new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: 'late', contentType: 'text/plain' }), 200)) }),
      route({
        name: 'broken',
        handle: () => {
          throw new Error('handler bug');
        },
      }),
    ],
    { access, log },
  );

  it('answers an unknown path with 404 naming the method and path', async () => {
    const response = await supertest(app).put('/nowhere?x=1');
    expect(response.status).toBe(404);
    expect(response.text).toBe('gocd-registry-bridge: no route PUT /nowhere');
  });

  it('answers a known path with another method with 405 and Allow', async () => {
    const response = await supertest(app).put('/echo');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, POST, HEAD');
    expect(response.text).toBe('gocd-registry-bridge: PUT is not allowed on /echo; use GET, POST, HEAD');
  });

  it('answers HEAD on a GET route, without a body', async () => {
    const response = await supertest(app).head('/echo');
    expect(response.status).toBe(200);
    expect(response.text).toBeUndefined();
  });

  it('matches :name segments, percent-decoded, and ignores the query', async () => {
    const response = await supertest(app).delete('/items/a%2Fb?force=1');
    expect(response.text).toBe('deleted a/b');
  });

  it('refuses a body over the route\'s cap with 413', async () => {
    const response = await supertest(app).post('/echo').send('x'.repeat(17));
    expect(response.status).toBe(413);
    expect(response.text).toBe('gocd-registry-bridge: request entity too large');
    expect((await supertest(app).post('/echo').send('x'.repeat(16))).text).toBe(`got ${'x'.repeat(16)}`);
  });

  it('refuses a body to a status route beyond 1 KiB with 413', async () => {
    const { app: sidecar } = sidecarApp();
    expect((await supertest(sidecar).get('/health').send('x'.repeat(1025))).status).toBe(413);
  });

  it('answers 503 with one line when the handler misses its deadline', async () => {
    const response = await supertest(app).post('/stuck').send('');
    expect(response.status).toBe(503);
    expect(response.text).toBe('gocd-registry-bridge: POST /stuck did not finish within 0.05 s; the sidecar log shows how it ended');
    expect(log.lines.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'request timed out', route: 'stuck', waitingFor: 'handler' }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(log.lines.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'finished after its deadline', route: 'stuck', status: 200 }));
  });

  it('answers 408 with one line and closes when the body has not arrived by the deadline', async () => {
    const server = await listening(createServer(app));
    try {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        socket.once('close', () => resolve(text)); // the router closes the connection: the rest of the body is moot
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(answer.endsWith('\r\n\r\ngocd-registry-bridge: the request body did not arrive within 0.05 s')).toBe(true);
    } finally {
      server.close();
    }
  });

  it('answers 500 without the error when a handler throws, and logs it', async () => {
    const response = await supertest(app).post('/broken').send('');
    expect(response.status).toBe(500);
    expect(response.text).toBe('gocd-registry-bridge: internal error');
    expect(log.lines.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ level: 'error', msg: 'internal error', route: 'broken' }));
  });

  it('will not take a route that names no policy', () => {
    // @ts-expect-error: auth is required, so a route cannot be served before someone decides who may call it
    const unguarded: Route = { name: 'open', methods: ['GET'], path: '/open', maxBodyBytes: 0, timeoutMs: 1000, handle: () => ({ status: 200, body: '', contentType: 'text/plain' }) };
    expect(unguarded.name).toBe('open');
  });
});

describe('the routes table in docs/sidecar-protocol.md', () => {
  it('lists every route with its method, policy, body cap and timeout', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/sidecar-protocol.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| Route |'));
    const documented = [...table.matchAll(/^\| `([^`]+)` \| ([A-Z, ]+) \| `([\w-]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => m.slice(1, 6).map((cell) => cell!.trim()));
    const drone = { ...SIGNATURE_DEFAULTS, secrets: ['drone-secret-0123456789abcdef'], credentials: { list: { entitledFor: () => [] } } };
    // The registry is only referenced by the routes' handlers, which this test never calls.
    const statusRegistry = { registry: {} as StatusRegistry, tokens: ['status-registry-token-0123456789'] };
    const gitops = { service: new GitOpsService({ credentials: undefined, allowInsecureHttp: false, log: capturingLogger() }), tokens: ['gitops-token-0123456789abcdef'] };
    const routes = sidecarRoutes({ ...sidecarApp({ drone, statusRegistry }).options, gitops });
    expect(documented).toEqual(routes.map((r) => [r.path, r.methods.includes('GET') ? 'GET, HEAD' : r.methods.join(', '), r.auth, size(r.maxBodyBytes), `${r.timeoutMs / 1000} s`]));
  });
});

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

async function listening(server: Server): Promise<Server> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}
