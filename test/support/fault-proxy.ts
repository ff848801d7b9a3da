// A loopback HTTP proxy in front of a real registry that adds what docker-registry 2.8 never does on its own:
// paginated tag lists in the link styles real registries use, page-size limits, cross-host links, and
// scripted failures (429, 503, dropped connections, truncated bodies). Every request is recorded, so tests
// can count what a client spent (manifest GETs, HEADs, tag pages).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export type Fault =
  /** headers: e.g. Docker Hub's ratelimit-limit / ratelimit-remaining. */
  | { status: 429; retryAfter?: string; headers?: Record<string, string> }
  | { status: 503 }
  /** Destroys the connection without answering. */
  | { reset: true }
  /** Forwards the upstream answer with its body cut in half (and a Content-Length to match). */
  | { truncateJson: true }
  /** Forwards the upstream answer without this header (registries that omit Docker-Content-Digest). */
  | { dropHeader: string }
  /** Forwards the upstream answer with a space appended to its body: content that no longer matches its digest. */
  | { corruptBody: true };

export interface ScriptedFault {
  /** Tested against the request path including its query string. */
  match: RegExp;
  /** Only requests with this method; any method when absent. */
  method?: string;
  fault: Fault;
  /** How many matching requests get the fault; later ones pass through. */
  times: number;
}

export interface FaultProxyOptions {
  /** Serve GET /v2/<name>/tags/list in sorted pages of at most pageSize, with a Link to the next page. */
  paginateTags?: {
    pageSize: number;
    /**
     * relative: </v2/<name>/tags/list?n=100&last=<tag>> (distribution);
     * absolute: the same with http://127.0.0.1:<port> in front (Pulp);
     * opaque: </v2/<name>/tags/list?next_page=<cursor>&n=100> (Quay), where `last` is ignored.
     */
    linkStyle: 'relative' | 'absolute' | 'opaque';
  };
  /** Answer 400 PAGINATION_NUMBER_INVALID to a tag list request whose n is larger (distribution 3.1). */
  rejectPageSizeAbove?: number;
  /** The first tag page's Link points at 127.0.0.2 instead (needs paginateTags); nothing listens there. */
  crossHostNextLink?: boolean;
  faults?: ScriptedFault[];
  /** PEM file of the CA a TLS upstream's certificate chains to (StartedRegistry.caFile). */
  upstreamCaFile?: string;
  /**
   * Keep every 200 answer to GET or HEAD of a manifest or blob, to answer from memory while serveCached(true), as a
   * pull-through cache in front of a registry does (benchmarks; no auth check on a cached answer).
   */
  pullThroughCache?: boolean;
}

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** The status the client got; 0 when the connection was reset instead. */
  status: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  /** Every request in arrival order; clear it with `requests.length = 0`. */
  requests: ProxiedRequest[];
  /** Replaces the scripted faults still pending. */
  setFaults(faults: ScriptedFault[]): void;
  /** With pullThroughCache: answer kept manifests and blobs from memory (true) or from the registry again (false). */
  serveCached(on: boolean): void;
  stop(): Promise<void>;
}

type Paging = NonNullable<FaultProxyOptions['paginateTags']>;

interface Reply {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

const TAGS_LIST = /^\/v2\/(.+)\/tags\/list$/;
const MANIFEST_OR_BLOB = /^\/v2\/.+\/(manifests|blobs)\/[^/]+$/;
// Connection-level headers belong to one hop; forwarding them would describe the wrong connection.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

export async function startFaultProxy(upstreamUrl: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  if (options.crossHostNextLink && !options.paginateTags) throw new Error('crossHostNextLink needs paginateTags');
  const upstream = new URL(upstreamUrl);
  const upstreamCa = options.upstreamCaFile ? readFileSync(options.upstreamCaFile) : undefined;
  const requests: ProxiedRequest[] = [];
  let faults = copyFaults(options.faults ?? []);
  const kept = new Map<string, Reply>(); // `${method} ${path}` → the registry's 200 answer (pullThroughCache)
  let servingKept = false;
  let origin = ''; // known once listening

  /** Sends the client's request (method, headers, body) upstream, to the given path. */
  const openUpstream = (req: http.IncomingMessage, path: string) =>
    new Promise<http.IncomingMessage>((resolve, reject) => {
      const send = upstream.protocol === 'https:' ? https.request : http.request;
      // The Host header stays the proxy's and the scheme is declared http, so the absolute URLs the registry
      // builds (blob upload Locations) already point back through the proxy: nothing needs rewriting. The
      // token realm is the token server's own address, which clients reach directly.
      const headers = { ...endToEnd(req.headers), 'x-forwarded-proto': 'http' };
      const request = send(new URL(path, upstream), { method: req.method, headers, ca: upstreamCa }, resolve);
      request.on('error', reject);
      req.pipe(request);
    });

  /** The full upstream answer, read into memory. */
  const bufferedUpstream = async (req: http.IncomingMessage, path: string): Promise<Reply> => {
    const response = await openUpstream(req, path);
    return { status: response.statusCode ?? 502, headers: endToEnd(response.headers), body: await readAll(response) };
  };

  /** One page of GET /v2/<name>/tags/list, cut from the full list distribution 2.8 answers when asked without n. */
  const tagPage = async (req: http.IncomingMessage, name: string, url: URL, paging: Paging, n: number | undefined): Promise<Reply> => {
    const full = await bufferedUpstream(req, `/v2/${name}/tags/list`);
    if (full.status !== 200) return full;
    let after: string | undefined; // the first page when undefined
    if (paging.linkStyle === 'opaque') {
      const cursor = url.searchParams.get('next_page');
      after = cursor ? decodeCursor(cursor) : undefined;
      if (cursor && after === undefined) return jsonReply(400, registryError('UNSUPPORTED', 'invalid next_page cursor'));
    } else {
      after = url.searchParams.get('last') || undefined;
    }
    const all = ((JSON.parse(full.body.toString()) as { tags: string[] | null }).tags ?? []).sort();
    const rest = after === undefined ? all : all.filter((tag) => tag > after);
    // A smaller n is honoured and a larger one ignored, as registries with a maximum page size do.
    const size = Math.min(n ?? paging.pageSize, paging.pageSize);
    const page = rest.slice(0, size);
    const headers = { ...full.headers };
    const lastTag = page[page.length - 1];
    if (rest.length > page.length && lastTag !== undefined) {
      const query =
        paging.linkStyle === 'opaque' ? `next_page=${encodeURIComponent(encodeCursor(lastTag))}&n=${size}` : `n=${size}&last=${encodeURIComponent(lastTag)}`;
      let prefix = paging.linkStyle === 'absolute' ? origin : '';
      if (options.crossHostNextLink && after === undefined) prefix = origin.replace('127.0.0.1', '127.0.0.2');
      headers.link = `<${prefix}/v2/${name}/tags/list?${query}>; rel="next"`;
    }
    return { status: 200, headers, body: Buffer.from(JSON.stringify({ name, tags: page })) };
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const answer = ({ status, headers, body }: Reply) => {
      requests.push({ method, path, status });
      res.writeHead(status, { ...headers, 'content-length': body.length }).end(body);
    };
    const url = new URL(path, 'http://proxy');
    const tagsOf = method === 'GET' ? TAGS_LIST.exec(url.pathname)?.[1] : undefined;
    const rawN = url.searchParams.get('n') ?? '';
    const n = /^\d+$/.test(rawN) ? Number(rawN) : undefined;

    const scripted = faults.find((f) => f.times > 0 && (!f.method || f.method === method) && f.match.test(path));
    if (scripted) scripted.times -= 1;
    const fault = scripted?.fault;
    if (fault && 'reset' in fault) {
      requests.push({ method, path, status: 0 });
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      if (fault.status === 503) return answer(jsonReply(503, registryError('UNAVAILABLE', 'service unavailable')));
      const reply = jsonReply(429, registryError('TOOMANYREQUESTS', 'too many requests'));
      if (fault.retryAfter !== undefined) reply.headers['retry-after'] = fault.retryAfter;
      Object.assign(reply.headers, fault.headers);
      return answer(reply);
    }
    if (tagsOf !== undefined && options.rejectPageSizeAbove !== undefined && n !== undefined && n > options.rejectPageSizeAbove) {
      return answer(jsonReply(400, registryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n })));
    }

    if (tagsOf !== undefined && options.paginateTags) {
      const reply = await tagPage(req, tagsOf, url, options.paginateTags, n);
      return answer(fault ? truncated(reply) : reply);
    }
    if (fault && 'dropHeader' in fault) {
      const reply = await bufferedUpstream(req, path);
      delete reply.headers[fault.dropHeader.toLowerCase()];
      return answer(reply);
    }
    if (fault && 'corruptBody' in fault) {
      const reply = await bufferedUpstream(req, path);
      return answer({ ...reply, body: Buffer.concat([reply.body, Buffer.from(' ')]) });
    }
    if (fault) return answer(truncated(await bufferedUpstream(req, path)));
    if (options.pullThroughCache && (method === 'GET' || method === 'HEAD') && MANIFEST_OR_BLOB.test(url.pathname)) {
      const key = `${method} ${path}`;
      const reply = (servingKept && kept.get(key)) || (await bufferedUpstream(req, path));
      if (reply.status === 200) kept.set(key, reply);
      requests.push({ method, path, status: reply.status });
      // A HEAD answer keeps the registry's Content-Length: the length of the body a GET would have.
      res.writeHead(reply.status, reply.headers).end(method === 'HEAD' ? undefined : reply.body);
      return;
    }
    const response = await openUpstream(req, path);
    requests.push({ method, path, status: response.statusCode ?? 502 });
    res.writeHead(response.statusCode ?? 502, endToEnd(response.headers));
    response.pipe(res);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status: 502 });
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`fault proxy: upstream failed: ${err.message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    requests,
    setFaults: (next) => {
      faults = copyFaults(next);
    },
    serveCached: (on) => {
      servingKept = on;
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Private copies, so counting `times` down leaves the caller's objects alone. */
function copyFaults(faults: ScriptedFault[]): ScriptedFault[] {
  return faults.map((fault) => ({ ...fault }));
}

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.includes(name)));
}

function readAll(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function truncated(reply: Reply): Reply {
  return { ...reply, body: reply.body.subarray(0, Math.floor(reply.body.length / 2)) };
}

function jsonReply(status: number, body: string): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
}

/** The body shape distribution uses for errors. */
function registryError(code: string, message: string, detail: unknown = null): string {
  return JSON.stringify({ errors: [{ code, message, detail }] });
}

// Quay-style cursors: meaningless to clients, so only a client that follows the Link verbatim gets page two.
function encodeCursor(lastTag: string): string {
  return Buffer.from(JSON.stringify({ after: lastTag })).toString('base64');
}

function decodeCursor(cursor: string): string | undefined {
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64').toString()) as { after?: unknown };
    return typeof after === 'string' ? after : undefined;
  } catch {
    return undefined;
  }
}
