// The status registry's HTTP API in the sidecar's route table: its token policy, percent-encoded names, JSON
// refusals with their status codes, the body cap, and exactly one action call for concurrent final reports.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { openStore, RecordStore, StatusRegistry, StatusRegistryEvent } from '../../src/status-registry';
import { ActionReceiver, startActionReceiver } from '../support/action-receiver';
import { capturingLogger } from '../support/deps';
import { sidecarApp } from '../support/sidecar-app';

const API_TOKEN = 'status-registry-token-0123456789';
const OTHER_TOKEN = 'status-registry-token-rotated-99';

describe('the status registry routes', () => {
  let dir: string;
  let store: RecordStore;
  let registry: StatusRegistry;
  let receiver: ActionReceiver;
  let app: ReturnType<typeof sidecarApp>['app'];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'status-routes-'));
    store = await openStore({ engine: 'sqlite', file: path.join(dir, 'status-registry.sqlite') });
    const observers: Array<(event: StatusRegistryEvent) => void> = [];
    registry = new StatusRegistry({ store, log: capturingLogger(), secretsDir: dir, env: {}, uid: process.getuid?.(), observe: (event) => observers.forEach((o) => o(event)) });
    receiver = await startActionReceiver();
    const sidecar = sidecarApp({ statusRegistry: { registry, tokens: [API_TOKEN, OTHER_TOKEN] } });
    observers.push(sidecar.observability.observeStatusRegistry);
    app = sidecar.app;
  });

  afterEach(async () => {
    await registry.stop();
    await store.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const packagePath = (pkg: string, version: string) => `/status-registry/packages/${encodeURIComponent(pkg)}/${encodeURIComponent(version)}`;
  const put = (pkg: string, version: string, body: object, token = API_TOKEN) =>
    supertest(app).put(packagePath(pkg, version)).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
  const post = (pkg: string, version: string, body: object) =>
    supertest(app).post(`${packagePath(pkg, version)}/builds`).set('Authorization', `Bearer ${API_TOKEN}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
  const registration = (repositories: string[]) => ({ repositories, handlers: { success: { kind: 'webhook', url: `${receiver.url}/hook` } } });

  it('refuses requests without a token or with a wrong one (401), and takes any listed token', async () => {
    const none = await supertest(app).get('/status-registry/packages');
    const wrong = await supertest(app).get('/status-registry/packages').set('Authorization', 'Bearer not-the-token-at-all');
    const rotated = await supertest(app).get('/status-registry/packages').set('Authorization', `Bearer ${OTHER_TOKEN}`);
    expect([none.status, wrong.status, rotated.status, rotated.body]).toEqual([401, 401, 200, []]);
  });

  it('is not there when the registry is off', async () => {
    const off = sidecarApp().app;
    expect((await supertest(off).get('/status-registry/packages').set('Authorization', `Bearer ${API_TOKEN}`)).status).toBe(404);
  });

  it('registers, reports and answers a package whose name holds "/", "@", ":" and spaces', async () => {
    const created = await put('@acme/ui kit', 'v1:2', registration(['o/one']));
    expect([created.status, created.body.wave, created.body.verdict]).toEqual([201, 1, 'waiting']);
    expect((await put('acme', 'ui kit@v1:2', registration(['o/two']))).status).toBe(201);
    const reported = await post('@acme/ui kit', 'v1:2', { repo: 'o/one', status: 'success', number: 3 });
    expect([reported.status, reported.body.verdict, reported.body.action.state]).toEqual([200, 'success', 'claimed']);
    await registry.idle();
    const got = await supertest(app).get(packagePath('@acme/ui kit', 'v1:2')).set('Authorization', `Bearer ${API_TOKEN}`);
    expect([got.body.package, got.body.version, got.body.action.state, receiver.calls.length]).toEqual(['@acme/ui kit', 'v1:2', 'done', 1]);
    const waiting = await supertest(app).get('/status-registry/packages?state=waiting').set('Authorization', `Bearer ${API_TOKEN}`);
    expect(waiting.body.map((v: { package: string; version: string }) => [v.package, v.version])).toEqual([['acme', 'ui kit@v1:2']]);
  });

  it.each([
    ['an unregistered package', 'none', { repo: 'o/one', status: 'success', number: 1 }, 404],
    ['an unlisted repo', 'p', { repo: 'o/other', status: 'success', number: 1 }, 409],
    ['an unknown status', 'p', { repo: 'o/one', status: 'running', number: 1 }, 422],
    ['a malformed report', 'p', { repo: 'o/one', status: 'success' }, 400],
  ])('answers a report for %s with a JSON refusal (%#)', async (_name, pkg, body, status) => {
    await put('p', '1', registration(['o/one']));
    const answer = await post(pkg, '1', body);
    expect([answer.status, typeof answer.body.error, typeof answer.body.fix]).toEqual([status, 'string', 'string']);
  });

  it('answers 413 to a body over the cap', async () => {
    const huge = { repositories: ['x'.repeat(600 * 1024)] };
    expect((await put('p', '1', huge)).status).toBe(413);
  });

  it('answers 409 to a retry of an action that did not fail', async () => {
    await put('p', '1', registration(['o/one']));
    const answer = await supertest(app).post(`${packagePath('p', '1')}/action/retry`).set('Authorization', `Bearer ${API_TOKEN}`);
    expect([answer.status, answer.body.error]).toEqual([409, expect.stringContaining('is none, not failed')]);
  });

  it('makes one action call for 50 concurrent final reports over HTTP', async () => {
    const repos = Array.from({ length: 50 }, (_, i) => `o/r${i}`);
    await put('p', '1', registration(repos));
    const answers = await Promise.all(repos.map((repo) => post('p', '1', { repo, status: 'success', number: 1 })));
    await registry.idle();
    expect([new Set(answers.map((a) => a.status)), receiver.calls.length]).toEqual([new Set([200]), 1]);
  });

  it('shows waiting and finished package versions on /status, escaped, with the action state and last error', async () => {
    receiver.answer.status = 401;
    await put('<b>pkg</b>', '1', registration(['o/one', 'o/two']));
    await put('done', '2', { repositories: ['o/one'], handlers: { success: { kind: 'webhook', url: `${receiver.url}/hook` } } });
    await post('<b>pkg</b>', '1', { repo: 'o/one', status: 'killed', number: 4 });
    await post('done', '2', { repo: 'o/one', status: 'success', number: 5 });
    await registry.idle();
    const page = (await supertest(app).get('/status')).text;
    expect(page).toContain('<h2>Build-status registry</h2>');
    expect(page).toContain('<code>&lt;b&gt;pkg&lt;/b&gt;@1</code>');
    expect(page).not.toContain('<b>pkg</b>');
    expect(page).toContain('<code>o/one</code> <span class="error">killed</span> #4');
    expect(page).toContain(`webhook ${receiver.url}/hook answered 401`);
  });

  it('counts reports by outcome and action calls by kind and outcome on /metrics', async () => {
    await put('p', '1', registration(['o/one']));
    await post('p', '1', { repo: 'o/two', status: 'success', number: 1 });
    await post('p', '1', { repo: 'o/one', status: 'success', number: 1 });
    await registry.idle();
    const metrics = (await supertest(app).get('/metrics')).text;
    expect(metrics).toContain('gocd_registry_bridge_status_registry_reports_total{outcome="refused_409"} 1');
    expect(metrics).toContain('gocd_registry_bridge_status_registry_reports_total{outcome="accepted"} 1');
    expect(metrics).toContain('gocd_registry_bridge_status_registry_action_calls_total{kind="webhook",outcome="done"} 1');
  });
});
