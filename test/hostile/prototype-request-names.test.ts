// Attack: a caller holding the sidecar token names a request, extension or version after a property every plain
// JavaScript object has. A lookup in an object literal found Object.prototype's function and answered 500.

import supertest from 'supertest';
import { sidecarApp, TEST_TOKEN } from '../support/sidecar-app';

const PROTOTYPE_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];

describe('request names that are Object.prototype properties', () => {
  const { app, call } = sidecarApp();
  const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

  it.each(PROTOTYPE_NAMES)('answers request name %s as an unknown request (404)', async (name) => {
    const response = await call(name);
    expect(response.status).toBe(404);
    expect(response.text).toContain(`does not handle "${name}"`);
  });

  it.each(PROTOTYPE_NAMES)('answers extension %s as an unknown extension (404)', async (name) => {
    const response = await supertest(app).post(`/gocd/${name}/1.0/latest-revision`).set(auth).send('');
    expect(response.status).toBe(404);
    expect(response.text).toBe(`gocd-registry-bridge serves the package-repository extension, not "${name}"`);
  });

  it.each(PROTOTYPE_NAMES)('answers version %s as an unknown version (404)', async (name) => {
    const response = await supertest(app).post(`/gocd/package-repository/${name}/latest-revision`).set(auth).send('');
    expect(response.status).toBe(404);
    expect(response.text).toBe(`gocd-registry-bridge serves package-repository version 1.0, not "${name}"`);
  });
});
