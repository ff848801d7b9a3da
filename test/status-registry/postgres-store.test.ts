import { Client } from 'pg';
import { openStore, PackageRecord } from '../../src/status-registry';
import { registerWave } from '../../src/status-registry/record';
import { createDatabase, PostgresServer, startPostgres } from '../support/postgres-server';
import { describeStoreContract } from './store-contract';

let server: PostgresServer;
let databases = 0;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

describeStoreContract('PostgreSQL', {
  async open() {
    databases += 1;
    const location = { engine: 'postgres' as const, url: await createDatabase(server, `contract_${databases}`) };
    return { store: await openStore(location), openAnother: () => openStore(location) };
  },
});

describe('the PostgreSQL store under concurrent updates', () => {
  it('writes the updates that wait for a connection together, each landing on its own record', async () => {
    const url = await createDatabase(server, 'batched_updates');
    const store = await openStore({ engine: 'postgres', url });
    const keys = Array.from({ length: 30 }, (_, i) => ({ package: 'batch', version: `1.0.${i}` }));
    const touch = (key: { package: string; version: string }, marker: string) => (current: PackageRecord | undefined) => {
      const registered = current ?? registerWave(undefined, key, { repositories: [], handlers: {}, failFast: true, allowUnlisted: false }, 1000);
      const next = { ...registered, repositories: [marker] };
      return { next, result: undefined };
    };
    try {
      for (const key of keys) await store.update(key, touch(key, 'first'));
      await Promise.all(keys.map((key) => store.update(key, touch(key, `second ${key.version}`))));
      const stored = await Promise.all(keys.map((key) => store.get(key)));
      expect(stored.map((record) => record?.repositories)).toEqual(keys.map((key) => [`second ${key.version}`]));
      // Rows written by one statement share its transaction id: 30 updates, a few statements.
      const client = new Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ statements: string }>("SELECT count(DISTINCT xmin::text) AS statements FROM status_records WHERE package = 'batch'");
      await client.end();
      expect(Number(rows[0]!.statements)).toBeLessThanOrEqual(10);
    } finally {
      await store.close();
    }
  });
});
