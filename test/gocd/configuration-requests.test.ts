import { sidecarApp } from '../support/sidecar-app';

// GoCD reads these once at plugin load; a wrong type (display-order as a number) unloads the plugin.
describe('repository-configuration and package-configuration', () => {
  const { call } = sidecarApp();

  it('declares the old plugin\'s repository keys with their identity flags, plus optional credentials', async () => {
    const response = await call('repository-configuration');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toStrictEqual({
      DOCKER_REGISTRY_URL: { 'display-name': 'Docker Registry URL', 'display-order': '0', required: true, 'part-of-identity': false, secure: false },
      DOCKER_REGISTRY_NAME: { 'display-name': 'Docker Registry Name', 'display-order': '1', required: true, 'part-of-identity': true, secure: false },
      USERNAME: { 'display-name': 'Username', 'display-order': '2', required: false, 'part-of-identity': false, secure: false },
      PASSWORD: { 'display-name': 'Password or access token', 'display-order': '3', required: false, 'part-of-identity': false, secure: true },
      TLS_CA_FILE: {
        'display-name': 'CA certificate file (PEM) on the GoCD server, for a private CA',
        'display-order': '4',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      TLS_SKIP_VERIFY: {
        'display-name': 'Skip TLS certificate verification (true/false; insecure)',
        'display-order': '5',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
    });
  });

  it('declares the old plugin\'s package keys', async () => {
    const response = await call('package-configuration');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toStrictEqual({
      DOCKER_IMAGE: { 'display-name': 'Docker Image', 'display-order': '0', required: true, 'part-of-identity': true, secure: false },
      DOCKER_TAG_FILTER: { 'display-name': 'Tag filter (regular expression)', 'display-order': '1', required: false, 'part-of-identity': true, secure: false },
      // New keys are never part of identity: existing materials keep their fingerprints.
      TAG_EXCLUDE: { 'display-name': 'Exclude tags matching (regular expression)', 'display-order': '2', required: false, 'part-of-identity': false, secure: false },
      TAG_ORDER: {
        'display-name': 'Tag order: natural, semver, newest-build or alphabetical (default natural)',
        'display-order': '3',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      TAG_SORT_KEY: {
        'display-name': 'Sort by part of the tag: regular expression with (?<key>...)',
        'display-order': '4',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      SEMVER_PRERELEASES: {
        'display-name': 'semver order: include pre-releases (true/false)',
        'display-order': '5',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      MAX_TAGS: {
        'display-name': 'Most tags the image may have (default 100000; a longer tag list fails the poll)',
        'display-order': '6',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      SEMVER_RANGE: {
        'display-name': 'Semver range the version must satisfy, e.g. >=1.2.0 <2.0.0, ~1.26 or ^1 (implies semver order)',
        'display-order': '7',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
      PLATFORMS: {
        'display-name': 'Platforms the image must provide, e.g. linux/arm64 or linux/amd64,linux/arm64/v8',
        'display-order': '8',
        required: false,
        'part-of-identity': false,
        secure: false,
      },
    });
  });
});
