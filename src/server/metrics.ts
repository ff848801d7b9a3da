// Prometheus metrics (GET /metrics): what GoCD asked and how it went, what that cost at each registry, how
// often caches and retries saved or spent requests, and how Drone's registry requests ended. Labels are bounded:
// request names come from the dispatch table, hosts from the configured registries, outcomes from a fixed list.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KNOWN_REQUESTS } from '../gocd';
import type { DroneRequestOutcome } from '../drone';

/** How a POST /gitops/update ended. */
export type GitOpsOutcome = 'pushed' | 'noop' | 'bad_input' | 'git_error' | 'contended';
import type { RegistryEvent } from '../registry';
import type { StatusRegistryEvent } from '../status-registry';

export class BridgeMetrics {
  readonly registry = new Registry();

  private readonly gocdRequests = new Counter({
    name: 'gocd_registry_bridge_gocd_requests_total',
    help: 'GoCD package-repository requests by message and outcome (failure includes check-* answered "failure")',
    labelNames: ['request', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly gocdDuration = new Histogram({
    name: 'gocd_registry_bridge_gocd_request_duration_seconds',
    help: 'Time to answer a GoCD request, by message',
    labelNames: ['request'] as const,
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private readonly registryRequests = new Counter({
    name: 'gocd_registry_bridge_registry_requests_total',
    help: 'HTTP requests to registries and their token services, by host, method and status (0: no answer)',
    labelNames: ['host', 'method', 'status'] as const,
    registers: [this.registry],
  });

  private readonly retries = new Counter({
    name: 'gocd_registry_bridge_registry_retries_total',
    help: 'Registry requests retried after a transient failure, by host and error code',
    labelNames: ['host', 'reason'] as const,
    registers: [this.registry],
  });

  private readonly tokenFetches = new Counter({
    name: 'gocd_registry_bridge_token_fetches_total',
    help: 'Bearer tokens fetched from token services, by registry host',
    labelNames: ['host'] as const,
    registers: [this.registry],
  });

  private readonly cacheLookups = new Counter({
    name: 'gocd_registry_bridge_cache_lookups_total',
    help: 'Tag-list reuse and image-metadata cache lookups, by cache and result',
    labelNames: ['cache', 'result'] as const,
    registers: [this.registry],
  });

  private readonly rateLimitRemaining = new Gauge({
    name: 'gocd_registry_bridge_registry_ratelimit_remaining',
    help: 'Pulls left in the current window, from the registry\'s ratelimit-remaining header (Docker Hub)',
    labelNames: ['host'] as const,
    registers: [this.registry],
  });

  private readonly rateLimitLimit = new Gauge({
    name: 'gocd_registry_bridge_registry_ratelimit_limit',
    help: 'Pulls allowed per window, from the registry\'s ratelimit-limit header (Docker Hub)',
    labelNames: ['host'] as const,
    registers: [this.registry],
  });

  private readonly droneRequests = new Counter({
    name: 'gocd_registry_bridge_drone_registry_requests_total',
    help: 'Drone registry-extension requests by outcome: served, none_entitled (204), bad_signature, stale_date, bad_digest, bad_body, error (500)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly statusRegistryReports = new Counter({
    name: 'gocd_registry_bridge_status_registry_reports_total',
    help: 'Build-status registry reports by outcome: accepted, or refused_<HTTP status> (404 not registered, 409 unlisted repo or old wave, 422 unknown status, 400 bad body)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly gitopsUpdates = new Counter({
    name: 'gocd_registry_bridge_gitops_updates_total',
    help: 'POST /gitops/update by outcome: pushed, noop, bad_input (422), git_error (502), contended (409: retries exhausted)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly statusRegistryActions = new Counter({
    name: 'gocd_registry_bridge_status_registry_action_calls_total',
    help: 'Build-status registry action calls by handler kind and outcome (failed: a non-2xx answer or none)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  observeGoCdRequest(requestName: string, outcome: 'success' | 'failure', durationSeconds: number): void {
    const request = KNOWN_REQUESTS.has(requestName) ? requestName : 'unknown';
    this.gocdRequests.inc({ request, outcome });
    this.gocdDuration.observe({ request }, durationSeconds);
  }

  observeRegistry(event: RegistryEvent): void {
    switch (event.type) {
      case 'request':
        this.registryRequests.inc({ host: event.host, method: event.method, status: String(event.status) });
        break;
      case 'retry':
        this.retries.inc({ host: event.host, reason: event.reason });
        break;
      case 'token':
        this.tokenFetches.inc({ host: event.host });
        break;
      case 'cache':
        this.cacheLookups.inc({ cache: event.cache, result: event.hit ? 'hit' : 'miss' });
        break;
      case 'rate-limit':
        this.rateLimitRemaining.set({ host: event.host }, event.remaining);
        this.rateLimitLimit.set({ host: event.host }, event.limit);
        break;
    }
  }

  observeDroneRequest(outcome: DroneRequestOutcome): void {
    this.droneRequests.inc({ outcome });
  }

  observeStatusRegistry(event: StatusRegistryEvent): void {
    if (event.type === 'report') this.statusRegistryReports.inc({ outcome: event.outcome });
    else this.statusRegistryActions.inc({ kind: event.kind, outcome: event.outcome });
  }

  observeGitOpsUpdate(outcome: GitOpsOutcome): void {
    this.gitopsUpdates.inc({ outcome });
  }
}
