// One registry request, done right: authenticated on demand (auth.ts), sent (exchange.ts), its status turned into a
// typed error (status.ts), and retried when the failure is transient, with Retry-After honoured, jittered backoff
// and an overall deadline (http/ retry).

import { withRetry } from '../http';
import { AuthOutcome, RegistryAuthenticator } from './auth';
import { RegistryDeps, RegistryExchange, RegistryRequest, RegistryResponse, TRANSPORT_DEFAULTS, TransportOptions } from './exchange';

export type { FetchLike, MetadataKind, MetadataStore, RegistryAccess, RegistryDeps, RegistryEvent, RegistryRequest, RegistryResponse, TlsSettings, TransportOptions } from './exchange';
export { TRANSPORT_DEFAULTS } from './exchange';
export type { AuthOutcome } from './auth';
export { parseJson } from './status';

export class RegistryTransport {
  private readonly exchange: RegistryExchange;
  private readonly authenticator: RegistryAuthenticator;

  constructor(
    private readonly deps: RegistryDeps,
    private readonly options: TransportOptions = TRANSPORT_DEFAULTS,
  ) {
    this.exchange = new RegistryExchange(deps, options);
    this.authenticator = new RegistryAuthenticator(deps, this.exchange);
  }

  /** The request, authenticated and retried as needed; answers a 2xx response or throws a typed error. */
  async send(request: RegistryRequest): Promise<{ response: RegistryResponse; auth: AuthOutcome }> {
    return this.retrying(request, async () => {
      const response = await this.authenticator.authenticated(request);
      return { response, auth: this.authenticator.authOutcome(request) };
    });
  }

  /** Like send, and `read` runs inside the retry too: a body that fails to parse is retried like a reset. */
  async read<T>(request: RegistryRequest, read: (response: RegistryResponse) => T): Promise<T> {
    return this.retrying(request, async () => read(await this.authenticator.authenticated(request)));
  }

  private retrying<T>(request: RegistryRequest, attempt: () => Promise<T>): Promise<T> {
    const host = new URL(request.url).host;
    return withRetry(request.subject, attempt, {
      options: this.options.retry,
      sleep: this.deps.sleep,
      now: this.deps.now,
      log: this.deps.log,
      deadlineMs: request.deadlineMs,
      onRetry: (error) => this.deps.observe?.({ type: 'retry', host, reason: error.code }),
    });
  }
}
