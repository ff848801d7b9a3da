import { materialImages, runImages } from '../../src/cli';
import { capturedIo } from '../support/command-io';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const ENV = {
  GO_PACKAGE_REG_DB_LABEL: '1.10.0',
  GO_PACKAGE_REG_DB_IMAGE_REF: `registry.example.com/backends/database@${DIGEST}`,
  GO_PACKAGE_REG_DB_IMAGE_TAG_REF: 'registry.example.com/backends/database:1.10.0',
  GO_PACKAGE_REG_DB_DOCKER_IMAGE: 'backends/database',
  GO_REPO_REG_DB_DOCKER_REGISTRY_NAME: 'registry.example.com',
  // A material the old plugin polled: no data, so no digest.
  GO_PACKAGE_OLD_WEB_LABEL: '2.1',
  GO_PACKAGE_OLD_WEB_DOCKER_IMAGE: 'team/web',
  GO_REPO_OLD_WEB_DOCKER_REGISTRY_NAME: 'registry.example.com:5000/',
  PATH: '/usr/bin',
};

describe('materialImages', () => {
  it('pins by digest where the revision has one, and rebuilds name:tag for the old plugin\'s materials', () => {
    expect(materialImages(ENV)).toEqual([
      { material: 'OLD_WEB', reference: 'registry.example.com:5000/team/web:2.1' },
      { material: 'REG_DB', reference: `registry.example.com/backends/database@${DIGEST}` },
    ]);
  });
});

describe('gocd-registry-bridge images', () => {
  it('prints one reference per material', async () => {
    const io = capturedIo(ENV);
    expect(await runImages([], io)).toBe(0);
    expect(io.out()).toBe(`registry.example.com:5000/team/web:2.1\nregistry.example.com/backends/database@${DIGEST}\n`);
  });

  it('pulls each, and stops at the first failure', async () => {
    const pulled: string[] = [];
    const io = capturedIo(ENV);
    const code = await runImages(['--pull'], io, async (reference) => {
      pulled.push(reference);
      return reference.includes('team/web') ? 1 : 0;
    });
    expect(code).toBe(1);
    expect(pulled).toEqual(['registry.example.com:5000/team/web:2.1']);
    expect(io.err()).toBe('gocd-registry-bridge: docker pull registry.example.com:5000/team/web:2.1 failed (material OLD_WEB)\n');
  });

  it('selects one material by name', async () => {
    const io = capturedIo(ENV);
    expect(await runImages(['--material', 'reg_db'], io)).toBe(0);
    expect(io.out()).toBe(`registry.example.com/backends/database@${DIGEST}\n`);
  });

  it('says where it looked when the job has no such material', async () => {
    const io = capturedIo({ PATH: '/usr/bin' });
    expect(await runImages([], io)).toBe(1);
    expect(io.err()).toMatch(/^gocd-registry-bridge: no package material of this plugin in the environment \(looked for GO_PACKAGE_<M>_IMAGE_REF/);
  });
});
