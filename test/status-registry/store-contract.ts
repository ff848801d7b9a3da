// The contract every store engine passes, through the service on top of it (spec §7, on both engines): each engine
// file calls describeStoreContract with a way to open a fresh, empty store (and a second handle on the same data,
// playing another node). Receivers are real local HTTP servers that count calls.

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActionPolicy, RecordStore, StatusRegistry, StatusRegistryError } from '../../src/status-registry';
import { ActionReceiver, startActionReceiver } from '../support/action-receiver';
import { capturingLogger } from '../support/deps';

export interface EngineHarness {
  /** The file mode names files as the original did (sanitize-filename): names that map to one file are refused. */
  mergesNames?: boolean;
  /** A fresh empty store, and a function opening another handle on the same data (another node). */
  open(): Promise<{ store: RecordStore; openAnother(): Promise<RecordStore> }>;
}

const FAST: Partial<ActionPolicy> = { maxAttempts: 2, backoffMs: 20, maxBackoffMs: 20, callTimeoutMs: 2_000, staleClaimMs: 3_000, sweepIntervalMs: 50 };
const TOKEN = 'drone-token-0123456789abcdef';
const HOOK_SECRET = 'hook-secret-0123456789abcdef';

export function describeStoreContract(engine: string, harness: EngineHarness): void {
  describe(`the status registry on ${engine}`, () => {
    let receiver: ActionReceiver;
    let secretsDir: string;
    let stores: RecordStore[];
    let services: StatusRegistry[];
    let log: ReturnType<typeof capturingLogger>;
    let openAnother: () => Promise<RecordStore>;

    const service = (store: RecordStore, policy: Partial<ActionPolicy> = FAST, extra: { fetch?: typeof fetch; now?: () => number } = {}) => {
      const registry = new StatusRegistry({ store, log, secretsDir, env: { STATUS_REGISTRY_DRONE: TOKEN }, uid: process.getuid?.(), policy, ...extra });
      services.push(registry);
      return registry;
    };

    beforeEach(async () => {
      receiver = await startActionReceiver();
      secretsDir = mkdtempSync(path.join(tmpdir(), 'status-secrets-'));
      writeFileSync(path.join(secretsDir, 'hook'), `${HOOK_SECRET}\n`, { mode: 0o600 });
      log = capturingLogger();
      const opened = await harness.open();
      stores = [opened.store];
      services = [];
      openAnother = async () => {
        const another = await opened.openAnother();
        stores.push(another);
        return another;
      };
    });

    afterEach(async () => {
      await Promise.all(services.map((s) => s.stop()));
      await Promise.all(stores.map((s) => s.close()));
      await receiver.close();
      rmSync(secretsDir, { recursive: true, force: true });
    });

    const webhook = () => ({ kind: 'webhook', url: `${receiver.url}/hook`, secretFile: 'hook' });
    const register = (registry: StatusRegistry, key: { package: string; version: string }, repositories: string[], extra: object = {}) =>
      registry.register(key, JSON.stringify({ repositories, handlers: { success: webhook(), failure: webhook() }, ...extra }));
    const report = (registry: StatusRegistry, key: { package: string; version: string }, repo: string, status: string, extra: object = {}) =>
      registry.report(key, JSON.stringify({ repo, status, number: 12, ...extra }));
    const refusal = async (work: Promise<unknown>) => {
      const err = await work.then(() => undefined, (e: unknown) => e);
      if (!(err instanceof StatusRegistryError)) throw err ?? new Error('no refusal');
      return err.status;
    };
    const KEY = { package: '@acme/ui', version: '1.2.3' };

    it('refuses a registration without repositories (spec §7.1)', async () => {
      expect(await refusal(register(service(stores[0]!), KEY, []))).toBe(400);
    });

    it('answers 404 to a report that arrives before the registration (spec §7.2)', async () => {
      expect(await refusal(report(service(stores[0]!), KEY, 'a/b', 'success'))).toBe(404);
    });

    it('fires the success handler once, with the webhook body, signature and idempotency key (spec §7.4)', async () => {
      const registry = service(stores[0]!);
      const { wave } = await register(registry, KEY, ['o/one', 'o/two']);
      expect((await report(registry, KEY, 'o/one', 'success')).action.state).toBe('none');
      expect((await report(registry, KEY, 'o/two', 'passing')).action.state).toBe('claimed');
      await registry.idle();
      expect(receiver.calls).toHaveLength(1);
      const [call] = receiver.calls;
      expect(JSON.parse(call!.body)).toEqual({ package: '@acme/ui', version: '1.2.3', wave, verdict: 'success', builds: [{ repo: 'o/one', status: 'success', number: 12 }, { repo: 'o/two', status: 'success', number: 12 }] });
      expect(call!.headers['idempotency-key']).toBe('@acme/ui@1.2.3#1:success');
      expect(call!.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', HOOK_SECRET).update(call!.body).digest('hex')}`);
      expect((await registry.get(KEY)).action).toEqual(expect.objectContaining({ state: 'done', attempts: 1 }));
      expect(log.lines.join('\n')).not.toContain(HOOK_SECRET);
    });

    it('fires the failure handler on the first failure, once; a later success changes nothing (spec §7.3, §7.5)', async () => {
      const registry = service(stores[0]!);
      await register(registry, KEY, ['o/one', 'o/two']);
      await report(registry, KEY, 'o/one', 'killed');
      await report(registry, KEY, 'o/one', 'success');
      const last = await report(registry, KEY, 'o/two', 'success');
      await registry.idle();
      expect([receiver.calls.length, JSON.parse(receiver.calls[0]!.body).verdict, last.verdict, last.action.verdict]).toEqual([1, 'failure', 'success', 'failure']);
    });

    it('with failFast false, fires nothing until every repo has reported', async () => {
      const registry = service(stores[0]!);
      await register(registry, KEY, ['o/one', 'o/two'], { failFast: false });
      expect((await report(registry, KEY, 'o/one', 'failure')).verdict).toBe('waiting');
      await registry.idle();
      expect(receiver.calls).toHaveLength(0);
      expect((await report(registry, KEY, 'o/two', 'success')).verdict).toBe('failure');
      await registry.idle();
      expect(receiver.calls).toHaveLength(1);
    });

    it('refuses unlisted repos (409), unknown statuses (422) and reports for an old wave (409), counting none', async () => {
      const registry = service(stores[0]!);
      await register(registry, KEY, ['max-vasin/sub1']);
      expect(await refusal(report(registry, KEY, 'maxvasin/sub1', 'success'))).toBe(409);
      expect(await refusal(report(registry, KEY, 'max-vasin/sub1', 'running'))).toBe(422);
      const { wave } = await register(registry, KEY, ['max-vasin/sub1']);
      expect(await refusal(report(registry, KEY, 'max-vasin/sub1', 'success', { wave: wave - 1 }))).toBe(409);
      expect((await registry.get(KEY)).builds).toEqual([]);
    });

    it(harness.mergesNames ? 'refuses a name that would share another\'s file (spec §7.6)' : 'keeps names with "/", "@", ":" and spaces apart (spec §7.6)', async () => {
      const registry = service(stores[0]!);
      const keys = [
        { package: 'a/b', version: '1' },
        { package: 'ab', version: '1' },
        { package: 'a@b', version: '1' },
        { package: 'a', version: 'b@1' },
        { package: 'team: ui kit', version: '1.0 rc' },
      ];
      const merged = harness.mergesNames ? [keys[1], keys[3]] : [];
      for (const [index, key] of keys.entries()) {
        if (merged.includes(key)) expect(await refusal(register(registry, key, [`o/r${index}`]))).toBe(409);
        else await register(registry, key, [`o/r${index}`]);
      }
      const kept = keys.filter((key) => !merged.includes(key));
      const views = await Promise.all(kept.map((key) => registry.get(key)));
      expect(views.map((v) => [v.package, v.version, v.repositories])).toEqual(kept.map((key) => [key.package, key.version, [`o/r${keys.indexOf(key)}`]]));
    });

    it('makes exactly one action call for 50 concurrent final reports on one wave', async () => {
      const registry = service(stores[0]!);
      const repos = Array.from({ length: 50 }, (_, i) => `o/r${i}`);
      await register(registry, KEY, repos);
      const views = await Promise.all(repos.map((repo) => report(registry, KEY, repo, 'success')));
      await registry.idle();
      expect([receiver.calls.length, views.filter((v) => v.action.state !== 'none').length >= 1, (await registry.get(KEY)).builds.length]).toEqual([1, true, 50]);
    });

    it('makes one action call per wave when the final reports of many waves arrive together', async () => {
      const registry = service(stores[0]!);
      const keys = Array.from({ length: 20 }, (_, w) => ({ package: 'acme/app', version: `1.0.${w}` }));
      const repos = ['o/one', 'o/two', 'o/three'];
      for (const key of keys) await register(registry, key, repos);
      await Promise.all(repos.flatMap((repo) => keys.map((key) => report(registry, key, repo, 'success'))));
      await registry.idle();
      const keysCalled = receiver.calls.map((call) => call.headers['idempotency-key']).sort();
      expect(keysCalled).toEqual(keys.map((key) => `acme/app@${key.version}#1:success`).sort());
      const records = await Promise.all(keys.map((key) => registry.get(key)));
      expect(records.map((record) => [record.builds.length, record.action.state])).toEqual(keys.map(() => [3, 'done']));
    });

    it('makes exactly one action call when two nodes on one store take the reports', async () => {
      const nodes = [service(stores[0]!), service(await openAnother())];
      const repos = Array.from({ length: 40 }, (_, i) => `o/r${i}`);
      await register(nodes[0]!, KEY, repos);
      await Promise.all(repos.map((repo, i) => report(nodes[i % 2]!, KEY, repo, 'success')));
      await Promise.all(nodes.map((node) => node.idle()));
      expect([receiver.calls.length, (await nodes[1]!.get(KEY)).builds.length]).toEqual([1, 40]);
    });

    it('judges a report on the wave another node registered since, never on what this node saw last', async () => {
      const nodes = [service(stores[0]!), service(await openAnother())];
      await register(nodes[0]!, KEY, ['o/old']);
      await report(nodes[0]!, KEY, 'o/old', 'failure');
      await nodes[0]!.idle();
      await register(nodes[1]!, KEY, ['o/new-a', 'o/new-b']);
      // o/new-a is unknown to the wave node 0 wrote last, and o/old is not in the new one.
      const view = await report(nodes[0]!, KEY, 'o/new-a', 'success');
      expect([view.wave, view.builds.map((b) => b.repo), await refusal(report(nodes[0]!, KEY, 'o/old', 'success'))]).toEqual([2, ['o/new-a'], 409]);
      await report(nodes[0]!, KEY, 'o/new-b', 'success');
      await nodes[0]!.idle();
      expect(receiver.calls.map((call) => (JSON.parse(call.body) as { wave: number; verdict: string }).verdict)).toEqual(['failure', 'success']);
    });

    it('counts a 401 as failed, retries a bounded number of times, then a manual retry with the same key succeeds (spec §7.8)', async () => {
      const registry = service(stores[0]!);
      receiver.answer.status = 401;
      await register(registry, KEY, ['o/one']);
      await report(registry, KEY, 'o/one', 'success');
      await waitFor(async () => {
        const { action } = await registry.get(KEY);
        return action.state === 'failed' && action.nextAttemptAtMs === undefined;
      });
      const failed = await registry.get(KEY);
      expect([failed.action.state, failed.action.attempts, failed.action.lastError]).toEqual(['failed', 2, `webhook ${receiver.url}/hook answered 401`]);
      expect(await refusal(registry.retry({ package: KEY.package, version: '9.9.9' }))).toBe(404);
      receiver.answer.status = 204;
      await registry.retry(KEY);
      await registry.idle();
      expect((await registry.get(KEY)).action.state).toBe('done');
      expect(new Set(receiver.calls.map((c) => c.headers['idempotency-key']))).toEqual(new Set(['@acme/ui@1.2.3#1:success']));
      expect(await refusal(registry.retry(KEY))).toBe(409);
    });

    it('makes a retry that its timer woke for before the clock said it was due (no sweep running)', async () => {
      let clockMs = Date.UTC(2026, 0, 1);
      const registry = service(stores[0]!, FAST, { now: () => clockMs });
      receiver.answer.status = 401;
      await register(registry, KEY, ['o/one']);
      await report(registry, KEY, 'o/one', 'success');
      await registry.idle();
      expect((await registry.get(KEY)).action).toEqual(expect.objectContaining({ state: 'failed', attempts: 1 }));
      // The retry's timer has fired (20 ms backoff) while the clock stood still, as a lagging loop clock makes it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      clockMs += 20;
      await waitFor(async () => (await registry.get(KEY)).action.attempts === 2);
      expect(receiver.calls).toHaveLength(2);
    });

    it('counts an unreachable receiver as failed, never done', async () => {
      const registry = service(stores[0]!, { ...FAST, maxAttempts: 1 });
      await registry.register(KEY, JSON.stringify({ repositories: ['o/one'], handlers: { success: { kind: 'webhook', url: 'http://127.0.0.1:1/hook' } } }));
      await report(registry, KEY, 'o/one', 'success');
      await registry.idle();
      expect((await registry.get(KEY)).action).toEqual(expect.objectContaining({ state: 'failed', lastError: expect.stringContaining('no answer') }));
    });

    it('retakes a claim whose process died before its call, and calls once (recovery at start)', async () => {
      const crashed = service(stores[0]!, { ...FAST, staleClaimMs: 200 }, { fetch: () => new Promise<Response>(() => undefined) });
      await register(crashed, KEY, ['o/one']);
      await report(crashed, KEY, 'o/one', 'success');
      expect((await crashed.get(KEY)).action.state).toBe('claimed');
      services.splice(services.indexOf(crashed), 1); // its call never ends: a process killed mid-call
      const restarted = service(await openAnother(), { ...FAST, staleClaimMs: 200 });
      restarted.start();
      await waitFor(async () => (await restarted.get(KEY)).action.state === 'done');
      expect(receiver.calls).toHaveLength(1);
    });

    it('calls Drone 0.8 deploy, Drone promote and GoCD schedule as their APIs expect, with the token from the environment', async () => {
      const registry = service(stores[0]!);
      const drone = { server: receiver.url, repository: 'acme/app', build: 17, environment: 'downstream-success', tokenEnv: 'STATUS_REGISTRY_DRONE' };
      const handlers = [
        { kind: 'drone-0.8', ...drone },
        { kind: 'drone', ...drone },
        { kind: 'gocd', server: `${receiver.url}/`, pipeline: 'deploy app', tokenEnv: 'STATUS_REGISTRY_DRONE' },
      ];
      receiver.answer.body = '{"number": 18, "status": "pending"}';
      for (const [index, handler] of handlers.entries()) {
        const key = { package: 'acme/app', version: `1.0.${index}` };
        await registry.register(key, JSON.stringify({ repositories: ['o/one'], handlers: { success: handler } }));
        await report(registry, key, 'o/one', 'success');
      }
      await registry.idle();
      const seen = receiver.calls.map((c) => [c.method, c.url, c.headers.authorization]).sort();
      expect(seen).toEqual([
        ['POST', '/api/repos/acme/app/builds/17/promote?target=downstream-success&REGISTRY_PACKAGE=acme%2Fapp&REGISTRY_VERSION=1.0.1', `Bearer ${TOKEN}`],
        ['POST', '/api/repos/acme/app/builds/17?REGISTRY_PACKAGE=acme%2Fapp&REGISTRY_VERSION=1.0.0&event=deployment&deploy_to=downstream-success', `Bearer ${TOKEN}`],
        ['POST', '/go/api/pipelines/deploy%20app/schedule', `Bearer ${TOKEN}`],
      ]);
      const gocd = receiver.calls.find((c) => c.url.startsWith('/go/'))!;
      expect([gocd.headers.accept, gocd.headers['x-gocd-confirm'], JSON.parse(gocd.body)]).toEqual([
        'application/vnd.go.cd.v1+json',
        'true',
        { environment_variables: [{ name: 'REGISTRY_PACKAGE', value: 'acme/app', secure: false }, { name: 'REGISTRY_VERSION', value: '1.0.2', secure: false }] },
      ]);
      expect(log.lines.join('\n')).not.toContain(TOKEN);
      // Drone answers with the build it started, which the log names (spec §6.3).
      expect(log.lines.filter((line) => line.includes('action done')).map((line) => JSON.parse(line).startedBuild).sort()).toEqual([18, 18, undefined]);
    });

    it('refuses to read a secret file outside the secrets directory: the action fails, nothing is sent', async () => {
      const registry = service(stores[0]!, { ...FAST, maxAttempts: 1 });
      const handler = { kind: 'webhook', url: `${receiver.url}/hook`, secretFile: '../../etc/shadow' };
      await registry.register(KEY, JSON.stringify({ repositories: ['o/one'], handlers: { success: handler } }));
      await report(registry, KEY, 'o/one', 'success');
      await registry.idle();
      expect([receiver.calls.length, (await registry.get(KEY)).action.lastError]).toEqual([0, expect.stringContaining('outside the secrets directory')]);
    });

    it('lists records by verdict', async () => {
      const registry = service(stores[0]!);
      await register(registry, { package: 'p', version: '1' }, ['o/one']);
      await register(registry, { package: 'p', version: '2' }, ['o/one']);
      await report(registry, { package: 'p', version: '2' }, 'o/one', 'success');
      expect((await registry.list('waiting')).map((v) => v.version)).toEqual(['1']);
      expect((await registry.list('success')).map((v) => v.version)).toEqual(['2']);
      expect(await refusal(registry.list('done'))).toBe(400);
    });
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
