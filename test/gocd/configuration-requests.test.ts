import { sidecarApp } from '../support/sidecar-app';

// GoCD reads these once at plugin load; a wrong type (display-order as a number) unloads the plugin (spec §3.3).
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
    });
  });
});
