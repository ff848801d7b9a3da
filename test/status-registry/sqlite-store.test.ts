import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/status-registry';
import { describeStoreContract } from './store-contract';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describeStoreContract('SQLite', {
  async open() {
    const dir = mkdtempSync(path.join(tmpdir(), 'status-sqlite-'));
    dirs.push(dir);
    const location = { engine: 'sqlite' as const, file: path.join(dir, 'data', 'status-registry.sqlite') };
    return { store: await openStore(location), openAnother: () => openStore(location) };
  },
});
