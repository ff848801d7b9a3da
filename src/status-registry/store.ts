// One interface over the engines that hold the records: SQLite in the data directory (one node) and PostgreSQL
// (several nodes on one database). An engine gives one thing, an atomic read-change-write of one record; the
// rules (record.ts) run inside it, so every engine passes the same contract tests. Engines are loaded on first
// use: the sidecar inside the jar never runs the status registry and carries neither driver.

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

export type StoreLocation = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

/** The engine for a location, its driver loaded now. */
export async function openStore(location: StoreLocation): Promise<RecordStore> {
  if (location.engine === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite-store');
    return openSqliteStore(location.file);
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
