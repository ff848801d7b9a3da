import { openStore } from '../../src/status-registry';
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
