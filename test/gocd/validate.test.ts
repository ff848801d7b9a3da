import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeServerCertificate } from '../support/certs';
import { configMap, sidecarApp } from '../support/sidecar-app';

const VALID_REPOSITORY = { DOCKER_REGISTRY_URL: 'https://registry.example.com/v2/', DOCKER_REGISTRY_NAME: 'registry.example.com' };

describe('validate-repository-configuration', () => {
  const { call, log } = sidecarApp();
  const validate = async (values: Record<string, string>) => {
    const response = await call('validate-repository-configuration', { 'repository-configuration': configMap(values) });
    expect(response.status).toBe(200);
    return JSON.parse(response.text);
  };

  it('answers [] for a valid repository, with or without credentials', async () => {
    expect(await validate(VALID_REPOSITORY)).toStrictEqual([]);
    expect(await validate({ ...VALID_REPOSITORY, USERNAME: 'ci', PASSWORD: 'pw-1234' })).toStrictEqual([]);
  });

  it('reports every missing required key, treating absent like empty', async () => {
    expect(await validate({ DOCKER_REGISTRY_NAME: '' })).toStrictEqual([
      { key: 'DOCKER_REGISTRY_URL', message: 'required: the registry URL, e.g. https://registry.example.com/v2/' },
      { key: 'DOCKER_REGISTRY_NAME', message: 'required: the registry as jobs name it in image references, e.g. registry.example.com:5000' },
    ]);
  });

  it('explains a bad URL, a bad name, half credentials and an unknown key', async () => {
    expect(
      await validate({ DOCKER_REGISTRY_URL: 'ftp://x', DOCKER_REGISTRY_NAME: 'https://registry.example.com', PASSWORD: 'secret-pw', EXTRA: '1' }),
    ).toStrictEqual([
      { key: 'EXTRA', message: 'unknown setting "EXTRA"; this plugin understands DOCKER_REGISTRY_URL, DOCKER_REGISTRY_NAME, USERNAME, PASSWORD, TLS_CA_FILE, TLS_SKIP_VERIFY' },
      { key: 'DOCKER_REGISTRY_URL', message: 'the registry URL "ftp://x" uses ftp, not http or https; use an https:// (or http://) URL' },
      {
        key: 'DOCKER_REGISTRY_NAME',
        message: '"https://registry.example.com" is not a registry name; use host[:port] as in docker pull, without http:// (e.g. registry.example.com:5000)',
      },
      { key: 'USERNAME', message: 'required when a password is set' },
    ]);
    expect(log.lines.join('\n')).not.toContain('secret-pw');
  });

  it('checks the TLS settings', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bridge-validate-ca-'));
    try {
      const { caFile } = makeServerCertificate(dir);
      expect(await validate({ ...VALID_REPOSITORY, TLS_CA_FILE: caFile, TLS_SKIP_VERIFY: 'False' })).toStrictEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await validate({ ...VALID_REPOSITORY, TLS_CA_FILE: 'ca.pem', TLS_SKIP_VERIFY: 'yes' })).toStrictEqual([
      { key: 'TLS_CA_FILE', message: '"ca.pem" is not an absolute path; enter the full path of a PEM file on the GoCD server' },
      {
        key: 'TLS_SKIP_VERIFY',
        message: '"yes" is not true or false (empty means false)',
      },
    ]);
  });

  it('reads the CA file when saved, and names the path, the registry and the fix', async () => {
    expect(await validate({ ...VALID_REPOSITORY, TLS_CA_FILE: '/nonexistent/gocd-registry-bridge/ca.pem' })).toStrictEqual([
      {
        key: 'TLS_CA_FILE',
        message:
          'the CA file /nonexistent/gocd-registry-bridge/ca.pem configured for registry.example.com does not exist (ENOENT); ' +
          "put the registry's CA certificate (PEM) at that path on the GoCD server, readable by the GoCD user",
      },
    ]);
  });
});

describe('validate-package-configuration', () => {
  const { call } = sidecarApp();
  const validate = async (values: Record<string, string>) => {
    const response = await call('validate-package-configuration', {
      'repository-configuration': configMap(VALID_REPOSITORY),
      'package-configuration': configMap(values),
    });
    expect(response.status).toBe(200);
    return JSON.parse(response.text);
  };

  it('answers [] for a valid image and filter', async () => {
    expect(await validate({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: '^\\d+\\.\\d+$' })).toStrictEqual([]);
    expect(await validate({ DOCKER_IMAGE: 'backends/database', DOCKER_TAG_FILTER: '^(\\d+)+$' })).toStrictEqual([]); // linear time: nothing to fear
    expect(await validate({ DOCKER_IMAGE: 'backends/database' })).toStrictEqual([]);
  });

  it('explains an invalid image name and an invalid regex', async () => {
    expect(await validate({ DOCKER_IMAGE: 'Backends/Database', DOCKER_TAG_FILTER: '([' })).toStrictEqual([
      { key: 'DOCKER_IMAGE', message: '"Backends/Database" is not a valid image name; image names are lower case: use "backends/database"' },
      {
        key: 'DOCKER_TAG_FILTER',
        message:
          'the tag filter "([" is not a valid regular expression (Invalid regular expression: /([/: Unterminated character class); ' +
          'fix the pattern (JavaScript regular expression syntax, e.g. ^v?\\d+\\.\\d+\\.\\d+$)',
      },
    ]);
  });

  it('checks the ordering settings', async () => {
    expect(await validate({ DOCKER_IMAGE: 'a/b', TAG_ORDER: 'SemVer', SEMVER_PRERELEASES: 'true', TAG_SORT_KEY: '^v(?<key>.+)$', TAG_EXCLUDE: '-rc' })).toStrictEqual([]);
    expect(await validate({ DOCKER_IMAGE: 'a/b', TAG_ORDER: 'newest', SEMVER_PRERELEASES: 'maybe', TAG_SORT_KEY: '^v(.+)$', TAG_EXCLUDE: '^(?=a)(a+)+$' })).toStrictEqual([
      {
        key: 'TAG_EXCLUDE',
        // The middle says whether it is tried again, which depends on how much CPU the test machine spared.
        message: expect.stringMatching(
          /^the exclusion filter "\^\(\?=a\)\(a\+\)\+\$" takes longer than 100 ms over 5 test tags.*; the pattern uses a lookahead \(\?=…\), which only JavaScript's backtracking engine runs, .* write it without a lookahead \(\?=…\) so that it runs on the linear-time engine \(RE2\), or simplify its quantifiers$/,
        ),
      },
      { key: 'TAG_SORT_KEY', message: 'the sort key pattern "^v(.+)$" has no named group "key"; capture the sort key as (?<key>…), e.g. ^build-(?<key>\\d+)$' },
      { key: 'TAG_ORDER', message: '"newest" is not an order; use one of natural, semver, newest-build, alphabetical (empty means natural)' },
      { key: 'SEMVER_PRERELEASES', message: '"maybe" is not true or false (empty means false)' },
    ]);
  });

  it('takes MAX_TAGS as a whole number of tags, from 1 to 2000000', async () => {
    for (const value of ['1', '250000', '2000000', '']) expect(await validate({ DOCKER_IMAGE: 'a/b', MAX_TAGS: value })).toStrictEqual([]);
    for (const value of ['0', '2000001', '100,000', '1e5', '-5', 'many']) {
      expect(await validate({ DOCKER_IMAGE: 'a/b', MAX_TAGS: value })).toStrictEqual([
        { key: 'MAX_TAGS', message: `"${value}" is not a number of tags from 1 to 2000000; enter a whole number without separators (empty means 100000)` },
      ]);
    }
  });

  it('requires the image', async () => {
    expect(await validate({})).toStrictEqual([{ key: 'DOCKER_IMAGE', message: 'required: the image name without registry and tag, e.g. backends/database' }]);
  });
});
