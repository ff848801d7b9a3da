// A loopback "registry" that answers /v2/, manifests and the config blob like a registry and abuses GET /v2/<name>/tags/list:
// one huge page of short tags, pages of new tags that link to a next page without end, big pages that do the
// same, or one page whose body never ends. Tags are t0000001, t0000002, … so the natural newest is the highest.
// Big bodies are rendered once and then only written (with backpressure), so serving them costs the server little
// CPU beside the client it attacks. It counts the pages asked for and the body bytes it got onto the wire, so a
// test can see where a client stopped. Every loop is bounded (pages and bytes): a client that never stops still ends.

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type TagListAbuse =
  /** The same page on every request: tags t0000001 on, about `bytes` long or exactly `tags` of them. */
  | { kind: 'huge-page'; bytes?: number; tags?: number }
  /** Pages of tagsPerPage new tags (0: empty pages), each with a Link to the next, padded to linkBytes. */
  | { kind: 'endless-pages'; tagsPerPage: number; linkBytes?: number }
  /** Pages of about bytesPerPage bytes (the same tags each time), each with a Link to the next. */
  | { kind: 'endless-big-pages'; bytesPerPage: number }
  /**
   * One page whose tags array never closes: a block of tags sent again and again until the client hangs up, or
   * (spaces) one tag and then whitespace without end, which no tag cap stops.
   */
  | { kind: 'endless-body'; filler?: 'tags' | 'spaces' };

export interface HostileRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  /** GET requests for a tag list page. */
  readonly pagesServed: number;
  /** Tag list body bytes the server wrote to sockets (the kernel may still have held some when the client left). */
  readonly bytesSent: number;
  /** The digest of the one manifest every tag names. */
  digest: string;
  stop(): Promise<void>;
}

const MOST_PAGES = 20_000;
const MOST_BODY_BYTES = 512 * 1024 * 1024;
const ENDLESS_BLOCK_BYTES = 8 * 1024 * 1024;
const WRITE_BYTES = 64 * 1024;
const TAG_BYTES = '"t0000001",'.length;
// One small, real image for every tag: a poll reads its manifest (GET when no digest is known yet, HEAD after) and
// config blob, so what a test measures is the tag list alone.
const CONFIG = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
const CONFIG_DIGEST = `sha256:${createHash('sha256').update(CONFIG).digest('hex')}`;
const MANIFEST = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: CONFIG_DIGEST, size: CONFIG.length }, layers: [] }),
);
const DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

/** Tags first … first+count-1 as JSON strings joined by commas, without brackets; written byte by byte, since a
 * 63 MB page built from strings costs seconds and half a gigabyte of the test's own memory. */
function renderTags(first: number, count: number): Buffer {
  if (first + count - 1 > 9_999_999) throw new Error('hostile registry: tags have 7 digits');
  const out = Buffer.alloc(Math.max(0, count * TAG_BYTES - 1), ',');
  const digits = [...String(first).padStart(7, '0')].map((d) => d.charCodeAt(0));
  for (let at = 0; at < out.length; at += TAG_BYTES) {
    out[at] = 0x22; // "
    out[at + 1] = 0x74; // t
    for (let d = 0; d < 7; d += 1) out[at + 2 + d] = digits[d]!;
    out[at + 9] = 0x22; // the comma after it is the fill
    for (let d = 6; d >= 0; d -= 1) {
      // the next number: add one to the last digit, carrying
      if (digits[d] !== 0x39) {
        digits[d]! += 1;
        break;
      }
      digits[d] = 0x30;
    }
  }
  return out;
}

export async function startHostileRegistry(abuse: TagListAbuse): Promise<HostileRegistry> {
  let pagesServed = 0;
  let bytesSent = 0;
  // Rendered before serving, so a test measuring its own memory during a poll does not count them.
  const samePage =
    abuse.kind === 'huge-page'
      ? renderTags(1, abuse.tags ?? Math.ceil((abuse.bytes ?? 0) / TAG_BYTES))
      : abuse.kind === 'endless-big-pages'
        ? renderTags(1, Math.ceil(abuse.bytesPerPage / TAG_BYTES))
        : undefined;
  const isSpaces = abuse.kind === 'endless-body' && abuse.filler === 'spaces';
  const block =
    abuse.kind !== 'endless-body'
      ? Buffer.alloc(0)
      : isSpaces
        ? Buffer.alloc(ENDLESS_BLOCK_BYTES, ' ')
        : renderTags(1, Math.ceil(ENDLESS_BLOCK_BYTES / TAG_BYTES));
  // Tags need a comma between blocks; spaces follow the one tag sent first.
  const [firstBlock, nextBlock] = isSpaces ? [Buffer.concat([renderTags(1, 1), block]), block] : [block, Buffer.concat([Buffer.from(','), block])];

  /** Writes in 64 KiB slices as the socket takes them; false once the client has gone. */
  async function write(res: http.ServerResponse, data: Buffer | string): Promise<boolean> {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    for (let offset = 0; offset < buffer.length; offset += WRITE_BYTES) {
      if (res.destroyed) return false;
      const slice = buffer.subarray(offset, offset + WRITE_BYTES);
      bytesSent += slice.length;
      if (!res.write(slice) && !(await drained(res))) return false;
    }
    return true;
  }

  async function servePage(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
    pagesServed += 1;
    const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? '1');
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Docker-Distribution-Api-Version': 'registry/2.0' };
    if ((abuse.kind === 'endless-pages' || abuse.kind === 'endless-big-pages') && page < MOST_PAGES) {
      const next = `/v2/${name}/tags/list?page=${page + 1}&pad=`;
      const linkBytes = abuse.kind === 'endless-pages' ? (abuse.linkBytes ?? 0) : 0;
      headers.Link = `<${next}${'x'.repeat(Math.max(0, linkBytes - next.length))}>; rel="next"`;
    }
    res.writeHead(200, headers);
    if (!(await write(res, `{"name":${JSON.stringify(name)},"tags":[`))) return;
    if (abuse.kind === 'endless-body') {
      for (let sent = 0; sent < MOST_BODY_BYTES; sent += nextBlock.length) {
        if (!(await write(res, sent === 0 ? firstBlock : nextBlock))) return;
      }
    } else {
      const tags = abuse.kind === 'endless-pages' ? renderTags((page - 1) * abuse.tagsPerPage + 1, abuse.tagsPerPage) : samePage!;
      if (!(await write(res, tags))) return;
    }
    res.end(']}');
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
    if ((req.method === 'HEAD' || req.method === 'GET') && /^\/v2\/.+\/manifests\/[^/]+$/.test(path)) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': DIGEST, 'Content-Length': String(MANIFEST.length) });
      res.end(req.method === 'GET' ? MANIFEST : undefined);
      return;
    }
    if (req.method === 'GET' && path.endsWith(`/blobs/${CONFIG_DIGEST}`)) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': CONFIG_DIGEST, 'Content-Length': String(CONFIG.length) }).end(CONFIG);
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

/** Resolves true when the socket takes more, false when the client has gone. */
function drained(res: http.ServerResponse): Promise<boolean> {
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
