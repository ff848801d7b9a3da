// The sidecar's view of itself: metrics, recent polls, and the routes that show them (/status, /metrics). Both
// routes are loopback-only and hold no secrets, so they need no token: an admin opens them on the GoCD server.

import type { Express } from 'express';
import type { PollRecord } from '../gocd';
import type { Logger } from '../log';
import type { RegistryEvent } from '../registry';
import { ActivityLog } from './activity';
import { BridgeMetrics } from './metrics';
import { renderStatusPage } from './status-page';

// GoCD polls every package about once a minute; a day shows what stopped being polled too.
const STATUS_WINDOW_MS = 24 * 3_600_000;

export class Observability {
  readonly metrics = new BridgeMetrics();
  readonly activity = new ActivityLog();
  private readonly startedAtMs: number;

  constructor(
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAtMs = now();
  }

  /**
   * For GoCdContext.observePoll: the status page's row, and a log line. GoCD polls every material each minute and
   * the shim copies each line into its plugin log, so a result that repeats the material's last one logs at debug;
   * a new tag or digest logs at info, a new failure at warn.
   */
  readonly observePoll = (record: PollRecord): void => {
    const previous = this.activity.record(record, this.now());
    const { outcome, ...material } = record;
    const repeated = previous !== undefined && sameOutcome(previous, outcome);
    if ('error' in outcome) this.log[repeated ? 'debug' : 'warn']('poll failed', { ...material, error: outcome.error });
    else this.log[repeated ? 'debug' : 'info']('poll', { ...material, ...outcome });
  };

  /** For RegistryDeps.observe. */
  readonly observeRegistry = (event: RegistryEvent): void => this.metrics.observeRegistry(event);

  mount(app: Express, version: string): void {
    app.get('/status', (_req, res) => {
      const nowMs = this.now();
      const page = renderStatusPage({ version, startedAtMs: this.startedAtMs, nowMs, windowMs: STATUS_WINDOW_MS, materials: this.activity.recent(nowMs, STATUS_WINDOW_MS) });
      res.type('text/html').send(page);
    });
    app.get('/metrics', async (_req, res) => {
      res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
    });
  }
}

function sameOutcome(a: PollRecord['outcome'], b: PollRecord['outcome']): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  return a.tag === b.tag && a.digest === b.digest;
}
