// Registry failures as typed errors: each says what went wrong, where, and what the admin can do.

import { BridgeError, BridgeErrorInit } from '../errors';

export class RegistryUnreachableError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('REGISTRY_UNREACHABLE', { retryable: true, ...init });
  }
}

export class RegistryTlsError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('REGISTRY_TLS', init);
  }
}

export class RegistryAuthError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('REGISTRY_AUTH', init);
  }
}

export class RegistryNotFoundError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('REGISTRY_NOT_FOUND', init);
  }
}

export class RegistryResponseError extends BridgeError {
  /** The HTTP status, when the failure was one. */
  readonly status?: number;

  constructor(init: BridgeErrorInit & { status?: number }) {
    super('REGISTRY_RESPONSE', init);
    this.status = init.status;
  }
}

export class NotARegistryError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('NOT_A_REGISTRY', init);
  }
}

/** A body over its size cap; limitBytes says which cap, so a tag walk can tell its own budget from the transport's. */
export class ResponseTooLargeError extends RegistryResponseError {
  readonly limitBytes: number;

  constructor(init: BridgeErrorInit & { limitBytes: number }) {
    super(init);
    this.limitBytes = init.limitBytes;
  }
}
