import { createServer } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import supertest from 'supertest';
import { sidecarApp, TEST_TOKEN } from '../support/sidecar-app';

describe('sidecar HTTP surface', () => {
  const { app, call, log } = sidecarApp();

  it('answers /health without a token', async () => {
    const response = await supertest(app).get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', version: '0.0.0-test' });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token', `Bearer ${TEST_TOKEN}x`],
    ['the token without the Bearer scheme', TEST_TOKEN],
  ])('refuses GoCD calls with %s', async (_name, authorization) => {
    const request = supertest(app).post('/gocd/package-repository/1.0/repository-configuration');
    const response = await (authorization ? request.set('Authorization', authorization) : request).send('');
    expect(response.status).toBe(401);
    expect(response.text).toBe('gocd-registry-bridge: missing or wrong sidecar token');
  });

  it.each([
    ['POST', '/gocd/package-repository/1.0'],
    ['GET', '/nothing-here'],
  ])('answers %s %s with 404 naming the route, token or not', async (method, path) => {
    for (const authorization of [undefined, `Bearer ${TEST_TOKEN}`]) {
      const request = method === 'GET' ? supertest(app).get(path) : supertest(app).post(path);
      const response = await (authorization ? request.set('Authorization', authorization) : request);
      expect(response.status).toBe(404);
      expect(response.text).toBe(`gocd-registry-bridge: no route ${method} ${path}`);
    }
  });

  it('answers GET on the GoCD route with 405 and Allow: POST, token or not', async () => {
    for (const authorization of [undefined, `Bearer ${TEST_TOKEN}`]) {
      const request = supertest(app).get('/gocd/package-repository/1.0/latest-revision');
      const response = await (authorization ? request.set('Authorization', authorization) : request);
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('POST');
      expect(response.text).toBe('gocd-registry-bridge: GET is not allowed on /gocd/package-repository/1.0/latest-revision; use POST');
    }
  });

  it('names the messages it handles when asked for an unknown one', async () => {
    const response = await call('go.plugin-settings.get-configuration');
    expect(response.status).toBe(404);
    expect(response.text).toBe(
      'gocd-registry-bridge does not handle "go.plugin-settings.get-configuration"; it handles repository-configuration, package-configuration, ' +
        'validate-repository-configuration, validate-package-configuration, check-repository-connection, check-package-connection, latest-revision, latest-revision-since',
    );
  });

  it('refuses another extension or version', async () => {
    const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
    expect((await supertest(app).post('/gocd/scm/1.0/latest-revision').set(auth).send('')).text).toBe(
      'gocd-registry-bridge serves the package-repository extension, not "scm"',
    );
    expect((await supertest(app).post('/gocd/package-repository/2.0/latest-revision').set(auth).send('')).text).toBe(
      'gocd-registry-bridge serves package-repository version 1.0, not "2.0"',
    );
  });

  it('answers malformed JSON with the parse error, not a stack trace', async () => {
    const response = await call('latest-revision', '{"repository-configuration": ');
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/^the body of latest-revision is not valid JSON \(.+\)\. Fix: /);
    expect(response.text).not.toMatch(/\n\s+at /);
  });

  it('answers a body of the wrong shape with what is wrong', async () => {
    const response = await call('validate-repository-configuration', { 'repository-configuration': { DOCKER_REGISTRY_URL: { value: 5 } } });
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/body\/repository-configuration\/DOCKER_REGISTRY_URL\/value must be string/);
  });

  it('answers a missing body of a message that needs one', async () => {
    const response = await call('latest-revision');
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/^GoCD sent latest-revision without a body\. Fix: /);
  });

  it('reports a bad body to check-* as a failed check, which GoCD shows as such', async () => {
    const response = await call('check-repository-connection');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toStrictEqual({
      status: 'failure',
      messages: [
        'GoCD sent check-repository-connection without a body',
        'Fix: this request did not come from a GoCD server speaking package-repository 1.0; check what calls the sidecar',
      ],
    });
  });

  it('logs a call the shim abandoned halfway through its body as aborted, not as an internal error', async () => {
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /gocd/package-repository/1.0/latest-revision HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n` +
        'Content-Length: 100\r\n\r\n{"repository-',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.close();
    const entries = log.lines.map((line) => JSON.parse(line) as { level: string; msg: string; requestName?: string });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'request aborted before its body arrived', requestName: 'latest-revision' }));
    expect(entries.filter((entry) => entry.level === 'error')).toEqual([]);
  });

  it('refuses an oversized body without a stack trace', async () => {
    const response = await call('latest-revision', `"${'x'.repeat(2 * 1024 * 1024)}"`);
    expect(response.status).toBe(413);
    expect(response.text).toBe('gocd-registry-bridge: request entity too large');
  });
});
