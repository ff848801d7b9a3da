// The status page as an admin sees it: rendered by a real browser (Debian's headless Chromium).

import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dumpDom, screenshot, summarisePng } from '../support/chromium';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

jest.setTimeout(120_000);

describe('GET /status in headless Chromium', () => {
  let registry: StartedRegistry;
  let server: Server;
  let statusUrl: string;
  const { app, call } = sidecarApp();
  const shot = path.join(tmpdir(), `bridge-status-${process.pid}.png`);

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'backends/database', ['1.9.0', '1.10.0']);
    await pushImage(registry, 'frontends/web', ['2024.11.02', 'latest'], { seed: 'web' });
    const repository = configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host });
    const poll = (image: string, settings: Record<string, string>) =>
      call('latest-revision', { 'repository-configuration': repository, 'package-configuration': configMap({ DOCKER_IMAGE: image, ...settings }) });
    await poll('backends/database', { DOCKER_TAG_FILTER: '^\\d+\\.\\d+\\.\\d+$', TAG_ORDER: 'semver' });
    await poll('frontends/web', { DOCKER_TAG_FILTER: '^latest$' });
    await poll('frontends/web', { DOCKER_TAG_FILTER: '^v' });
    server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    statusUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/status`;
  });
  afterAll(async () => {
    server.close();
    await registry.stop();
  });

  it('renders a row per material with its result, failures in the summary', async () => {
    const dom = await dumpDom(statusUrl);
    expect(dom).toContain('3 package(s) polled in the last 24 h;');
    expect(dom).toContain('<span class="error">1 failing</span>');
    expect(dom).toMatch(/<td>semver<\/td><td><span class="ok">1\.10\.0<\/span>/);
    expect(dom).toMatch(/<td><code>\^latest\$<\/code><\/td><td><code><\/code><\/td><td>natural<\/td><td><span class="ok">latest<\/span>/);
    expect(dom).toMatch(/<span class="error">none of the 2 tags of 127\.0\.0\.1:\d+\/frontends\/web passes the tag filter "\^v"/);
  });

  it('takes a screenshot that shows the page', async () => {
    await screenshot(statusUrl, shot, 1280, 720);
    const png = summarisePng(readFileSync(shot));
    expect({ width: png.width, height: png.height }).toEqual({ width: 1280, height: 720 });
    expect(png.distinctBytes).toBeGreaterThan(50); // a blank or error page has a handful of distinct values
  });
});
