// Reads GoCD configuration maps into settings. The same reader serves validate-* (which report every problem
// as {key, message}) and the polling calls (which must validate again: XML edits bypass validate-*).

import { LRUCache } from 'lru-cache';
import { cacheKey } from '../cache-key';
import { BridgeError } from '../errors';
import type { Logger } from '../log';
import {
  ImageRef,
  InvalidReferenceError,
  parseRegistryUrl,
  parseRepositoryName,
  RegistryAccess,
  RegistryEndpoint,
  REGISTRY_CLIENT_DEFAULTS,
} from '../registry';
import { InvalidFilterError, namedTag, parsePlatforms, parseSemverRange, SelectionSettings, TAG_ORDERS, TagOrder, TagPattern } from '../selection';
import { PACKAGE_PROPERTIES, REPOSITORY_PROPERTIES } from './properties';
import type { ConfigurationMap } from './request-schemas';

export interface ValidationError {
  key?: string;
  message: string;
}

export interface RepositorySettings {
  access: RegistryAccess;
  /** As jobs use it in image references: registry.example.com:5000 */
  registryName: string;
}

export interface PackageSettings {
  repository: string;
  /** As configured, for messages. */
  tagFilter: string;
  excludeFilter: string;
  selection: SelectionSettings;
  /** MAX_TAGS; undefined: the registry client's default. */
  maxTags?: number;
}

export class InvalidConfigurationError extends BridgeError {
  constructor(what: string, errors: readonly ValidationError[]) {
    super('INVALID_CONFIGURATION', {
      message: `the ${what} configuration is invalid: ${errors.map((e) => (e.key ? `${e.key}: ${e.message}` : e.message)).join('; ')}`,
      fix: `edit the ${what} in GoCD (Admin > Package Repositories) and save it, which re-checks every field`,
    });
  }
}

type Read<T> = { settings: T; errors: [] } | { settings?: undefined; errors: ValidationError[] };

/** Absent keys read as "" (GoCD strips empty properties on some save paths); unknown keys are errors. */
function readValues<K extends string>(
  map: ConfigurationMap,
  declared: Record<K, unknown>,
  errors: ValidationError[],
): Record<K, string> {
  const values = {} as Record<K, string>;
  for (const key of Object.keys(declared) as K[]) values[key] = (map[key]?.value ?? '').trim();
  const known = Object.keys(declared).join(', ');
  for (const key of Object.keys(map)) {
    if (!(key in declared)) errors.push({ key, message: `unknown setting "${key}"; this plugin understands ${known}` });
  }
  return values;
}

// Jobs build references like $GO_REPO_X_DOCKER_REGISTRY_NAME/$GO_PACKAGE_X_DOCKER_IMAGE:$GO_PACKAGE_X_LABEL.
const REGISTRY_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/;

export function readRepositoryConfiguration(map: ConfigurationMap, log: Logger): Read<RepositorySettings> {
  const errors: ValidationError[] = [];
  const values = readValues(map, REPOSITORY_PROPERTIES, errors);
  if (values.PASSWORD !== '') log.registerSecret(values.PASSWORD);

  let endpoint: RegistryEndpoint | undefined;
  if (values.DOCKER_REGISTRY_URL === '') {
    errors.push({ key: 'DOCKER_REGISTRY_URL', message: 'required: the registry URL, e.g. https://registry.example.com/v2/' });
  } else {
    endpoint = collect(errors, 'DOCKER_REGISTRY_URL', () => parseRegistryUrl(values.DOCKER_REGISTRY_URL));
  }
  const registryName = values.DOCKER_REGISTRY_NAME.replace(/\/+$/, '');
  if (registryName === '') {
    errors.push({ key: 'DOCKER_REGISTRY_NAME', message: 'required: the registry as jobs name it in image references, e.g. registry.example.com:5000' });
  } else if (!REGISTRY_NAME.test(registryName)) {
    errors.push({
      key: 'DOCKER_REGISTRY_NAME',
      message: `"${registryName}" is not a registry name; use host[:port] as in docker pull, without http:// (e.g. registry.example.com:5000)`,
    });
  }
  if (values.PASSWORD !== '' && values.USERNAME === '') {
    errors.push({ key: 'USERNAME', message: 'required when a password is set' });
  }
  if (values.USERNAME !== '' && values.PASSWORD === '') {
    errors.push({ key: 'PASSWORD', message: 'required when a username is set (for tokens, enter the token here)' });
  }
  if (values.TLS_CA_FILE !== '' && !values.TLS_CA_FILE.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(values.TLS_CA_FILE)) {
    errors.push({ key: 'TLS_CA_FILE', message: `"${values.TLS_CA_FILE}" is not an absolute path; enter the full path of a PEM file on the GoCD server` });
  }
  const isInsecure = readBoolean(errors, 'TLS_SKIP_VERIFY', values.TLS_SKIP_VERIFY);
  if (errors.length > 0 || !endpoint) return { errors };
  const credentials = values.USERNAME !== '' ? { username: values.USERNAME, password: values.PASSWORD } : undefined;
  const tls = { caFile: values.TLS_CA_FILE || undefined, isInsecure };
  return { settings: { access: { endpoint, credentials, tls }, registryName }, errors: [] };
}

export function readPackageConfiguration(map: ConfigurationMap, endpoint: RegistryEndpoint | undefined): Read<PackageSettings> {
  const errors: ValidationError[] = [];
  const values = readValues(map, PACKAGE_PROPERTIES, errors);
  let repository: string | undefined;
  if (values.DOCKER_IMAGE === '') {
    errors.push({ key: 'DOCKER_IMAGE', message: 'required: the image name without registry and tag, e.g. backends/database' });
  } else {
    // Without a valid registry URL the Docker Hub rule cannot apply yet; the grammar check still can.
    const target = endpoint ?? { baseUrl: '', host: '', isDockerHub: false };
    repository = collect(errors, 'DOCKER_IMAGE', () => parseRepositoryName(values.DOCKER_IMAGE, target));
  }
  // Patterns are not trimmed: spaces can be part of a pattern.
  const tagFilter = map.DOCKER_TAG_FILTER?.value ?? '';
  const excludeFilter = map.TAG_EXCLUDE?.value ?? '';
  const include = readPattern(errors, 'DOCKER_TAG_FILTER', tagFilter, 'the tag filter');
  const exclude = readPattern(errors, 'TAG_EXCLUDE', excludeFilter, 'the exclusion filter');
  const sortKeyPattern = readPattern(errors, 'TAG_SORT_KEY', map.TAG_SORT_KEY?.value ?? '', 'the sort key pattern', { keyGroup: true });
  const hasRange = values.SEMVER_RANGE !== '';
  const order = (values.TAG_ORDER.toLowerCase() || (hasRange ? 'semver' : 'natural')) as TagOrder;
  if (!TAG_ORDERS.includes(order)) {
    errors.push({ key: 'TAG_ORDER', message: `"${values.TAG_ORDER}" is not an order; use one of ${TAG_ORDERS.join(', ')} (empty means natural)` });
  }
  const includePrereleases = readBoolean(errors, 'SEMVER_PRERELEASES', values.SEMVER_PRERELEASES);
  const semverRange = hasRange ? readSemverRange(errors, values, order, namedTag(include), includePrereleases) : undefined;
  const platforms = values.PLATFORMS === '' ? undefined : collect(errors, 'PLATFORMS', () => parsePlatforms(values.PLATFORMS));
  const maxTags = readMaxTags(errors, values.MAX_TAGS);
  if (errors.length > 0 || !repository) return { errors };
  const selection = { include, exclude, order, sortKey: sortKeyPattern, includePrereleases, semverRange, platforms };
  return { settings: { repository, tagFilter, excludeFilter, selection, maxTags }, errors: [] };
}

// Every poll reads its package's patterns again; compiling and probing one runs a vm script with a watchdog
// thread, which showed in the fleet benchmark (BENCHMARKS.md, P3). A compiled pattern is immutable.
const compiledPatterns = new LRUCache<string, TagPattern>({ max: 5000 });

/** An optional pattern: absent when empty, compiled (and probed) once, then reused. */
function readPattern(errors: ValidationError[], key: string, source: string, what: string, options: { keyGroup?: boolean } = {}): TagPattern | undefined {
  if (source === '') return undefined;
  const patternKey = cacheKey(what, options.keyGroup === true, source);
  const cached = compiledPatterns.get(patternKey);
  if (cached) return cached;
  const pattern = collect(errors, key, () => TagPattern.compile(source, what, options));
  if (pattern) compiledPatterns.set(patternKey, pattern);
  return pattern;
}

/** SEMVER_RANGE implies semver order, and needs tags to choose from. */
function readSemverRange(errors: ValidationError[], values: Record<'SEMVER_RANGE' | 'TAG_ORDER', string>, order: TagOrder, named: string | undefined, includePrereleases: boolean) {
  if (order !== 'semver' && TAG_ORDERS.includes(order)) {
    errors.push({ key: 'SEMVER_RANGE', message: `a range picks the newest version, but TAG_ORDER is ${values.TAG_ORDER}; set TAG_ORDER to semver or leave it empty` });
    return undefined;
  }
  if (named !== undefined) {
    errors.push({
      key: 'SEMVER_RANGE',
      message: `the tag filter names the one tag ${named}, which the material follows whatever its version; clear the range, or widen the filter (e.g. empty)`,
    });
    return undefined;
  }
  return collect(errors, 'SEMVER_RANGE', () => parseSemverRange(values.SEMVER_RANGE, includePrereleases));
}

function readBoolean(errors: ValidationError[], key: string, value: string): boolean {
  const normalised = value.toLowerCase();
  if (!['', 'true', 'false'].includes(normalised)) errors.push({ key, message: `"${value}" is not true or false (empty means false)` });
  return normalised === 'true';
}

// The largest repository known has about 1,000,000 tags; at 2,000,000 a walk may read
// 305 MiB and hold ~150 MB of tags, which is as far as a sidecar on the GoCD server should be asked to go.
const MOST_MAX_TAGS = 2_000_000;

function readMaxTags(errors: ValidationError[], value: string): number | undefined {
  if (value === '') return undefined;
  const maxTags = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (maxTags >= 1 && maxTags <= MOST_MAX_TAGS) return maxTags;
  errors.push({
    key: 'MAX_TAGS',
    message: `"${value}" is not a number of tags from 1 to ${MOST_MAX_TAGS}; enter a whole number without separators (empty means ${REGISTRY_CLIENT_DEFAULTS.maxTags})`,
  });
  return undefined;
}

function collect<T>(errors: ValidationError[], key: string, read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidReferenceError || err instanceof InvalidFilterError) {
      errors.push({ key, message: `${err.message}; ${err.fix}` });
      return undefined;
    }
    throw err;
  }
}

/** For the polling and check calls: settings, or one error naming every problem. */
export function requireSettings<T>(what: string, read: Read<T>): T {
  if (read.settings === undefined) throw new InvalidConfigurationError(what, read.errors);
  return read.settings;
}

/** Both settings of a package call (check-package-connection, latest-revision, latest-revision-since). */
export function requirePackageSettings(
  request: { 'repository-configuration': ConfigurationMap; 'package-configuration': ConfigurationMap },
  log: Logger,
): { repository: RepositorySettings; pkg: PackageSettings } {
  const repository = requireSettings('package repository', readRepositoryConfiguration(request['repository-configuration'], log));
  const pkg = requireSettings('package', readPackageConfiguration(request['package-configuration'], repository.access.endpoint));
  return { repository, pkg };
}

export function imageRef(repository: RepositorySettings, pkg: PackageSettings): ImageRef {
  return { ...repository.access, repository: pkg.repository };
}
