// The build-status registry's API (serve --status-registry-token-file): each route under the status-registry
// policy (an API token, from any peer), names percent-encoded one path segment each. A refusal the registry
// decides (unknown package, unlisted repo, old wave, bad status or body) is a JSON {error, fix} with its status;
// anything else is the router's 500 line.

import { PackageView, StatusRegistry, StatusRegistryError } from '../status-registry';
import type { Reply, Route, RouteRequest } from './router';

// A registration lists at most 1000 repos of at most 255 characters, plus handlers: well under this.
const STATUS_REGISTRY_BODY_BYTES = 512 * 1024;
// A report waits at most for SQLite's busy timeout (10 s) or a PostgreSQL row lock; the action call runs after.
const STATUS_REGISTRY_TIMEOUT_MS = 15_000;
const JSON_TYPE = 'application/json; charset=utf-8';
const PACKAGE_PATH = '/status-registry/packages/:package/:version';

export function statusRegistryRoutes(registry: StatusRegistry): Route[] {
  const route = (name: string, methods: Route['methods'], path: string, work: (request: RouteRequest) => Promise<Reply>): Route => ({
    name,
    methods,
    path,
    auth: 'status-registry',
    maxBodyBytes: STATUS_REGISTRY_BODY_BYTES,
    timeoutMs: STATUS_REGISTRY_TIMEOUT_MS,
    handle: (request) => work(request).catch(refusalReply),
  });
  const key = ({ params }: RouteRequest) => ({ package: params.package ?? '', version: params.version ?? '' });
  return [
    route('status-registry-list', ['GET'], '/status-registry/packages', async ({ query }) => json(200, await registry.list(query.get('state') ?? undefined))),
    // Two routes on one path: the router tries the next route when a path matches with another method.
    route('status-registry-get', ['GET'], PACKAGE_PATH, async (request) => json(200, await registry.get(key(request)))),
    route('status-registry-register', ['PUT'], PACKAGE_PATH, async (request) => json(201, await registry.register(key(request), request.body))),
    route('status-registry-builds', ['POST'], `${PACKAGE_PATH}/builds`, async (request) => json(200, await registry.report(key(request), request.body))),
    route('status-registry-retry', ['POST'], `${PACKAGE_PATH}/action/retry`, async (request) => json(202, await registry.retry(key(request)))),
  ];
}

function json(status: number, body: PackageView | PackageView[]): Reply {
  return { status, body: JSON.stringify(body), contentType: JSON_TYPE };
}

function refusalReply(err: unknown): Reply {
  if (!(err instanceof StatusRegistryError)) throw err;
  return { status: err.status, body: JSON.stringify({ error: err.message, fix: err.fix }), contentType: JSON_TYPE };
}
