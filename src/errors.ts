// Every error the bridge reports carries a cause a GoCD admin can act on and the fix. Imports nothing.

export type ErrorCode =
  | 'INVALID_REFERENCE' // a registry URL, image name or tag the grammar rejects
  | 'INVALID_CONFIGURATION' // a package-repository or package setting that cannot be used as given
  | 'INVALID_FILTER' // a tag filter that is not a usable regular expression, a semver range or platform list that is not one
  | 'REGISTRY_UNREACHABLE' // DNS, refused connection, timeout
  | 'REGISTRY_TLS' // certificate or TLS handshake failure
  | 'REGISTRY_AUTH' // 401/403 or a token endpoint that refused us
  | 'CREDENTIAL_SOURCE' // a docker config, credential helper or credentials file that cannot be used
  | 'REGISTRY_NOT_FOUND' // unknown repository or manifest
  | 'REGISTRY_RESPONSE' // a registry answer we cannot use (bad status, bad JSON, unsafe link)
  | 'NOT_A_REGISTRY' // the URL answers, but not as a Docker Registry HTTP API V2
  | 'NO_MATCHING_TAG' // the image has no tag the filter accepts
  | 'INVALID_REQUEST' // a GoCD request body that is not JSON or not of the message's shape
  | 'STATUS_REGISTRY_REFUSED' // a build-status registry request refused: unknown package, unlisted repo, old wave, bad status
  | 'GIT_REMOTE' // a git clone, fetch or push that failed (auth, missing branch, unreachable, signing)
  | 'GIT_CONTENDED'; // a push still rejected as non-fast-forward after every retry

export interface BridgeErrorInit {
  message: string;
  fix: string;
  retryable?: boolean;
  /** The server's own hint (Retry-After) for when a retry may succeed. */
  retryAfterMs?: number;
  cause?: unknown; // the low-level error, for the log only
}

export class BridgeError extends Error {
  readonly fix: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(
    readonly code: ErrorCode,
    init: BridgeErrorInit,
  ) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.fix = init.fix;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** One line for GoCD: the cause, then what to do about it. */
  describe(): string {
    return `${this.message}. Fix: ${this.fix}`;
  }
}
