// A Drone extension request signed in TypeScript, for the verifier's unit tests, where each part must be tampered
// with on its own. It signs as drone-go's plugin client does (plugin/internal/client/client.go with
// 99designs/httpsignatures-go): the tests that prove compatibility use drone-go itself (test/drone/client).

import { createHash, createHmac } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { httpRequest, HttpResponse } from './http-request';

/** The headers drone-go signs, in its order. */
export const DRONE_SIGNED_HEADERS = ['accept', 'accept-encoding', 'content-type', 'date', 'digest'];
export const REGISTRY_ACCEPT = 'application/vnd.drone.registry.v1+json';

export interface DroneSigning {
  secret: string;
  body: string | Buffer;
  algorithm?: string; // hmac-sha256
  /** The signed header names, as the `headers` parameter lists them. */
  signed?: string[];
  dateMs?: number; // now
  acceptEncoding?: string; // identity
  /** Written after drone-go's four parameters, e.g. `created="1"`. */
  extraParameters?: string;
  /** Where the parameters go: drone-go uses Signature; httpsignatures-go also reads Authorization: Signature …. */
  via?: 'signature' | 'authorization';
  /** The request line's method and path, for a signed (request-target). */
  method?: string;
  target?: string;
}

/** Every header of the request, names as Go writes them. */
export function signDroneRequest(signing: DroneSigning): Record<string, string> {
  const body = Buffer.from(signing.body);
  const headers: Record<string, string> = {
    Accept: REGISTRY_ACCEPT,
    'Accept-Encoding': signing.acceptEncoding ?? 'identity',
    'Content-Type': 'application/json',
    Digest: `SHA-256=${createHash('sha256').update(body).digest('base64')}`,
    Date: new Date(signing.dateMs ?? Date.now()).toUTCString(),
  };
  const signed = signing.signed ?? DRONE_SIGNED_HEADERS;
  const algorithm = signing.algorithm ?? 'hmac-sha256';
  const signature = droneSignature(signing.secret, algorithm, signed, headers, `${(signing.method ?? 'POST').toLowerCase()} ${signing.target ?? '/drone/registry'}`);
  const parameters = `keyId="hmac-key",algorithm="${algorithm}",signature="${signature}",headers="${signed.join(' ')}"${signing.extraParameters ? `,${signing.extraParameters}` : ''}`;
  if (signing.via === 'authorization') return { ...headers, Authorization: `Signature ${parameters}` };
  return { ...headers, Signature: parameters };
}

/** base64 HMAC over `name: value` lines joined by \n (httpsignatures-go signingString). */
export function droneSignature(secret: string, algorithm: string, signed: string[], headers: Record<string, string>, requestTarget: string): string {
  const byName = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const lines = signed.map((name) => (name === '(request-target)' ? `${name}: ${requestTarget}` : `${name}: ${byName.get(name) ?? ''}`));
  return createHmac(algorithm === 'hmac-sha1' ? 'sha1' : 'sha256', secret).update(lines.join('\n')).digest('base64');
}

/** As node's headersDistinct shows them: lower-case names, every value. */
export function distinct(headers: Record<string, string>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), [value]]));
}

/** POSTs a signed request to the endpoint; `change` edits the headers after signing (a tampering test). */
export function postSigned(endpoint: string, signing: DroneSigning, change: (headers: OutgoingHttpHeaders) => void = () => undefined): Promise<HttpResponse> {
  const headers: OutgoingHttpHeaders = signDroneRequest({ target: new URL(endpoint).pathname, ...signing });
  change(headers);
  return httpRequest(endpoint, { method: 'POST', headers, body: Buffer.from(signing.body) });
}
