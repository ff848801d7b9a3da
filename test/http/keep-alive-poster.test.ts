// The poster serve gives the status registry for its action calls (src/http/post.ts), against real local servers:
// what it sends, what it reads back, and where it stops.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAlivePoster } from '../../src/http';
import { freePort } from '../support/free-port';

interface Seen {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: unknown;
}

/** Runs work against a local server answering every request with answer, then closes it and its connections. */
async function withServer(answer: (res: http.ServerResponse) => void, work: (url: string, seen: Seen[]) => Promise<void>): Promise<void> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socket: req.socket });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await work(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const post = (body: string, signal = AbortSignal.timeout(5_000)) => ({ method: 'POST' as const, headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-1' }, body, redirect: 'manual' as const, signal });

describe('keepAlivePoster', () => {
  it('posts the body with its headers and answers status and body, on one kept-alive connection for calls in turn', () =>
    withServer(
      (res) => res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"number":18}'),
      async (url, seen) => {
        const send = keepAlivePoster(64 * 1024);
        const first = await send(url, post('{"verdict":"success"}'));
        const second = await send(url, post('{"verdict":"failure"}'));
        expect([first.status, Buffer.from(await first.arrayBuffer()).toString('utf8'), second.status]).toEqual([202, '{"number":18}', 202]);
        expect(seen.map((s) => [s.method, s.body, s.headers['idempotency-key'], s.headers['content-length']])).toEqual([
          ['POST', '{"verdict":"success"}', 'k-1', '21'],
          ['POST', '{"verdict":"failure"}', 'k-1', '21'],
        ]);
        expect(seen[1]!.socket).toBe(seen[0]!.socket);
      },
    ));

  it('reads at most 64 KiB of an answer and still ends the call', () =>
    withServer(
      (res) => res.writeHead(200).end(Buffer.alloc(1024 * 1024, 'x')),
      async (url) => {
        const answer = await keepAlivePoster(64 * 1024)(url, post('{}'));
        expect([answer.status, (await answer.arrayBuffer()).byteLength]).toEqual([200, 64 * 1024]);
      },
    ));

  it('gives up when the signal fires, and names a refused connection by its code', () =>
    withServer(
      () => undefined, // never answers
      async (url) => {
        const slow = await keepAlivePoster(64 * 1024)(url, post('{}', AbortSignal.timeout(200))).then(() => undefined, (err: Error) => err.name);
        const refused = await keepAlivePoster(64 * 1024)(`http://127.0.0.1:${await freePort()}/hook`, post('{}')).then(() => undefined, (err: NodeJS.ErrnoException) => err.code);
        expect([slow, refused]).toEqual(['AbortError', 'ECONNREFUSED']);
      },
    ));
});
