// The importer for drone-downstream-registry's entry files (spec §3: one pretty JSON file per package@version in
// the shared volume). Each becomes wave 1 of a record. A handler the original ran (executedHandler) is done; a final
// verdict whose handler never ran (its call failed, or the step crashed) is imported as failed, to be fired by
// POST …/action/retry once someone has looked, never on its own.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Handler } from './handlers';
import { ActionRecord, BuildResult, BuildStatus, idempotencyKeyOf, normaliseStatus, PackageRecord, verdictOf } from './record';
import type { RecordStore } from './store';

interface OriginalHandler {
  repository?: unknown;
  build?: unknown;
  environment?: unknown;
  server?: unknown;
}

interface OriginalEntry {
  package?: unknown;
  version?: unknown;
  repositories?: unknown;
  builds?: Record<string, { status?: unknown; number?: unknown }>;
  handlers?: { success?: OriginalHandler; failure?: OriginalHandler; executedHandler?: unknown };
}

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

export function recordOfEntry(entry: OriginalEntry, nowMs: number): PackageRecord {
  const text = (value: unknown, what: string): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`${what} is missing or not a string`);
    return value.trim();
  };
  const pkg = text(entry.package, 'package');
  const version = text(entry.version, 'version');
  if (!Array.isArray(entry.repositories) || entry.repositories.length === 0) throw new Error('repositories is not a list of at least one repo');
  const repositories = entry.repositories.map((repo, i) => text(repo, `repositories[${i}]`));
  const builds: BuildResult[] = Object.entries(entry.builds ?? {}).map(([repo, build]) => {
    const status = normaliseStatus(String(build.status));
    if (!status) throw new Error(`the build of ${repo} has the status ${JSON.stringify(build.status)}, which is neither success nor failure`);
    return { repo, status, reportedAs: String(build.status), number: Number(build.number) || 1, reportedAtMs: nowMs };
  });
  const handlers: PackageRecord['handlers'] = {};
  for (const verdict of ['success', 'failure'] as const) {
    const original = entry.handlers?.[verdict];
    if (original && typeof original.server === 'string' && original.server !== '') handlers[verdict] = droneHandler(original, verdict);
  }
  const record: PackageRecord = {
    package: pkg,
    version,
    wave: 1,
    registeredAtMs: nowMs,
    repositories,
    failFast: true,
    // The original counted every repo that reported, listed or not (spec §4.2).
    allowUnlisted: builds.some((build) => !repositories.includes(build.repo)),
    handlers,
    builds,
    action: { state: 'none', attempts: 0 },
  };
  return { ...record, action: importedAction(record, entry.handlers?.executedHandler) };
}

function importedAction(record: PackageRecord, executed: unknown): ActionRecord {
  const verdict = verdictOf(record);
  if (executed === 'success' || executed === 'failure') return { state: 'done', verdict: executed, attempts: 1, idempotencyKey: idempotencyKeyOf(record, executed) };
  if (verdict === 'waiting') return { state: 'none', attempts: 0 };
  return {
    state: 'failed',
    verdict,
    attempts: 0,
    idempotencyKey: idempotencyKeyOf(record, verdict),
    lastError: 'imported: the original plugin never recorded this handler as run (its call failed or the step crashed); POST …/action/retry fires it',
  };
}

/** The original's deploy call (spec §4.2); its token was the downstream's secret, here the service's. */
function droneHandler(original: OriginalHandler, verdict: BuildStatus): Handler {
  return {
    kind: 'drone-0.8',
    server: String(original.server),
    repository: String(original.repository),
    build: Number(original.build),
    environment: typeof original.environment === 'string' ? original.environment : `downstream-${verdict}`,
    tokenEnv: 'STATUS_REGISTRY_DRONE_TOKEN',
  };
}
