// A loopback "registry" that answers /v2/ and manifest HEADs like a registry and abuses GET /v2/<name>/tags/list:
// one huge page of short tags, pages of distinct tags that link to a next page without end, big pages that do the
// same, or one page whose body never ends. Tags are t0000001, t0000002, … in the order sent, so the natural newest
// is the last one sent. It counts the pages asked for and the body bytes it got onto the wire, so a test can see
// where a client stopped. Every loop is bounded (pages and bytes), so a client that never stops still ends.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type TagListAbuse =
  /** One page of tags, either about `bytes` long or of exactly `tags` tags. */
  | { kind: 'huge-page'; bytes?: number; tags?: number }
  /** Pages of tagsPerPage distinct tags (0: empty pages), each with a Link to the next, padded to linkBytes. */
  | { kind: 'endless-pages'; tagsPerPage: number; linkBytes?: number }
  /** Pages of about bytesPerPage bytes, each with a Link to the next. */
  | { kind: 'endless-big-pages'; bytesPerPage: number }
  /** One page whose tags array never closes: tags stream until the client hangs up. */
  | { kind: 'endless-body' };

export interface HostileRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  /** GET requests for a tag list page. */
  readonly pagesServed: number;
  /** Tag list body bytes the server wrote to sockets (the kernel may still have held some when the client left). */
  readonly bytesSent: number;
  /** The digest every manifest HEAD answers with. */
  digest: string;
  stop(): Promise<void>;
}

const MOST_PAGES = 20_000;
const MOST_BODY_BYTES = 512 * 1024 * 1024;
const CHUNK_TAGS = 6_000; // ~64 KiB of tags per write
const DIGEST = `sha256:${'ab'.repeat(32)}`;

export async function startHostileRegistry(abuse: TagListAbuse): Promise<HostileRegistry> {
  let pagesServed = 0;
  let bytesSent = 0;
  let nextTag = 1;
  const tag = () => `t${String(nextTag++).padStart(7, '0')}`;

  /** Writes tags, in ~64 KiB chunks as the socket takes them, until `more` says stop or the client hangs up. */
  async function streamTags(res: http.ServerResponse, more: (sentBytes: number, sentTags: number) => boolean): Promise<boolean> {
    let sentBytes = 0;
    let sentTags = 0;
    let isFirst = true;
    while (more(sentBytes, sentTags) && sentBytes < MOST_BODY_BYTES) {
      const tags: string[] = [];
      for (let i = 0; i < CHUNK_TAGS && more(sentBytes, sentTags + tags.length); i += 1) tags.push(`"${tag()}"`);
      const chunk = `${isFirst ? '' : ','}${tags.join(',')}`;
      isFirst = false;
      sentBytes += chunk.length;
      sentTags += tags.length;
      if (!(await write(res, chunk))) return false;
    }
    return true;
  }

  async function write(res: http.ServerResponse, chunk: string): Promise<boolean> {
    if (res.destroyed) return false;
    bytesSent += chunk.length;
    if (res.write(chunk)) return true;
    return new Promise((resolve) => {
      const settle = (isOpen: boolean) => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(isOpen);
      };
      const onDrain = () => settle(true);
      const onClose = () => settle(false);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  async function servePage(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
    pagesServed += 1;
    const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? '1');
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Docker-Distribution-Api-Version': 'registry/2.0' };
    const isPaged = abuse.kind === 'endless-pages' || abuse.kind === 'endless-big-pages';
    if (isPaged && page < MOST_PAGES) {
      const next = `/v2/${name}/tags/list?page=${page + 1}&pad=`;
      const linkBytes = abuse.kind === 'endless-pages' ? (abuse.linkBytes ?? 0) : 0;
      headers.Link = `<${next}${'x'.repeat(Math.max(0, linkBytes - next.length))}>; rel="next"`;
    }
    res.writeHead(200, headers);
    if (!(await write(res, `{"name":${JSON.stringify(name)},"tags":[`))) return;
    let more: (sentBytes: number, sentTags: number) => boolean;
    switch (abuse.kind) {
      case 'huge-page':
        more = (bytes, tags) => (abuse.tags !== undefined ? tags < abuse.tags : bytes < (abuse.bytes ?? 0));
        break;
      case 'endless-pages':
        more = (_bytes, tags) => tags < abuse.tagsPerPage;
        break;
      case 'endless-big-pages':
        more = (bytes) => bytes < abuse.bytesPerPage;
        break;
      case 'endless-body':
        more = () => true;
        break;
    }
    if (await streamTags(res, more)) res.end(']}');
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (req.method === 'GET' && tags) {
      servePage(req, res, tags[1]!).catch(() => res.destroy());
      return;
    }
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-Api-Version': 'registry/2.0' }).end('{}');
      return;
    }
    if (req.method === 'HEAD' && /^\/v2\/.+\/manifests\/[^/]+$/.test(path)) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': DIGEST, 'Content-Length': '2' }).end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"not served here"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    get pagesServed() {
      return pagesServed;
    },
    get bytesSent() {
      return bytesSent;
    },
    digest: DIGEST,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
