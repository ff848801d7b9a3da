// The engine for several nodes: PostgreSQL through pg. Updates are compare-and-set on the row version (xmin, the
// id of the transaction that last wrote the row), with no transaction held open across round trips:
// - this process remembers each record it last read or wrote with its version, so an update usually takes one round
//   trip: UPDATE … WHERE xmin = <remembered> RETURNING the new version;
// - when another node wrote in between (nothing updated), or nothing is remembered, it reads the record afresh and
//   tries once more the same way (a first write: INSERT … ON CONFLICT DO NOTHING);
// - losing that race too means others are writing the same record now: the update then runs under a row lock
//   (SELECT … FOR UPDATE in a transaction), so a burst on one record queues instead of retrying without end.
// A remembered record only ever starts a write that PostgreSQL checks; an answer that writes nothing (a refusal, a
// repeat) is always computed from a fresh read. So two serve processes on one database apply reports and take the
// action's claim one after the other.
// Compare-and-set updates that wait for a connection go together: one statement writes each row whose version still
// matches (group commit). Under load a third of serve's time was socket writes, one per statement (P6).

import { LRUCache } from 'lru-cache';
import { Pool, PoolClient } from 'pg';
import { cacheKey } from '../cache-key';
import type { PackageRecord } from './record';
import { Change, indexedColumns, schemaSql, RecordFilter, RecordKey, RecordStore } from './store';

const UNIQUE_VIOLATION = '23505';
// Two processes that start together both run CREATE TABLE IF NOT EXISTS, which can still collide in the catalog:
// one advisory lock (an arbitrary fixed number) makes them take turns.
const SCHEMA_LOCK = 0x5747_0012;
const POOL_SIZE = 3;
// Rows one statement writes at most: 20 reports in flight (P6) rarely queue more.
const MAX_BATCH = 64;

export async function openPostgresStore(url: string): Promise<RecordStore> {
  // An update is one round trip and holds no lock, so few connections keep up; more only queue inside PostgreSQL and
  // its host's CPUs (P6 on 2 cores, two runs each: 2 or 3 connections p99 43-47 ms, 5 41-69 ms, 8 54-65 ms).
  const pool = new Pool({ connectionString: url, max: POOL_SIZE });
  // An idle connection the server dropped must not take the process down; the next query opens another.
  pool.on('error', () => undefined);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(schemaSql('BIGINT'));
  });
  const known = new LRUCache<string, Versioned>({ max: REMEMBERED_RECORDS });
  const remember = (key: RecordKey, doc: string, version: string | undefined): void => {
    if (version === undefined) known.delete(cacheKey(key.package, key.version));
    else known.set(cacheKey(key.package, key.version), { doc, version });
  };
  const updateIfUnchanged = batchedUpdates(pool, POOL_SIZE);
  /** The write of next over the row at version, or of a first row: true when it landed. */
  const write = async (key: RecordKey, next: PackageRecord, version: string | undefined): Promise<boolean> => {
    const { values, doc } = rowOf(key, next);
    const written = version === undefined ? (await pool.query<{ version: string }>({ ...INSERT_NEW, values })).rows[0]?.version : await updateIfUnchanged(values, version);
    remember(key, doc, written);
    return written !== undefined;
  };
  return {
    async update(key, change) {
      const remembered = known.get(cacheKey(key.package, key.version));
      // A change that refuses (throws) or writes nothing may have seen a record another node has changed since:
      // only a fresh read decides those.
      if (remembered) {
        const fromRemembered = unlessThrown(() => change(JSON.parse(remembered.doc) as PackageRecord));
        if (fromRemembered?.next && (await write(key, fromRemembered.next, remembered.version))) return fromRemembered.result;
      }
      const { rows } = await pool.query<{ doc: string; version: string }>({ ...SELECT_VERSIONED, values: [key.package, key.version] });
      const fresh = rows[0];
      if (fresh) remember(key, fresh.doc, fresh.version);
      const { next, result } = change(fresh && (JSON.parse(fresh.doc) as PackageRecord));
      if (!next || (await write(key, next, fresh?.version))) return result;
      return updateLocked(pool, key, change);
    },
    async get(key) {
      const { rows } = await pool.query<{ doc: string }>('SELECT doc FROM status_records WHERE package = $1 AND version = $2', [key.package, key.version]);
      return rows[0] && (JSON.parse(rows[0].doc) as PackageRecord);
    },
    async list(filter: RecordFilter) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.verdict) {
        params.push(filter.verdict);
        where.push(`verdict = $${params.length}`);
      }
      if (filter.actionStates) {
        params.push(filter.actionStates);
        where.push(`action_state = ANY($${params.length})`);
      }
      params.push(filter.limit ?? null);
      const sql = `SELECT doc FROM status_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at_ms DESC LIMIT $${params.length}`;
      const { rows } = await pool.query<{ doc: string }>(sql, params);
      return rows.map((row) => JSON.parse(row.doc) as PackageRecord);
    },
    async close() {
      await pool.end();
    },
  };
}

// Records this process remembers with their row version: the waves it is taking reports for. A record is ~1 kB of
// JSON; lru-cache allocates its slots up front.
const REMEMBERED_RECORDS = 1000;

interface Versioned {
  doc: string;
  version: string;
}

// The statements of every update, named: each connection has PostgreSQL parse and plan them once, not per call.
const SELECT_VERSIONED = { name: 'status-select-versioned', text: 'SELECT doc, xmin::text AS version FROM status_records WHERE package = $1 AND version = $2' };
const INSERT_FIRST = 'INSERT INTO status_records (package, version, verdict, action_state, updated_at_ms, doc) VALUES ($1, $2, $3, $4, $5, $6)';
const INSERT_NEW = { name: 'status-insert-new', text: `${INSERT_FIRST} ON CONFLICT (package, version) DO NOTHING RETURNING xmin::text AS version` };
const UPDATE_LOCKED = 'UPDATE status_records SET verdict = $3, action_state = $4, updated_at_ms = $5, doc = $6 WHERE package = $1 AND version = $2';
// A batched row's parameters: rowOf's six in its order, then the version the write expects.
const BATCH_ROW = [
  ['package', 'text'],
  ['version', 'text'],
  ['verdict', 'text'],
  ['action_state', 'text'],
  ['updated_at_ms', 'bigint'],
  ['doc', 'text'],
  ['expected', 'xid'],
] as const;
const updateManyStatements = new Map<number, { name: string; text: string }>();

/**
 * The compare-and-set of n rows in one statement, each row's parameters (BATCH_ROW) in a VALUES list of plain
 * parameters. (P6: 11 % less of serve's CPU a report than a statement
 * each; column arrays through unnest, whose literals escape each record's JSON, gained nothing.) Named per n, so each
 * connection plans each size once.
 */
function updateMany(n: number): { name: string; text: string } {
  let statement = updateManyStatements.get(n);
  if (!statement) {
    const rows = Array.from({ length: n }, (_, r) => `(${BATCH_ROW.map(([, type], c) => `$${r * BATCH_ROW.length + c + 1}::${type}`).join(', ')})`);
    statement = {
      name: `status-update-many-${n}`,
      text: `UPDATE status_records AS s SET verdict = v.verdict, action_state = v.action_state, updated_at_ms = v.updated_at_ms, doc = v.doc
FROM (VALUES ${rows.join(', ')}) AS v(${BATCH_ROW.map(([name]) => name).join(', ')})
WHERE s.package = v.package AND s.version = v.version AND s.xmin = v.expected
RETURNING s.package, s.version, s.xmin::text AS row_version`,
    };
    updateManyStatements.set(n, statement);
  }
  return statement;
}

interface QueuedUpdate {
  id: string;
  values: unknown[];
  version: string;
  landed(version: string | undefined): void;
  failed(err: unknown): void;
}

/**
 * Compare-and-set updates, at most `statements` at a time: an update that finds them all busy waits, and the next
 * statement takes every waiting one (one per record: PostgreSQL applies one of two joined rows to a target and does
 * not say which). Resolves with the row's new version, or undefined when its version had changed.
 */
function batchedUpdates(pool: Pool, statements: number): (values: unknown[], version: string) => Promise<string | undefined> {
  let waiting: QueuedUpdate[] = [];
  let running = 0;
  const runNext = (): void => {
    while (running < statements && waiting.length > 0) {
      const batch = new Map<string, QueuedUpdate>();
      const later: QueuedUpdate[] = [];
      for (const update of waiting) {
        if (batch.has(update.id) || batch.size >= MAX_BATCH) later.push(update);
        else batch.set(update.id, update);
      }
      waiting = later;
      running += 1;
      void writeBatch(pool, [...batch.values()]).finally(() => {
        running -= 1;
        runNext();
      });
    }
  };
  return (values, version) =>
    new Promise((landed, failed) => {
      waiting.push({ id: cacheKey(values[0] as string, values[1] as string), values, version, landed, failed });
      runNext();
    });
}

async function writeBatch(pool: Pool, batch: QueuedUpdate[]): Promise<void> {
  try {
    const values = batch.flatMap((update) => [...update.values, update.version]);
    const { rows } = await pool.query<{ package: string; version: string; row_version: string }>({ ...updateMany(batch.length), values });
    const written = new Map(rows.map((row) => [cacheKey(row.package, row.version), row.row_version]));
    for (const update of batch) update.landed(written.get(update.id));
  } catch (err) {
    for (const update of batch) update.failed(err);
  }
}

function unlessThrown<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch {
    return undefined;
  }
}

/** The parameters of the INSERT and UPDATE statements ($1–$6), and the record's JSON among them. */
function rowOf(key: RecordKey, next: PackageRecord): { values: unknown[]; doc: string } {
  const { verdict, actionState, doc } = indexedColumns(next);
  return { values: [key.package, key.version, verdict, actionState, Date.now(), doc], doc };
}

/** The update under a row lock, for a record others are writing too. */
async function updateLocked<T>(pool: Pool, key: RecordKey, change: (current: PackageRecord | undefined) => Change<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ doc: string }>('SELECT doc FROM status_records WHERE package = $1 AND version = $2 FOR UPDATE', [key.package, key.version]);
        const current = rows[0] && (JSON.parse(rows[0].doc) as PackageRecord);
        const { next, result } = change(current);
        if (next) await client.query(current ? UPDATE_LOCKED : INSERT_FIRST, rowOf(key, next).values);
        return result;
      });
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 3) throw err;
    }
  }
}

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
