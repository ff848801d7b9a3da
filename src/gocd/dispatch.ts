// The one place where GoCD request names meet handlers, and the one place where errors become GoCD replies.

import { BridgeError } from '../errors';
import { checkPackageConnection } from './check-package-connection';
import { checkRepositoryConnection } from './check-repository-connection';
import type { GoCdContext } from './context';
import type { RequestHandler } from './define-handler';
import { latestRevision } from './latest-revision';
import { latestRevisionSince } from './latest-revision-since';
import { packageConfiguration } from './package-configuration';
import { repositoryConfiguration } from './repository-configuration';
import { validatePackageConfiguration } from './validate-package-configuration';
import { validateRepositoryConfiguration } from './validate-repository-configuration';

// Maps, not object literals: a request named "constructor" or "__proto__" must be unknown, not Object.prototype's.
const PACKAGE_REPOSITORY_1_0: ReadonlyMap<string, RequestHandler> = new Map([
  ['repository-configuration', repositoryConfiguration],
  ['package-configuration', packageConfiguration],
  ['validate-repository-configuration', validateRepositoryConfiguration],
  ['validate-package-configuration', validatePackageConfiguration],
  ['check-repository-connection', checkRepositoryConnection],
  ['check-package-connection', checkPackageConnection],
  ['latest-revision', latestRevision],
  ['latest-revision-since', latestRevisionSince],
]);

const EXTENSIONS: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, RequestHandler>>> = new Map([
  ['package-repository', new Map([['1.0', PACKAGE_REPOSITORY_1_0]])],
]);

export interface GoCdCall {
  extension: string;
  version: string;
  requestName: string;
  body: string;
  requestId: string;
}

/** What the shim hands back to GoCD: only 200 counts as success, and GoCD shows any other body verbatim. */
export interface GoCdReply {
  status: number;
  contentType: 'application/json' | 'text/plain';
  body: string;
  /** failure also for a check-* answered 200 with status "failure": what metrics count. */
  outcome: 'success' | 'failure';
}

/** The request names GoCD may send, for bounded metric labels. */
export const KNOWN_REQUESTS: ReadonlySet<string> = new Set(PACKAGE_REPOSITORY_1_0.keys());

export async function dispatch(call: GoCdCall, ctx: GoCdContext): Promise<GoCdReply> {
  const handler = EXTENSIONS.get(call.extension)?.get(call.version)?.get(call.requestName);
  if (!handler) return unknownRequest(call);
  try {
    return json(200, await handler.run(call.body, call.requestName, { ...ctx, requestId: call.requestId }));
  } catch (err) {
    return errorReply(err, handler, call, ctx);
  }
}

function errorReply(err: unknown, handler: RequestHandler, call: GoCdCall, ctx: GoCdContext): GoCdReply {
  if (err instanceof BridgeError) {
    ctx.log.warn('request failed', { requestId: call.requestId, requestName: call.requestName, code: err.code, error: err.message, cause: err.cause });
    if (handler.errorReply === 'connection-result') return json(200, { status: 'failure', messages: [err.message, `Fix: ${err.fix}`] }, 'failure');
    return text(statusFor(err), err.describe());
  }
  ctx.log.error('internal error', { requestId: call.requestId, requestName: call.requestName, error: err });
  const message = `internal error in the gocd-registry-bridge sidecar while handling ${call.requestName} (request ${call.requestId}); the GoCD plugin log has the details`;
  if (handler.errorReply === 'connection-result') return json(200, { status: 'failure', messages: [message] }, 'failure');
  return text(500, message);
}

/** GoCD treats every non-200 alike; distinct codes still help whoever reads the plugin log or calls the sidecar. */
function statusFor(err: BridgeError): number {
  switch (err.code) {
    case 'INVALID_REQUEST':
      return 400;
    case 'INVALID_CONFIGURATION':
    case 'INVALID_REFERENCE':
    case 'INVALID_FILTER':
      return 422;
    case 'REGISTRY_NOT_FOUND':
    case 'NO_MATCHING_TAG':
      return 404;
    default:
      return 502; // the registry failed us
  }
}

function unknownRequest(call: GoCdCall): GoCdReply {
  const versions = EXTENSIONS.get(call.extension);
  if (!versions) return text(404, `gocd-registry-bridge serves the package-repository extension, not "${call.extension}"`);
  const messages = versions.get(call.version);
  if (!messages) return text(404, `gocd-registry-bridge serves ${call.extension} version ${[...versions.keys()].join(', ')}, not "${call.version}"`);
  // GoCD also sends go.plugin-settings.* requests; a non-200 answer makes it log a WARN and carry on.
  return text(404, `gocd-registry-bridge does not handle "${call.requestName}"; it handles ${[...messages.keys()].join(', ')}`);
}

function json(status: number, value: unknown, outcome: GoCdReply['outcome'] = 'success'): GoCdReply {
  return { status, contentType: 'application/json', body: JSON.stringify(value), outcome };
}

function text(status: number, message: string): GoCdReply {
  return { status, contentType: 'text/plain', body: message, outcome: 'failure' };
}
