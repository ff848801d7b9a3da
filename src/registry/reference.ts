// Registry URLs, repository names and tags: parsing, Docker Hub normalisation and the OCI grammar
// (distribution-spec, docker/distribution reference). Imports nothing else from src/registry.

import { DOCKER_HUB_HOSTS, RegistryHost } from '../credentials';
import { BridgeError } from '../errors';

export class InvalidReferenceError extends BridgeError {
  constructor(message: string, fix: string) {
    super('INVALID_REFERENCE', { message, fix });
  }
}

/** Where a registry's V2 API lives. */
/** host[:port] (for messages, credential look-ups and same-host checks) and where the API lives. */
export interface RegistryEndpoint extends RegistryHost {
  /** API base without the trailing `/v2/`, e.g. `https://registry.example.com:5000` or an Artifactory path prefix. */
  readonly baseUrl: string;
}

// Docker Hub's API lives on registry-1.docker.io whatever alias the user typed (regclient DockerRegistryDNS).
const DOCKER_HUB_API = 'https://registry-1.docker.io';

// OCI distribution spec, "Pulling manifests": one path component, and the whole name.
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_REPOSITORY_LENGTH = 255; // distribution/reference RepositoryNameTotalLengthMax

/**
 * Accepts what admins type: `https://host/v2/` (the old plugin's form), `https://host`, `host:5000`,
 * `http://host:5000/v2`, or a path prefix before `/v2/`. No scheme means https.
 */
export function parseRegistryUrl(raw: string): RegistryEndpoint {
  const input = raw.trim();
  if (input === '') {
    throw new InvalidReferenceError('the registry URL is empty', 'enter the registry URL, e.g. https://registry.example.com/v2/');
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `https://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidReferenceError(
      `"${input}" is not a URL`,
      'enter the registry URL as https://host[:port]/v2/ (or http:// for a registry without TLS)',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidReferenceError(
      `the registry URL "${input}" uses ${url.protocol.slice(0, -1)}, not http or https`,
      'use an https:// (or http://) URL',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidReferenceError(
      'the registry URL contains credentials',
      'remove user:password@ from the URL and use the Username and Password fields instead',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidReferenceError(
      `the registry URL "${input}" has a query or fragment`,
      'enter just https://host[:port]/v2/',
    );
  }
  const host = url.host.toLowerCase();
  if (DOCKER_HUB_HOSTS.has(url.hostname.toLowerCase())) {
    return { baseUrl: DOCKER_HUB_API, host: 'registry-1.docker.io', isDockerHub: true };
  }
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '');
  return { baseUrl: `${url.protocol}//${host}${prefix}`, host, isDockerHub: false };
}

/** Validates an image name against the OCI grammar and applies Docker Hub's `library/` rule. */
export function parseRepositoryName(raw: string, endpoint: RegistryEndpoint): string {
  const name = raw.trim().replace(/^\/+|\/+$/g, '');
  if (name === '') {
    throw new InvalidReferenceError('the image name is empty', 'enter the image name, e.g. team/app');
  }
  if (name.includes(':') || name.includes('@')) {
    throw new InvalidReferenceError(
      `the image name "${name}" contains a tag or digest`,
      'enter the name without :tag or @digest; choose tags with the tag filter',
    );
  }
  if (!REPOSITORY_NAME.test(name)) {
    const fix =
      name !== name.toLowerCase() && REPOSITORY_NAME.test(name.toLowerCase())
        ? `image names are lower case: use "${name.toLowerCase()}"`
        : 'use lower-case letters, digits and the separators . _ __ - between them, with / between path components';
    throw new InvalidReferenceError(`"${name}" is not a valid image name`, fix);
  }
  const repository = endpoint.isDockerHub && !name.includes('/') ? `library/${name}` : name;
  if (repository.length > MAX_REPOSITORY_LENGTH) {
    throw new InvalidReferenceError(`the image name is longer than ${MAX_REPOSITORY_LENGTH} characters`, 'use a shorter name');
  }
  return repository;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** The URL of an API path below /v2/ of this endpoint, e.g. apiUrl(ep, 'team/app/tags/list'). */
export function apiUrl(endpoint: RegistryEndpoint, path: string): string {
  return `${endpoint.baseUrl}/v2/${path}`;
}
