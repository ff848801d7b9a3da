import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, StatusRegistry } from '../../src/status-registry';
import { capturingLogger } from '../support/deps';
import { describeStoreContract } from './store-contract';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const freshDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'status-files-'));
  dirs.push(dir);
  return dir;
};

describeStoreContract('the original\'s registry directory (file mode)', {
  mergesNames: true,
  async open() {
    const location = { engine: 'files' as const, dir: freshDir() };
    return { store: await openStore(location), openAnother: () => openStore(location) };
  },
});

describe('the file mode', () => {
  it('writes the original\'s file name and shape, which the original plugin reads (spec §3)', async () => {
    const dir = freshDir();
    const store = await openStore({ engine: 'files', dir });
    const registry = new StatusRegistry({ store, log: capturingLogger(), secretsDir: dir, env: {}, uid: process.getuid?.() });
    const handler = { kind: 'drone-0.8', server: 'http://127.0.0.1:1', repository: 'max-vasin/drone-playground', build: 17, environment: 'downstream-success', tokenEnv: 'STATUS_REGISTRY_DRONE_TOKEN' };
    await registry.register({ package: '@acme/ui', version: '1.2.3' }, JSON.stringify({ repositories: ['o/one', 'o/two'], handlers: { success: handler } }));
    await registry.report({ package: '@acme/ui', version: '1.2.3' }, JSON.stringify({ repo: 'o/one', status: 'success', number: 41 }));
    expect(readdirSync(dir)).toEqual(['@acmeui@1.2.3']);
    const entry = JSON.parse(readFileSync(path.join(dir, '@acmeui@1.2.3'), 'utf8'));
    expect(entry).toMatchObject({
      package: '@acme/ui',
      version: '1.2.3',
      repositories: ['o/one', 'o/two'],
      builds: { 'o/one': { status: 'success', number: 41 } },
      handlers: { success: { repository: 'max-vasin/drone-playground', build: 17, environment: 'downstream-success', server: 'http://127.0.0.1:1' }, executedHandler: '' },
    });
    await registry.stop();
  });
});
