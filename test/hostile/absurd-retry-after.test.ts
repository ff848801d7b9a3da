// A registry (or a proxy in front of it) answers 429 with a Retry-After no client should honour. The message said
// "retry after 99999999999999980000 s"; it must stay readable, and the poll must fail at once rather than wait.

import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { formatDuration } from '../../src/http';
import { testDeps } from '../support/deps';
import { answerJson, ScriptedServer, startScriptedServer } from '../support/scripted-server';
import { rejection } from '../support/thrown';

describe('a 429 with an absurd Retry-After', () => {
  let registry: ScriptedServer;

  beforeAll(async () => {
    registry = await startScriptedServer((_req, res) => answerJson(res, 429, { errors: [{ code: 'TOOMANYREQUESTS' }] }, { 'Retry-After': '99999999999999999999' }));
  });
  afterAll(() => registry.close());

  it('fails at once with a readable wait', async () => {
    const error = await rejection(new RegistryClient(testDeps()).listTags({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app' }));
    expect(error.message).toMatch(/; it asks to retry after more than a year$/);
    expect(registry.requests).toHaveLength(1);
  });
});

describe('formatDuration', () => {
  it.each([
    [750, '750 ms'],
    [42_000, '42 s'],
    [1_500, '1.5 s'],
    [3_600_000, '60 min'],
    [6 * 3_600_000, '6 h'],
    [3 * 86_400_000, '3 days'],
    [1e23, 'more than a year'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
