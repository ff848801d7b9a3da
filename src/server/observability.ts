// The sidecar's view of itself: metrics, recent polls, and what /status and /metrics show of them. Neither holds a
// secret: loopback peers (an admin on the GoCD server) need no token, other hosts the status token (access.ts).

import type { CredentialsFileStatus } from '../credentials';
import type { DroneRequestOutcome } from '../drone';
import type { PollRecord } from '../gocd';
import type { Logger } from '../log';
import type { RegistryEvent } from '../registry';
import type { StatusRegistryEvent } from '../status-registry';
import { ActivityLog } from './activity';
import { BridgeMetrics, GitOpsOutcome } from './metrics';
import { renderStatusPage } from './status-page';

// GoCD polls every package about once a minute; a day shows what stopped being polled too.
const STATUS_WINDOW_MS = 24 * 3_600_000;

export class Observability {
  readonly metrics = new BridgeMetrics();
  readonly activity = new ActivityLog();
  private readonly startedAtMs: number;
  private credentialsFile?: { status(): CredentialsFileStatus };

  constructor(
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAtMs = now();
  }

  /**
   * For GoCdContext.observePoll: the status page's row, and a log line. GoCD polls every material each minute and
   * the shim copies each line into its plugin log, so only news logs at info: for latest-revision-since, what GoCD
   * lacks (it sends what it has, after a restart too); otherwise a result other than the material's last one. A new
   * failure logs at warn; repeats log at debug.
   */
  readonly observePoll = (record: PollRecord): void => {
    const previous = this.activity.record(record, this.now());
    const { outcome, isNewToGoCd, ...material } = record;
    const repeated = previous !== undefined && sameOutcome(previous, outcome);
    if ('error' in outcome) this.log[repeated ? 'debug' : 'warn']('poll failed', { ...material, error: outcome.error });
    else this.log[(isNewToGoCd ?? !repeated) ? 'info' : 'debug']('poll', { ...material, ...outcome });
  };

  /** For RegistryDeps.observe. */
  readonly observeRegistry = (event: RegistryEvent): void => this.metrics.observeRegistry(event);

  /** For DroneRegistryExtensionOptions.observe. */
  readonly observeDroneRequest = (outcome: DroneRequestOutcome): void => this.metrics.observeDroneRequest(outcome);

  /** For StatusRegistryOptions.observe. */
  readonly observeStatusRegistry = (event: StatusRegistryEvent): void => this.metrics.observeStatusRegistry(event);
  /** For the gitops route. */
  readonly observeGitOpsUpdate = (outcome: GitOpsOutcome): void => this.metrics.observeGitOpsUpdate(outcome);

  /** Lists the credentials file's entries (never their secrets) on the status page. */
  showCredentialsFile(file: { status(): CredentialsFileStatus }): void {
    this.credentialsFile = file;
  }

  /** GET /status: the page; `sections` are services' own (the build-status registry's). */
  statusPage(version: string, sections?: string[]): string {
    const nowMs = this.now();
    const materials = this.activity.recent(nowMs, STATUS_WINDOW_MS);
    return renderStatusPage({ version, startedAtMs: this.startedAtMs, nowMs, windowMs: STATUS_WINDOW_MS, materials, credentials: this.credentialsFile?.status(), sections });
  }

  /** GET /metrics: Prometheus text, with its content type. */
  async metricsText(): Promise<{ body: string; contentType: string }> {
    return { body: await this.metrics.registry.metrics(), contentType: this.metrics.registry.contentType };
  }
}

function sameOutcome(a: PollRecord['outcome'], b: PollRecord['outcome']): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  return a.tag === b.tag && a.digest === b.digest;
}
