// POST /drone/registry over HTTP, with requests signed in TypeScript: the route and its policy (405, 404 when off,
// refusals that never reach the handler), the answers (200, 204, 400, aesgcm, 500), the log line and the metrics.

import { createDecipheriv } from 'node:crypto';
import supertest from 'supertest';
import type { CredentialsEntry } from '../../src/credentials';
import { postSigned, signDroneRequest } from '../support/drone-signer';
import { DRONE_SECRET, startDroneSidecar } from '../support/drone-sidecar';
import { httpRequest } from '../support/http-request';
import { sidecarApp } from '../support/sidecar-app';

const CREDENTIALS = `
- address: Registry.Example.com:5000
  username: ci-bot
  password: registry-pa55word
  repos: [octocat/*]
- address: 012345678910.dkr.ecr.eu-west-1.amazonaws.com
  aws_access_key_id: AKIAEXAMPLEEXAMPLE
  aws_secret_access_key: aws-secret-example-0123456789
`;
const ENTITLED = JSON.stringify({ repo: { slug: 'octocat/hello', namespace: 'octocat' }, build: { event: 'push', target: 'main' } });
const NOT_ENTITLED = JSON.stringify({ repo: { slug: 'stranger/thing' }, build: { event: 'push' } });
const REGISTRY_LOGIN = { address: 'registry.example.com:5000', username: 'ci-bot', password: 'registry-pa55word' };

/** drone-go's aesgcm.Decrypt: the key is the secret's first 32 bytes; nonce ‖ ciphertext ‖ 16-byte tag. */
function decryptAesGcm(data: Buffer, secret: string): string {
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(secret).subarray(0, 32), data.subarray(0, 12));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]).toString('utf8');
}

const messages = (lines: string[]) => lines.map((line) => JSON.parse(line) as { level: string; msg: string; [key: string]: unknown });

describe('POST /drone/registry', () => {
  let sidecar: Awaited<ReturnType<typeof startDroneSidecar>>;
  const rotated = 'the-previous-drone-secret-0123456789';
  beforeAll(async () => {
    sidecar = await startDroneSidecar({ credentials: CREDENTIALS, secrets: [DRONE_SECRET, rotated] });
  });
  afterAll(() => sidecar.close());
  const post = (body: string, signing: Partial<Parameters<typeof postSigned>[1]> = {}, change?: Parameters<typeof postSigned>[2]) =>
    postSigned(sidecar.endpoint, { secret: DRONE_SECRET, body, ...signing }, change);
  const handled = () => messages(sidecar.log.lines).filter((entry) => entry.msg === 'drone registry request');

  it('answers an entitled build 200 with a JSON array of address, username and password', async () => {
    const response = await post(ENTITLED);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body.toString('utf8'))).toEqual([REGISTRY_LOGIN]);
  });

  it('answers 204 with no body when nothing is entitled: never [] or an error', async () => {
    const response = await post(NOT_ENTITLED);
    expect(response.status).toBe(204);
    expect(response.body.length).toBe(0);
    expect(response.headers['content-type']).toBeUndefined();
  });

  it('answers a body that is not a JSON object with 400 Invalid Input', async () => {
    for (const body of ['{"repo": ', '[]', '"octocat/hello"']) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.body.toString('utf8')).toBe('gocd-registry-bridge: Invalid Input: the body is not a JSON object');
    }
  });

  it('reads the body leniently: unknown keys, a numeric uid, fields of the wrong type, null', async () => {
    const lenient = JSON.stringify({ repo: { slug: 'octocat/hello', uid: 1234, config_path: '.drone.yml', extra: { a: 1 } }, build: 'not an object', stages: [] });
    expect((await post(lenient)).status).toBe(200);
    expect((await post('null')).status).toBe(204); // Go decodes null into the empty request: no slug, so repos withholds
  });

  it('encrypts the answer with aesgcm when asked, keyed by the secret that signed the request', async () => {
    for (const secret of [DRONE_SECRET, rotated]) {
      const response = await post(ENTITLED, { secret, acceptEncoding: 'aesgcm' });
      expect(response.status).toBe(200);
      expect(response.headers['content-encoding']).toBe('aesgcm');
      expect(response.headers['content-type']).toBe('application/octet-stream');
      expect(JSON.parse(decryptAesGcm(response.body, secret))).toEqual([REGISTRY_LOGIN]);
    }
  });

  it('refuses an unsigned request with 400 before the handler runs', async () => {
    const before = handled().length;
    const response = await httpRequest(sidecar.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ENTITLED });
    expect(response.status).toBe(400);
    expect(response.body.toString('utf8')).toBe('gocd-registry-bridge: Invalid or Missing Signature: missing signature');
    expect(handled()).toHaveLength(before);
    expect(messages(sidecar.log.lines)).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'drone registry request refused', outcome: 'bad_signature', reason: 'missing signature', peer: '127.0.0.1' }));
  });

  it('refuses a Date header sent twice, as node shows it (headersDistinct)', async () => {
    const response = await post(ENTITLED, {}, (headers) => (headers.Date = [headers.Date as string, new Date().toUTCString()]));
    expect(response.status).toBe(400);
    expect(response.body.toString('utf8')).toBe('gocd-registry-bridge: Invalid or Missing Signature: the signed header date is repeated');
  });

  it('refuses a replayed signature with another body, by its Digest', async () => {
    const headers = signDroneRequest({ secret: DRONE_SECRET, body: NOT_ENTITLED });
    const response = await httpRequest(sidecar.endpoint, { method: 'POST', headers, body: ENTITLED });
    expect(response.status).toBe(400);
    expect(response.body.toString('utf8')).toBe('gocd-registry-bridge: Invalid or Missing Signature: the Digest does not match the body');
  });

  it('refuses a request signed long ago', async () => {
    const response = await post(ENTITLED, { dateMs: Date.now() - 3_600_000 });
    expect(response.status).toBe(400);
    expect(response.body.toString('utf8')).toMatch(/^gocd-registry-bridge: Invalid or Missing Signature: the Date is 360[01] s old, beyond the 300 s allowed$/);
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const response = await post(JSON.stringify({ repo: { slug: 'x'.repeat(1024 * 1024) } }));
    expect(response.status).toBe(413);
  });

  it.each(['GET', 'PUT', 'DELETE'])('answers %s with 405 and Allow: POST, without the handler', async (method) => {
    const before = handled().length;
    const response = await httpRequest(sidecar.endpoint, { method, headers: signDroneRequest({ secret: DRONE_SECRET, body: '' }) });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expect(handled()).toHaveLength(before);
  });

  it('counts every outcome on /metrics', async () => {
    await post('not json');
    const metrics = (await httpRequest(`${sidecar.base}/metrics`)).body.toString('utf8');
    const count = (outcome: string) => Number(new RegExp(`^gocd_registry_bridge_drone_registry_requests_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('served')).toBeGreaterThanOrEqual(4);
    expect(count('none_entitled')).toBeGreaterThanOrEqual(2);
    expect(count('bad_signature')).toBeGreaterThanOrEqual(2);
    expect(count('bad_digest')).toBeGreaterThanOrEqual(1);
    expect(count('stale_date')).toBeGreaterThanOrEqual(1);
    expect(count('bad_body')).toBeGreaterThanOrEqual(4);
  });

  it('logs no password, AWS secret or Drone secret', () => {
    const lines = sidecar.log.lines.join('\n');
    for (const secret of ['registry-pa55word', 'aws-secret-example-0123456789', DRONE_SECRET, rotated]) expect(lines).not.toContain(secret);
    expect(lines).not.toContain('***'); // a line that tried to show a registered password would hold the mask
  });
});

describe('POST /drone/registry with a secret too short for aesgcm', () => {
  it('answers 500 with a 31-character secret, and serves 32 characters', async () => {
    for (const [secret, status] of [['s'.repeat(31), 500], ['s'.repeat(32), 200]] as const) {
      const sidecar = await startDroneSidecar({ credentials: CREDENTIALS, secrets: [secret] });
      try {
        const response = await postSigned(sidecar.endpoint, { secret, body: ENTITLED, acceptEncoding: 'aesgcm' });
        expect(response.status).toBe(status);
        if (status === 500) {
          expect(response.body.toString('utf8')).toBe('gocd-registry-bridge: the shared secret is shorter than 32 bytes, too short to key aesgcm');
          expect((await httpRequest(`${sidecar.base}/metrics`)).body.toString('utf8')).toContain('gocd_registry_bridge_drone_registry_requests_total{outcome="error"} 1');
        } else {
          expect(JSON.parse(decryptAesGcm(response.body, secret))).toEqual([REGISTRY_LOGIN]);
        }
      } finally {
        await sidecar.close();
      }
    }
  });
});

describe('POST /drone/registry with an injected login exchange (ECR)', () => {
  it('answers the logins it gives (a refreshed one at once), and leaves out an entry whose login fails, serving the others', async () => {
    const ecr = '012345678910.dkr.ecr.eu-west-1.amazonaws.com';
    const exchange = { token: 'ecr-token-0123456789', isFailing: false };
    const exchangeLogin = async (entry: CredentialsEntry) => {
      expect(entry.address).toBe(ecr); // only an entry without its own login is exchanged
      if (exchange.isFailing) throw new Error('ECR is unreachable');
      return { username: 'AWS', password: exchange.token };
    };
    const sidecar = await startDroneSidecar({ credentials: CREDENTIALS, exchangeLogin });
    try {
      const answer = async () => JSON.parse((await postSigned(sidecar.endpoint, { secret: DRONE_SECRET, body: ENTITLED })).body.toString('utf8'));
      expect(await answer()).toEqual([REGISTRY_LOGIN, { address: ecr, username: 'AWS', password: 'ecr-token-0123456789' }]);
      exchange.token = 'ecr-token-refreshed-9876543210'; // the next token: the answer must not keep the old one
      expect(await answer()).toEqual([REGISTRY_LOGIN, { address: ecr, username: 'AWS', password: 'ecr-token-refreshed-9876543210' }]);
      exchange.isFailing = true;
      expect(await answer()).toEqual([REGISTRY_LOGIN]);
      expect(messages(sidecar.log.lines)).toContainEqual(
        expect.objectContaining({ level: 'warn', msg: 'drone registry request: an entry is left out, its login could not be had', address: ecr }),
      );
      exchange.isFailing = false;
      expect(await answer()).toEqual([REGISTRY_LOGIN, { address: ecr, username: 'AWS', password: 'ecr-token-refreshed-9876543210' }]);
    } finally {
      await sidecar.close();
    }
  });
});

describe('POST /drone/registry answers from its cache', () => {
  const FILTERED = `
- address: every.example.com
  username: everyone
  password: every-pa55word
- address: octocat.example.com
  username: octo
  password: octo-pa55word
  repos: [octocat/*]
- address: pushes.example.com
  username: pusher
  password: push-pa55word
  events: [push]
- address: main.example.com
  username: mainline
  password: main-pa55word
  branches: [main]
- address: no-forks.example.com
  username: careful
  password: fork-pa55word
  deny_forks: true
`;
  const body = (slug: string, event: string, target: string, sourceRepo = slug) => JSON.stringify({ repo: { slug, namespace: slug.split('/')[0] }, build: { event, target, source_repo: sourceRepo } });
  let sidecar: Awaited<ReturnType<typeof startDroneSidecar>>;
  beforeAll(async () => {
    sidecar = await startDroneSidecar({ credentials: FILTERED });
  });
  afterAll(() => sidecar.close());
  const addressesFor = async (requestBody: string) => {
    const response = await postSigned(sidecar.endpoint, { secret: DRONE_SECRET, body: requestBody });
    return response.status === 204 ? [] : (JSON.parse(response.body.toString('utf8')) as { address: string }[]).map((login) => login.address);
  };

  it('answers each build by its own repo, event, branch and fork, asked again in any order', async () => {
    const cases: [string, string[]][] = [
      [body('octocat/hello', 'push', 'main'), ['every.example.com', 'octocat.example.com', 'pushes.example.com', 'main.example.com', 'no-forks.example.com']],
      [body('stranger/thing', 'push', 'main'), ['every.example.com', 'pushes.example.com', 'main.example.com', 'no-forks.example.com']],
      [body('octocat/hello', 'tag', 'main'), ['every.example.com', 'octocat.example.com', 'main.example.com', 'no-forks.example.com']],
      [body('octocat/hello', 'push', 'dev'), ['every.example.com', 'octocat.example.com', 'pushes.example.com', 'no-forks.example.com']],
      [body('octocat/hello', 'pull_request', 'main', 'mallory/hello'), ['every.example.com', 'octocat.example.com', 'main.example.com']],
    ];
    for (let round = 0; round < 2; round += 1) {
      for (const [requestBody, addresses] of round === 0 ? cases : [...cases].reverse()) expect(await addressesFor(requestBody)).toEqual(addresses);
    }
  });

  it('answers from the new file once it is reloaded', async () => {
    const build = body('octocat/hello', 'push', 'main');
    expect(await addressesFor(build)).toContain('octocat.example.com');
    sidecar.writeCredentials(FILTERED.replace('password: octo-pa55word', 'password: octo-new-pa55word').replace('repos: [octocat/*]', 'repos: [other/*]'));
    await sidecar.store.reload();
    expect(await addressesFor(build)).not.toContain('octocat.example.com');
    const other = await postSigned(sidecar.endpoint, { secret: DRONE_SECRET, body: body('other/app', 'push', 'main') });
    expect(JSON.parse(other.body.toString('utf8'))).toContainEqual({ address: 'octocat.example.com', username: 'octo', password: 'octo-new-pa55word' });
  });
});

describe('POST /drone/registry without a Drone secret', () => {
  it('is not a route: 404 for any method', async () => {
    const { app } = sidecarApp();
    expect((await supertest(app).post('/drone/registry').send(ENTITLED)).status).toBe(404);
    expect((await supertest(app).get('/drone/registry')).status).toBe(404);
  });
});
