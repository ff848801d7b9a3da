// Who may call a route. Every route in the table names one policy (router.ts); there is no default, so a route
// cannot be served before someone decides who may call it.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { DroneRegistryExtension } from '../drone';
import { tokenChecker } from './token-check';

/**
 * - `gocd`: the shim's bearer token, and a loopback peer unless allowRemoteGoCd (external mode, the sidecar in
 *   another container or pod).
 * - `none`: anyone who reaches the port (/health).
 * - `status`: loopback peers freely; other peers with the status token, and not at all when none is configured.
 * - `drone`: any peer, with a request signed by a Drone shared secret (HMAC over the headers, the body's Digest
 *   among them). The signature covers the body, so this check runs once the body has arrived, before the handler.
 *
 * - `status-registry`: any peer, with one of the build-status registry's API tokens (--status-registry-token-file);
 *   refused outright when the registry is off.
 * - `gitops`: any peer, with one of the GitOps write-back's API tokens (--gitops-token-file); refused outright when
 *   the write-back is off.
 *
 * A new member here fails to compile until accessChecks() and describePolicy() say how it is checked and what it means.
 */
export type AuthPolicy = 'gocd' | 'none' | 'status' | 'drone' | 'status-registry' | 'gitops';

export interface AccessOptions {
  /** The shim's token (stdin in managed mode, GOCD_REGISTRY_BRIDGE_TOKEN in external mode). */
  gocdToken: string;
  /** serve --allow-remote-gocd. */
  allowRemoteGoCd: boolean;
  /** serve --status-token-file / GOCD_REGISTRY_BRIDGE_STATUS_TOKEN; without it, only loopback peers see status. */
  statusToken?: string;
  /** Where a request comes from; tests pass another address to play a peer on another host. */
  peerAddress?: (req: IncomingMessage) => string | undefined;
  /** serve --drone-registry-secret-file: the extension whose secrets sign Drone requests; none, none admitted. */
  drone?: DroneRegistryExtension;
  /** serve --status-registry-token-file: the build-status registry's API tokens; none, none admitted. */
  statusRegistryTokens?: readonly string[];
  /** serve --gitops-token-file: the write-back's API tokens; none, none admitted. */
  gitopsTokens?: readonly string[];
}

export interface Refusal {
  /** 400 for a bad request signature: what drone-go's handlers answer, and what Drone's clients expect. */
  status: 400 | 401 | 403;
  message: string;
}

/** What a policy that reads the body learned about a request it admitted, handed on to the route's handler. */
export interface AccessGrant {
  /** The shared secret that signed the request (one of several while a secret is rotated): it keys an encrypted answer. */
  signedWith: string;
}

/**
 * Most policies decide from the headers, before the body is read (undefined: the request may go on). A policy
 * whose proof covers the body decides once the whole body has arrived, within the route's body cap and deadline,
 * and still before the handler runs.
 */
export type AccessCheck =
  | { reads: 'headers'; check(req: IncomingMessage): Refusal | undefined }
  | { reads: 'body'; check(req: IncomingMessage, body: Buffer): Refusal | AccessGrant };

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
  gitopsToken: { status: 401, message: 'gocd-registry-bridge: missing or wrong gitops token' },
  gitopsOff: { status: 403, message: 'gocd-registry-bridge: the GitOps write-back is off; start serve with --gitops-token-file FILE and --credentials FILE' },
  droneOff: { status: 403, message: 'gocd-registry-bridge: the Drone registry extension is off; start serve with --drone-registry-secret-file FILE' },
  statusRegistryToken: { status: 401, message: 'gocd-registry-bridge: missing or wrong status-registry token' },
  statusRegistryOff: { status: 403, message: 'gocd-registry-bridge: the status registry is off; start serve with --status-registry-token-file FILE' },
  remoteStatus: {
    status: 403,
    message:
      'gocd-registry-bridge: /status and /metrics are served to loopback peers only; to let other hosts in, start ' +
      'serve with --status-token-file FILE (or GOCD_REGISTRY_BRIDGE_STATUS_TOKEN) and send "Authorization: Bearer <that token>"',
  },
} satisfies Record<string, Refusal>;

export function accessChecks(options: AccessOptions): Record<AuthPolicy, AccessCheck> {
  const peerAddress = options.peerAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress);
  const isLoopbackPeer = loopbackPeerCheck(peerAddress);
  const gocdTokenMatches = tokenChecker(options.gocdToken);
  const statusTokenMatches = options.statusToken === undefined ? undefined : tokenChecker(options.statusToken);
  const { drone } = options;
  const statusRegistryChecks = options.statusRegistryTokens?.map(tokenChecker);
  const gitopsChecks = options.gitopsTokens?.map(tokenChecker);
  return {
    gocd: onHeaders((req) => {
      if (!options.allowRemoteGoCd && !isLoopbackPeer(req)) return REFUSED.remoteGoCd;
      return gocdTokenMatches(req.headers.authorization) ? undefined : REFUSED.gocdToken;
    }),
    none: onHeaders(() => undefined),
    gitops: apiTokens(gitopsChecks, REFUSED.gitopsOff, REFUSED.gitopsToken),
    status: onHeaders((req) => {
      if (isLoopbackPeer(req)) return undefined;
      if (statusTokenMatches === undefined) return REFUSED.remoteStatus;
      return statusTokenMatches(req.headers.authorization) ? undefined : REFUSED.statusToken;
    }),
    'status-registry': apiTokens(statusRegistryChecks, REFUSED.statusRegistryOff, REFUSED.statusRegistryToken),
    drone:
      drone === undefined
        ? onHeaders(() => REFUSED.droneOff)
        : {
            reads: 'body',
            check: (req, body) => {
              const signed = { method: req.method ?? 'POST', target: req.url ?? '/', headers: req.headersDistinct, body };
              const verdict = drone.verify(signed, peerAddress(req));
              return verdict.accepted ? { signedWith: verdict.secret } : { status: 400, message: `gocd-registry-bridge: Invalid or Missing Signature: ${verdict.reason}` };
            },
          },
  };
}

function onHeaders(check: (req: IncomingMessage) => Refusal | undefined): AccessCheck {
  return { reads: 'headers', check };
}

/** A service's API tokens: refused outright while the service is off (no tokens), else one of them must match. */
function apiTokens(checks: ((authorization: string | undefined) => boolean)[] | undefined, off: Refusal, wrongToken: Refusal): AccessCheck {
  return onHeaders((req) => {
    if (checks === undefined) return off;
    return checks.some((matches) => matches(req.headers.authorization)) ? undefined : wrongToken;
  });
}

/** Who gets through, in words: for the warning when serve listens beyond loopback. */
export function describePolicy(policy: AuthPolicy, options: Omit<AccessOptions, 'gocdToken' | 'drone' | 'statusRegistryTokens' | 'gitopsTokens'>): string {
  const descriptions: Record<AuthPolicy, string> = {
    gocd: options.allowRemoteGoCd
      ? "the shim's token, from any peer (--allow-remote-gocd)"
      : "the shim's token, from loopback peers only (--allow-remote-gocd not given)",
    none: 'anyone who reaches the port',
    gitops: 'any peer, with a gitops API token',
    status:
      options.statusToken === undefined
        ? 'loopback peers only (no status token configured)'
        : 'loopback peers, and others with the status token',
    'status-registry': 'any peer, with a status-registry API token',
    drone: 'any peer, with a request signed by a Drone shared secret (HMAC over the headers and the body\'s digest)',
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
