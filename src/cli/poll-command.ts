// `gocd-registry-bridge poll`: one real poll with the same code GoCD's calls run, printing the revision GoCD would
// store and the environment a job would get, named as GoCD names it.

import { parseArgs } from 'node:util';
import { realCredentialStore, realRegistryDeps } from '../deps';
import { BridgeError } from '../errors';
import { ConfigurationMap, findLatestRevision, GoCdRevision } from '../gocd';
import { createLogger } from '../log';
import { parseRegistryUrl, RegistryClient } from '../registry';
import { CommandIo, EXIT, UsageError } from './command-io';
import { envName, jobEnvironment, materialName } from './environment';

export const POLL_USAGE = `Usage: gocd-registry-bridge poll --registry URL --image NAME [options]

Polls the registry once, as the GoCD plugin would, and prints the revision GoCD would store and the environment
variables a job would receive.

Repository options:
  --registry URL          registry URL (https://host/v2/, https://host, host:5000; docker.io for Docker Hub)
  --registry-name NAME    name jobs use in image references (default: the URL's host[:port])
  --username USER         user for Basic or token authentication
  --password-stdin        read the password or access token from the first line of stdin
  --ca-file FILE          PEM file of a private CA that signed the registry's certificate
  --insecure              skip TLS certificate verification
Package options:
  --image NAME            image name without registry and tag (e.g. backends/database)
  --filter REGEX          tag filter; matches anywhere in the tag unless anchored with ^...$
  --exclude REGEX         drop tags that match
  --order ORDER           natural (default), semver, newest-build or alphabetical
  --sort-key REGEX        order by the (?<key>...) capture of each tag
  --prereleases           semver order: include pre-releases
  --semver-range RANGE    only versions inside RANGE, e.g. ">=1.2.0 <2.0.0", "~1.26" or "^1" (implies semver order)
  --platforms LIST        only images that provide every platform listed, e.g. linux/arm64 or linux/amd64,linux/arm64/v8
  --max-tags N            fail when the image has more than N tags (default 100000)
Output:
  --repo-name NAME        the package repository's name in GoCD (default: repo)
  --package-name NAME     the package's name in GoCD (default: package)
  --json                  print {"material", "revision", "environment"} as JSON

Without --username, credentials come from the credentials file named by GOCD_REGISTRY_BRIDGE_CREDENTIALS, then
from docker's config.json ($DOCKER_CONFIG or ~/.docker), as in the sidecar.

Exit codes: 0 found, 1 registry failure, 2 usage error, 3 invalid settings, 4 no tag matches.
`;

export async function runPoll(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      registry: { type: 'string' },
      'registry-name': { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      'ca-file': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      image: { type: 'string' },
      filter: { type: 'string' },
      exclude: { type: 'string' },
      order: { type: 'string' },
      'sort-key': { type: 'string' },
      prereleases: { type: 'boolean', default: false },
      'semver-range': { type: 'string' },
      platforms: { type: 'string' },
      'max-tags': { type: 'string' },
      'repo-name': { type: 'string', default: 'repo' },
      'package-name': { type: 'string', default: 'package' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(POLL_USAGE);
    return EXIT.OK;
  }
  if (!values.registry || !values.image) throw new UsageError('poll needs --registry and --image');
  if (values['password-stdin'] && !values.username) throw new UsageError('--password-stdin needs --username');
  const password = values['password-stdin'] ? (await io.readStdin()).split(/\r?\n/)[0] ?? '' : undefined;

  const repository = definedOnly({
    DOCKER_REGISTRY_URL: values.registry,
    DOCKER_REGISTRY_NAME: values['registry-name'] ?? defaultRegistryName(values.registry),
    USERNAME: values.username,
    PASSWORD: password,
    TLS_CA_FILE: values['ca-file'],
    TLS_SKIP_VERIFY: values.insecure ? 'true' : undefined,
  });
  const pkg = definedOnly({
    DOCKER_IMAGE: values.image,
    DOCKER_TAG_FILTER: values.filter,
    TAG_EXCLUDE: values.exclude,
    TAG_ORDER: values.order,
    TAG_SORT_KEY: values['sort-key'],
    SEMVER_PRERELEASES: values.prereleases ? 'true' : undefined,
    SEMVER_RANGE: values['semver-range'],
    PLATFORMS: values.platforms,
    MAX_TAGS: values['max-tags'],
  });
  const log = createLogger((line) => io.stderr(`${line}\n`), 'warn');
  const context = { registry: new RegistryClient(realRegistryDeps(log, await realCredentialStore(log, io.env))), log, now: Date.now };
  const material = materialName(values['repo-name'], values['package-name']);

  let revision: GoCdRevision;
  try {
    revision = await findLatestRevision({ 'repository-configuration': asMap(repository), 'package-configuration': asMap(pkg) }, context);
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    io.stderr(`gocd-registry-bridge: ${err.message}\nFix: ${err.fix}\n`);
    return exitCodeFor(err);
  }
  const environment = jobEnvironment(material, { repository, package: pkg, secureKeys: new Set(['PASSWORD']) }, revision);
  if (values.json) {
    io.stdout(`${JSON.stringify({ material, revision, environment: Object.fromEntries(environment) }, null, 2)}\n`);
  } else {
    io.stdout(describe(material, revision, environment));
  }
  return EXIT.OK;
}

function exitCodeFor(err: BridgeError): number {
  if (err.code === 'NO_MATCHING_TAG') return EXIT.NO_MATCHING_TAG;
  if (err.code === 'INVALID_CONFIGURATION' || err.code === 'INVALID_REFERENCE' || err.code === 'INVALID_FILTER') return EXIT.INVALID_SETTINGS;
  return EXIT.FAILED;
}

function describe(material: string, revision: GoCdRevision, environment: Map<string, string>): string {
  const fields: Array<[string, string | undefined]> = [
    ['revision', revision.revision],
    ['timestamp', revision.timestamp],
    ['user', revision.user],
    ['comment', revision.revisionComment],
    ['trackback', revision.trackbackUrl],
  ];
  const lines = [`Revision GoCD would store for material ${material}:`];
  for (const [name, value] of fields) if (value !== undefined) lines.push(`  ${name.padEnd(10)} ${value}`);
  lines.push('', `Environment of a job that uses it (material name ${material}; GoCD names it <repository>_<package>):`);
  for (const [name, value] of environment) lines.push(`  ${name}=${value}`);
  lines.push('', `Pull exactly this image: docker pull "$${envName('GO_PACKAGE', material, 'IMAGE_REF')}"`);
  return `${lines.join('\n')}\n`;
}

/** Docker Hub aliases become docker.io, which is what `docker pull` expects in front of an image. */
function defaultRegistryName(registryUrl: string): string {
  try {
    const endpoint = parseRegistryUrl(registryUrl);
    return endpoint.isDockerHub ? 'docker.io' : endpoint.host;
  } catch {
    return registryUrl; // the poll reports the bad URL with its fix
  }
}

function definedOnly(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

function asMap(values: Record<string, string>): ConfigurationMap {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
}
