import { envName, jobEnvironment, materialName } from '../../src/cli';

describe('envName', () => {
  // GoCD's own PackageMaterialTest and its documentation's worked example.
  it.each([
    [['GO_PACKAGE', materialName('docker-hub', 'nginx.stable'), 'LABEL'], 'GO_PACKAGE_DOCKER_HUB_NGINX_STABLE_LABEL'],
    [['GO_REPO', materialName('docker-hub', 'nginx.stable'), 'REGISTRY_URL'], 'GO_REPO_DOCKER_HUB_NGINX_STABLE_REGISTRY_URL'],
    [['GO_PACKAGE', materialName('docker-hub', 'nginx.stable'), 'digest'], 'GO_PACKAGE_DOCKER_HUB_NGINX_STABLE_DIGEST'],
    [['GO_MATERIAL', materialName('docker-hub', 'nginx.stable'), 'HAS_CHANGED'], 'GO_MATERIAL_DOCKER_HUB_NGINX_STABLE_HAS_CHANGED'],
    [['GO_PACKAGE', 'tw-dev:go-agent', 'LABEL'], 'GO_PACKAGE_TW_DEV_GO_AGENT_LABEL'],
    [['GO_REPO', 'tw-dev:go-agent', 'k1'], 'GO_REPO_TW_DEV_GO_AGENT_K1'],
  ])('names %j %s', (parts, expected) => {
    expect(envName(...parts)).toBe(expected);
  });
});

describe('jobEnvironment', () => {
  it('lists what GoCD sets, in its order, with later names winning and secure values hidden', () => {
    const env = jobEnvironment(
      'r_p',
      { repository: { DOCKER_REGISTRY_NAME: 'reg', PASSWORD: 's3cret' }, package: { DOCKER_IMAGE: 'a/b' }, secureKeys: new Set(['PASSWORD']) },
      { revision: '1.0', timestamp: 't', data: { TAG: '1.0', DOCKER_IMAGE: 'from-data' } },
    );
    expect([...env]).toEqual([
      ['GO_PACKAGE_R_P_LABEL', '1.0'],
      ['GO_REPO_R_P_DOCKER_REGISTRY_NAME', 'reg'],
      ['GO_REPO_R_P_PASSWORD', '(secure: not shown)'],
      ['GO_PACKAGE_R_P_DOCKER_IMAGE', 'from-data'],
      ['GO_PACKAGE_R_P_TAG', '1.0'],
      ['GO_MATERIAL_R_P_HAS_CHANGED', 'true'],
    ]);
  });
});
