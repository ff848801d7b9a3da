// The status-registry pipeline step against a real sidecar serving the registry: the original plugin's environment
// contract (spec §2, §7.1, §7.2, §7.7, §7.9), the GoCD variables, and the default Drone 0.8 handler end to end.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runStatusRegistry } from '../../src/cli';
import { openStore, RecordStore, StatusRegistry } from '../../src/status-registry';
import { ActionReceiver, startActionReceiver } from '../support/action-receiver';
import { capturedIo } from '../support/command-io';
import { capturingLogger } from '../support/deps';
import { sidecarApp } from '../support/sidecar-app';

const API_TOKEN = 'pipeline-api-token-0123456789ab';
const DRONE_TOKEN = 'drone-deploy-token-0123456789';

describe('status-registry', () => {
  let dir: string;
  let store: RecordStore;
  let registry: StatusRegistry;
  let server: Server;
  let url: string;
  let receiver: ActionReceiver;
  let requests: string[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'status-cli-'));
    writeFileSync(path.join(dir, 'token'), `${API_TOKEN}\n`, { mode: 0o600 });
    store = await openStore({ engine: 'sqlite', file: path.join(dir, 'data', 'status.sqlite') });
    registry = new StatusRegistry({ store, log: capturingLogger(), secretsDir: dir, env: { STATUS_REGISTRY_DRONE_TOKEN: DRONE_TOKEN }, uid: process.getuid?.() });
    server = createServer(sidecarApp({ statusRegistry: { registry, tokens: [API_TOKEN] } }).app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    receiver = await startActionReceiver();
    requests = [];
  });

  afterEach(async () => {
    await registry.stop();
    await store.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const deps = (onSleep: () => Promise<void> = async () => undefined) => ({
    fetch: (input: string | URL | Request, init?: RequestInit) => {
      requests.push(`${init?.method} ${String(input)}`);
      return fetch(input, init);
    },
    sleep: onSleep,
  });
  const run = async (env: Record<string, string>, args: string[] = [], clientDeps = deps()) => {
    const io = capturedIo({ REGISTRY_DOWNSTREAM: 'true', REGISTRY_PACKAGE: '@acme/ui', REGISTRY_VERSION: '1.2.3', DRONE_REPO: 'acme/upstream', DRONE_BUILD_NUMBER: '17', ...env });
    const code = await runStatusRegistry(['--server', url, '--token-file', path.join(dir, 'token'), '--retry-delay', '0', ...args], io, clientDeps);
    return { code, out: io.out(), err: io.err() };
  };
  const upstream = (env: Record<string, string> = {}) => run({ PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'acme/one, acme/two', PLUGIN_SERVER: receiver.url, ...env });
  const downstream = (repo: string, status: string, env: Record<string, string> = {}) => run({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: repo, DRONE_BUILD_NUMBER: '5', DRONE_BUILD_STATUS: status, ...env });

  it.each([[{}], [{ REGISTRY_DOWNSTREAM: 'false' }], [{ REGISTRY_DOWNSTREAM: '' }]])('does nothing unless REGISTRY_DOWNSTREAM is true (spec §7.7): %j', async (env) => {
    const io = capturedIo({ PLUGIN_ACTION: 'downstream-build', ...env });
    expect(await runStatusRegistry(['--server', url], io, deps())).toBe(0);
    expect([io.out(), requests]).toEqual(['Assume normal build\n', []]);
  });

  it('registers, and the last downstream success deploys the upstream build with Drone 0.8 (the defaults of spec §2)', async () => {
    const registered = await upstream();
    expect([registered.code, registered.out]).toEqual([0, 'registered @acme/ui@1.2.3, waiting on acme/one, acme/two\nREGISTRY_WAVE=1\n']);
    expect((await downstream('acme/one', 'success', { REGISTRY_WAVE: '1' })).out).toBe('reported acme/one for @acme/ui@1.2.3: verdict waiting, action none\n');
    expect((await downstream('acme/two', 'success')).out).toBe('reported acme/two for @acme/ui@1.2.3: verdict success, action claimed\n');
    await registry.idle();
    expect(receiver.calls.map((c) => [c.url, c.headers.authorization])).toEqual([
      ['/api/repos/acme/upstream/builds/17?REGISTRY_PACKAGE=%40acme%2Fui&REGISTRY_VERSION=1.2.3&event=deployment&deploy_to=downstream-success', `Bearer ${DRONE_TOKEN}`],
    ]);
  });

  it('reads PLUGIN_PARAMS as a dotenv file, the variables already set winning', async () => {
    writeFileSync(path.join(dir, '.entry'), 'REGISTRY_DOWNSTREAM=true\nREGISTRY_PACKAGE=from-file\nREGISTRY_VERSION=9.9.9\n');
    const io = capturedIo({ PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'acme/one', PLUGIN_PARAMS: path.join(dir, '.entry'), REGISTRY_VERSION: '2.0.0', DRONE_REPO: 'acme/upstream', DRONE_BUILD_NUMBER: '3' });
    const code = await runStatusRegistry(['--server', url, '--token-file', path.join(dir, 'token')], io, deps());
    expect([code, io.out().split('\n')[0]]).toEqual([0, 'registered from-file@2.0.0, waiting on acme/one']);
  });

  it.each([
    ['no repositories (spec §7.1)', { PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: ' , ' }, 'PLUGIN_REPOSITORIES lists no repository'],
    ['a malformed handler map (pitfall 13)', { PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'a/b', PLUGIN_SUCCESS: '{repository: a/b}' }, 'PLUGIN_SUCCESS is not JSON'],
    ['an unknown action', { PLUGIN_ACTION: 'deploy' }, 'PLUGIN_ACTION "deploy" is neither package-build nor downstream-build'],
    ['a build number of 0 (pitfall 12)', { PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'a/b', DRONE_BUILD_NUMBER: '0' }, 'the build number "0" is not a whole number of at least 1'],
  ])('exits 1 on %s, before any request', async (_name, env, message) => {
    const result = await run(env);
    expect([result.code, result.err, requests]).toEqual([1, expect.stringContaining(message), []]);
  });

  it('exits 1 with the service\'s cause and fix for an unknown build status (spec §7.9)', async () => {
    await upstream();
    const result = await downstream('acme/one', 'running');
    expect([result.code, result.err]).toEqual([1, expect.stringContaining('the build status "running" of acme/one is not one this registry knows. Fix: send success or failure')]);
  });

  it('retries a report that beats the registration until it is there (spec §7.2)', async () => {
    let sleeps = 0;
    const result = await run({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: 'acme/one', DRONE_BUILD_STATUS: 'success' }, [], deps(async () => {
      sleeps += 1;
      if (sleeps === 2) expect((await upstream()).code).toBe(0);
    }));
    expect([result.code, sleeps, result.err]).toEqual([0, 2, expect.stringContaining('is not registered')]);
  });

  it('gives up on a package that never gets registered, after --retries tries', async () => {
    const result = await run({ PLUGIN_ACTION: 'downstream-build', DRONE_BUILD_STATUS: 'success' }, ['--retries', '3']);
    expect([result.code, requests.length]).toEqual([1, 3]);
  });

  it('reads GoCD\'s variables when the Drone ones are absent, with the status from --status', async () => {
    await upstream({ PLUGIN_REPOSITORIES: 'deploy-ui' });
    const io = capturedIo({ REGISTRY_DOWNSTREAM: 'true', REGISTRY_PACKAGE: '@acme/ui', REGISTRY_VERSION: '1.2.3', PLUGIN_ACTION: 'downstream-build', GO_PIPELINE_NAME: 'deploy-ui', GO_PIPELINE_COUNTER: '88' });
    const code = await runStatusRegistry(['--server', url, '--token-file', path.join(dir, 'token'), '--status', 'failure'], io, deps());
    expect([code, io.out()]).toEqual([0, 'reported deploy-ui for @acme/ui@1.2.3: verdict failure, action claimed\n']);
    expect((await registry.get({ package: '@acme/ui', version: '1.2.3' })).builds).toEqual([expect.objectContaining({ repo: 'deploy-ui', number: 88, status: 'failure' })]);
  });

  describe('in file mode (PLUGIN_REGISTRY_PATH, no service)', () => {
    const files = (env: Record<string, string>) => {
      const io = capturedIo({ REGISTRY_DOWNSTREAM: 'true', REGISTRY_PACKAGE: '@acme/ui', REGISTRY_VERSION: '1.2.3', DRONE_REPO: 'acme/upstream', DRONE_BUILD_NUMBER: '17', PLUGIN_REGISTRY_PATH: path.join(dir, 'registry'), PLUGIN_SERVER: receiver.url, SECRET_SERVER_TOKEN: DRONE_TOKEN, ...env });
      return runStatusRegistry([], io, deps()).then((code) => ({ code, out: io.out(), err: io.err() }));
    };
    const entry = () => JSON.parse(readFileSync(path.join(dir, 'registry', '@acmeui@1.2.3'), 'utf8'));
    beforeEach(() => mkdirSync(path.join(dir, 'registry')));

    it('registers into the original\'s file and deploys with the step\'s SECRET_SERVER_TOKEN, once', async () => {
      expect((await files({ PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'acme/one' })).code).toBe(0);
      const reported = await files({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: 'acme/one', DRONE_BUILD_NUMBER: '5', DRONE_BUILD_STATUS: 'success' });
      expect([reported.code, reported.out]).toEqual([0, 'reported acme/one for @acme/ui@1.2.3: verdict success, action done\n']);
      expect((await files({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: 'acme/one', DRONE_BUILD_NUMBER: '6', DRONE_BUILD_STATUS: 'success' })).code).toBe(0);
      expect([receiver.calls.map((c) => c.headers.authorization), entry().handlers.executedHandler, requests]).toEqual([[`Bearer ${DRONE_TOKEN}`], 'success', []]);
    });

    it('fails a report that comes before the registration at once (spec §7.2)', async () => {
      const result = await files({ PLUGIN_ACTION: 'downstream-build', DRONE_BUILD_STATUS: 'success' });
      expect([result.code, result.err]).toEqual([1, expect.stringContaining('is not registered')]);
    });

    it('fails the step on a 401 from Drone and leaves the handler to the next step, which succeeds (pitfall 7)', async () => {
      await files({ PLUGIN_ACTION: 'package-build', PLUGIN_REPOSITORIES: 'acme/one, acme/two' });
      receiver.answer.status = 401;
      const failed = await files({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: 'acme/one', DRONE_BUILD_NUMBER: '5', DRONE_BUILD_STATUS: 'failure' });
      expect([failed.code, failed.err, entry().handlers.executedHandler]).toEqual([1, expect.stringContaining('answered 401'), '']);
      receiver.answer.status = 200;
      const next = await files({ PLUGIN_ACTION: 'downstream-build', DRONE_REPO: 'acme/two', DRONE_BUILD_NUMBER: '6', DRONE_BUILD_STATUS: 'success' });
      expect([next.code, entry().handlers.executedHandler, receiver.calls.length]).toEqual([0, 'failure', 2]);
      expect(receiver.calls[1]!.url).toContain('deploy_to=downstream-failure');
    });
  });
});
