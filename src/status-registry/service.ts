// The build-status registry as a service: registrations and reports go through the store's transaction (the
// verdict and the action's claim with them), and the claimed action's call is made after commit, by whichever
// process took the claim. A failed call is retried with backoff a bounded number of times; a claim whose process
// died is retaken once it is older than any call could run. Each retry carries the same Idempotency-Key.

import { Semaphore } from 'async-mutex';
import { cacheKey } from '../cache-key';
import { readSecretFile } from '../credentials';
import type { Poster } from '../http';
import type { Logger } from '../log';
import { checkName, parseRegistration, parseReport } from './bodies';
import { actionRequest, ActionRequest, Handler, secretHeaders, secretPathWithin } from './handlers';
import {
  applyReport,
  BuildReport,
  BuildStatus,
  describeKey,
  finishAction,
  PackageRecord,
  reclaimAction,
  registerWave,
  ReportOutcome,
  RetryPolicy,
  StatusRegistryError,
  ticketOf,
  Verdict,
  verdictOf,
} from './record';
import type { RecordKey, RecordStore } from './store';

export interface ActionPolicy extends RetryPolicy {
  /** One call's limit; below staleClaimMs, so a live claim is never taken for a lost one. */
  callTimeoutMs: number;
  /** How often to look for due retries and lost claims (also those of other nodes). */
  sweepIntervalMs: number;
  /** Calls this process makes at once; the others wait their turn, their claims held. */
  maxConcurrentCalls: number;
}

export const ACTION_DEFAULTS: ActionPolicy = {
  maxAttempts: 5, // 1 + 2 + 4 + 8 s of backoff: a receiver restarting gets the call; a wrong token is left for a person
  backoffMs: 1_000,
  maxBackoffMs: 60_000,
  callTimeoutMs: 10_000, // Drone and GoCD answer a trigger in well under a second
  maxConcurrentCalls: 16, // a burst of verdicts (P6: 1,000 at once) otherwise opens a socket and buffers per call
  staleClaimMs: 30_000, // the call's timeout plus room for the commit that records how it ended
  sweepIntervalMs: 5_000,
};

/** For the metrics: how each report and each action call ended. */
export type StatusRegistryEvent =
  | { type: 'report'; outcome: 'accepted' | `refused_${number}` }
  | { type: 'action'; kind: Handler['kind']; outcome: 'done' | 'failed' };

export interface StatusRegistryOptions {
  store: RecordStore;
  log: Logger;
  /** Handlers' secret files are resolved in here and nowhere else. */
  secretsDir: string;
  /** Where handlers' tokenEnv / secretEnv (STATUS_REGISTRY_*) are read. */
  env: NodeJS.ProcessEnv;
  uid: number | undefined;
  /** The action's HTTP client; global fetch when not given. serve passes http/'s keepAlivePoster: fetch's undici cost 50 MB of RSS (P6). */
  fetch?: ActionFetch;
  now?: () => number;
  policy?: Partial<ActionPolicy>;
  observe?: (event: StatusRegistryEvent) => void;
}

/** What an action call needs of a fetch: http/'s Poster, which global fetch fits too. */
export type ActionFetch = Poster;

/** A record as the API shows it: everything stored plus the verdict. Handlers name secrets, never hold them. */
export type PackageView = PackageRecord & { verdict: Verdict };

export class StatusRegistry {
  private readonly policy: ActionPolicy;
  private readonly now: () => number;
  private readonly fetch: ActionFetch;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly callSlots: Semaphore;
  /** Records whose call this process is making or has queued: the sweep must not take their claims for lost. */
  private readonly calling = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly options: StatusRegistryOptions) {
    this.policy = { ...ACTION_DEFAULTS, ...options.policy };
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
    this.callSlots = new Semaphore(this.policy.maxConcurrentCalls);
  }

  /** Retakes what is due (lost claims, failed calls past their backoff) now and then every sweep interval. */
  start(): void {
    this.track(this.sweep());
    this.sweeper = setInterval(() => this.track(this.sweep()), this.policy.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Stops retrying and waits for the calls under way. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.idle();
  }

  /** Resolves once no action call is under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async register(key: RecordKey, body: string): Promise<PackageView> {
    const registration = parseRegistration(body);
    const checked = checkKey(key);
    const record = await this.options.store.update(checked, (current) => {
      const next = registerWave(current, checked, registration, this.now());
      return { next, result: next };
    });
    this.options.log.info('status registry: registered', { ...checked, wave: record.wave, repositories: record.repositories.length });
    return view(record);
  }

  async report(key: RecordKey, body: string): Promise<PackageView> {
    const { report, outcome } = await this.recordReport(key, body).catch((err: unknown) => {
      if (err instanceof StatusRegistryError) this.options.observe?.({ type: 'report', outcome: `refused_${err.status}` });
      throw err;
    });
    this.options.observe?.({ type: 'report', outcome: 'accepted' });
    const { record } = outcome;
    this.options.log.info('status registry: build reported', { package: record.package, version: record.version, repo: report.repo, status: report.status, verdict: outcome.verdict, action: record.action.state });
    if (outcome.isClaimed) this.track(this.call(record));
    return view(record);
  }

  /** The report's transaction: the build recorded, the verdict computed and the action claimed, or a refusal. */
  private async recordReport(key: RecordKey, body: string): Promise<{ report: BuildReport; outcome: ReportOutcome }> {
    const report = parseReport(body);
    const checked = checkKey(key);
    const outcome = await this.options.store.update(checked, (current) => {
      const result = applyReport(current, checked, report, this.now());
      return { next: result.record, result };
    });
    return { report, outcome };
  }

  async get(key: RecordKey): Promise<PackageView> {
    const checked = checkKey(key);
    const record = await this.options.store.get(checked);
    if (!record) throw new StatusRegistryError(404, { message: `${describeKey(checked)} is not registered`, fix: 'check the names (percent-encoded in the path) or register it first' });
    return view(record);
  }

  /** Records by verdict, most recently changed first. */
  async list(state: string | undefined, limit = 1000): Promise<PackageView[]> {
    if (state !== undefined && !['waiting', 'success', 'failure'].includes(state)) {
      throw new StatusRegistryError(400, { message: `state "${state}" is not a verdict`, fix: 'use ?state=waiting, success or failure, or leave it out for all' });
    }
    const records = await this.options.store.list({ verdict: state as Verdict | undefined, limit });
    return records.map(view);
  }

  /** POST …/action/retry: a failed action is claimed again with a fresh round of attempts. */
  async retry(key: RecordKey): Promise<PackageView> {
    const checked = checkKey(key);
    const claimed = await this.options.store.update(checked, (current) => {
      if (!current) throw new StatusRegistryError(404, { message: `${describeKey(checked)} is not registered`, fix: 'check the names, or register it first' });
      const next = reclaimAction(current, this.now(), this.policy, 'manual');
      if (!next) {
        throw new StatusRegistryError(409, {
          message: `the action of ${describeKey(checked)} is ${current.action.state}, not failed: there is nothing to retry`,
          fix: 'retry only a failed action; a claimed one is being called, a done one has succeeded (register again for a new wave)',
        });
      }
      return { next, result: next };
    });
    this.options.log.info('status registry: action retried by request', { ...checked, wave: claimed.wave });
    this.track(this.call(claimed));
    return view(claimed);
  }

  private async sweep(): Promise<void> {
    try {
      const pending = await this.options.store.list({ actionStates: ['claimed', 'failed'] });
      // Checked on the listed copy first: a failed action with no retry left would take a write lock every sweep.
      const due = pending.filter((record) => !this.calling.has(callKey(record)) && reclaimAction(record, this.now(), this.policy, 'due') !== undefined);
      await Promise.all(due.map((record) => this.retryIfDue(record)));
    } catch (err) {
      this.options.log.error('status registry: the retry sweep failed', { error: err });
    }
  }

  private async retryIfDue(record: PackageRecord): Promise<void> {
    const key = { package: record.package, version: record.version };
    const claimed = await this.options.store.update(key, (current) => {
      const next = reclaimAction(current, this.now(), this.policy, 'due');
      return { next, result: next };
    });
    if (claimed) await this.call(claimed);
  }

  /** Makes the claimed action's call, then records how it ended, if the claim is still ours. */
  private async call(record: PackageRecord): Promise<void> {
    const key = { package: record.package, version: record.version };
    const ticket = ticketOf(record);
    let error: string | undefined;
    let answer: { startedBuild?: number } = {};
    this.calling.add(callKey(record));
    try {
      answer = await this.callSlots.runExclusive(() => this.send(record));
    } catch (err) {
      error = (err as Error).message;
    } finally {
      this.calling.delete(callKey(record));
    }
    const finished = await this.options.store.update(key, (current) => {
      const next = finishAction(current, ticket, { error }, this.now(), this.policy);
      return { next, result: next };
    });
    const fields = { ...key, wave: record.wave, verdict: record.action.verdict, idempotencyKey: record.action.idempotencyKey };
    const kind = record.handlers[record.action.verdict as BuildStatus]?.kind;
    if (kind) this.options.observe?.({ type: 'action', kind, outcome: error === undefined ? 'done' : 'failed' });
    if (!finished) this.options.log.warn('status registry: an action call ended after its claim was retaken or its wave replaced', { ...fields, error });
    else if (error === undefined) this.options.log.info('status registry: action done', { ...fields, ...answer });
    else this.options.log.warn('status registry: action failed', { ...fields, error, attempts: finished.action.attempts, nextAttemptAtMs: finished.action.nextAttemptAtMs });
    const nextAttemptAtMs = finished?.action.nextAttemptAtMs;
    if (finished && nextAttemptAtMs !== undefined) this.retryAt(finished, nextAttemptAtMs);
  }

  private retryAt(record: PackageRecord, atMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Timers count from the event loop's cached time, which lags the clock when the loop is busy: a timer can
      // fire before its retry is due by the clock, and a retry found not due here would wait for the next sweep.
      if (this.now() < atMs) this.retryAt(record, atMs);
      else this.track(this.retryIfDue(record));
    }, Math.max(1, atMs - this.now()));
    timer.unref();
    this.timers.add(timer);
  }

  /** Makes the call; answers what the receiver said worth logging (the build Drone started, spec §6.3). */
  private async send(record: PackageRecord): Promise<{ startedBuild?: number }> {
    const handler = record.handlers[record.action.verdict as BuildStatus];
    if (!handler) return {};
    const request = actionRequest(handler, record);
    const secret = request.secret ? await this.readSecret(request.secret) : undefined;
    const headers = secret === undefined ? request.headers : { ...request.headers, ...secretHeaders(request, secret) };
    const target = new URL(request.url);
    const where = `${handler.kind} ${target.origin}${target.pathname}`;
    let status: number;
    let body: ArrayBuffer;
    try {
      const response = await this.fetch(request.url, { method: 'POST', headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(this.policy.callTimeoutMs) });
      status = response.status;
      body = await response.arrayBuffer();
    } catch (err) {
      // undici puts the system error in cause, node-fetch on the error itself.
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code ?? (err as Error).name;
      throw new Error(`${where}: no answer (${cause})`);
    }
    // Any non-2xx is a failure: the original took a 401 for success (spec §8, pitfall 7).
    if (status < 200 || status >= 300) throw new Error(`${where} answered ${status}`);
    return handler.kind === 'drone' || handler.kind === 'drone-0.8' ? { startedBuild: buildNumberIn(body) } : {};
  }

  private async readSecret(source: NonNullable<ActionRequest['secret']>): Promise<string> {
    let secret: string | undefined;
    if (source.file !== undefined) {
      const file = secretPathWithin(this.options.secretsDir, source.file);
      if (!file) throw new Error(`the secret file ${source.file} is outside the secrets directory ${this.options.secretsDir}`);
      secret = (await readSecretFile(file, 'a status-registry handler secret', { uid: this.options.uid, maxBytes: 64 * 1024 })).trim();
    } else if (source.env !== undefined) {
      secret = this.options.env[source.env];
      if (secret === undefined) throw new Error(`the environment variable ${source.env} is not set in the service`);
    }
    if (!secret) throw new Error('the handler\'s secret is empty');
    this.options.log.registerSecret(secret);
    return secret;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => this.options.log.error('status registry: action bookkeeping failed', { error: err })).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}

/** Drone answers a deploy or promote with the build it started ({"number": 18, …}). */
function buildNumberIn(body: ArrayBuffer): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { number?: unknown };
    return typeof parsed.number === 'number' ? parsed.number : undefined;
  } catch {
    return undefined;
  }
}

function callKey(record: PackageRecord): string {
  return cacheKey(record.package, record.version);
}

function checkKey(key: RecordKey): RecordKey {
  return { package: checkName('package', key.package), version: checkName('version', key.version) };
}

function view(record: PackageRecord): PackageView {
  return { ...record, verdict: verdictOf(record) };
}
