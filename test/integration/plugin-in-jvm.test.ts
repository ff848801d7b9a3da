// The whole product as GoCD runs it: a real JVM loads the built jar with the real go-plugin-api, calls handle()
// for all eight messages, and the shim starts the bundled sidecar, which polls a real docker-registry.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GoCdHost } from '../support/gocd-host';
import { pidsMatching, waitForNoProcess } from '../support/processes';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap } from '../support/sidecar-app';

jest.setTimeout(120_000);

interface Scenario {
  name: string;
  credentials?: { username: string; password: string };
}

describe.each<Scenario>([
  { name: 'an anonymous registry' },
  { name: 'an htpasswd registry with USERNAME/PASSWORD', credentials: { username: 'gocd', password: 'jvm-test-pa55word' } },
])('the plugin in a JVM against $name', ({ credentials }) => {
  let registry: StartedRegistry;
  let workDir: string;
  let host: GoCdHost;
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry(credentials ? { htpasswd: credentials } : {});
    const target = { ...registry, credentials };
    await pushImage(target, 'backends/database', ['1.2.0'], { seed: 'a' });
    digest = await pushImage(target, 'backends/database', ['1.10.0'], { seed: 'b' });
    await pushImage(target, 'backends/database', ['latest'], { seed: 'c' });
    workDir = mkdtempSync(path.join(tmpdir(), 'bridge-jvm-'));
    host = await GoCdHost.start({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });
  });

  afterAll(async () => {
    host.process.kill('SIGKILL');
    await registry.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const repository = () =>
    configMap({
      DOCKER_REGISTRY_URL: `${registry.url}/v2/`,
      DOCKER_REGISTRY_NAME: registry.host,
      ...(credentials ? { USERNAME: credentials.username, PASSWORD: credentials.password } : {}),
    });
  const packageBody = (filter = '^\\d+\\.\\d+\\.\\d+$') => ({
    'repository-configuration': repository(),
    'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: filter }),
  });
  const json = async (requestName: string, body?: unknown) => {
    const reply = await host.handle(requestName, body);
    expect({ requestName, code: reply.code }).toEqual({ requestName, code: 200 });
    return JSON.parse(reply.body);
  };

  it('loads as GoCD loads it: plugin id and @Extension class found', () => {
    expect(host.pluginId).toBe('docker-registry');
  });

  it('answers all eight messages', async () => {
    expect(Object.keys(await json('repository-configuration'))).toEqual(['DOCKER_REGISTRY_URL', 'DOCKER_REGISTRY_NAME', 'USERNAME', 'PASSWORD']);
    expect(Object.keys(await json('package-configuration'))).toEqual(['DOCKER_IMAGE', 'DOCKER_TAG_FILTER']);
    expect(await json('validate-repository-configuration', { 'repository-configuration': repository() })).toEqual([]);
    expect(await json('validate-package-configuration', packageBody())).toEqual([]);
    expect(await json('check-repository-connection', { 'repository-configuration': repository() })).toMatchObject({ status: 'success' });
    expect(await json('check-package-connection', packageBody())).toEqual({
      status: 'success',
      messages: [`${registry.host}/backends/database: 3 tags; 2 match the tag filter "^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$"`, `the newest tag is 1.10.0 (${digest})`],
    });
    const revision = await json('latest-revision', packageBody());
    expect(revision).toMatchObject({ revision: '1.10.0', data: { TAG: '1.10.0', DIGEST: digest, IMAGE_REF: `${registry.host}/backends/database@${digest}` } });
    expect(revision.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await json('latest-revision-since', { ...packageBody(), 'previous-revision': { revision: '1.10.0', timestamp: revision.timestamp, data: revision.data } })).toEqual({});
    expect(await json('latest-revision-since', { ...packageBody(), 'previous-revision': { revision: '1.2.0', timestamp: revision.timestamp } })).toMatchObject({
      revision: '1.10.0',
    });
  });

  it('passes failures to GoCD as a non-200 reply naming cause and fix', async () => {
    const reply = await host.handle('latest-revision', packageBody('^9\\.'));
    expect(reply.code).toBe(404);
    expect(reply.body).toMatch(/^none of the 3 tags of .+ matches the tag filter .+ Fix: fix DOCKER_TAG_FILTER/);
  });

  it('answers 10 concurrent polls', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => host.handle('latest-revision', packageBody())));
    expect(replies.map((r) => r.code)).toEqual(Array(10).fill(200));
  });

  it('recovers when the sidecar is killed with SIGKILL between two calls', async () => {
    const [sidecar, ...others] = pidsMatching(workDir);
    expect(sidecar).toBeDefined();
    expect(others).toEqual([]);
    process.kill(sidecar!, 'SIGKILL');
    await waitForNoProcess(`${workDir}`, 5000);
    expect((await json('latest-revision', packageBody())).revision).toBe('1.10.0');
    const restarted = pidsMatching(workDir);
    expect(restarted).toHaveLength(1);
    expect(restarted[0]).not.toBe(sidecar);
  });

  it('never writes the password or the sidecar token to the plugin log', () => {
    expect(host.stderr).toContain('sidecar: '); // the sidecar's own lines reach the plugin log
    if (credentials) expect(host.stderr).not.toContain(credentials.password);
    expect(host.stderr).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);
  });

  it('leaves no sidecar behind when the JVM exits', async () => {
    expect(pidsMatching(workDir)).toHaveLength(1);
    expect(await host.exit()).toBe(0);
    expect(await waitForNoProcess(workDir)).toEqual([]);
  });
});

describe('the plugin in a JVM that is killed', () => {
  it('leaves no sidecar behind: the sidecar exits when its stdin closes', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'bridge-jvm-kill-'));
    try {
      const host = await GoCdHost.start({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });
      expect((await host.handle('package-configuration')).code).toBe(200);
      expect(pidsMatching(workDir)).toHaveLength(1);
      host.process.kill('SIGKILL'); // no shutdown hook runs
      await host.exited;
      expect(await waitForNoProcess(workDir)).toEqual([]);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe('the plugin in a JVM without a usable Node.js', () => {
  it('tells GoCD how to fix it', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'bridge-jvm-nonode-'));
    try {
      const host = await GoCdHost.start({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir, GOCD_REGISTRY_BRIDGE_NODE: path.join(workDir, 'no-node-here') });
      const reply = await host.handle('repository-configuration');
      expect(reply.code).not.toBe(200);
      expect(reply.body).toMatch(/^gocd-registry-bridge: Node\.js 20\+ not found on the GoCD server.*install it or set GOCD_REGISTRY_BRIDGE_NODE/);
      await host.exit();
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
