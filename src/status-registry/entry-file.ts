// drone-downstream-registry's entry file (spec §3), both ways: the pretty JSON the original plugin wrote, one file
// per package@version named by sanitize-filename, and the record it stands for. An entry the original wrote becomes
// wave 1: a handler it ran (executedHandler) is done; a final verdict whose handler never ran (its call failed, or the
// step crashed) is failed, fired by a retry once someone has looked, never on its own. Written back, the record keeps
// the original's fields and adds its own (wave, failFast, allowUnlisted, action, handler kinds), which the original
// ignores, so old and new readers both understand the file.

import sanitizeFilename from 'sanitize-filename';
import type { Handler } from './handlers';
import { ActionRecord, BuildResult, BuildStatus, idempotencyKeyOf, normaliseStatus, PackageRecord, verdictOf } from './record';

interface OriginalHandler {
  kind?: unknown;
  repository?: unknown;
  build?: unknown;
  environment?: unknown;
  server?: unknown;
}

export interface OriginalEntry {
  package?: unknown;
  version?: unknown;
  repositories?: unknown;
  builds?: Record<string, { status?: unknown; number?: unknown; reportedAs?: unknown; reportedAtMs?: unknown }>;
  handlers?: { success?: OriginalHandler; failure?: OriginalHandler; executedHandler?: unknown };
  // Added by this registry's file mode; absent in the original's files.
  wave?: unknown;
  failFast?: unknown;
  allowUnlisted?: unknown;
  action?: ActionRecord;
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
    const reportedAs = typeof build.reportedAs === 'string' ? build.reportedAs : String(build.status);
    return { repo, status, reportedAs, number: Number(build.number) || 1, reportedAtMs: typeof build.reportedAtMs === 'number' ? build.reportedAtMs : nowMs };
  });
  const handlers: PackageRecord['handlers'] = {};
  for (const verdict of ['success', 'failure'] as const) {
    const original = entry.handlers?.[verdict];
    if (original && typeof original.kind === 'string') handlers[verdict] = original as unknown as Handler;
    else if (original && typeof original.server === 'string' && original.server !== '') handlers[verdict] = droneHandler(original, verdict);
  }
  const record: PackageRecord = {
    package: pkg,
    version,
    wave: typeof entry.wave === 'number' ? entry.wave : 1,
    registeredAtMs: nowMs,
    repositories,
    failFast: entry.failFast !== false,
    // The original counted every repo that reported, listed or not (spec §4.2).
    allowUnlisted: entry.allowUnlisted === true || builds.some((build) => !repositories.includes(build.repo)),
    handlers,
    builds,
    action: { state: 'none', attempts: 0 },
  };
  return { ...record, action: entry.action ?? importedAction(record, entry.handlers?.executedHandler) };
}

/** The file's name: the original's (sanitize-filename of package@version; spec §3), which different names can share. */
export function entryFileName(key: { package: string; version: string }): string {
  return sanitizeFilename(`${key.package}@${key.version}`);
}

/** The record as an entry file: the original's fields first, this registry's after them. */
export function entryOfRecord(record: PackageRecord): object {
  const executedHandler = record.action.state === 'done' ? record.action.verdict ?? '' : '';
  return {
    package: record.package,
    version: record.version,
    repositories: record.repositories,
    builds: Object.fromEntries(record.builds.map((b) => [b.repo, { status: b.status, number: b.number, reportedAs: b.reportedAs, reportedAtMs: b.reportedAtMs }])),
    handlers: { ...record.handlers, executedHandler },
    wave: record.wave,
    failFast: record.failFast,
    allowUnlisted: record.allowUnlisted,
    action: record.action,
  };
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
