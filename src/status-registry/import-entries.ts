// The importer for drone-downstream-registry's entry files (spec §3: one pretty JSON file per package@version in
// the shared volume) into another store; entry-file.ts reads each.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { OriginalEntry, recordOfEntry } from './entry-file';
import type { PackageRecord } from './record';
import type { RecordStore } from './store';

export interface ImportReport {
  imported: string[];
  /** Files whose record is in the store already: left as they are. */
  present: string[];
  /** Files that could not be read as entries, and why. */
  unreadable: Array<{ file: string; reason: string }>;
}

/** Imports every entry file of dir; a record already in the store is left as it is. */
export async function importEntries(store: RecordStore, dir: string, nowMs: number): Promise<ImportReport> {
  const report: ImportReport = { imported: [], present: [], unreadable: [] };
  const files = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile() && !entry.name.startsWith('.'));
  for (const { name } of files) {
    let record: PackageRecord;
    try {
      record = recordOfEntry(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as OriginalEntry, nowMs);
    } catch (err) {
      report.unreadable.push({ file: name, reason: (err as Error).message });
      continue;
    }
    const key = { package: record.package, version: record.version };
    const isNew = await store.update(key, (current) => (current ? { result: false } : { next: record, result: true }));
    if (isNew) report.imported.push(name);
    else report.present.push(name);
  }
  return report;
}

