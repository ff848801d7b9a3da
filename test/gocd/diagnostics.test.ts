// check-repository-connection names cause and fix for each way a registry can be out of reach (issue 4).

import http from 'node:http';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

describe('check-repository-connection diagnostics', () => {
  let tlsRegistry: StartedRegistry;
  let lockedRegistry: StartedRegistry;
  let webServer: http.Server;
  let webUrl: string;
  const { call } = sidecarApp();

  beforeAll(async () => {
    [tlsRegistry, lockedRegistry] = await Promise.all([startRegistry({ tls: true }), startRegistry({ htpasswd: { username: 'u', password: 'p-123456' } })]);
    webServer = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>a wiki</html>'));
    await new Promise<void>((resolve) => webServer.listen(0, '127.0.0.1', resolve));
    webUrl = `http://127.0.0.1:${(webServer.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    webServer.close();
    await Promise.all([tlsRegistry.stop(), lockedRegistry.stop()]);
  });

  const check = async (settings: Record<string, string>) => {
    const response = await call('check-repository-connection', { 'repository-configuration': configMap({ DOCKER_REGISTRY_NAME: 'r', ...settings }) });
    expect(response.status).toBe(200);
    return JSON.parse(response.text) as { status: string; messages: string[] };
  };

  it('names a host that does not resolve', async () => {
    const result = await check({ DOCKER_REGISTRY_URL: 'https://registry.bridge-test.invalid/v2/' });
    expect(result.status).toBe('failure');
    expect(result.messages[0]).toMatch(/^the host name registry\.bridge-test\.invalid does not resolve \(DNS (ENOTFOUND|EAI_AGAIN)\)$/);
    expect(result.messages[1]).toBe("Fix: check the registry URL for typos and the GoCD server's DNS settings");
  });

  it('names a certificate the server does not trust, and the setting that fixes it', async () => {
    const result = await check({ DOCKER_REGISTRY_URL: tlsRegistry.url });
    expect(result.status).toBe('failure');
    expect(result.messages[0]).toMatch(new RegExp(`^TLS with ${tlsRegistry.host.replace(/\./g, '\\.')} failed \\(`));
    expect(result.messages[1]).toMatch(/^Fix: if the registry uses a private CA, set TLS_CA_FILE on the package repository/);
  });

  it('succeeds over TLS once the CA file is set', async () => {
    expect((await check({ DOCKER_REGISTRY_URL: tlsRegistry.url, TLS_CA_FILE: tlsRegistry.caFile! })).status).toBe('success');
  });

  it('says credentials are needed when none are set', async () => {
    expect(await check({ DOCKER_REGISTRY_URL: lockedRegistry.url })).toEqual({
      status: 'failure',
      messages: [`${lockedRegistry.host} requires a username and password (Basic authentication)`, 'Fix: set Username and Password on the package repository'],
    });
  });

  it('says when the URL answers with a web page instead of the V2 API', async () => {
    expect(await check({ DOCKER_REGISTRY_URL: webUrl })).toEqual({
      status: 'failure',
      messages: [
        `${webUrl}/v2/ answered with a text/html page, not the Docker Registry V2 API`,
        "Fix: check the registry URL: it should be the registry's base URL, not a web UI in front of it",
      ],
    });
  });
});
