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
  runtime: string;
  /** The JVM's environment for this runtime, and the plugin-log line that shows the shim chose it. */
  env: (workDir: string) => Record<string, string>;
  chosen: RegExp;
}

// Both runtimes of issue 15 on every run: the jar's own executable with no node anywhere on the JVM's PATH (as on
// a gocd-server image), and the system's Node.js named by GOCD_REGISTRY_BRIDGE_NODE.
describe.each<Scenario>([
  {
    name: 'an anonymous registry',
    runtime: "the jar's own executable, no node on PATH",
    env: (workDir) => ({ PATH: path.join(workDir, 'an-empty-dir') }),
    chosen: /sidecar: running the plugin's own executable for linux-x64 \(Node\.js inside\)/,
  },
  {
    name: 'an htpasswd registry with USERNAME/PASSWORD',
    credentials: { username: 'gocd', password: 'jvm-test-pa55word' },
    runtime: 'the system Node.js',
    env: () => ({ GOCD_REGISTRY_BRIDGE_NODE: process.execPath }),
    chosen: new RegExp(`sidecar: running the bundle with Node\\.js v\\d+\\.\\d+\\.\\d+ at ${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(set by GOCD_REGISTRY_BRIDGE_NODE\\)`),
  },
])('the plugin in a JVM against $name, run by $runtime', ({ credentials, env, chosen }) => {
  let registry: StartedRegistry;
  let workDir: string;
  let host: GoCdHost;
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry(credentials ? { htpasswd: credentials } : {});
    const target = { ...registry, credentials };
    await pushImage(target, 'backends/database', ['1.2.0'], { seed: 'a', created: '2026-03-01T00:00:00Z' });
    digest = await pushImage(target, 'backends/database', ['1.10.0'], {
      seed: 'b',
      created: '2026-02-01T00:00:00Z',
      labels: { 'org.opencontainers.image.source': 'https://git.example.com/backends/database', 'org.opencontainers.image.revision': 'c0ffee1' },
    });
    await pushImage(target, 'backends/database', ['latest', 'v1.11.0-rc.1'], { seed: 'c', created: '2026-01-01T00:00:00Z' });
    workDir = mkdtempSync(path.join(tmpdir(), 'bridge-jvm-'));
    host = await GoCdHost.start({ GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir, ...env(workDir) });
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
  const packageBody = (filter = '^\\d+\\.\\d+\\.\\d+$', extra: Record<string, string> = {}) => ({
    'repository-configuration': repository(),
    'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: filter, ...extra }),
  });
  const json = async (requestName: string, body?: unknown) => {
    const reply = await host.handle(requestName, body);
    expect({ requestName, code: reply.code }).toEqual({ requestName, code: 200 });
    return JSON.parse(reply.body);
  };

  it('loads as GoCD loads it: plugin id and @Extension class found', () => {
    expect(host.pluginId).toBe('docker-registry');
  });

  it('starts the sidecar with the runtime of this scenario, and says so in the plugin log', async () => {
    expect((await host.handle('repository-configuration')).code).toBe(200);
    expect(host.stderr).toMatch(chosen);
  });

  it('answers all eight messages', async () => {
    expect(Object.keys(await json('repository-configuration'))).toEqual([
      'DOCKER_REGISTRY_URL',
      'DOCKER_REGISTRY_NAME',
      'USERNAME',
      'PASSWORD',
      'TLS_CA_FILE',
      'TLS_SKIP_VERIFY',
    ]);
    expect(Object.keys(await json('package-configuration'))).toEqual(['DOCKER_IMAGE', 'DOCKER_TAG_FILTER', 'TAG_EXCLUDE', 'TAG_ORDER', 'TAG_SORT_KEY', 'SEMVER_PRERELEASES', 'MAX_TAGS', 'SEMVER_RANGE', 'PLATFORMS']);
    expect(await json('validate-repository-configuration', { 'repository-configuration': repository() })).toEqual([]);
    expect(await json('validate-package-configuration', packageBody())).toEqual([]);
    expect(await json('check-repository-connection', { 'repository-configuration': repository() })).toMatchObject({ status: 'success' });
    expect(await json('check-package-connection', packageBody())).toEqual({
      status: 'success',
      messages: [
        `${registry.host}/backends/database: 4 tags; 2 pass the tag filter "^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$"; ordered natural`,
        `GoCD would get 1.10.0 (${digest}, created 2026-02-01T00:00:00Z, linux/amd64)`,
      ],
    });
    const revision = await json('latest-revision', packageBody());
    expect(revision).toMatchObject({
      revision: '1.10.0',
      timestamp: '2026-02-01T00:00:00.000Z',
      trackbackUrl: 'https://git.example.com/backends/database',
      data: { TAG: '1.10.0', DIGEST: digest, IMAGE_REF: `${registry.host}/backends/database@${digest}`, SOURCE_REVISION: 'c0ffee1' },
    });
    expect(await json('latest-revision-since', { ...packageBody(), 'previous-revision': { revision: '1.10.0', timestamp: revision.timestamp, data: revision.data } })).toEqual({});
    expect(await json('latest-revision-since', { ...packageBody(), 'previous-revision': { revision: '1.2.0', timestamp: revision.timestamp } })).toMatchObject({
      revision: '1.10.0',
    });
  });

  it('passes failures to GoCD as a non-200 reply naming cause and fix', async () => {
    const reply = await host.handle('latest-revision', packageBody('^9\\.'));
    expect(reply.code).toBe(404);
    expect(reply.body).toMatch(/^none of the 4 tags of .+ passes the tag filter .+ Fix: fix the package's tag settings/);
  });

  it.each([
    ['natural (letters sort after digits, as in the old plugin)', {}, 'v1.11.0-rc.1'],
    ['semver', { TAG_ORDER: 'semver' }, '1.10.0'],
    ['semver with pre-releases', { TAG_ORDER: 'semver', SEMVER_PRERELEASES: 'true' }, 'v1.11.0-rc.1'],
    ['newest-build', { TAG_ORDER: 'newest-build' }, '1.2.0'],
    ['alphabetical', { TAG_ORDER: 'alphabetical' }, 'v1.11.0-rc.1'],
    ['a sort key', { TAG_SORT_KEY: '^1\\.(?<key>\\d+)\\.' }, '1.10.0'],
  ])('orders by %s through the jar', async (_name, settings, expected) => {
    expect((await json('latest-revision', packageBody('', settings))).revision).toBe(expected);
  });

  it('follows a named tag by digest: a re-push is a new revision', async () => {
    const first = await json('latest-revision', packageBody('^latest$'));
    expect(first.revision).toMatch(/^latest@sha256:/);
    expect(await json('latest-revision-since', { ...packageBody('^latest$'), 'previous-revision': first })).toEqual({});
    const repushed = await pushImage({ ...registry, credentials }, 'backends/database', ['latest'], { seed: `repush-${Date.now()}` });
    expect((await json('latest-revision-since', { ...packageBody('^latest$'), 'previous-revision': first })).revision).toBe(`latest@${repushed}`);
  });

  it('answers 10 concurrent polls', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => host.handle('latest-revision', packageBody())));
    expect(replies.map((r) => r.code)).toEqual(Array(10).fill(200));
  });

  it('answers after the sidecar closed its idle connection, as every call of once-a-minute polling comes', async () => {
    const [sidecar] = pidsMatching(workDir);
    const logBefore = host.stderr.length;
    await new Promise((resolve) => setTimeout(resolve, 5_500)); // node closes idle keep-alive connections after 5 s
    expect((await json('latest-revision', packageBody())).revision).toBe('1.10.0');
    expect(host.stderr.slice(logBefore)).not.toMatch(/retrying once|restarting it/);
    expect(pidsMatching(workDir)).toEqual([sidecar]);
  });

  it("adds nothing to the plugin log at GoCD's default level (INFO) for polls that find nothing new", async () => {
    expect((await json('latest-revision', packageBody())).revision).toBe('1.10.0'); // its answer is known by now
    const logBefore = host.stderr.length;
    for (let i = 0; i < 5; i += 1) expect((await json('latest-revision', packageBody())).revision).toBe('1.10.0');
    expect(host.stderr.slice(logBefore)).toBe('');
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

  it('serves the status page of the sidecar it started, listing what GoCD polled', async () => {
    // The last sidecar started: an earlier test killed the first one.
    const port = [...host.stderr.matchAll(/sidecar: version \S+ ready on port (\d+)/g)].pop()?.[1];
    expect(port).toBeDefined();
    const page = await (await fetch(`http://127.0.0.1:${port}/status`)).text();
    expect(page).toContain(`<code>${registry.host}/backends/database</code>`);
    expect(page).not.toContain(credentials?.password ?? 'no-password-configured');
  });

  it('never writes the password or the sidecar token to the plugin log', () => {
    expect(host.stderr).toContain('sidecar: '); // the sidecar's own lines reach the plugin log
    if (credentials) expect(host.stderr).not.toContain(credentials.password);
    expect(host.stderr).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);
  });

  it("writes no runtime warning to the plugin log (a bundled library's deprecated Node API is ours to handle)", () => {
    expect(host.stderr).toContain('"msg":"poll"'); // the registry client has run
    expect(host.stderr).not.toMatch(/Warning:/);
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
