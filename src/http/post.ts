// One JSON POST after another to the same receivers (webhooks, Drone and GoCD APIs), on node:http(s) with one
// keep-alive agent per protocol, reading at most a bounded answer. node-fetch, which the status registry's action
// calls used before, asks for "Connection: close" when given no agent, and its Request, Headers and URL objects made
// the final reports of P6 (each makes one call) a garbage-collection burden: they ran at a third of the others' rate.

import http from 'node:http';
import https from 'node:https';

export interface PostInit {
  method: 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Nothing is followed: a redirect is an answer like any other. */
  redirect: 'manual';
  /** The whole call's deadline. */
  signal: AbortSignal;
}

export type Poster = (url: string, init: PostInit) => Promise<{ status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** A poster whose answers are read up to maxAnswerBytes; the rest is dropped unread. */
export function keepAlivePoster(maxAnswerBytes: number): Poster {
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  return (url, init) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const agent = agents[target.protocol as keyof typeof agents];
      if (!agent) return reject(new Error(`${target.protocol} is not http: or https:`));
      const headers = { ...init.headers, 'Content-Length': String(Buffer.byteLength(init.body ?? '')) };
      const request = (target.protocol === 'https:' ? https : http).request(target, { method: init.method, headers, agent, signal: init.signal }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < maxAnswerBytes) chunks.push(chunk);
          size += chunk.length;
        });
        response.once('error', reject);
        response.once('end', () => {
          const answer = Buffer.concat(chunks).subarray(0, maxAnswerBytes);
          resolve({ status: response.statusCode ?? 0, arrayBuffer: async () => answer.buffer.slice(answer.byteOffset, answer.byteOffset + answer.length) });
        });
      });
      request.once('error', reject);
      request.end(init.body);
    });
}
