// The sidecar with the Drone registry extension on, over a credentials file in a temporary folder, listening on
// 127.0.0.1: what a runner's DRONE_REGISTRY_PLUGIN_ENDPOINT points at.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CredentialsFileStore } from '../../src/credentials';
import type { CredentialsFileStoreOptions } from '../../src/credentials/credentials-file';
import { DroneRegistryExtensionOptions, SIGNATURE_DEFAULTS } from '../../src/drone';
import { sidecarApp } from './sidecar-app';

export const DRONE_SECRET = 'drone-shared-secret-0123456789abcdef'; // 36 characters: long enough for aesgcm

export interface DroneSidecarSettings extends Partial<Omit<DroneRegistryExtensionOptions, 'log' | 'observe' | 'credentials'>> {
  /** The credentials file's YAML. */
  credentials: string;
  store?: Partial<Omit<CredentialsFileStoreOptions, 'log'>>;
}

export async function startDroneSidecar(settings: DroneSidecarSettings) {
  const { credentials, store: storeOptions, ...drone } = settings;
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-drone-'));
  const file = path.join(dir, 'credentials.yml');
  /** Writes the credentials file as it must be: the sidecar's own, unreadable by others. */
  const writeCredentials = (text: string) => {
    writeFileSync(file, text);
    chmodSync(file, 0o600);
  };
  writeCredentials(credentials);
  const sidecar = sidecarApp({
    drone: {
      ...SIGNATURE_DEFAULTS,
      secrets: [DRONE_SECRET],
      ...drone,
      credentials: { get list() { return store.list; } },
    },
  });
  const store = await CredentialsFileStore.open(file, { log: sidecar.log, ...storeOptions });
  const server = createServer(sidecar.app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...sidecar,
    store,
    file,
    writeCredentials,
    base: `http://127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}/drone/registry`,
    close: async () => {
      store.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
