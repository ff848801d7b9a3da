import { refusedPort } from '../support/free-port';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

const credentials = { username: 'ci-bot', password: 'check-pa55word' };

describe('check-repository-connection and check-package-connection', () => {
  let plain: StartedRegistry;
  let locked: StartedRegistry;
  let digest: string;
  const { call, log } = sidecarApp();

  beforeAll(async () => {
    [plain, locked] = await Promise.all([startRegistry(), startRegistry({ htpasswd: credentials })]);
    digest = await pushImage(plain, 'backends/database', ['1.9.0', '1.10.0']);
    await pushImage(plain, 'backends/database', ['nightly'], { seed: 'n' });
    await pushImage({ ...locked, credentials }, 'team/app', ['3.1']);
  });
  afterAll(() => Promise.all([plain.stop(), locked.stop()]));

  const repository = (registry: StartedRegistry, extra: Record<string, string> = {}) =>
    configMap({ DOCKER_REGISTRY_URL: `${registry.url}/v2/`, DOCKER_REGISTRY_NAME: registry.host, ...extra });
  const checkRepository = async (config: Record<string, { value: string }>) => {
    const response = await call('check-repository-connection', { 'repository-configuration': config });
    expect(response.status).toBe(200);
    return JSON.parse(response.text);
  };
  const checkPackage = async (repo: Record<string, { value: string }>, pkg: Record<string, string>) => {
    const response = await call('check-package-connection', { 'repository-configuration': repo, 'package-configuration': configMap(pkg) });
    expect(response.status).toBe(200);
    return JSON.parse(response.text);
  };

  it('reports a reachable anonymous registry', async () => {
    expect(await checkRepository(repository(plain))).toStrictEqual({
      status: 'success',
      messages: [`${plain.host} answers the Docker Registry HTTP API V2 at ${plain.url}/v2/`, 'anonymous access (the registry needs no authentication)'],
    });
  });

  it('confirms credentials on an htpasswd registry', async () => {
    expect(await checkRepository(repository(locked, { USERNAME: credentials.username, PASSWORD: credentials.password }))).toStrictEqual({
      status: 'success',
      messages: [`${locked.host} answers the Docker Registry HTTP API V2 at ${locked.url}/v2/`, 'Basic authentication: the credentials of user "ci-bot" were accepted'],
    });
  });

  it('fails with cause and fix for a wrong password, and never shows the password', async () => {
    const result = await checkRepository(repository(locked, { USERNAME: 'ci-bot', PASSWORD: 'wrong-pa55word' }));
    expect(result).toStrictEqual({
      status: 'failure',
      messages: [
        `${locked.host} refused access with the configured credentials (HTTP 401, basic authentication)`,
        'Fix: check Username and Password, and that this user may pull the image; a misspelled image name also answers 401 on some registries',
      ],
    });
    expect(log.lines.join('\n')).not.toContain('wrong-pa55word');
  });

  it('fails with cause and fix when the registry is down', async () => {
    const port = await refusedPort();
    const result = await checkRepository(configMap({ DOCKER_REGISTRY_URL: `http://127.0.0.1:${port}/v2/`, DOCKER_REGISTRY_NAME: 'r' }));
    expect(result).toStrictEqual({
      status: 'failure',
      messages: [`127.0.0.1:${port} refused the connection`, 'Fix: check the port in the registry URL and that the registry is running'],
    });
  });

  it('fails with every configuration problem before contacting anything', async () => {
    expect(await checkRepository(configMap({ DOCKER_REGISTRY_URL: '', DOCKER_REGISTRY_NAME: 'r' }))).toStrictEqual({
      status: 'failure',
      messages: [
        'the package repository configuration is invalid: DOCKER_REGISTRY_URL: required: the registry URL, e.g. https://registry.example.com/v2/',
        'Fix: edit the package repository in GoCD (Admin > Package Repositories) and save it, which re-checks every field',
      ],
    });
  });

  it('reports tags, matches and the tag GoCD would get', async () => {
    expect(await checkPackage(repository(plain), { DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: '^\\d+\\.\\d+\\.\\d+$' })).toStrictEqual({
      status: 'success',
      messages: [
        `${plain.host}/backends/database: 3 tags; 2 pass the tag filter "^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$"; ordered natural`,
        `GoCD would get 1.10.0 (${digest}, created 2026-01-01T00:00:00Z, linux/amd64)`,
      ],
    });
  });

  it('lists the tags afresh, so a tag pushed a moment ago shows at once', async () => {
    const poll = { 'repository-configuration': repository(plain), 'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database' }) };
    await call('latest-revision', poll); // leaves a tag walk the next poll could reuse
    await pushImage(plain, 'backends/database', ['1.11.0'], { seed: 'just-pushed' });
    const result = await checkPackage(repository(plain), { DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: '^\\d+\\.\\d+\\.\\d+$' });
    expect(result.messages[1]).toMatch(/^GoCD would get 1\.11\.0 /);
  });

  it('polls a private image with credentials', async () => {
    const result = await checkPackage(repository(locked, { USERNAME: credentials.username, PASSWORD: credentials.password }), { DOCKER_IMAGE: 'team/app' });
    expect(result.status).toBe('success');
    expect(result.messages[0]).toBe(`${locked.host}/team/app: 1 tags; 1 pass no tag filter; ordered natural`);
  });

  it('fails for an unknown image, naming it', async () => {
    expect(await checkPackage(repository(plain), { DOCKER_IMAGE: 'backends/nope' })).toStrictEqual({
      status: 'failure',
      messages: [
        `the tag list of backends/nope was not found on ${plain.host} (HTTP 404, NAME_UNKNOWN: repository name not known to registry)`,
        'Fix: check the image name (on Docker Hub, official images live under library/); the registry does not know it',
      ],
    });
  });
});
