import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

describe('latest-revision and latest-revision-since', () => {
  let registry: StartedRegistry;
  let digest110: string;
  const { call } = sidecarApp();

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'backends/database', ['1.9'], { seed: '1.9', created: '2026-02-01T10:00:00Z' });
    digest110 = await pushImage(registry, 'backends/database', ['1.10'], {
      seed: '1.10',
      created: '2026-01-15T09:30:00.123456789Z',
      labels: {
        'org.opencontainers.image.authors': 'db-team@example.com',
        'org.opencontainers.image.source': 'https://git.example.com/backends/database',
        'org.opencontainers.image.revision': '4f2a9c1',
        'org.opencontainers.image.version': '1.10',
        'org.opencontainers.image.description': 'the database service',
      },
    });
    await pushImage(registry, 'backends/database', ['20240101123000'], { seed: 'build', created: '1970-01-01T00:00:00Z' });
  });
  afterAll(() => registry.stop());

  const body = (packageSettings: Record<string, string>, previous?: unknown) => ({
    'repository-configuration': configMap({ DOCKER_REGISTRY_URL: `${registry.url}/v2/`, DOCKER_REGISTRY_NAME: registry.host }),
    'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database', ...packageSettings }),
    ...(previous === undefined ? {} : { 'previous-revision': previous }),
  });
  const revisionOf = async (packageSettings: Record<string, string>) => JSON.parse((await call('latest-revision', body(packageSettings))).text);

  it('answers the newest matching tag as a revision jobs can use, with what its labels tell', async () => {
    const response = await call('latest-revision', body({ DOCKER_TAG_FILTER: '^1\\.' }));
    expect(response.status).toBe(200);
    const image = `${registry.host}/backends/database`;
    expect(JSON.parse(response.text)).toStrictEqual({
      revision: '1.10',
      timestamp: '2026-01-15T09:30:00.123Z',
      user: 'db-team@example.com',
      revisionComment: `${image}:1.10 (linux/amd64) : the database service`,
      trackbackUrl: 'https://git.example.com/backends/database',
      data: {
        IMAGE: image,
        TAG: '1.10',
        DIGEST: digest110,
        IMAGE_REF: `${image}@${digest110}`,
        IMAGE_TAG_REF: `${image}:1.10`,
        CREATED: '2026-01-15T09:30:00.123456789Z',
        PLATFORMS: 'linux/amd64',
        SOURCE: 'https://git.example.com/backends/database',
        SOURCE_REVISION: '4f2a9c1',
        VERSION: '1.10',
      },
    });
  });

  it('compares digit runs of any length as numbers, and stamps an epoch-dated image with now', async () => {
    const revision = await revisionOf({});
    expect(revision.revision).toBe('20240101123000');
    expect(revision.timestamp).toBe('2026-03-02T08:00:12.345Z'); // the app's fixed clock
  });

  it.each([
    ['semver (1.9 and 1.10 are not semver, so nothing qualifies)', { TAG_ORDER: 'semver' }, 404],
    ['newest-build picks the most recently created image', { TAG_ORDER: 'newest-build' }, '1.9'],
    ['alphabetical', { TAG_ORDER: 'alphabetical' }, '20240101123000'],
    ['an exclusion', { TAG_EXCLUDE: '^\\d{14}$' }, '1.10'],
  ])('orders by %s', async (_name, settings, expected) => {
    const response = await call('latest-revision', body(settings));
    if (typeof expected === 'number') expect(response.status).toBe(expected);
    else expect(JSON.parse(response.text).revision).toBe(expected);
  });

  it('never answers {}: no matching tag is an error naming the settings and example tags', async () => {
    const response = await call('latest-revision', body({ DOCKER_TAG_FILTER: '^2\\.' }));
    expect(response.status).toBe(404);
    expect(response.text).toBe(
      `none of the 3 tags of ${registry.host}/backends/database passes the tag filter "^2\\\\." (newest tags: 20240101123000, 1.10, 1.9). ` +
        "Fix: fix the package's tag settings; DOCKER_TAG_FILTER may match anywhere in the tag unless anchored with ^…$",
    );
  });

  it('answers {} when the newest tag is the previous revision', async () => {
    const response = await call('latest-revision-since', body({ DOCKER_TAG_FILTER: '^1\\.' }, { revision: '1.10', timestamp: '2026-03-01T10:15:30.000Z', data: {} }));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toStrictEqual({});
  });

  it('answers the newer tag after a previous revision the old plugin wrote (no data)', async () => {
    const response = await call('latest-revision-since', body({ DOCKER_TAG_FILTER: '^1\\.' }, { revision: '1.9', timestamp: '2026-03-01T10:15:30.000Z' }));
    expect(JSON.parse(response.text).revision).toBe('1.10');
  });

  it('sees a tag pushed right after the last answer, while another material of the image keeps sharing walks', async () => {
    const since = (filter: string, revision: string) => call('latest-revision-since', body({ DOCKER_IMAGE: 'team/pushed', DOCKER_TAG_FILTER: filter }, { revision, data: {} }));
    await pushImage(registry, 'team/pushed', ['3.0'], { seed: '3.0' });
    expect(JSON.parse((await since('^3\\.', '2.0')).text).revision).toBe('3.0');
    expect(JSON.parse((await since('^3\\.0', '2.0')).text).revision).toBe('3.0'); // another material, the same walk
    await pushImage(registry, 'team/pushed', ['3.1'], { seed: '3.1' });
    expect(JSON.parse((await since('^3\\.', '3.0')).text).revision).toBe('3.1'); // Trigger, within the reuse window
  });

  it('answers {} rather than an older tag when the previous one was deleted', async () => {
    const response = await call('latest-revision-since', body({ DOCKER_TAG_FILTER: '^1\\.' }, { revision: '1.11', data: { TAG: '1.11' } }));
    expect(JSON.parse(response.text)).toStrictEqual({});
  });

  it('judges "newer" by creation time under newest-build', async () => {
    const since = (previous: unknown) => call('latest-revision-since', body({ TAG_ORDER: 'newest-build' }, previous));
    expect(JSON.parse((await since({ revision: '1.10', data: { CREATED: '2026-01-15T09:30:00Z' } })).text).revision).toBe('1.9');
    expect(JSON.parse((await since({ revision: '2.0', data: { CREATED: '2026-05-01T00:00:00Z' } })).text)).toStrictEqual({});
  });

  it('validates the configuration again: XML edits bypass validate-*', async () => {
    const response = await call('latest-revision', body({ DOCKER_TAG_FILTER: '([' }));
    expect(response.status).toBe(422);
    expect(response.text).toMatch(/^the package configuration is invalid: DOCKER_TAG_FILTER: the tag filter "\(\[" is not a valid regular expression/);
  });
});

describe('a package whose filter names one tag (mutable-tag tracking)', () => {
  let registry: StartedRegistry;
  const { call } = sidecarApp();

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry.stop());

  const body = (filter: string, previous?: unknown) => ({
    'repository-configuration': configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host }),
    'package-configuration': configMap({ DOCKER_IMAGE: 'team/web', DOCKER_TAG_FILTER: filter }),
    ...(previous === undefined ? {} : { 'previous-revision': previous }),
  });

  it('says the tag does not exist yet', async () => {
    const response = await call('latest-revision', body('latest'));
    expect(response.status).toBe(404);
    expect(response.text).toMatch(/^127\.0\.0\.1:\d+\/team\/web has no tag latest \(the tag filter names exactly this tag\)\. Fix: push the tag/);
  });

  it('reports a re-push of the same tag as a new revision, and the same digest as nothing new', async () => {
    const first = await pushImage(registry, 'team/web', ['latest', '1.0'], { seed: 'first' });
    const initial = JSON.parse((await call('latest-revision', body('^latest$'))).text);
    expect(initial.revision).toBe(`latest@${first}`);
    expect(initial.data).toMatchObject({ TAG: 'latest', DIGEST: first });

    const unchanged = await call('latest-revision-since', body('^latest$', { revision: initial.revision, data: initial.data }));
    expect(JSON.parse(unchanged.text)).toStrictEqual({});

    const second = await pushImage(registry, 'team/web', ['latest'], { seed: 'second' });
    const repushed = JSON.parse((await call('latest-revision-since', body('^latest$', { revision: initial.revision, data: initial.data }))).text);
    expect(repushed.revision).toBe(`latest@${second}`);
  });

  it('reports once after an upgrade from the old plugin, which stored the bare tag', async () => {
    const response = await call('latest-revision-since', body('latest', { revision: 'latest', timestamp: '2026-01-01T00:00:00.000Z' }));
    expect(JSON.parse(response.text).revision).toMatch(/^latest@sha256:[0-9a-f]{64}$/);
  });
});
