import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

describe('latest-revision and latest-revision-since', () => {
  let registry: StartedRegistry;
  let digest110: string;
  const { call } = sidecarApp();

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'backends/database', ['1.9'], { seed: '1.9' });
    digest110 = await pushImage(registry, 'backends/database', ['1.10'], { seed: '1.10' });
    await pushImage(registry, 'backends/database', ['20240101123000'], { seed: 'build' });
  });
  afterAll(() => registry.stop());

  const body = (filter: string, previous?: unknown) => ({
    'repository-configuration': configMap({ DOCKER_REGISTRY_URL: `${registry.url}/v2/`, DOCKER_REGISTRY_NAME: registry.host }),
    'package-configuration': configMap({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: filter }),
    ...(previous === undefined ? {} : { 'previous-revision': previous }),
  });

  it('answers the newest matching tag as a revision jobs can use', async () => {
    const response = await call('latest-revision', body('^1\\.'));
    expect(response.status).toBe(200);
    const image = `${registry.host}/backends/database`;
    expect(JSON.parse(response.text)).toStrictEqual({
      revision: '1.10',
      timestamp: '2026-03-02T08:00:12.345Z',
      revisionComment: `${image}:1.10`,
      data: { IMAGE: image, TAG: '1.10', DIGEST: digest110, IMAGE_REF: `${image}@${digest110}`, IMAGE_TAG_REF: `${image}:1.10` },
    });
  });

  it('compares digit runs of any length as numbers', async () => {
    const response = await call('latest-revision', body(''));
    expect(JSON.parse(response.text).revision).toBe('20240101123000');
  });

  it('never answers {}: no matching tag is an error naming the filter and example tags', async () => {
    const response = await call('latest-revision', body('^2\\.'));
    expect(response.status).toBe(404);
    expect(response.text).toBe(
      `none of the 3 tags of ${registry.host}/backends/database matches the tag filter "^2\\\\." (newest tags: 20240101123000, 1.10, 1.9). ` +
        'Fix: fix DOCKER_TAG_FILTER on the package; the pattern may match anywhere in the tag unless anchored with ^…$',
    );
  });

  it('answers {} when the newest tag is the previous revision', async () => {
    const response = await call('latest-revision-since', body('^1\\.', { revision: '1.10', timestamp: '2026-03-01T10:15:30.000Z', data: {} }));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toStrictEqual({});
  });

  it('answers the newer tag after a previous revision the old plugin wrote (no data)', async () => {
    const response = await call('latest-revision-since', body('^1\\.', { revision: '1.9', timestamp: '2026-03-01T10:15:30.000Z' }));
    expect(JSON.parse(response.text).revision).toBe('1.10');
  });

  it('answers {} rather than an older tag when the previous one was deleted', async () => {
    const response = await call('latest-revision-since', body('^1\\.', { revision: '1.11', data: { TAG: '1.11' } }));
    expect(JSON.parse(response.text)).toStrictEqual({});
  });

  it('validates the configuration again: XML edits bypass validate-*', async () => {
    const invalid = body('([');
    const response = await call('latest-revision', invalid);
    expect(response.status).toBe(422);
    expect(response.text).toMatch(/^the package configuration is invalid: DOCKER_TAG_FILTER: the tag filter "\(\[" is not a valid regular expression/);
  });
});
