// A registry moves its token service and the old one goes away. The bridge remembered the first challenge per
// host for ever, so every image not polled before failed with "<old token server> refused the connection. Fix:
// check the port in the registry URL", naming the dead token service as if it were the registry, until a restart.

import type http from 'node:http';
import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { testDeps } from '../support/deps';
import { answerJson, ScriptedServer, startScriptedServer } from '../support/scripted-server';
import { rejection } from '../support/thrown';

describe('a registry whose token service moved', () => {
  let registry: ScriptedServer;
  let oldTokenService: ScriptedServer;
  let newTokenService: ScriptedServer;
  let realm = '';
  let acceptedToken = '';

  const tokenService = (token: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => answerJson(res, 200, { token, expires_in: 300 });

  beforeAll(async () => {
    oldTokenService = await startScriptedServer(tokenService('old'));
    newTokenService = await startScriptedServer(tokenService('new'));
    registry = await startScriptedServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${acceptedToken}`) {
        return answerJson(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'WWW-Authenticate': `Bearer realm="${realm}",service="moving"` });
      }
      const name = /^\/v2\/(.+)\/tags\/list/.exec(req.url ?? '')?.[1];
      answerJson(res, 200, name ? { name, tags: ['1.0'] } : {});
    });
    realm = `${oldTokenService.url}/token`;
    acceptedToken = 'old';
  });
  afterAll(async () => {
    await Promise.all([registry.close(), newTokenService.close()]);
  });

  const image = (repository: string) => ({ endpoint: parseRegistryUrl(registry.url), repository });

  it('asks the registry again when the remembered token service fails, and follows it to the new one', async () => {
    const client = new RegistryClient(testDeps());
    expect((await client.listTags(image('team/first'))).tags).toEqual(['1.0']);

    await oldTokenService.close();
    realm = `${newTokenService.url}/token`;
    acceptedToken = 'new';
    expect((await client.listTags(image('team/second'))).tags).toEqual(['1.0']);
    expect(newTokenService.requests).toHaveLength(1);
  });

  it('names the token service, not the registry, when the one the registry names is down', async () => {
    const client = new RegistryClient(testDeps(), { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } });
    realm = `${oldTokenService.url}/token`; // closed in the test before; nothing listens there
    const error = await rejection<Error & { fix: string }>(client.listTags(image('team/third')));
    const registryHost = new URL(registry.url).host;
    expect(error.message).toBe(`the token service of ${registryHost} (${new URL(oldTokenService.url).host}) refused the connection`);
    expect(error.fix).toBe(`check that the token service named by ${registryHost}'s WWW-Authenticate realm is up and reachable from the GoCD server`);
  });
});
