// A package repository without USERNAME polls an htpasswd registry with the password from the credentials file;
// an invalid edit of the file keeps the last good credentials and says why in the log.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CredentialsFileStore, credentialsFileSource, CredentialStore } from '../../src/credentials';
import { realRegistryDeps } from '../../src/deps';
import { dispatch } from '../../src/gocd';
import { RegistryClient } from '../../src/registry';
import { capturingLogger } from '../support/deps';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap } from '../support/sidecar-app';

describe('the credentials file, for a package repository without USERNAME', () => {
  const credentials = { username: 'ci-bot', password: 'pa55-word-from-the-file' };
  let registry: StartedRegistry;
  let dir: string;
  let file: string;
  let store: CredentialsFileStore;
  const log = capturingLogger();

  const writeCredentials = (text: string) => {
    writeFileSync(file, text);
    chmodSync(file, 0o600);
  };

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
    await pushImage({ ...registry, credentials }, 'team/app', ['1.0', '1.1']);
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-credentials-file-'));
    file = path.join(dir, 'credentials.yml');
    writeCredentials(`- address: http://${registry.host}\n  username: ${credentials.username}\n  password: ${credentials.password}\n`);
    store = await CredentialsFileStore.open(file, { log, recheckMs: 60_000 });
  });
  afterAll(async () => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    await registry.stop();
  });

  const poll = async () => {
    const registryClient = new RegistryClient(realRegistryDeps(log, new CredentialStore([credentialsFileSource(store)])));
    const body = JSON.stringify({
      'repository-configuration': configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host }),
      'package-configuration': configMap({ DOCKER_IMAGE: 'team/app' }),
    });
    return dispatch({ extension: 'package-repository', version: '1.0', requestName: 'latest-revision', body, requestId: 'test' }, { registry: registryClient, log, now: Date.now });
  };

  it('polls with the password from the file', async () => {
    const reply = await poll();
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).revision).toBe('1.1');
  });

  it('keeps the last good credentials when an edit is invalid, and logs why without the password', async () => {
    writeCredentials(`- address: http://${registry.host}\n  username: ${credentials.username}\n  pasword: typo\n`);
    await store.reload();
    expect(store.status().lastError?.message).toMatch(/pasword/);
    expect(log.lines.some((line) => line.includes('"level":"warn"') && line.includes('pasword'))).toBe(true);

    const reply = await poll();
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).revision).toBe('1.1');
    expect(log.lines.join('\n')).not.toContain(credentials.password);
  });
});
