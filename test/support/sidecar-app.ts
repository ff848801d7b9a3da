import supertest from 'supertest';
import { CredentialStore } from '../../src/credentials';
import { realRegistryDeps } from '../../src/deps';
import { DroneRegistryExtension, DroneRegistryExtensionOptions } from '../../src/drone';
import { RegistryClient } from '../../src/registry';
import { AppOptions, createApp, Observability } from '../../src/server';
import { capturingLogger } from './deps';

export const TEST_TOKEN = 'test-token-0123456789abcdef';
export const FIXED_NOW = Date.parse('2026-03-02T08:00:12.345Z');

export interface SidecarAppSettings extends Pick<AppOptions, 'allowRemoteGoCd' | 'statusToken' | 'peerAddress' | 'statusRegistry'> {
  /** The Drone registry extension's settings (serve --drone-registry-secret-file …); it logs and counts into the app's. */
  drone?: Omit<DroneRegistryExtensionOptions, 'log' | 'observe'>;
}

/**
 * The sidecar's request listener with real registry access, a fixed clock and a readable log; `settings` sets the
 * policies' settings (a status token, --allow-remote-gocd, the peer address a test plays) and the Drone extension.
 */
export function sidecarApp(settings: SidecarAppSettings = {}) {
  const { drone: droneSettings, ...access } = settings;
  const log = capturingLogger();
  const observability = new Observability(log);
  const drone = droneSettings && new DroneRegistryExtension({ ...droneSettings, log, observe: observability.observeDroneRequest });
  // No credential sources: what a developer's ~/.docker holds must not change what the tests see.
  const registry = new RegistryClient(realRegistryDeps(log, new CredentialStore([]), observability.observeRegistry));
  const context = { registry, log, now: () => FIXED_NOW, observePoll: observability.observePoll };
  const options: AppOptions = { ...access, token: TEST_TOKEN, version: '0.0.0-test', context, log, observability, drone };
  const app = createApp(options);
  return {
    app,
    options,
    log,
    observability,
    /** POST one GoCD message the way the shim forwards it. */
    call: (requestName: string, body?: unknown) => {
      const request = supertest(app)
        .post(`/gocd/package-repository/1.0/${requestName}`)
        .set('Authorization', `Bearer ${TEST_TOKEN}`)
        .set('Content-Type', 'application/json');
      return body === undefined ? request.send('') : request.send(typeof body === 'string' ? body : JSON.stringify(body));
    },
  };
}

/** GoCD's configuration-map shape: {"KEY": {"value": "..."}}. */
export function configMap(values: Record<string, string>): Record<string, { value: string }> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
}
