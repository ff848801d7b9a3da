// The compatibility engine: the original plugin's registry directory on a shared volume, one entry file per
// package@version under its original name and shape (entry-file.ts), so pipelines not yet moved to the service keep
// reading and writing the same files. Unlike the original, each update holds a lock (a directory created next to the
// file: mkdir is atomic, also on NFS) and replaces the file by rename, so no report is lost, no reader sees half a
// file, and two steps finishing together cannot both claim the action.

import { mkdir, readdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { entryFileName, entryOfRecord, OriginalEntry, recordOfEntry } from './entry-file';
import { describeKey, PackageRecord, StatusRegistryError, verdictOf } from './record';
import type { RecordFilter, RecordKey, RecordStore } from './store';

// A step holds the lock for milliseconds; one this old belongs to a step that died holding it.
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 60_000;
const LOCK_POLL_MS = 25;

export function openFileStore(dir: string): RecordStore {
  const fileOf = (key: RecordKey) => {
    const name = entryFileName(key);
    if (name === '') throw new StatusRegistryError(400, { message: `${describeKey(key)} leaves no file name once sanitized`, fix: 'use a package name and version with letters or digits in them' });
    return path.join(dir, name);
  };
  const read = async (file: string, key: RecordKey): Promise<PackageRecord | undefined> => {
    const record = await readEntry(file);
    // sanitize-filename deletes "/", ":" and more: a/b@1 and ab@1 share a file (spec §7.6, pitfall 11).
    if (record && (record.package !== key.package || record.version !== key.version)) {
      throw new StatusRegistryError(409, {
        message: `${describeKey(key)} would share the file ${path.basename(file)} with ${describeKey(record)}`,
        fix: 'the file mode names files as the original did, which merges such names; use the service (status-registry --server) where every name stays apart',
      });
    }
    return record;
  };
  return {
    async update(key, change) {
      const file = fileOf(key);
      return withLock(path.join(dir, `.${path.basename(file)}.lock`), async () => {
        const { next, result } = change(await read(file, key));
        if (next) {
          const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
          await writeFile(temp, JSON.stringify(entryOfRecord(next), null, 2));
          await rename(temp, file);
        }
        return result;
      });
    },
    async get(key) {
      return read(fileOf(key), key);
    },
    async list(filter: RecordFilter) {
      const names = (await readdir(dir)).filter((name) => !name.startsWith('.'));
      const records = (await Promise.all(names.map((name) => readEntry(path.join(dir, name)).catch(() => undefined)))).filter((r): r is PackageRecord => r !== undefined);
      return records
        .filter((r) => (!filter.verdict || verdictOf(r) === filter.verdict) && (!filter.actionStates || filter.actionStates.includes(r.action.state)))
        .slice(0, filter.limit ?? Infinity);
    },
    async close() {},
  };
}

async function readEntry(file: string): Promise<PackageRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return recordOfEntry(JSON.parse(text) as OriginalEntry, Date.now());
}

async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const since = await stat(lock).then((s) => s.mtimeMs, () => Date.now());
      if (Date.now() - since > STALE_LOCK_MS) await rmdir(lock).catch(() => undefined);
      else if (Date.now() > deadline) throw new Error(`the lock ${lock} was held for longer than ${LOCK_WAIT_MS / 1000} s`);
      else await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS + Math.random() * LOCK_POLL_MS));
    }
  }
  try {
    return await work();
  } finally {
    await rmdir(lock);
  }
}
