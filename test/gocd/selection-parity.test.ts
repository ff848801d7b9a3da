import supertest from 'supertest';
import { pushImage, pushIndex, pushTags } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

// SEMVER_RANGE and PLATFORMS against the real registry, with the indexes buildx pushes: both platforms, one only.
describe('SEMVER_RANGE and PLATFORMS', () => {
  let registry: StartedRegistry;
  let where: string;
  const digests: Record<string, string> = {};
  const { app, call } = sidecarApp();

  beforeAll(async () => {
    registry = await startRegistry();
    where = `${registry.host}/team/app`;
    const both = (seed: string) => [
      { seed: `${seed}-amd64`, platform: AMD64 },
      { seed: `${seed}-arm64`, platform: ARM64 },
    ];
    digests['1.2.0'] = await pushIndex(registry, 'team/app', ['1.2.0'], both('1.2.0'));
    digests['1.3.0'] = await pushImage(registry, 'team/app', ['1.3.0'], { seed: '1.3.0' }); // one manifest: linux/amd64 in its config
    digests['1.4.0'] = await pushIndex(registry, 'team/app', ['1.4.0'], [{ seed: '1.4.0', platform: ARM64 }]);
    digests['1.5.0-rc.1'] = await pushIndex(registry, 'team/app', ['1.5.0-rc.1'], both('1.5.0-rc.1'));
    digests['2.0.0'] = await pushIndex(registry, 'team/app', ['2.0.0'], [{ seed: '2.0.0', platform: AMD64 }]);
    digests.stable = await pushImage(registry, 'team/app', ['stable'], { seed: 'stable', platform: { os: 'linux', architecture: 'arm64' } });
  });
  afterAll(() => registry.stop());

  const body = (settings: Record<string, string>, previous?: { revision: string; data?: Record<string, string> }) => ({
    'repository-configuration': configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host }),
    'package-configuration': configMap({ DOCKER_IMAGE: 'team/app', ...settings }),
    ...(previous && { 'previous-revision': { timestamp: '2026-03-01T10:15:30.000Z', data: {}, ...previous } }),
  });
  const latest = async (settings: Record<string, string>) => {
    const response = await call('latest-revision', body(settings));
    expect(response.status).toBe(200);
    return JSON.parse(response.text) as { revision: string; data: Record<string, string> };
  };

  it.each<[string, Record<string, string>, string]>([
    ['the newest version inside a range', { SEMVER_RANGE: '>=1.2.5 <1.4.0' }, '1.3.0'],
    ['a caret range, which leaves out 2.0.0', { SEMVER_RANGE: '^1' }, '1.4.0'],
    ['a caret range with pre-releases', { SEMVER_RANGE: '^1', SEMVER_PRERELEASES: 'true' }, '1.5.0-rc.1'],
    ['linux/arm64: past the amd64-only 2.0.0 to the arm64-only index', { TAG_ORDER: 'semver', PLATFORMS: 'linux/arm64' }, '1.4.0'],
    ['both platforms: past single-platform indexes and a single manifest', { TAG_ORDER: 'semver', PLATFORMS: 'linux/amd64,linux/arm64/v8' }, '1.2.0'],
    ['linux/amd64: the newest already provides it', { TAG_ORDER: 'semver', PLATFORMS: 'linux/amd64' }, '2.0.0'],
    ['a range and a platform together', { SEMVER_RANGE: '^1', SEMVER_PRERELEASES: 'true', PLATFORMS: 'linux/arm64' }, '1.5.0-rc.1'],
    ['newest-build with a platform (equal dates: natural order)', { TAG_ORDER: 'newest-build', TAG_EXCLUDE: '^stable$', PLATFORMS: 'linux/arm64' }, '1.5.0-rc.1'],
    ['a single manifest\'s platform, from its config', { DOCKER_TAG_FILTER: '^(stable|1\\.3\\.0)$', PLATFORMS: 'linux/arm64/v8' }, 'stable'],
  ])('picks %s', async (_name, settings, expected) => {
    const revision = await latest(settings);
    expect([revision.revision, revision.data.DIGEST]).toStrictEqual([expected, digests[expected]]);
  });

  it('checks the platform of a tag the filter names', async () => {
    expect((await latest({ DOCKER_TAG_FILTER: 'stable', PLATFORMS: 'linux/arm64' })).revision).toBe(`stable@${digests.stable}`);
    const response = await call('latest-revision', body({ DOCKER_TAG_FILTER: 'stable', PLATFORMS: 'linux/amd64' }));
    expect([response.status, response.text]).toStrictEqual([
      404,
      `the only candidate tag of ${where} does not provide linux/amd64 (stable has linux/arm64). ` +
        'Fix: push an image for linux/amd64 (docker buildx build --platform linux/amd64 …), or change PLATFORMS on the package',
    ]);
  });

  it('fails, naming the range, when no version satisfies it: never an empty success', async () => {
    const response = await call('latest-revision', body({ SEMVER_RANGE: '>=3' }));
    expect([response.status, response.text]).toStrictEqual([
      404,
      `none of the 4 versions of ${where} that pass the other tag settings satisfies the semver range ">=3" ` +
        '(newest versions: 2.0.0, 1.4.0, 1.3.0, 1.2.0). Fix: widen SEMVER_RANGE on the package, or push a version inside it; ' +
        'GoCD keeps asking and picks it up then',
    ]);
  });

  it('fails, naming each platform found, when no candidate provides the platforms', async () => {
    const response = await call('latest-revision', body({ SEMVER_RANGE: '<2', PLATFORMS: 'linux/s390x' }));
    expect([response.status, response.text]).toStrictEqual([
      404,
      `none of the 3 candidate tags of ${where} provides linux/s390x ` +
        '(1.4.0 has linux/arm64/v8; 1.3.0 has linux/amd64; 1.2.0 has linux/amd64, linux/arm64/v8). ' +
        'Fix: push an image for linux/s390x (docker buildx build --platform linux/s390x …), or change PLATFORMS on the package',
    ]);
  });

  it('says in check-package-connection how many tags the range kept and which were passed over', async () => {
    const response = await call('check-package-connection', body({ SEMVER_RANGE: '<1.4', PLATFORMS: 'linux/arm64' }));
    expect(JSON.parse(response.text)).toStrictEqual({
      status: 'success',
      messages: [
        `${where}: 6 tags; 4 pass no tag filter; the semver range "<1.4" keeps 2 of them; ordered semver; passed over 1 newer without linux/arm64 (1.3.0)`,
        `GoCD would get 1.2.0 (${digests['1.2.0']}, created 2026-01-01T00:00:00Z, linux/amd64, linux/arm64/v8)`,
      ],
    });
  });

  it('tries at most 100 candidates per poll, and says how to narrow them', async () => {
    await pushImage(registry, 'team/many', ['0.1.0'], { seed: 'arm64', platform: ARM64 });
    await pushTags(registry, 'team/many', Array.from({ length: 100 }, (_, i) => `1.0.${i}`), { seed: 'amd64' });
    const settings = { DOCKER_IMAGE: 'team/many', TAG_ORDER: 'semver', PLATFORMS: 'linux/arm64' };
    const response = await call('latest-revision', body(settings));
    expect([response.status, response.text]).toStrictEqual([
      404,
      `none of the newest 100 of the 101 candidate tags of ${registry.host}/team/many provides linux/arm64 ` +
        '(1.0.99 has linux/amd64; 1.0.98 has linux/amd64; 1.0.97 has linux/amd64; 1.0.96 has linux/amd64; 1.0.95 has linux/amd64); ' +
        'a poll tries no more. Fix: narrow the candidates with SEMVER_RANGE or DOCKER_TAG_FILTER to versions built for linux/arm64, ' +
        'push an image for linux/arm64 (docker buildx build --platform linux/arm64 …), or change PLATFORMS on the package',
    ]);
    expect((await latest({ ...settings, SEMVER_RANGE: '<1' })).revision).toBe('0.1.0');
  });

  describe('latest-revision-since after the settings changed', () => {
    const since = async (settings: Record<string, string>, previous: string) => {
      const response = await call('latest-revision-since', body(settings, { revision: previous }));
      expect(response.status).toBe(200);
      return JSON.parse(response.text) as { revision?: string };
    };

    it('follows a range that leaves the previous tag out, though the new tag sorts lower', async () => {
      expect((await since({ SEMVER_RANGE: '^1' }, '2.0.0')).revision).toBe('1.4.0');
    });

    it('follows a platform the previous tag lacks', async () => {
      expect((await since({ TAG_ORDER: 'semver', PLATFORMS: 'linux/arm64' }, '2.0.0')).revision).toBe('1.4.0');
    });

    it('reports nothing new once the previous tag is the choice', async () => {
      expect(await since({ TAG_ORDER: 'semver', PLATFORMS: 'linux/arm64' }, '1.4.0')).toStrictEqual({});
      expect(await since({ SEMVER_RANGE: '^1' }, '1.4.0')).toStrictEqual({});
    });
  });

  describe('what a poll costs', () => {
    const counters = async () => {
      const metrics = (await supertest(app).get('/metrics')).text;
      const count = (pattern: string) => Number(new RegExp(`^${pattern} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
      return {
        heads: count(`gocd_registry_bridge_registry_requests_total\\{host="${registry.host}",method="HEAD",status="200"\\}`),
        metadataMisses: count('gocd_registry_bridge_cache_lookups_total\\{cache="metadata",result="miss"\\}'),
      };
    };
    const costOf = async (settings: Record<string, string>) => {
      const before = await counters();
      await latest(settings);
      const after = await counters();
      return { heads: after.heads - before.heads, metadataMisses: after.metadataMisses - before.metadataMisses };
    };

    it('a steady poll whose newest tag provides the platform: one HEAD, metadata from the cache', async () => {
      const settings = { TAG_ORDER: 'semver', PLATFORMS: 'linux/amd64' }; // 2.0.0, of 4 candidates
      await latest(settings);
      expect(await costOf(settings)).toStrictEqual({ heads: 1, metadataMisses: 0 });
    });

    it('a walk: one HEAD per tag tried, each digest\'s platforms read once', async () => {
      const settings = { TAG_ORDER: 'semver', PLATFORMS: 'linux/amd64,linux/arm64' }; // 2.0.0, 1.4.0, 1.3.0, then 1.2.0
      await latest(settings);
      expect(await costOf(settings)).toStrictEqual({ heads: 4, metadataMisses: 0 });
    });
  });
});

describe('validate-package-configuration of SEMVER_RANGE and PLATFORMS', () => {
  const { call } = sidecarApp();
  const validate = async (values: Record<string, string>) => {
    const response = await call('validate-package-configuration', {
      'repository-configuration': configMap({ DOCKER_REGISTRY_URL: 'https://registry.example.com', DOCKER_REGISTRY_NAME: 'registry.example.com' }),
      'package-configuration': configMap({ DOCKER_IMAGE: 'team/app', ...values }),
    });
    expect(response.status).toBe(200);
    return JSON.parse(response.text) as unknown[];
  };

  it('accepts the forms Flux and Argo users bring', async () => {
    expect(await validate({ SEMVER_RANGE: '>=1.2.0 <2.0.0', PLATFORMS: 'linux/amd64,linux/arm64/v8' })).toStrictEqual([]);
    expect(await validate({ SEMVER_RANGE: '>=1.2.0, <2.0.0', TAG_ORDER: 'semver' })).toStrictEqual([]);
    expect(await validate({ SEMVER_RANGE: '>=1.0.0-0', SEMVER_PRERELEASES: 'true' })).toStrictEqual([]);
  });

  it('shows what was wrong, with an example', async () => {
    expect(await validate({ SEMVER_RANGE: '1.x.y', PLATFORMS: 'arm64' })).toStrictEqual([
      {
        key: 'SEMVER_RANGE',
        message:
          '"1.x.y" is not a semver range (Invalid comparator: 1.x.y); write a range as Flux, Argo CD Image Updater and npm do, e.g. >=1.2.0 <2.0.0, ~1.26 or ^1; alternatives join with ||',
      },
      {
        key: 'PLATFORMS',
        message: '"arm64" is not a platform; list platforms as os/architecture[/variant], separated by commas, e.g. linux/arm64 or linux/amd64,linux/arm64/v8',
      },
    ]);
  });

  it('refuses a range beside another order, or beside a filter that names one tag', async () => {
    expect(await validate({ SEMVER_RANGE: '^1', TAG_ORDER: 'natural' })).toStrictEqual([
      { key: 'SEMVER_RANGE', message: 'a range picks the newest version, but TAG_ORDER is natural; set TAG_ORDER to semver or leave it empty' },
    ]);
    expect(await validate({ SEMVER_RANGE: '^1', DOCKER_TAG_FILTER: '^stable$' })).toStrictEqual([
      {
        key: 'SEMVER_RANGE',
        message: 'the tag filter names the one tag stable, which the material follows whatever its version; clear the range, or widen the filter (e.g. empty)',
      },
    ]);
  });

  it('refuses a pre-release bound when pre-releases are not candidates', async () => {
    expect(await validate({ SEMVER_RANGE: '>=1.0.0-0' })).toStrictEqual([
      {
        key: 'SEMVER_RANGE',
        message:
          'the semver range ">=1.0.0-0" names a pre-release, but pre-releases are not candidates; set SEMVER_PRERELEASES to true to let pre-releases win (what a -0 suffix, as in >=1.0.0-0, asks for in Flux), or write the range without one',
      },
    ]);
  });
});
