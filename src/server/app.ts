// The sidecar's HTTP face: the shim forwards each GoCD call to POST /gocd/<extension>/<version>/<request>.
// That route is served with node:http alone: it carries every GoCD call (benchmark P1), and express's routing and
// request decoration cost more than all the dispatch work. Express serves the rest (/health, /status, /metrics)
// and is loaded on the first such request, so it adds nothing to the sidecar's start or memory until then.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { dispatch, GoCdContext } from '../gocd';
import type { Logger } from '../log';
import type { Observability } from './observability';
import { tokenChecker } from './token-check';

export interface AppOptions {
  token: string;
  version: string;
  context: GoCdContext;
  log: Logger;
  observability: Observability;
}

// GoCD request bodies are a few KiB of configuration; anything far larger is not from GoCD.
const MAX_BODY_BYTES = 1024 * 1024;
const GOCD_ROUTE = /^\/gocd\/([^/?#]+)\/([^/?#]+)\/([^/?#]+)(?:\?.*)?$/;

export function createApp(options: AppOptions): RequestListener {
  const tokenMatches = tokenChecker(options.token);
  const statusRoutes = createStatusApp(options.version, options.observability);
  return (req, res) => {
    const route = req.method === 'POST' ? GOCD_ROUTE.exec(req.url ?? '') : null;
    if (!route) {
      statusRoutes(req, res);
      return;
    }
    if (!tokenMatches(req.headers.authorization)) {
      reply(res, 401, 'gocd-registry-bridge: missing or wrong sidecar token');
      return;
    }
    handleGoCdCall(req, res, route.slice(1) as [string, string, string], options).catch((err: unknown) => {
      // dispatch() turns every handler failure into a reply; reaching here means the bridge itself is broken.
      options.log.error('internal error', { url: req.url, error: err });
      if (!res.headersSent) reply(res, 500, 'gocd-registry-bridge: internal error');
      else res.destroy();
    });
  };
}

/** /health, /status and /metrics: what may be served without the token, here and on the optional status port. */
export function createStatusApp(version: string, observability: Observability): RequestListener {
  let app: Promise<RequestListener> | undefined;
  return (req, res) => {
    app ??= import('./status-app').then((statusApp) => statusApp.createStatusRoutes(version, observability));
    app.then((listener) => listener(req, res)).catch((err: unknown) => {
      observability.log.error('internal error', { url: req.url, error: err });
      reply(res, 500, 'gocd-registry-bridge: internal error');
    });
  };
}

async function handleGoCdCall(req: IncomingMessage, res: ServerResponse, route: [string, string, string], options: AppOptions): Promise<void> {
  const started = process.hrtime.bigint();
  const [extension, version, requestName] = route.map(decodeSegment) as [string, string, string];
  let body: string | undefined;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    // The shim gave up on the call (its timeout, or GoCD stopping): nobody is left to answer.
    options.log.warn('request aborted before its body arrived', { requestName, error: (err as Error).message });
    res.destroy();
    return;
  }
  if (body === undefined) {
    reply(res, 413, 'gocd-registry-bridge: request entity too large');
    return;
  }
  const presentedId = req.headers['x-request-id'];
  const requestId = typeof presentedId === 'string' && presentedId !== '' ? presentedId : randomBytes(4).toString('hex');
  const answer = await dispatch({ extension, version, requestName, body, requestId }, options.context);
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  options.observability.metrics.observeGoCdRequest(requestName, answer.outcome, durationMs / 1000);
  options.log.debug('handled', { requestId, requestName, status: answer.status, outcome: answer.outcome, durationMs });
  reply(res, answer.status, answer.body, answer.contentType);
}

/** The shim URL-encodes each segment (docs/sidecar-protocol.md); a malformed one stays as sent and is unknown. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function reply(res: ServerResponse, status: number, body: string, contentType = 'text/plain'): void {
  res.writeHead(status, { 'Content-Type': `${contentType}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The whole body as UTF-8; undefined past maxBytes. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume(); // let the rest drain, so the 413 reaches the client
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
