// A registry address as a credential is filed under: bare `host[:port]`, lower case, `docker.io` for Docker Hub.
// The Drone runner compares that string, exactly, with the domain of each image it pulls (drone-runner-docker
// internal/docker/image/image.go, MatchHostname); the GoCD poller looks entries up by a package repository's
// registry host. Imports only errors.

import { isIPv6 } from 'node:net';
import { BridgeError } from '../errors';
import { DOCKER_HUB_HOSTS } from './credentials';

/** The name under which Docker Hub credentials are filed, and which the runner gives Hub images (`alpine`). */
export const DOCKER_HUB = 'docker.io';


// RFC 1035 bounds; longer input is never a host name, and stops here before any further work.
const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
// The domain-component rule of docker/distribution's reference grammar, applied to one label at a time.
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const PORT = /^[0-9]{1,5}$/;
const URL_SCHEME = /^https?:\/\//i;
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export class InvalidRegistryAddressError extends BridgeError {
  constructor(message: string, fix: string) {
    super('INVALID_REFERENCE', { message, fix });
  }
}

/**
 * `host[:port]` in lower case, `docker.io` for every Docker Hub alias. Follows the runner: `http(s)://…` keeps
 * the URL's host and port and drops the path (how ECR proxy URLs and docker-config keys are written). Where the runner
 * would send a string that can never match an image, this either rewrites it to what does match (upper case, a Hub
 * alias inside a URL such as `https://index.docker.io/v1/`) or refuses it (a path after a bare host).
 */
export function normalizeRegistryAddress(address: string): string {
  const shown = redactUserInfo(address);
  if (address.trim() === '') throw invalid(shown, 'is empty', 'write the registry host, e.g. docker.io or registry.example.com:5000');
  if (/[\s\u0000-\u001f\u007f]/.test(address)) {
    throw invalid(shown, 'contains white space or control characters', 'write the registry host alone, e.g. registry.example.com:5000');
  }
  let hostPort = address;
  if (URL_SCHEME.test(address)) {
    // The runner keeps the authority and drops the path, query and fragment (Go url.Parse(...).Host).
    hostPort = address.slice(address.indexOf('//') + 2).split(/[/?#]/, 1)[0]!;
  } else if (OTHER_SCHEME.test(address)) {
    throw invalid(shown, 'has a scheme other than http:// or https://', 'write the registry host, e.g. registry.example.com, without a scheme');
  } else if (address.includes('/')) {
    throw invalid(
      shown,
      'has a path after the host; the runner matches credentials by registry host only, so such an entry never matches',
      `write the host alone (${address.split('/', 1)[0]}): it then applies to every repository on that registry`,
    );
  }
  if (hostPort.includes('@')) {
    throw invalid(shown, 'holds a user name or password', 'write only the host in address; put the user name and password in username and password');
  }
  const normalized = hostPort.toLowerCase();
  const problem = hostPortProblem(normalized);
  if (problem) throw invalid(shown, problem, 'write the registry host, e.g. docker.io, registry.example.com:5000 or [fd00::1]:5000');
  return DOCKER_HUB_HOSTS.has(normalized) ? DOCKER_HUB : normalized;
}

/** Why a lower-cased `host[:port]` is not one, or undefined when it is. */
function hostPortProblem(hostPort: string): string | undefined {
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0 || !isIPv6(hostPort.slice(1, end))) return 'has an IPv6 address that does not parse';
    const rest = hostPort.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return 'has characters after the IPv6 address';
    host = hostPort.slice(0, end + 1);
    port = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0) [host, port] = [hostPort.slice(0, colon), hostPort.slice(colon + 1)];
    if (host === '') return 'has no host name';
    if (host.length > MAX_HOST_LENGTH) return `has a host name longer than ${MAX_HOST_LENGTH} characters`;
    if (!host.split('.').every((label) => label.length <= MAX_LABEL_LENGTH && LABEL.test(label))) {
      return 'is not a host name (letters, digits, dots and inner hyphens only)';
    }
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) < 1 || Number(port) > 65535)) return 'has a port that is not a number from 1 to 65535';
  return undefined;
}

function invalid(shown: string, problem: string, fix: string): InvalidRegistryAddressError {
  return new InvalidRegistryAddressError(`the registry address ${JSON.stringify(shown)} ${problem}`, fix);
}

/** The address as it may appear in a message or log line: a `user:password@` part is masked. */
export function redactUserInfo(address: string): string {
  return address.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^/@]*@/i, '$1***@');
}
