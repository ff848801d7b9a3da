// The follow-up actions a verdict fires, and the one HTTP request each kind makes. Credentials are never in the
// record: a handler names a secret file or environment variable, and only the service's own secrets are reachable
// (files under the secrets directory, variables named STATUS_REGISTRY_*), so a registrant cannot have the service
// send its other tokens (the GoCD shim's, the status page's) to a URL of their choosing.

import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { BuildResult, BuildStatus, PackageRecord } from './record';

/** Where a handler's token or signing key comes from. */
export interface SecretSource {
  /** A file inside the service's secrets directory, owned by its user and closed to others. */
  tokenFile?: string;
  /** An environment variable of the service named STATUS_REGISTRY_…. */
  tokenEnv?: string;
}

/** JSON POST of {package, version, wave, verdict, builds}, signed with HMAC-SHA256 when a secret is named. */
export interface WebhookHandler {
  kind: 'webhook';
  url: string;
  secretFile?: string;
  secretEnv?: string;
}

/** The original's call: Drone 0.8 deploys an existing build (drone-go v0.8.4 Deploy). */
export interface Drone08Handler extends SecretSource {
  kind: 'drone-0.8';
  server: string;
  repository: string;
  build: number;
  environment: string;
}

/** Drone 1.x and later: promote a build (drone-go Promote). */
export interface DronePromoteHandler extends Omit<Drone08Handler, 'kind'> {
  kind: 'drone';
}

/** Schedule a GoCD pipeline (POST /go/api/pipelines/{name}/schedule). */
export interface GoCdHandler extends SecretSource {
  kind: 'gocd';
  server: string;
  pipeline: string;
}

export type Handler = WebhookHandler | Drone08Handler | DronePromoteHandler | GoCdHandler;

export const SECRET_ENV_PREFIX = 'STATUS_REGISTRY_';

/** One outgoing call, before its secret is added. */
export interface ActionRequest {
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Which secret to fetch, and how it goes into the request. */
  secret?: { file?: string; env?: string; use: 'bearer' | 'hmac' };
}

/** The call a handler makes for a record whose action is claimed. */
export function actionRequest(handler: Handler, record: PackageRecord): ActionRequest {
  const verdict = record.action.verdict as BuildStatus;
  const headers: Record<string, string> = { 'Idempotency-Key': record.action.idempotencyKey ?? '' };
  const registryParams = { REGISTRY_PACKAGE: record.package, REGISTRY_VERSION: record.version };
  switch (handler.kind) {
    case 'webhook': {
      const body = JSON.stringify({ package: record.package, version: record.version, wave: record.wave, verdict, builds: record.builds.map(publicBuild) });
      const secret = handler.secretFile || handler.secretEnv ? { file: handler.secretFile, env: handler.secretEnv, use: 'hmac' as const } : undefined;
      return { url: handler.url, headers: { ...headers, 'Content-Type': 'application/json' }, body, secret };
    }
    case 'drone-0.8': {
      const query = new URLSearchParams({ ...registryParams, event: 'deployment', deploy_to: handler.environment });
      return { url: `${droneBuildUrl(handler)}?${query}`, headers, secret: bearer(handler) };
    }
    case 'drone': {
      const query = new URLSearchParams({ target: handler.environment, ...registryParams });
      return { url: `${droneBuildUrl(handler)}/promote?${query}`, headers, secret: bearer(handler) };
    }
    case 'gocd': {
      const variables = Object.entries(registryParams).map(([name, value]) => ({ name, value, secure: false }));
      return {
        url: `${trimSlash(handler.server)}/go/api/pipelines/${encodeURIComponent(handler.pipeline)}/schedule`,
        headers: { ...headers, Accept: 'application/vnd.go.cd.v1+json', 'Content-Type': 'application/json', 'X-GoCD-Confirm': 'true' },
        body: JSON.stringify({ environment_variables: variables }),
        secret: bearer(handler),
      };
    }
  }
}

/** The headers a secret adds: a bearer token, or the webhook's signature over the exact body sent. */
export function secretHeaders(request: ActionRequest, secret: string): Record<string, string> {
  if (request.secret?.use === 'hmac') return { 'X-Signature-256': `sha256=${createHmac('sha256', secret).update(request.body ?? '').digest('hex')}` };
  return { Authorization: `Bearer ${secret}` };
}

/** A secret file named by a handler, resolved inside the secrets directory; undefined when it points outside. */
export function secretPathWithin(secretsDir: string, file: string): string | undefined {
  const resolved = path.resolve(secretsDir, file);
  return resolved.startsWith(path.resolve(secretsDir) + path.sep) ? resolved : undefined;
}

function bearer(source: SecretSource): ActionRequest['secret'] {
  return source.tokenFile || source.tokenEnv ? { file: source.tokenFile, env: source.tokenEnv, use: 'bearer' } : undefined;
}

/** owner/name stays two path segments, each encoded. */
function droneBuildUrl(handler: Drone08Handler | DronePromoteHandler): string {
  const repo = handler.repository.split('/').map(encodeURIComponent).join('/');
  return `${trimSlash(handler.server)}/api/repos/${repo}/builds/${handler.build}`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function publicBuild(build: BuildResult) {
  return { repo: build.repo, status: build.status, number: build.number };
}
