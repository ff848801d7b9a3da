// One table of routes, served with node:http alone: the GoCD route carries every GoCD call (benchmark P1), and a
// framework's routing and request decoration would cost more than the dispatch work. Each route states its
// methods, path, auth policy (access.ts), body cap and deadline. In order, a request gets: 404 for an unknown path,
// 405 with Allow for a known path and another method, the policy's refusal, 413 for a body over the cap, 408 for a
// body still arriving at the deadline, the refusal of a policy that reads the body (a signature over it), 503 for a
// handler still working at the deadline, 500 for a handler that threw; each is one plain-text line, never a stack
// trace. A refused request never reaches the handler.

import { createServer, IncomingHttpHeaders, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Logger } from '../log';
import type { AccessCheck, AccessGrant, AuthPolicy, Refusal } from './access';

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  /** For log lines: which route a request took. */
  name: string;
  /** GET also answers HEAD. */
  methods: readonly RouteMethod[];
  /** The exact path; a `:name` segment matches one segment, percent-decoded into params.name. */
  path: string;
  /** Required: a route without a policy does not compile. */
  auth: AuthPolicy;
  maxBodyBytes: number;
  /** From the request's headers to its answer: a body still arriving then gets 408, a handler still working 503. */
  timeoutMs: number;
  handle(request: RouteRequest): Reply | Promise<Reply>;
}

export interface RouteRequest {
  params: Readonly<Record<string, string>>;
  /** The query string, decoded (empty when none). */
  query: URLSearchParams;
  /** The whole body as UTF-8 ('' when none was sent). */
  body: string;
  /** The same, as the bytes that arrived. */
  bodyBytes: Buffer;
  headers: IncomingHttpHeaders;
  /** What a policy that reads the body learned (the drone policy: which secret signed the request). */
  grant?: AccessGrant;
}

export interface Reply {
  status: number;
  body: string | Buffer;
  /** The whole header value, charset included. */
  contentType: string;
  headers?: Record<string, string>;
}

export interface RouterOptions {
  /** accessChecks(): one check per policy. */
  access: Readonly<Record<AuthPolicy, AccessCheck>>;
  log: Logger;
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  paramNames: string[];
  allow: string;
}

const TEXT = 'text/plain; charset=utf-8';
// Headers come in one packet from the shim; a peer that takes longer is stalling a connection.
const HEADERS_TIMEOUT_MS = 10_000;
// Node's own cut-off for a request that never completes, after every route's deadline has answered with its line.
const REQUEST_TIMEOUT_MARGIN_MS = 5_000;

export function createRouter(routes: readonly Route[], options: RouterOptions): RequestListener {
  const table = routes.map(compile);
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const method = req.method ?? 'GET';
    let pathMatched: CompiledRoute | undefined;
    for (const entry of table) {
      const match = entry.pattern.exec(path);
      if (!match) continue;
      if (!accepts(entry.route, method)) {
        pathMatched ??= entry;
        continue;
      }
      const access = options.access[entry.route.auth];
      const refusal = access.reads === 'headers' ? access.check(req) : undefined;
      if (refusal) {
        refuse(req, res, entry.route, refusal, options.log);
        return;
      }
      void serveRoute(req, res, entry.route, { path, query: new URLSearchParams(query === -1 ? '' : url.slice(query + 1)) }, paramsOf(entry, match), access, options.log);
      return;
    }
    if (pathMatched) send(res, 405, `gocd-registry-bridge: ${method} is not allowed on ${path}; use ${pathMatched.allow}`, TEXT, { Allow: pathMatched.allow });
    else send(res, 404, `gocd-registry-bridge: no route ${method} ${path}`, TEXT);
  };
}

/** An HTTP server for the table, with timeouts that fit it: headers soon, node's own 408 after every route's deadline. */
export function createRouterServer(routes: readonly Route[], options: RouterOptions): Server {
  const longestMs = Math.max(...routes.map((route) => route.timeoutMs));
  const timeouts = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: longestMs + REQUEST_TIMEOUT_MARGIN_MS, connectionsCheckingInterval: 1_000 };
  return createServer(timeouts, createRouter(routes, options));
}

function refuse(req: IncomingMessage, res: ServerResponse, route: Route, refusal: Refusal, log: Logger): void {
  log.debug('refused', { route: route.name, status: refusal.status, peer: req.socket.remoteAddress });
  send(res, refusal.status, refusal.message, TEXT, refusal.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="gocd-registry-bridge"' } : {});
}

async function serveRoute(
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  { path, query }: { path: string; query: URLSearchParams },
  params: Record<string, string>,
  access: AccessCheck,
  log: Logger,
): Promise<void> {
  let bodyArrived = false;
  let answered = false;
  const answer = (status: number, body: string | Buffer, contentType: string, headers: Record<string, string> = {}): void => {
    answered = true;
    clearTimeout(deadline);
    send(res, status, body, contentType, headers);
  };
  const deadline = setTimeout(() => {
    const seconds = `${route.timeoutMs / 1000} s`;
    log.warn('request timed out', { route: route.name, ...params, waitingFor: bodyArrived ? 'handler' : 'body', timeoutMs: route.timeoutMs });
    if (bodyArrived) answer(503, `gocd-registry-bridge: ${req.method} ${path} did not finish within ${seconds}; the sidecar log shows how it ended`, TEXT);
    else answer(408, `gocd-registry-bridge: the request body did not arrive within ${seconds}`, TEXT, { Connection: 'close' });
  }, route.timeoutMs);
  deadline.unref();

  let body: Buffer | undefined;
  try {
    body = await readBody(req, route.maxBodyBytes);
  } catch (err) {
    // The client gave up (the shim's timeout, GoCD stopping): nobody is left to answer.
    clearTimeout(deadline);
    log.warn('request aborted before its body arrived', { route: route.name, ...params, error: (err as Error).message });
    res.destroy();
    return;
  }
  bodyArrived = true;
  if (answered) return;
  if (body === undefined) {
    answer(413, 'gocd-registry-bridge: request entity too large', TEXT);
    return;
  }
  let grant: AccessGrant | undefined;
  if (access.reads === 'body') {
    const verdict = access.check(req, body);
    if ('status' in verdict) {
      clearTimeout(deadline);
      refuse(req, res, route, verdict, log);
      return;
    }
    grant = verdict;
  }
  try {
    const reply = await route.handle({ params, query, body: body.toString('utf8'), bodyBytes: body, headers: req.headers, grant });
    if (answered) log.warn('finished after its deadline', { route: route.name, ...params, status: reply.status });
    else answer(reply.status, reply.body, reply.contentType, reply.headers);
  } catch (err) {
    log.error('internal error', { route: route.name, url: req.url, error: err });
    if (!answered) answer(500, 'gocd-registry-bridge: internal error', TEXT);
  }
}

function compile(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      paramNames.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  const methods = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : route.methods;
  return { route, pattern: new RegExp(`^${source}$`), paramNames, allow: methods.join(', ') };
}

function accepts(route: Route, method: string): boolean {
  return route.methods.includes(method as RouteMethod) || (method === 'HEAD' && route.methods.includes('GET'));
}

function paramsOf(entry: CompiledRoute, match: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = {};
  entry.paramNames.forEach((name, index) => {
    params[name] = decodeSegment(match[index + 1] as string);
  });
  return params;
}

/** Clients percent-encode each segment (docs/sidecar-protocol.md); a malformed one stays as sent. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function send(res: ServerResponse, status: number, body: string | Buffer, contentType: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (status === 204) {
    // No content, so no Content-Type or Content-Length either (RFC 9110, section 15.3.5).
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The whole body's bytes; undefined past maxBytes. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
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
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
