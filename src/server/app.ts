// The sidecar's routes: the shim forwards each GoCD call to POST /gocd/<extension>/<version>/<request>; Drone
// runners, when serve has a Drone secret, post to /drone/registry; /health, /status and /metrics show how it is
// doing. docs/sidecar-protocol.md lists the same table; a test keeps the two alike.

import { randomBytes } from 'node:crypto';
import type { RequestListener, Server } from 'node:http';
import type { DroneRegistryExtension } from '../drone';
import type { StatusRegistry } from '../status-registry';
import type { GitOpsService } from '../gitops';
import { dispatch, GoCdContext } from '../gocd';
import type { Logger } from '../log';
import { accessChecks, AccessOptions } from './access';
import { gitOpsRoute } from './gitops-route';
import type { Observability } from './observability';
import { createRouter, createRouterServer, Reply, Route, RouterOptions } from './router';
import { renderStatusRegistrySection } from './status-registry-page';
import { statusRegistryRoutes } from './status-registry-routes';

export interface AppOptions extends Omit<AccessOptions, 'gocdToken' | 'allowRemoteGoCd' | 'drone' | 'statusRegistryTokens' | 'gitopsTokens'> {
  token: string;
  /** serve --allow-remote-gocd; false when not given. */
  allowRemoteGoCd?: boolean;
  version: string;
  context: GoCdContext;
  log: Logger;
  observability: Observability;
  /** serve --drone-registry-secret-file: mounts POST /drone/registry; without it that path is 404. */
  drone?: DroneRegistryExtension;
  /** serve --status-registry-token-file: mounts /status-registry/… under these API tokens; without it those paths are 404. */
  statusRegistry?: { registry: StatusRegistry; tokens: readonly string[] };
  /** serve --gitops-token-file: mounts POST /gitops/update for callers with one of these tokens. */
  gitops?: { service: GitOpsService; tokens: readonly string[] };
}

// GoCD request bodies are a few KiB of configuration; anything far larger is not from GoCD.
const GOCD_BODY_BYTES = 1024 * 1024;
// Above a poll's registry budget (50 s, gocd/poll.ts), below the shim's default wait (60 s): a stuck call gets this
// route's line rather than the shim's timeout.
const GOCD_TIMEOUT_MS = 55_000;
// The status routes read no body; a little is tolerated from clients that send one anyway.
const STATUS_BODY_BYTES = 1024;
// Rendering the page or the metrics takes milliseconds; a wait this long means the process is in trouble.
const STATUS_TIMEOUT_MS = 10_000;
// A runner's {repo, build} is a few KiB; the cap keeps anything else from being read and hashed.
const DRONE_BODY_BYTES = 1024 * 1024;
// Answers come from memory in a millisecond (ECR logins are refreshed in the background); this stays well inside
// the runner's own one-minute limit, so a stuck call gets our line rather than the runner's timeout.
const DRONE_TIMEOUT_MS = 30_000;

/** Every route the sidecar serves, each with who may call it. */
export function sidecarRoutes(options: AppOptions): Route[] {
  return [
    {
      name: 'gocd',
      methods: ['POST'],
      path: '/gocd/:extension/:version/:requestName',
      auth: 'gocd',
      maxBodyBytes: GOCD_BODY_BYTES,
      timeoutMs: GOCD_TIMEOUT_MS,
      handle: ({ params, body, headers }) => handleGoCdCall(params, body, headers['x-request-id'], options),
    },
    ...(options.drone ? [droneRoute(options.drone)] : []),
    ...(options.statusRegistry ? statusRegistryRoutes(options.statusRegistry.registry) : []),
    ...(options.gitops ? [gitOpsRoute(options.gitops.service, options.log, options.observability.observeGitOpsUpdate)] : []),
    ...statusRoutes(options),
  ];
}

function droneRoute(drone: DroneRegistryExtension): Route {
  return {
    name: 'drone-registry',
    methods: ['POST'],
    path: '/drone/registry',
    auth: 'drone',
    maxBodyBytes: DRONE_BODY_BYTES,
    timeoutMs: DRONE_TIMEOUT_MS,
    // The drone policy admits only signed requests, and names the secret that signed this one.
    handle: ({ bodyBytes, headers, grant }) => drone.answer({ body: bodyBytes, acceptEncoding: headers['accept-encoding'], secret: grant!.signedWith }),
  };
}

/** /health, /status and /metrics: also served on the optional fixed status port. */
function statusRoutes(options: Pick<AppOptions, 'version' | 'observability' | 'statusRegistry'>): Route[] {
  const { version, observability, statusRegistry } = options;
  const route = (name: string, auth: Route['auth'], handle: Route['handle']): Route => ({
    name,
    methods: ['GET'],
    path: `/${name}`,
    auth,
    maxBodyBytes: STATUS_BODY_BYTES,
    timeoutMs: STATUS_TIMEOUT_MS,
    handle,
  });
  return [
    route('health', 'none', () => ({ status: 200, body: JSON.stringify({ status: 'ok', version }), contentType: 'application/json; charset=utf-8' })),
    route('status', 'status', async () => {
      const sections = statusRegistry ? [await renderStatusRegistrySection(statusRegistry.registry)] : [];
      return { status: 200, body: observability.statusPage(version, sections), contentType: 'text/html; charset=utf-8' };
    }),
    route('metrics', 'status', async () => ({ status: 200, ...(await observability.metricsText()) })),
  ];
}

/** The sidecar's request listener (what tests drive). */
export function createApp(options: AppOptions): RequestListener {
  return createRouter(sidecarRoutes(options), routerOptions(options));
}

export function createSidecarServer(options: AppOptions): Server {
  return createRouterServer(sidecarRoutes(options), routerOptions(options));
}

/** The fixed status port's server: the status routes only, under the same policies. */
export function createStatusServer(options: AppOptions): Server {
  return createRouterServer(statusRoutes(options), routerOptions(options));
}

function routerOptions(options: AppOptions): RouterOptions {
  return { access: accessChecks(accessOptions(options)), log: options.log };
}

function accessOptions(options: AppOptions): AccessOptions {
  const { token, allowRemoteGoCd = false, statusToken, peerAddress, drone, statusRegistry, gitops } = options;
  return { gocdToken: token, allowRemoteGoCd, statusToken, peerAddress, drone, statusRegistryTokens: statusRegistry?.tokens, gitopsTokens: gitops?.tokens };
}

async function handleGoCdCall(params: Readonly<Record<string, string>>, body: string, presentedId: string | string[] | undefined, options: AppOptions): Promise<Reply> {
  const started = process.hrtime.bigint();
  const { extension = '', version = '', requestName = '' } = params;
  const requestId = typeof presentedId === 'string' && presentedId !== '' ? presentedId : randomBytes(4).toString('hex');
  const answer = await dispatch({ extension, version, requestName, body, requestId }, options.context);
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  options.observability.metrics.observeGoCdRequest(requestName, answer.outcome, durationMs / 1000);
  options.log.debug('handled', { requestId, requestName, status: answer.status, outcome: answer.outcome, durationMs });
  return { status: answer.status, body: answer.body, contentType: `${answer.contentType}; charset=utf-8` };
}
