// Attack (or a flaky proxy): a registry announces a Content-Length, sends part of the body and resets the
// connection. node-fetch 2 noticed that only for chunked bodies, so each attempt sat until the request timeout and
// the failure read as "did not answer within 30 s", 50 s after the poll began.

import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { testDeps } from '../support/deps';
import { answerJson, ScriptedServer, startScriptedServer } from '../support/scripted-server';
import { rejection } from '../support/thrown';

describe('a registry that resets the connection in the middle of a Content-Length body', () => {
  let registry: ScriptedServer;
  let cutOffAnswers = 0;

  beforeAll(async () => {
    registry = await startScriptedServer((req, res) => {
      if (req.url === '/v2/') return answerJson(res, 200, {});
      if (cutOffAnswers > 0) {
        cutOffAnswers -= 1;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 });
        res.write('{"name":"team/app","tags":["1.0",');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      answerJson(res, 200, { name: 'team/app', tags: ['1.0'] });
    });
  });
  afterAll(() => registry.close());

  // A request timeout far beyond jest's own: a client that waits for it fails this test by timing out.
  const client = () => new RegistryClient(testDeps(), { requestTimeoutMs: 600_000, operationTimeoutMs: 600_000 });
  const image = () => ({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app' });
  const tagRequests = () => registry.requests.filter((r) => r.url.startsWith('/v2/team/app/tags/list')).length;

  it('retries the cut-off answer as a reset and gets the whole list', async () => {
    cutOffAnswers = 1;
    const before = tagRequests();
    expect((await client().listTags(image())).tags).toEqual(['1.0']);
    expect(tagRequests() - before).toBe(2);
  });

  it('names the reset, not a timeout, when every attempt is cut off', async () => {
    cutOffAnswers = 4;
    const before = tagRequests();
    const error = await rejection(client().listTags(image()));
    expect(error.message).toMatch(/^the connection to 127\.0\.0\.1:\d+ failed during GET http:\/\/127\.0\.0\.1:\d+\/v2\/team\/app\/tags\/list \(ECONNRESET\)$/);
    expect(tagRequests() - before).toBe(4); // RETRY_DEFAULTS.maxAttempts
  });
});
