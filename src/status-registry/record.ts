// The record of one package version's downstream builds and the pure rules over it: the cumulative verdict, waves,
// status normalisation, the unlisted-repo rule and the follow-up action's state machine. No I/O and no clock: the
// store runs these functions inside its transaction, so each engine applies exactly the same rules.

import { BridgeError, BridgeErrorInit } from '../errors';
import type { Handler } from './handlers';

export type BuildStatus = 'success' | 'failure';
export type Verdict = 'waiting' | BuildStatus;
/** none → claimed → done | failed; failed → claimed again by a retry. */
export type ActionState = 'none' | 'claimed' | 'done' | 'failed';

export interface BuildResult {
  repo: string;
  status: BuildStatus;
  /** The status as the repo sent it (Drone 1.x "killed" is kept for the record). */
  reportedAs: string;
  number: number;
  reportedAtMs: number;
}

export interface ActionRecord {
  state: ActionState;
  /** Which handler the claim is for; set by the claim. */
  verdict?: BuildStatus;
  /** The same on every attempt of one action, so a receiver can drop a duplicate call. */
  idempotencyKey?: string;
  /** Calls made for this claim, counted when each ends. */
  attempts: number;
  claimedAtMs?: number;
  /** When a failed action is due for its next automatic retry; absent once the retries are used up. */
  nextAttemptAtMs?: number;
  finishedAtMs?: number;
  lastError?: string;
  /** The verdict has no handler: nothing to call, the action is done as soon as it is claimed. */
  hasNoHandler?: boolean;
}

export interface PackageRecord {
  package: string;
  version: string;
  /** 1 for the first registration; each re-registration starts the next. */
  wave: number;
  registeredAtMs: number;
  repositories: string[];
  /** true (the original's behaviour): the first failure is final; false: wait for every listed repo. */
  failFast: boolean;
  /** Accept reports from repos not listed (the original did, and such a repo could never finish). */
  allowUnlisted: boolean;
  handlers: { success?: Handler; failure?: Handler };
  /** An array, not an object keyed by repo: a repo named "__proto__" must stay an ordinary name. */
  builds: BuildResult[];
  action: ActionRecord;
}

export interface Registration {
  repositories: string[];
  handlers: { success?: Handler; failure?: Handler };
  failFast: boolean;
  allowUnlisted: boolean;
}

export interface BuildReport {
  repo: string;
  /** As sent; normalised by applyReport. */
  status: string;
  number: number;
  /** The wave the reporter belongs to; absent: the current one. */
  wave?: number;
}

/** The HTTP status each refusal maps to: the API's contract (spec §6.1). */
export type RefusalStatus = 400 | 404 | 409 | 422;

export class StatusRegistryError extends BridgeError {
  constructor(
    readonly status: RefusalStatus,
    init: BridgeErrorInit,
  ) {
    super('STATUS_REGISTRY_REFUSED', init);
  }
}

// Drone 1.x build states (drone/drone core/build.go): passing is a success; failing, error and killed all mean the
// build did not pass. Drone 0.8 and GoCD tasks send success / failure.
const STATUS_ALIASES: Record<string, BuildStatus> = {
  success: 'success',
  passing: 'success',
  failure: 'failure',
  failing: 'failure',
  error: 'failure',
  killed: 'failure',
};

/** success / failure, or undefined for anything else (the original ranked unknown values above failure and crashed). */
export function normaliseStatus(text: string): BuildStatus | undefined {
  const key = text.trim().toLowerCase();
  return Object.hasOwn(STATUS_ALIASES, key) ? STATUS_ALIASES[key] : undefined;
}

/**
 * failure > waiting > success (spec §4.2): any failure decides at once when failFast; otherwise a listed repo that
 * has not reported keeps it waiting. Unlisted repos (allowUnlisted) count like listed ones once they report.
 */
export function verdictOf(record: Pick<PackageRecord, 'repositories' | 'builds' | 'failFast'>): Verdict {
  const reported = new Set(record.builds.map((build) => build.repo));
  const hasFailure = record.builds.some((build) => build.status === 'failure');
  const isComplete = record.repositories.every((repo) => reported.has(repo));
  if (hasFailure && (record.failFast || isComplete)) return 'failure';
  return isComplete ? 'success' : 'waiting';
}

/** A fresh record for a registration: the next wave, no builds, no action yet. */
export function registerWave(current: PackageRecord | undefined, key: { package: string; version: string }, registration: Registration, nowMs: number): PackageRecord {
  return {
    package: key.package,
    version: key.version,
    wave: (current?.wave ?? 0) + 1,
    registeredAtMs: nowMs,
    repositories: registration.repositories,
    failFast: registration.failFast,
    allowUnlisted: registration.allowUnlisted,
    handlers: registration.handlers,
    builds: [],
    action: { state: 'none', attempts: 0 },
  };
}

export interface ReportOutcome {
  record: PackageRecord;
  verdict: Verdict;
  /** This report made the verdict final and took the action's claim: the caller makes the call, after commit. */
  isClaimed: boolean;
}

/**
 * Records one downstream build and, when the verdict stops being waiting and no action was claimed in this wave,
 * claims it. A repo reporting again overwrites its result; the action never fires twice in a wave.
 */
export function applyReport(current: PackageRecord | undefined, key: { package: string; version: string }, report: BuildReport, nowMs: number): ReportOutcome {
  if (current === undefined) {
    throw new StatusRegistryError(404, {
      message: `${describeKey(key)} is not registered`,
      fix: 'register it first (PUT /status-registry/packages/{package}/{version}, or status-registry with PLUGIN_ACTION=package-build); a downstream report that races the registration is retried by the CLI',
      retryable: true,
    });
  }
  const status = normaliseStatus(report.status);
  if (status === undefined) {
    throw new StatusRegistryError(422, {
      message: `the build status "${report.status}" of ${report.repo} is not one this registry knows`,
      fix: 'send success or failure (Drone 1.x passing, failing, error and killed are accepted too)',
    });
  }
  if (report.wave !== undefined && report.wave !== current.wave) {
    throw new StatusRegistryError(409, {
      message: `the report of ${report.repo} is for wave ${report.wave} of ${describeKey(key)}, but wave ${current.wave} is current (it was registered again); the report is not counted`,
      fix: 'nothing to do for an old wave; the downstream builds of the current wave report for it',
    });
  }
  if (!current.allowUnlisted && !current.repositories.includes(report.repo)) {
    throw new StatusRegistryError(409, {
      message: `${report.repo} is not one of the repositories ${describeKey(key)} waits for (${current.repositories.join(', ')})`,
      fix: 'list the repository exactly as the downstream build names itself (DRONE_REPO / GO_PIPELINE_NAME), or register with "allowUnlisted": true',
    });
  }
  const build: BuildResult = { repo: report.repo, status, reportedAs: report.status, number: report.number, reportedAtMs: nowMs };
  const builds = [...current.builds.filter((b) => b.repo !== report.repo), build];
  const record = { ...current, builds };
  const verdict = verdictOf(record);
  if (verdict === 'waiting' || current.action.state !== 'none') return { record, verdict, isClaimed: false };
  const action = claimAction(record, verdict, nowMs);
  return { record: { ...record, action }, verdict, isClaimed: action.state === 'claimed' };
}

/** One per wave and verdict: every call of one action carries it, so a receiver can drop a repeat. */
export function idempotencyKeyOf(record: PackageRecord, verdict: BuildStatus): string {
  return `${record.package}@${record.version}#${record.wave}:${verdict}`;
}

function claimAction(record: PackageRecord, verdict: BuildStatus, nowMs: number): ActionRecord {
  const idempotencyKey = idempotencyKeyOf(record, verdict);
  if (record.handlers[verdict] === undefined) return { state: 'done', verdict, idempotencyKey, attempts: 0, claimedAtMs: nowMs, finishedAtMs: nowMs, hasNoHandler: true };
  return { state: 'claimed', verdict, idempotencyKey, attempts: 0, claimedAtMs: nowMs };
}

export interface RetryPolicy {
  /** Automatic attempts per claim; after them the action stays failed until POST …/action/retry. */
  maxAttempts: number;
  /** Delay before automatic retry n (1-based), doubled each time from this, capped at maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A claim older than this was lost with its process (the call has a shorter timeout): retake it. */
  staleClaimMs: number;
}

/**
 * How a call for the claim ended. Only the claim it was made for may finish: a call that outlived its wave (the
 * package was registered again) or whose claim was retaken changes nothing.
 */
export function finishAction(current: PackageRecord | undefined, claim: ClaimTicket, outcome: { error?: string }, nowMs: number, policy: RetryPolicy): PackageRecord | undefined {
  if (!current || !holdsClaim(current, claim)) return undefined;
  const attempts = current.action.attempts + 1;
  if (outcome.error === undefined) return { ...current, action: { ...current.action, state: 'done', attempts, finishedAtMs: nowMs, lastError: undefined, nextAttemptAtMs: undefined } };
  const hasRetryLeft = attempts < policy.maxAttempts;
  const delayMs = Math.min(policy.backoffMs * 2 ** (attempts - 1), policy.maxBackoffMs);
  return {
    ...current,
    action: { ...current.action, state: 'failed', attempts, finishedAtMs: nowMs, lastError: outcome.error, nextAttemptAtMs: hasRetryLeft ? nowMs + delayMs : undefined },
  };
}

/** What identifies one claim: its wave and the moment it was taken. */
export interface ClaimTicket {
  wave: number;
  claimedAtMs: number;
}

export function ticketOf(record: PackageRecord): ClaimTicket {
  return { wave: record.wave, claimedAtMs: record.action.claimedAtMs ?? 0 };
}

function holdsClaim(record: PackageRecord, claim: ClaimTicket): boolean {
  return record.wave === claim.wave && record.action.state === 'claimed' && record.action.claimedAtMs === claim.claimedAtMs;
}

/**
 * Claims the action again when it is due: a failed call whose backoff has passed, or a claim whose process died
 * before it finished (older than staleClaimMs). `manual` (POST …/action/retry) takes any failed action and grants a
 * fresh round of attempts. Undefined: nothing to claim.
 */
export function reclaimAction(current: PackageRecord | undefined, nowMs: number, policy: RetryPolicy, mode: 'due' | 'manual'): PackageRecord | undefined {
  if (!current) return undefined;
  const { action } = current;
  const isDue =
    mode === 'manual'
      ? action.state === 'failed'
      : (action.state === 'failed' && action.nextAttemptAtMs !== undefined && action.nextAttemptAtMs <= nowMs) ||
        (action.state === 'claimed' && (action.claimedAtMs ?? 0) + policy.staleClaimMs <= nowMs);
  if (!isDue) return undefined;
  // A new claim time, so a call still running for the old claim cannot finish this one.
  const claimedAtMs = Math.max(nowMs, (action.claimedAtMs ?? 0) + 1);
  const attempts = mode === 'manual' ? 0 : action.attempts;
  return { ...current, action: { ...action, state: 'claimed', attempts, claimedAtMs, nextAttemptAtMs: undefined } };
}

export function describeKey(key: { package: string; version: string }): string {
  return `${JSON.stringify(key.package)} version ${JSON.stringify(key.version)}`;
}
