// Who may call a route. Every route in the table names one policy (router.ts); there is no default, so a route
// cannot be served before someone decides who may call it.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { tokenChecker } from './token-check';

/**
 * - `gocd`: the shim's bearer token, and a loopback peer unless allowRemoteGoCd (external mode, the sidecar in
 *   another container or pod).
 * - `none`: anyone who reaches the port (/health).
 * - `status`: loopback peers freely; other peers with the status token, and not at all when none is configured.
 *
 * Coming with their services: `drone` (the Drone registry extension's HMAC request signature) and
 * `status-registry` (the build-status registry's API token). A new member here fails to compile until
 * accessChecks() and describePolicy() say how it is checked and what it means.
 */
export type AuthPolicy = 'gocd' | 'none' | 'status';

export interface AccessOptions {
  /** The shim's token (stdin in managed mode, GOCD_REGISTRY_BRIDGE_TOKEN in external mode). */
  gocdToken: string;
  /** serve --allow-remote-gocd. */
  allowRemoteGoCd: boolean;
  /** serve --status-token-file / GOCD_REGISTRY_BRIDGE_STATUS_TOKEN; without it, only loopback peers see status. */
  statusToken?: string;
  /** Where a request comes from; tests pass another address to play a peer on another host. */
  peerAddress?: (req: IncomingMessage) => string | undefined;
}

export interface Refusal {
  status: 401 | 403;
  message: string;
}

/** Undefined when the request may go on. */
export type AccessCheck = (req: IncomingMessage) => Refusal | undefined;

/** What each refusal says: the cause, and for a peer refused as such, how to let it in. */
const REFUSED = {
  gocdToken: { status: 401, message: 'gocd-registry-bridge: missing or wrong sidecar token' },
  remoteGoCd: {
    status: 403,
    message:
      'gocd-registry-bridge: GoCD calls are accepted from loopback peers only; for external mode with the sidecar in ' +
      'another container or host, start serve with --allow-remote-gocd',
  },
  statusToken: { status: 401, message: 'gocd-registry-bridge: missing or wrong status token' },
  remoteStatus: {
    status: 403,
    message:
      'gocd-registry-bridge: /status and /metrics are served to loopback peers only; to let other hosts in, start ' +
      'serve with --status-token-file FILE (or GOCD_REGISTRY_BRIDGE_STATUS_TOKEN) and send "Authorization: Bearer <that token>"',
  },
} satisfies Record<string, Refusal>;

export function accessChecks(options: AccessOptions): Record<AuthPolicy, AccessCheck> {
  const isLoopbackPeer = loopbackPeerCheck(options.peerAddress ?? ((req) => req.socket.remoteAddress));
  const gocdTokenMatches = tokenChecker(options.gocdToken);
  const statusTokenMatches = options.statusToken === undefined ? undefined : tokenChecker(options.statusToken);
  return {
    gocd: (req) => {
      if (!options.allowRemoteGoCd && !isLoopbackPeer(req)) return REFUSED.remoteGoCd;
      return gocdTokenMatches(req.headers.authorization) ? undefined : REFUSED.gocdToken;
    },
    none: () => undefined,
    status: (req) => {
      if (isLoopbackPeer(req)) return undefined;
      if (statusTokenMatches === undefined) return REFUSED.remoteStatus;
      return statusTokenMatches(req.headers.authorization) ? undefined : REFUSED.statusToken;
    },
  };
}

/** Who gets through, in words: for the warning when serve listens beyond loopback. */
export function describePolicy(policy: AuthPolicy, options: Omit<AccessOptions, 'gocdToken'>): string {
  const descriptions: Record<AuthPolicy, string> = {
    gocd: options.allowRemoteGoCd
      ? "the shim's token, from any peer (--allow-remote-gocd)"
      : "the shim's token, from loopback peers only (--allow-remote-gocd not given)",
    none: 'anyone who reaches the port',
    status:
      options.statusToken === undefined
        ? 'loopback peers only (no status token configured)'
        : 'loopback peers, and others with the status token',
  };
  return descriptions[policy];
}

/** 127.0.0.0/8, ::1, and either written as IPv4-mapped IPv6 (::ffff:127.0.0.1, which dual-stack sockets report). */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && ipaddr.isValid(address) && ipaddr.process(address).range() === 'loopback';
}

/** Classifying an address costs microseconds, and a keep-alive connection carries many calls: once per socket. */
function loopbackPeerCheck(peerAddress: (req: IncomingMessage) => string | undefined): (req: IncomingMessage) => boolean {
  const known = new WeakMap<Socket, boolean>();
  return (req) => {
    let isLoopback = known.get(req.socket);
    if (isLoopback === undefined) {
      isLoopback = isLoopbackAddress(peerAddress(req));
      known.set(req.socket, isLoopback);
    }
    return isLoopback;
  };
}
