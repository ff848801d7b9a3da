// The package-repository and package properties GoCD shows and stores. Keys, order and identity flags are the
// old docker-registry plugin's, so existing materials keep their fingerprints; every new key is
// part-of-identity false. display-order must be a string: GoCD rejects a JSON number.

export interface PropertyDeclaration {
  'display-name': string;
  'display-order': string;
  required: boolean;
  'part-of-identity': boolean;
  secure: boolean;
}

function declare(displayName: string, order: number, flags: { required: boolean; identity: boolean; secure?: boolean }): PropertyDeclaration {
  return {
    'display-name': displayName,
    'display-order': String(order),
    required: flags.required,
    'part-of-identity': flags.identity,
    secure: flags.secure ?? false,
  };
}

export const REPOSITORY_PROPERTIES = {
  DOCKER_REGISTRY_URL: declare('Docker Registry URL', 0, { required: true, identity: false }),
  DOCKER_REGISTRY_NAME: declare('Docker Registry Name', 1, { required: true, identity: true }),
  USERNAME: declare('Username', 2, { required: false, identity: false }),
  // Secure properties are still exported to every job as GO_REPO_<M>_PASSWORD (masked in logs only).
  PASSWORD: declare('Password or access token', 3, { required: false, identity: false, secure: true }),
  TLS_CA_FILE: declare('CA certificate file (PEM) on the GoCD server, for a private CA', 4, { required: false, identity: false }),
  TLS_SKIP_VERIFY: declare('Skip TLS certificate verification (true/false; insecure)', 5, { required: false, identity: false }),
} as const;

export const PACKAGE_PROPERTIES = {
  DOCKER_IMAGE: declare('Docker Image', 0, { required: true, identity: true }),
  DOCKER_TAG_FILTER: declare('Tag filter (regular expression)', 1, { required: false, identity: true }),
  TAG_EXCLUDE: declare('Exclude tags matching (regular expression)', 2, { required: false, identity: false }),
  TAG_ORDER: declare('Tag order: natural, semver, newest-build or alphabetical (default natural)', 3, { required: false, identity: false }),
  TAG_SORT_KEY: declare('Sort by part of the tag: regular expression with (?<key>...)', 4, { required: false, identity: false }),
  SEMVER_PRERELEASES: declare('semver order: include pre-releases (true/false)', 5, { required: false, identity: false }),
  MAX_TAGS: declare('Most tags the image may have (default 100000; a longer tag list fails the poll)', 6, { required: false, identity: false }),
  // Outside identity too, although a different range or platform list is a different choice: GoCD's package form
  // saves empty fields as well (gocd/gocd#8119 shows them), so a new identity key would give every existing package
  // saved again a new fingerprint, restarting its history. latest-revision-since follows a changed setting instead.
  SEMVER_RANGE: declare('Semver range the version must satisfy, e.g. >=1.2.0 <2.0.0, ~1.26 or ^1 (implies semver order)', 7, { required: false, identity: false }),
  PLATFORMS: declare('Platforms the image must provide, e.g. linux/arm64 or linux/amd64,linux/arm64/v8', 8, { required: false, identity: false }),
} as const;
