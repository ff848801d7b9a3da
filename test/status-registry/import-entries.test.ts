// status-registry import: drone-downstream-registry's entry files (spec §3) into the store, through the CLI.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runStatusRegistry } from '../../src/cli';
import { openStore } from '../../src/status-registry';
import { capturedIo } from '../support/command-io';

const HANDLERS = {
  success: { repository: 'max-vasin/drone-playground', build: 17, environment: 'downstream-success', server: 'http://ci.example' },
  failure: { repository: 'max-vasin/drone-playground', build: 17, environment: 'downstream-failure', server: 'http://ci.example' },
};
const SUB1 = 'max-vasin/drone-playground-sub1';
const SUB2 = 'max-vasin/drone-playground-sub2';

describe('status-registry import', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'status-import-'));
    mkdirSync(path.join(dir, 'registry'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (file: string, value: object | string) => writeFileSync(path.join(dir, 'registry', file), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  const runImport = async () => {
    const io = capturedIo();
    const code = await runStatusRegistry(['import', path.join(dir, 'registry'), '--data-dir', path.join(dir, 'data')], io);
    return { code, out: io.out(), err: io.err() };
  };

  it('imports waiting, executed and never-executed entries with the names they hold, not their file names', async () => {
    entry('drone-playground@10.0.1', { package: 'drone-playground', version: '10.0.1', repositories: [SUB1, SUB2], builds: { [SUB1]: { status: 'success', number: 41 } }, handlers: { ...HANDLERS, executedHandler: '' } });
    entry('@acmeui@1.2.3', { package: '@acme/ui', version: '1.2.3', repositories: [SUB1], builds: { [SUB1]: { status: 'success', number: 7 } }, handlers: { ...HANDLERS, executedHandler: 'success' } });
    entry('lost@1', { package: 'lost', version: '1', repositories: [SUB1, SUB2], builds: { [SUB2]: { status: 'failure', number: 3 } }, handlers: { ...HANDLERS, executedHandler: '' } });
    entry('torn@1', '{"package": "torn", "versi');
    const first = await runImport();
    expect([first.code, first.out, first.err]).toEqual([1, 'imported 3, already present 0, unreadable 1\n', expect.stringContaining('torn@1: ')]);

    const store = await openStore({ engine: 'sqlite', file: path.join(dir, 'data', 'status-registry.sqlite') });
    try {
      const waiting = await store.get({ package: 'drone-playground', version: '10.0.1' });
      expect([waiting?.wave, waiting?.builds.map((b) => [b.repo, b.status, b.number]), waiting?.action.state, waiting?.handlers.success]).toEqual([
        1,
        [[SUB1, 'success', 41]],
        'none',
        { kind: 'drone-0.8', server: 'http://ci.example', repository: 'max-vasin/drone-playground', build: 17, environment: 'downstream-success', tokenEnv: 'STATUS_REGISTRY_DRONE_TOKEN' },
      ]);
      expect((await store.get({ package: '@acme/ui', version: '1.2.3' }))?.action).toEqual(expect.objectContaining({ state: 'done', verdict: 'success' }));
      expect((await store.get({ package: 'lost', version: '1' }))?.action).toEqual(expect.objectContaining({ state: 'failed', verdict: 'failure', lastError: expect.stringContaining('action/retry') }));
    } finally {
      await store.close();
    }
    rmSync(path.join(dir, 'registry', 'torn@1'));
    expect((await runImport()).out).toBe('imported 0, already present 3, unreadable 0\n');
  });

  it('says why the store cannot be opened, with the fix, instead of a stack', async () => {
    const io = capturedIo();
    const code = await runStatusRegistry(['import', path.join(dir, 'registry'), '--status-registry-db', 'postgres://bridge:pw@db/status'], io);
    expect([code, io.err()]).toEqual([1, expect.stringContaining('holds a password, which every user of this machine can read in the process list. Fix: drop it')]);
  });
});
