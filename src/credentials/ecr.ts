// Passwords for Amazon ECR registries: a token from the ECR API (GetAuthorizationToken), signed with the entry's AWS
// keys or the AWS SDK's default credential chain, cached and refreshed in the background so that a poll or a Drone
// runner waits on AWS once per registry at most, at the first use.
// Uses @aws-sdk/client-ecr, loaded on the first ECR use only: most sidecars never meet an ECR registry.

import { createHash } from 'node:crypto';
import type { Logger } from '../log';
import { CredentialSourceError, Credentials } from './credentials';
import { REAL_TIMERS, StoreTimers } from './credentials-file';
import type { CredentialsEntry } from './credentials-file';
import { EcrRegistry, parseEcrAddress } from './ecr-address';

export interface EcrKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What one ECR API client is built for. */
export interface EcrClientConfig {
  region: string;
  isFips: boolean;
  /** Undefined: the SDK's default credential chain (environment, shared files, SSO, web identity, container, instance role). */
  keys?: EcrKeys;
  /** Undefined: the SDK's own choice, which honours AWS_ENDPOINT_URL_ECR and AWS_ENDPOINT_URL. */
  endpoint?: string;
}

/** GetAuthorizationToken's answer, as far as it is read here (the SDK's output type fits it). */
export interface EcrAuthorizationAnswer {
  authorizationData?: { authorizationToken?: string; expiresAt?: Date }[];
}

/** The one ECR API call the bridge makes. */
export interface EcrTokenClient {
  getAuthorizationToken(registryIds: string[]): Promise<EcrAuthorizationAnswer>;
}

/** `log` gets the SDK's own warnings and errors. */
export type EcrClientFactory = (config: EcrClientConfig, log: Logger) => EcrTokenClient;

export interface EcrTokensOptions {
  log: Logger;
  now(): number;
  timers: Pick<StoreTimers, 'setTimeout'>;
  createClient: EcrClientFactory;
  /** The ECR API's URL for every registry (tests, private endpoints); undefined leaves it to the SDK, see EcrClientConfig. */
  endpoint: string | undefined;
  /**
   * 10 minutes: an expiry closer than this (moto answers one in 2015; a sidecar clock hours ahead of AWS's) is taken
   * as this far away, so such a token is refreshed every few minutes in the background, not fetched on every use.
   */
  minLifetimeMs: number;
  /** 1 minute: a token is no longer handed out this close to its expiry, so a poll that starts with it can finish. */
  expiryMarginMs: number;
  firstRetryMs: number; // 10 s: after a failed request, doubled with each failure in a row
  maxRetryMs: number; // 5 min: an outage of hours costs a dozen requests per hour, a fix is seen within minutes
}

export const ECR_TOKENS_DEFAULTS: Omit<EcrTokensOptions, 'log'> = {
  now: Date.now,
  timers: REAL_TIMERS,
  createClient: createEcrClient,
  endpoint: undefined,
  minLifetimeMs: 10 * 60_000,
  expiryMarginMs: 60_000,
  firstRetryMs: 10_000,
  maxRetryMs: 5 * 60_000,
};

interface Token {
  credentials: Credentials;
  /** Half its lifetime: refreshed from then on, leaving the other half to retry a failing refresh. */
  refreshAt: number;
  servedUntil: number;
}

/** One registry with one set of AWS keys. */
interface Slot {
  readonly registry: EcrRegistry;
  readonly keys?: EcrKeys;
  client?: EcrTokenClient;
  token?: Token;
  fetching?: Promise<Token>;
  timer?: { cancel(): void };
  failuresInARow: number;
  lastFailure?: { error: CredentialSourceError; retryAt: number };
  /** Asked for since the last fetch: only a token in use is refreshed ahead of time. */
  isInUse: boolean;
  hasWarnedOfExpiry: boolean;
}

/**
 * ECR tokens per registry and AWS keys. The first use of a registry waits for GetAuthorizationToken (concurrent first
 * uses share one request); later uses get the cached token at once while a timer refreshes it at half its lifetime.
 * A failed refresh keeps the token in service until shortly before it expires, and is retried with backoff.
 */
export class EcrTokens {
  private readonly options: EcrTokensOptions;
  private readonly slots = new Map<string, Slot>();

  constructor(options: Partial<EcrTokensOptions> & { log: Logger }) {
    this.options = { ...ECR_TOKENS_DEFAULTS, ...options };
  }

  /**
   * ECR credentials (user `AWS`, the token as password) for a credentials-file entry whose address is an ECR
   * registry, with its AWS keys or, without keys, the default chain; undefined for an entry of any other registry.
   * A CredentialSourceError when ECR gave no token and none is still valid.
   */
  async credentialsForEntry(entry: Pick<CredentialsEntry, 'address' | 'awsAccessKeyId' | 'awsSecretAccessKey'>): Promise<Credentials | undefined> {
    const registry = parseEcrAddress(entry.address);
    if (!registry) return undefined;
    const { awsAccessKeyId: accessKeyId, awsSecretAccessKey: secretAccessKey } = entry;
    return this.credentialsFor(registry, accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined);
  }

  async credentialsFor(registry: EcrRegistry, keys?: EcrKeys): Promise<Credentials> {
    const slot = this.slotFor(registry, keys);
    const now = this.options.now();
    const { token } = slot;
    if (token && now < token.servedUntil) {
      slot.isInUse = true;
      // The refresh timer stops once a token goes unused; the first use after that restarts the refresh.
      if (now >= token.refreshAt && !slot.timer && !slot.fetching) this.refreshInBackground(slot);
      return token.credentials;
    }
    if (!slot.fetching && slot.lastFailure && now < slot.lastFailure.retryAt) throw slot.lastFailure.error;
    slot.isInUse = true;
    return (await this.fetch(slot)).credentials;
  }

  /** Stops the refresh timers; tokens already handed out stay valid. */
  close(): void {
    for (const slot of this.slots.values()) {
      slot.timer?.cancel();
      slot.timer = undefined;
    }
  }

  private slotFor(registry: EcrRegistry, keys: EcrKeys | undefined): Slot {
    // The secret key only as a hash: a new key in the file is a new slot, and no map key holds a secret.
    const who = keys ? `${keys.accessKeyId}:${createHash('sha256').update(keys.secretAccessKey).digest('hex')}` : 'default chain';
    const id = `${registry.host}\n${who}`;
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { registry, keys, failuresInARow: 0, isInUse: false, hasWarnedOfExpiry: false };
      this.slots.set(id, slot);
    }
    return slot;
  }

  /** The one request in flight for the slot, started if there is none. */
  private fetch(slot: Slot): Promise<Token> {
    slot.timer?.cancel();
    slot.timer = undefined;
    slot.fetching ??= this.requestToken(slot)
      .then(
        (token) => this.accept(slot, token),
        (err: unknown) => {
          throw this.refuse(slot, err);
        },
      )
      .finally(() => {
        slot.fetching = undefined;
      });
    return slot.fetching;
  }

  private refreshInBackground(slot: Slot): void {
    this.fetch(slot).catch(() => undefined); // refuse() has logged it and scheduled the retry
  }

  private schedule(slot: Slot, at: number): void {
    slot.timer?.cancel();
    slot.timer = this.options.timers.setTimeout(
      () => {
        slot.timer = undefined;
        if (slot.isInUse) this.refreshInBackground(slot);
      },
      Math.max(0, at - this.options.now()),
    );
  }

  private accept(slot: Slot, token: Token): Token {
    slot.token = token;
    slot.failuresInARow = 0;
    slot.lastFailure = undefined;
    slot.isInUse = false;
    this.schedule(slot, token.refreshAt);
    return token;
  }

  private refuse(slot: Slot, err: unknown): CredentialSourceError {
    const { now, firstRetryMs, maxRetryMs, log } = this.options;
    const error = err instanceof CredentialSourceError ? err : ecrError(slot, err);
    slot.failuresInARow += 1;
    const retryAt = now() + Math.min(firstRetryMs * 2 ** (slot.failuresInARow - 1), maxRetryMs);
    slot.lastFailure = { error, retryAt };
    const { token } = slot;
    if (token && now() < token.servedUntil) {
      log.warn('ECR token refresh failed; the current token stays in use', {
        registry: slot.registry.host,
        problem: error.message,
        fix: error.fix,
        tokenServedUntil: new Date(token.servedUntil).toISOString(),
        retryAt: new Date(retryAt).toISOString(),
      });
      this.schedule(slot, retryAt);
    }
    return error;
  }

  private async requestToken(slot: Slot): Promise<Token> {
    const { registry, keys } = slot;
    const { log, now, minLifetimeMs, expiryMarginMs } = this.options;
    slot.client ??= this.options.createClient({ region: registry.region, isFips: registry.isFips, keys, endpoint: this.options.endpoint }, log);
    const answer = await slot.client.getAuthorizationToken([registry.account]);
    const fetchedAt = now();
    const data = answer.authorizationData?.[0];
    const credentials = decodeToken(data?.authorizationToken);
    if (!credentials) {
      throw new CredentialSourceError({
        message: `ECR answered GetAuthorizationToken for ${registry.host} (region ${registry.region}) without a usable token (base64 of user:password)`,
        fix: 'check that the ECR endpoint is the AWS API (AWS_ENDPOINT_URL_ECR, if set, may point elsewhere)',
        retryable: true,
      });
    }
    log.registerSecret(credentials.password);
    let expiresAt = data?.expiresAt?.getTime() ?? Number.NaN;
    if (!(expiresAt - fetchedAt >= minLifetimeMs)) {
      if (!slot.hasWarnedOfExpiry) {
        slot.hasWarnedOfExpiry = true;
        log.warn(`ECR gave a token whose expiry is past, missing or less than ${minLifetimeMs / 60_000} minutes away; it is refreshed as if it lasted that long`, {
          registry: registry.host,
          expiresAt: Number.isNaN(expiresAt) ? undefined : new Date(expiresAt).toISOString(),
        });
      }
      expiresAt = fetchedAt + minLifetimeMs;
    }
    const token = { credentials, refreshAt: fetchedAt + (expiresAt - fetchedAt) / 2, servedUntil: expiresAt - expiryMarginMs };
    log.debug('ECR token fetched', { registry: registry.host, refreshAt: new Date(token.refreshAt).toISOString() });
    return token;
  }
}

/** `user:password` from the base64 token; the user is `AWS` in ECR's answers. */
function decodeToken(token: string | undefined): Credentials | undefined {
  if (!token) return undefined;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

// AWS error messages name the request and the IAM identity, never a secret key; cut long ones all the same.
const MAX_AWS_MESSAGE_LENGTH = 300;

/** The SDK's error (or a network error) as a CredentialSourceError naming the registry, its region and the cause. */
function ecrError(slot: Slot, err: unknown): CredentialSourceError {
  const { registry, keys } = slot;
  const { name, message, $metadata } = (err ?? {}) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  let cause = `${name ?? 'Error'}: ${message ?? String(err)}`;
  if (keys) cause = cause.split(keys.secretAccessKey).join('***');
  if (cause.length > MAX_AWS_MESSAGE_LENGTH) cause = `${cause.slice(0, MAX_AWS_MESSAGE_LENGTH)}…`;
  const using = keys ? 'the AWS keys of its credentials-file entry' : "the AWS SDK's default credential chain";
  const status = $metadata?.httpStatusCode;
  let fix: string;
  let retryable = false;
  if (name === 'CredentialsProviderError') {
    fix = 'add aws_access_key_id and aws_secret_access_key to the entry, or give the sidecar AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws of the user running it, or an instance or task role)';
  } else if (status !== undefined && status >= 400 && status < 500 && status !== 429 && !name?.startsWith('Throttling')) {
    fix = `check the AWS keys (${keys ? 'aws_access_key_id and aws_secret_access_key in the entry' : 'of the default chain'}) and that their IAM identity may call ecr:GetAuthorizationToken`;
  } else {
    retryable = true;
    fix = `check that the sidecar reaches the ECR API of ${registry.region}; it retries with backoff meanwhile`;
  }
  return new CredentialSourceError({
    message: `no ECR token for ${registry.host} (region ${registry.region}, with ${using}): ${cause}`,
    fix,
    retryable,
    cause: err,
  });
}

// Per attempt; the SDK tries 3 times with backoff. Without them a half-open connection would hang the first poll.
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
// The whole call, retries included: a token request that takes longer is not worth waiting for.
const CALL_TIMEOUT_MS = 45_000;

/** An ECR API client from @aws-sdk/client-ecr, which is loaded on its first request. */
export function createEcrClient(config: EcrClientConfig, log: Logger): EcrTokenClient {
  let client: Promise<{ send(registryIds: string[]): Promise<EcrAuthorizationAnswer> }> | undefined;
  const load = async () => {
    // On Node < 22 the SDK prints a multi-line notice about its future Node floor to stderr, which would break the
    // one-JSON-object-per-line log GoCD keeps; the locked SDK version supports Node 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
    // The SDK writes its warnings with console.warn unless given a logger; its info lines describe every call.
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (...content: unknown[]) => log.warn(`AWS SDK: ${content.join(' ')}`),
      error: (...content: unknown[]) => log.error(`AWS SDK: ${content.join(' ')}`),
    };
    const ecr = new ECRClient({
      region: config.region,
      useFipsEndpoint: config.isFips,
      credentials: config.keys,
      endpoint: config.endpoint,
      logger,
      // Without throwOnRequestTimeout the SDK only warns when requestTimeout passes, and goes on waiting.
      requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true, logger },
    });
    return {
      send: (registryIds: string[]) => ecr.send(new GetAuthorizationTokenCommand({ registryIds }), { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) }),
    };
  };
  return {
    getAuthorizationToken: async (registryIds) => (await (client ??= load())).send(registryIds),
  };
}
