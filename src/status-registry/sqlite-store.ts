// The embedded engine: one SQLite file in the data directory, WAL mode, each update in a BEGIN IMMEDIATE
// transaction, which takes the write lock before reading, so two writers (threads or processes) never both read
// the old record. better-sqlite3 is synchronous: a transaction runs to its end before any other code in this
// process, and the busy timeout makes another process wait for the lock instead of failing.

import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BridgeError } from '../errors';
import type { PackageRecord } from './record';
import { indexedColumns, schemaSql, RecordFilter, RecordKey, RecordStore } from './store';

// Another process holding the write lock finishes within milliseconds; this long only when it hangs.
const BUSY_TIMEOUT_MS = 10_000;


export function openSqliteStore(file: string): RecordStore {
  prepareDataFile(file);
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL loses no committed transaction when the process dies (kill -9); only a power cut can.
  db.pragma('synchronous = NORMAL');
  db.exec(schemaSql('INTEGER'));
  const select = db.prepare<[string, string], { doc: string }>('SELECT doc FROM status_records WHERE package = ? AND version = ?');
  const upsert = db.prepare(
    `INSERT INTO status_records (package, version, verdict, action_state, updated_at_ms, doc) VALUES (@package, @version, @verdict, @actionState, @updatedAtMs, @doc)
     ON CONFLICT (package, version) DO UPDATE SET verdict = excluded.verdict, action_state = excluded.action_state, updated_at_ms = excluded.updated_at_ms, doc = excluded.doc`,
  );
  const read = (key: RecordKey): PackageRecord | undefined => {
    const row = select.get(key.package, key.version);
    return row && (JSON.parse(row.doc) as PackageRecord);
  };
  return {
    async update(key, change) {
      const run = db.transaction(() => {
        const { next, result } = change(read(key));
        if (next) upsert.run({ package: key.package, version: key.version, updatedAtMs: Date.now(), ...indexedColumns(next) });
        return result;
      });
      return run.immediate();
    },
    async get(key) {
      return read(key);
    },
    async list(filter: RecordFilter) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.verdict) {
        where.push('verdict = ?');
        params.push(filter.verdict);
      }
      if (filter.actionStates) {
        where.push(`action_state IN (${filter.actionStates.map(() => '?').join(', ') || 'NULL'})`);
        params.push(...filter.actionStates);
      }
      const sql = `SELECT doc FROM status_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at_ms DESC LIMIT ?`;
      const rows = db.prepare<unknown[], { doc: string }>(sql).all(...params, filter.limit ?? -1);
      return rows.map((row) => JSON.parse(row.doc) as PackageRecord);
    },
    async close() {
      db.close();
    },
  };
}

/** The data directory exists and is ours alone (0700); the database file is the user's and closed to others (0600). */
function prepareDataFile(file: string): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  const uid = process.getuid?.();
  for (const [entry, what] of [[dir, 'data directory'], [file, 'database']] as const) {
    const stats = statSync(entry);
    const isOurs = uid === undefined || stats.uid === uid;
    if (!isOurs || (stats.mode & 0o077) !== 0) {
      throw new BridgeError('INVALID_CONFIGURATION', {
        message: `the status registry's ${what} ${entry} is ${isOurs ? 'open to other users' : 'owned by another user'}`,
        fix: `the data is the service's alone: chown it to the user that runs serve and chmod ${what === 'database' ? '600' : '700'} ${entry}`,
      });
    }
  }
}
