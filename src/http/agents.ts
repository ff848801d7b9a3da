// The HTTP(S) agents every registry request goes through. node-fetch 2 notices a connection that closes in the
// middle of a chunked body, but not of a Content-Length one: the body then waits for the request timeout and the
// failure reads as a slow registry. These agents turn such a close into an ECONNRESET at once, so it is retried
// as the reset it is.

import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from './address-guard';

export interface AgentSettings {
  /** Keep connections for the next request: not for a one-off hop pinned to a checked address. */
  keepAlive: boolean;
  /** https: the CAs to trust (undefined: the system's). */
  ca?: string[];
  /** https: skip certificate verification (the admin asked for it). */
  isInsecure?: boolean;
  /** Connect to this address whatever DNS says now (address-guard.ts checked it). */
  pinnedAddress?: ResolvedAddress;
}

type ClientRequest = http.ClientRequest;

/** node-fetch listens for request errors and destroys the body stream with them; a cut-off body must raise one. */
function failOnCutOffBody(req: ClientRequest): void {
  req.once('response', (res: http.IncomingMessage) => {
    res.once('close', () => {
      if (res.complete || req.listenerCount('error') === 0) return;
      req.emit('error', Object.assign(new Error('the connection closed before the whole answer arrived'), { code: 'ECONNRESET' }));
    });
  });
}

interface AgentInternals {
  addRequest(req: ClientRequest, options: unknown): void;
}

// addRequest is Agent's (undocumented, long-stable) hook that sees every ClientRequest it serves.
function watchful<T extends new (...args: any[]) => http.Agent>(Base: T): T {
  const base = Base.prototype as unknown as AgentInternals;
  return class extends Base {
    addRequest(req: ClientRequest, options: unknown): void {
      failOnCutOffBody(req);
      base.addRequest.call(this, req, options);
    }
  };
}

const WatchfulHttpAgent = watchful(http.Agent);
const WatchfulHttpsAgent = watchful(https.Agent);

function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}

export function buildAgent(protocol: string, settings: AgentSettings): http.Agent {
  const lookup = settings.pinnedAddress ? { lookup: pinnedLookup(settings.pinnedAddress) } : {};
  if (protocol !== 'https:') return new WatchfulHttpAgent({ keepAlive: settings.keepAlive, ...lookup });
  return new WatchfulHttpsAgent({ keepAlive: settings.keepAlive, ca: settings.ca, rejectUnauthorized: settings.isInsecure !== true, ...lookup });
}
