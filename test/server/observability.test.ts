import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { CredentialsFileStore } from '../../src/credentials';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

const credentials = { username: 'observer', password: 'status-pa55word' };

describe('/metrics, /status and the poll log', () => {
  let registry: StartedRegistry;
  let digest: string;
  const { app, call, log } = sidecarApp();

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
    digest = await pushImage({ ...registry, credentials }, 'backends/database', ['1.2.0', '1.10.0']);
    const repository = configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host, USERNAME: credentials.username, PASSWORD: credentials.password });
    const pkg = (filter: string) => ({ 'repository-configuration': repository, 'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: filter }) });
    await call('latest-revision', pkg('^1\\.')).set('X-Request-Id', 'req-ok-1');
    await call('latest-revision', pkg('^1\\.')).set('X-Request-Id', 'req-ok-3');
    await call('latest-revision', pkg('<script>alert(1)</script>')).set('X-Request-Id', 'req-fail-2');
    await call('latest-revision', pkg('<script>alert(1)</script>')).set('X-Request-Id', 'req-fail-4');
    await call('package-configuration');
  });
  afterAll(() => registry.stop());

  it('serves Prometheus metrics without the token: GoCD messages, registry requests, tokens, cache', async () => {
    const response = await supertest(app).get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const metrics = response.text;
    expect(metrics).toContain('gocd_registry_bridge_gocd_requests_total{request="latest-revision",outcome="success"} 2');
    expect(metrics).toContain('gocd_registry_bridge_gocd_requests_total{request="latest-revision",outcome="failure"} 2');
    expect(metrics).toContain('gocd_registry_bridge_gocd_requests_total{request="package-configuration",outcome="success"} 1');
    expect(metrics).toMatch(/gocd_registry_bridge_gocd_request_duration_seconds_count\{request="latest-revision"\} 4/);
    expect(metrics).toContain(`gocd_registry_bridge_registry_requests_total{host="${registry.host}",method="GET",status="401"} 1`);
    expect(metrics).toContain(`gocd_registry_bridge_registry_requests_total{host="${registry.host}",method="HEAD",status="200"}`);
    // Each material asked twice walks twice (never its last walk again); the other material's first poll reused one.
    expect(metrics).toContain('gocd_registry_bridge_cache_lookups_total{cache="tags",result="miss"} 3');
    expect(metrics).toContain('gocd_registry_bridge_cache_lookups_total{cache="tags",result="hit"} 1');
    expect(metrics).toContain('gocd_registry_bridge_cache_lookups_total{cache="metadata",result="hit"} 1');
    expect(metrics).not.toContain(credentials.password);
  });

  it('shows each polled material with its settings and last result, escaped, without credentials', async () => {
    const response = await supertest(app).get('/status');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const page = response.text;
    expect(page).toContain('2 package(s) polled in the last 24 h;');
    expect(page).toContain('<span class="error">1 failing</span>');
    expect(page).toContain(`<td><code>${registry.host}/backends/database</code></td><td><code>^1\\.</code></td>`);
    expect(page).toContain(`<span class="ok">1.10.0</span><br><code class="muted" title="${digest}">${digest.slice(0, 19)}…</code>`);
    expect(page).toContain('<td><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></td>');
    expect(page).not.toContain('<script>');
    expect(page).toMatch(/<td>2<\/td><\/tr>/); // two polls of the ^1\. material
    expect(page).not.toContain(credentials.password);
    expect(page).not.toContain(credentials.username);
  });

  it('logs one JSON line per poll with the shim\'s request id: info or warn when the result changes, debug when it repeats', () => {
    const polls = log.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'poll' || entry.msg === 'poll failed');
    expect(polls.map((entry) => [entry.requestId, entry.level])).toEqual([
      ['req-ok-1', 'info'],
      ['req-ok-3', 'debug'],
      ['req-fail-2', 'warn'],
      ['req-fail-4', 'debug'],
    ]);
    expect(polls[0]).toMatchObject({ registry: registry.host, image: 'backends/database', tag: '1.10.0', digest });
    expect(polls[2]).toMatchObject({ error: expect.stringMatching(/^none of the 2 tags/) });
    expect(log.lines.join('\n')).not.toContain(credentials.password);
  });
});

describe('the poll log after a restart', () => {
  let registry: StartedRegistry;
  let digest: string;
  beforeAll(async () => {
    registry = await startRegistry();
    digest = await pushImage(registry, 'backends/api', ['2.0.0', '2.1.0']);
  });
  afterAll(() => registry.stop());

  it('logs a latest-revision-since answer GoCD already holds at debug, though the sidecar has seen no poll yet; news at info', async () => {
    const { call, log } = sidecarApp(); // a fresh sidecar: nothing in its activity log
    const body = (previous: string) => ({
      'repository-configuration': configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host }),
      'package-configuration': configMap({ DOCKER_IMAGE: 'backends/api', DOCKER_TAG_FILTER: '^2\\.' }),
      'previous-revision': { revision: previous, timestamp: '2026-03-01T08:00:00.000Z', data: {} },
    });
    expect((await call('latest-revision-since', body('2.1.0')).set('X-Request-Id', 'held')).body).toEqual({});
    expect((await call('latest-revision-since', body('2.0.0')).set('X-Request-Id', 'news')).body).toMatchObject({ revision: '2.1.0' });
    const polls = log.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'poll');
    expect(polls.map((entry) => [entry.requestId, entry.level])).toEqual([
      ['held', 'debug'],
      ['news', 'info'],
    ]);
    expect(polls[1]).toMatchObject({ tag: '2.1.0', digest });
    expect(polls[1]).not.toHaveProperty('isNewToGoCd');
  });
});

describe('/status with a credentials file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-status-credentials-'));
  const file = path.join(dir, 'credentials.yml');
  const write = (text: string) => {
    writeFileSync(file, text);
    chmodSync(file, 0o600);
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists each entry with its address, username, where its secret comes from and its Drone filters, never a secret', async () => {
    write(
      '- address: https://Index.Docker.io/v1/\n  username: hub-bot\n  password: status-hub-pa55word\n  repos: [octocat/*, "<b>"]\n  deny_forks: true\n' +
        '- address: 012345678910.dkr.ecr.eu-west-1.amazonaws.com\n  aws_access_key_id: AKIAEXAMPLEEXAMPLE\n  aws_secret_access_key: status-aws-secret-0123\n',
    );
    const { app, log, observability } = sidecarApp();
    const store = await CredentialsFileStore.open(file, { log, recheckMs: 60_000 });
    try {
      observability.showCredentialsFile(store);
      let page = (await supertest(app).get('/status')).text;
      expect(page).toContain(`<code>${file}</code>, loaded `);
      expect(page).toContain('; 2 entries.');
      expect(page).toContain('<tr><td><code>docker.io</code></td><td>hub-bot</td><td>password (inline)</td><td>repos: <code>octocat/*, &lt;b&gt;</code><br>deny_forks: <code>true</code></td></tr>');
      expect(page).toContain('<tr><td><code>012345678910.dkr.ecr.eu-west-1.amazonaws.com</code></td><td><span class="muted">none</span></td><td>AWS (ECR)</td><td><span class="muted">every Drone build</span></td></tr>');
      for (const secret of ['status-hub-pa55word', 'status-aws-secret-0123', 'AKIAEXAMPLEEXAMPLE']) expect(page).not.toContain(secret);

      write('- address: docker.io\n  username: hub-bot\n  pasword: typo\n');
      await store.reload();
      page = (await supertest(app).get('/status')).text;
      expect(page).toMatch(/<p class="error">The last edit was not loaded \([^)]+\): credentials file .+ &quot;pasword&quot; is not a credentials-file key\. Fix: did you mean password\?/);
      expect(page).toContain('<code>docker.io</code></td><td>hub-bot</td>'); // the last good entries, still in use
    } finally {
      store.close();
    }
  });
});
