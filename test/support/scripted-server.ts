// A loopback HTTP server whose every answer a test writes itself: a hostile registry, a token service, or the
// internal service an attacker wants the bridge to reach. Every request is recorded, so a test can show that a
// refused hop never arrived. Listens on any loopback address (127.0.0.2 keeps "the registry" and "this machine's
// other services" apart) or ::1.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedRequest {
  method: string;
  url: string;
  authorization?: string;
}

export interface ScriptedServer {
  /** http://<host>:<port>, with IPv6 hosts in brackets. */
  url: string;
  port: number;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

export type ScriptedHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startScriptedServer(handler: ScriptedHandler, host = '127.0.0.1', port = 0): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function answerJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
