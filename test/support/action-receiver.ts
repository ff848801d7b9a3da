// A small HTTP server that plays the action's receiver (Drone, GoCD, a webhook): it records every call and answers
// with the status the test sets, after a delay the test sets.

import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ActionReceiver {
  url: string;
  calls: ReceivedCall[];
  /** What the next calls get (200 unless set). */
  answer: { status: number; delayMs: number; body: string };
  close(): Promise<void>;
}

export async function startActionReceiver(): Promise<ActionReceiver> {
  const calls: ReceivedCall[] = [];
  const answer = { status: 200, delayMs: 0, body: '{}' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const { status, delayMs, body } = answer;
      setTimeout(() => res.writeHead(status, { 'Content-Type': 'application/json' }).end(body), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    answer,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
