import supertest from 'supertest';
import { CredentialStore } from '../../src/credentials';
import { realRegistryDeps } from '../../src/deps';
import { RegistryClient } from '../../src/registry';
import { AppOptions, createApp, Observability } from '../../src/server';
import { capturingLogger } from './deps';

export const TEST_TOKEN = 'test-token-0123456789abcdef';
export const FIXED_NOW = Date.parse('2026-03-02T08:00:12.345Z');

/**
 * The sidecar's request listener with real registry access, a fixed clock and a readable log; `access` sets the
 * policies' settings (a status token, --allow-remote-gocd, the peer address a test plays).
 */
export function sidecarApp(access: Pick<AppOptions, 'allowRemoteGoCd' | 'statusToken' | 'peerAddress'> = {}) {
  const log = capturingLogger();
  const observability = new Observability(log);
  // No credential sources: what a developer's ~/.docker holds must not change what the tests see.
  const registry = new RegistryClient(realRegistryDeps(log, new CredentialStore([]), observability.observeRegistry));
  const context = { registry, log, now: () => FIXED_NOW, observePoll: observability.observePoll };
  const options: AppOptions = { ...access, token: TEST_TOKEN, version: '0.0.0-test', context, log, observability };
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
