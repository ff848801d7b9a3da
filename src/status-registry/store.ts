// One interface over the engines that hold the records: SQLite in the data directory (one node) and PostgreSQL
// (several nodes on one database). An engine gives one thing, an atomic read-change-write of one record; the
// rules (record.ts) run inside it, so every engine passes the same contract tests. Engines are loaded on first
// use: the sidecar inside the jar never runs the status registry and carries neither driver.

import os from 'node:os';
import path from 'node:path';
import { BridgeError } from '../errors';
import { ActionState, PackageRecord, Verdict, verdictOf } from './record';

export interface RecordKey {
  package: string;
  version: string;
}

/** What change() decides: the record to write (none: leave it as it was) and what the caller gets back. */
export interface Change<T> {
  next?: PackageRecord;
  result: T;
}

export interface RecordFilter {
  verdict?: Verdict;
  actionStates?: readonly ActionState[];
  /** Most recently updated first; at most this many. */
  limit?: number;
}

export interface RecordStore {
  /**
   * Runs change on the record under key inside one transaction that holds the record against every other writer,
   * in this process and in others; whatever change throws rolls the transaction back and reaches the caller.
   */
  update<T>(key: RecordKey, change: (current: PackageRecord | undefined) => Change<T>): Promise<T>;
  get(key: RecordKey): Promise<PackageRecord | undefined>;
  list(filter: RecordFilter): Promise<PackageRecord[]>;
  close(): Promise<void>;
}

/** files: the original plugin's registry directory (compatibility mode of the CLI). */
export type StoreLocation = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string } | { engine: 'files'; dir: string };

/**
 * Where the status registry keeps its records: PostgreSQL when --status-registry-db names one (several nodes),
 * otherwise SQLite in the data directory (--data-dir, default ~/.local/share/gocd-registry-bridge). A password in the
 * URL is refused: argv is visible to every user of the machine (ps); pg reads PGPASSWORD and ~/.pgpass instead.
 */
export function statusRegistryLocation(dataDir: string, dbUrl: string | undefined): StoreLocation {
  if (dbUrl === undefined) return { engine: 'sqlite', file: path.join(dataDir, 'status-registry.sqlite') };
  let url: URL;
  try {
    url = new URL(dbUrl);
  } catch {
    throw new BridgeError('INVALID_CONFIGURATION', { message: '--status-registry-db is not a URL', fix: 'give postgres://USER@HOST:PORT/DATABASE' });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new BridgeError('INVALID_CONFIGURATION', { message: `--status-registry-db: ${url.protocol} is not a PostgreSQL URL`, fix: 'give postgres://USER@HOST:PORT/DATABASE (leave it out for SQLite in --data-dir)' });
  if (url.password !== '') throw new BridgeError('INVALID_CONFIGURATION', { message: '--status-registry-db holds a password, which every user of this machine can read in the process list', fix: 'drop it from the URL and set PGPASSWORD in the environment of serve, or put it in ~/.pgpass' });
  return { engine: 'postgres', url: dbUrl };
}

/** ~/.local/share/gocd-registry-bridge (XDG_DATA_HOME when set). */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'gocd-registry-bridge');
}

/** The engine for a location, its driver loaded now. */
export async function openStore(location: StoreLocation): Promise<RecordStore> {
  if (location.engine === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite-store');
    return openSqliteStore(location.file);
  }
  if (location.engine === 'files') {
    const { openFileStore } = await import('./file-store');
    return openFileStore(location.dir);
  }
  const { openPostgresStore } = await import('./postgres-store');
  return openPostgresStore(location.url);
}

/** The columns every engine keeps beside the JSON record, for list() filters. */
export function indexedColumns(record: PackageRecord): { verdict: Verdict; actionState: ActionState; doc: string } {
  return { verdict: verdictOf(record), actionState: record.action.state, doc: JSON.stringify(record) };
}

/** The one table, in the SQL both engines speak; only the 64-bit integer type is named differently. */
export function schemaSql(integer64: 'INTEGER' | 'BIGINT'): string {
  return `
CREATE TABLE IF NOT EXISTS status_records (
  package TEXT NOT NULL,
  version TEXT NOT NULL,
  verdict TEXT NOT NULL,
  action_state TEXT NOT NULL,
  updated_at_ms ${integer64} NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (package, version)
);
CREATE INDEX IF NOT EXISTS status_records_by_state ON status_records (verdict, action_state, updated_at_ms);
`;
}
