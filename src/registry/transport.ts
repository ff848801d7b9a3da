// One registry request, done right (spec registry-v2.md §4, §7, §8): authentication on demand (Basic or Bearer,
// challenge remembered per host so later requests authenticate up front), a token cache keyed by
// realm/service/scope/credentials with single-flight, one retry with the new challenge after a 401, retries of
// transient failures with Retry-After honoured, a per-host concurrency cap, an overall deadline, a response size
// cap, per-registry TLS trust, and every status turned into an error that names cause and fix.

import type http from 'node:http';
import { rootCertificates } from 'node:tls';
import { Semaphore } from 'async-mutex';
import type { Headers, RequestInit, Response } from 'node-fetch';
import { Credentials, credentialIdentity, FoundCredentials, RegistryHost } from '../credentials';
import { BridgeError } from '../errors';
import type { Logger } from '../log';
import {
  allowedAddresses,
  buildAgent,
  describeAddressClass,
  formatDuration,
  parseRetryAfter,
  printable,
  redactLocation,
  redactUrl,
  resolveHost,
  ResolvedAddress,
  RETRY_DEFAULTS,
  RetryOptions,
  withRetry,
} from '../http';
import { readCaFile } from './ca-file';
import { Challenge, parseWwwAuthenticate, preferredChallenge } from './challenge';
import {
  RegistryAuthError,
  RegistryNotFoundError,
  RegistryResponseError,
  RegistryTlsError,
  RegistryUnreachableError,
  ResponseTooLargeError,
} from './errors';
import type { RegistryEndpoint } from './reference';
import { matchesSchema, TokenAnswer } from './schema';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** What the registry client reports as it works; server/ turns these into metrics. */
export type RegistryEvent =
  | { type: 'request'; host: string; method: string; status: number } // status 0: no answer (network error)
  | { type: 'retry'; host: string; reason: string }
  | { type: 'token'; host: string }
  | { type: 'cache'; cache: 'tags' | 'metadata'; hit: boolean }
  | { type: 'rate-limit'; host: string; limit: number; remaining: number; windowS?: number };

export interface RegistryDeps {
  fetch: FetchLike;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Logger;
  observe?(event: RegistryEvent): void;
  /** Where credentials come from when a repository has none of its own: the credential store. */
  credentialStore?: { lookup(registry: RegistryHost): Promise<FoundCredentials | undefined> };
}

export interface TlsSettings {
  /** PEM file of CAs to trust for this registry, besides the system's. */
  caFile?: string;
  /** Skip certificate verification: only when the admin explicitly asked for it. */
  isInsecure?: boolean;
}

/** How to reach one registry: where, as whom, trusting what. */
export interface RegistryAccess {
  endpoint: RegistryEndpoint;
  credentials?: Credentials;
  tls?: TlsSettings;
}

export interface TransportOptions {
  requestTimeoutMs: number; // 30 s: one request slower than that is a failing registry
  maxResponseBytes: number; // 64 MiB: a 1000-tag page is ~30 KiB; anything near this is not a registry answer
  maxConcurrentPerHost: number; // 4: bursts make GHCR answer 429; 2-3 per host is what regclient and wud settled on
  retry: RetryOptions;
}

export const TRANSPORT_DEFAULTS: TransportOptions = {
  requestTimeoutMs: 30_000,
  maxResponseBytes: 64 * 1024 * 1024,
  maxConcurrentPerHost: 4,
  retry: RETRY_DEFAULTS,
};

export interface RegistryRequest {
  method: 'GET' | 'HEAD';
  url: string;
  access: RegistryAccess;
  /** `repository:<name>:pull` when the call reads a repository; absent for the ping. */
  scope?: string;
  headers?: Record<string, string>;
  /** For messages: what was being read, e.g. "the tag list of team/app". */
  subject: string;
  /** Absolute epoch ms; no attempt starts after it. */
  deadlineMs: number;
  /** Blob downloads may redirect to a CDN; everything else must answer directly. */
  followRedirect?: boolean;
  /** A tighter body cap than maxResponseBytes (what is left of a tag walk's byte budget); ResponseTooLargeError names it. */
  maxBytes?: number;
  /**
   * For a 2xx answer: a consumer (a fresh one per attempt) that takes the body as it arrives instead of having it
   * kept, so a big tag page is parsed as it streams in; the response's body is then empty. A consumer that throws
   * a BridgeError (a cap reached, JSON that cannot be a tag list) stops the download, and its error is the answer.
   */
  streamBody?: () => (chunk: Buffer) => Promise<void>;
}

/** A registry answer with its body read in full (so a truncated body can be retried like a reset). */
export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  url: string;
  /** Answered by the registry's own origin, not a token service or redirect target: only its bytes may be quoted. */
  isFromRegistry: boolean;
}

export interface AuthOutcome {
  scheme: 'none' | 'basic' | 'bearer';
  hasCredentials: boolean;
}

// Token servers must not issue shorter tokens (distribution auth/token.md); regclient/containers-image clamp too.
const MIN_TOKEN_LIFETIME_S = 60;
// Renew a little early so a token does not expire between the cache check and the registry's own check.
const TOKEN_RENEW_EARLY_MS = 5_000;
const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);
const MAX_REDIRECTS = 3;
// A registry's own error text is quoted in messages; more than this is not a diagnosis.
const MAX_QUOTED_CHARS = 200;

/**
 * Whom a request goes to: the registry itself, the token service its challenge names, or wherever a redirect
 * points. The last two are checked and pinned (address-guard.ts) unless they are the registry's own origin.
 */
type Hop = 'registry' | 'realm' | 'redirect';

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

export class RegistryTransport {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly tokensInFlight = new Map<string, Promise<CachedToken>>();
  /** The last challenge each host sent, so later requests authenticate up front instead of collecting a 401. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly semaphores = new Map<string, Semaphore>();
  /** The CAs each registry's TLS settings trust (undefined: the system's), read once per CA file. */
  private readonly trustedCas = new Map<string, Promise<string[] | undefined>>();
  private readonly agents = new Map<string, http.Agent>();
  private readonly warningsSeen = new Set<string>();

  constructor(
    private readonly deps: RegistryDeps,
    private readonly options: TransportOptions = TRANSPORT_DEFAULTS,
  ) {}

  /** The request, authenticated and retried as needed; answers a 2xx response or throws a typed error. */
  async send(request: RegistryRequest): Promise<{ response: RegistryResponse; auth: AuthOutcome }> {
    return this.retrying(request, async () => {
      const response = await this.authenticated(request);
      return { response, auth: this.authOutcome(request) };
    });
  }

  /** Like send, and `read` runs inside the retry too: a body that fails to parse is retried like a reset. */
  async read<T>(request: RegistryRequest, read: (response: RegistryResponse) => T): Promise<T> {
    return this.retrying(request, async () => read(await this.authenticated(request)));
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

  private authOutcome(request: RegistryRequest): AuthOutcome {
    const scheme = this.challenges.get(request.access.endpoint.host)?.scheme;
    return { scheme: scheme === 'basic' || scheme === 'bearer' ? scheme : 'none', hasCredentials: request.access.credentials !== undefined };
  }

  private async authenticated(request: RegistryRequest): Promise<RegistryResponse> {
    const host = request.access.endpoint.host;
    const known = this.challenges.get(host);
    let authorization: string | undefined;
    let knownFailure: unknown;
    if (known) {
      try {
        authorization = await this.authorize(known, request);
      } catch (err) {
        // The registry may have moved its token service since it sent this challenge: ask it again (unauthenticated)
        // rather than failing on a remembered realm until the sidecar restarts.
        this.challenges.delete(host);
        knownFailure = err;
        this.deps.log.info('authentication with the remembered challenge failed; asking the registry again', { host, error: (err as Error).message });
      }
    }
    let response = await this.fetchFollowing(request, authorization);
    if (response.status === 401) {
      const challenge = preferredChallenge(parseWwwAuthenticate(response.headers.get('www-authenticate') ?? ''));
      if (!challenge) {
        throw new RegistryAuthError({
          message: `${host} answered 401 to ${request.method} ${redactUrl(request.url)} without a usable WWW-Authenticate challenge`,
          fix: 'check that the URL points at the registry itself and not at a login page or proxy',
        });
      }
      if (knownFailure !== undefined && known && sameChallenge(known, challenge)) throw knownFailure; // nothing moved: it fails as before
      this.challenges.set(host, challenge);
      this.tokens.delete(tokenCacheKey(challenge, request)); // the registry no longer accepts it
      response = await this.fetchFollowing(request, await this.authorize(challenge, request));
      if (response.status === 401) throw rejected(request, challenge.scheme);
    }
    return checkStatus(response, request, this.deps.now());
  }

  private async authorize(challenge: Challenge, request: RegistryRequest): Promise<string> {
    if (challenge.scheme === 'basic') {
      if (!request.access.credentials) {
        throw new RegistryAuthError({
          message: `${request.access.endpoint.host} requires a username and password (Basic authentication)`,
          fix: 'set Username and Password on the package repository',
        });
      }
      return basicAuthorization(request.access.credentials);
    }
    if (challenge.scheme === 'bearer') return `Bearer ${await this.bearerToken(challenge, request)}`;
    throw new RegistryAuthError({
      message: `${request.access.endpoint.host} asks for "${challenge.scheme}" authentication, which the bridge does not speak`,
      fix: 'use a registry that offers Bearer or Basic authentication (the Docker Registry V2 schemes)',
    });
  }

  /** N concurrent polls of one repository fetch one token (single-flight), then share it until it expires. */
  private async bearerToken(challenge: Challenge, request: RegistryRequest): Promise<string> {
    const key = tokenCacheKey(challenge, request);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAtMs - TOKEN_RENEW_EARLY_MS > this.deps.now()) return cached.value;
    let pending = this.tokensInFlight.get(key);
    if (!pending) {
      pending = this.fetchToken(challenge, request).finally(() => this.tokensInFlight.delete(key));
      this.tokensInFlight.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return token.value;
  }

  private async fetchToken(challenge: Challenge, request: RegistryRequest): Promise<CachedToken> {
    const { endpoint, credentials } = request.access;
    const realm = resolveRealm(challenge, request);
    if (challenge.params.service) realm.searchParams.append('service', challenge.params.service);
    if (request.scope) realm.searchParams.append('scope', request.scope);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (credentials) {
      headers.Authorization = basicAuthorization(credentials);
      realm.searchParams.append('account', credentials.username);
    }
    // The request's body handling (a tag page's streamBody and byte budget) is not the token's.
    const tokenRequest: RegistryRequest = {
      ...request,
      method: 'GET',
      url: realm.toString(),
      headers,
      subject: `a token from ${realm.host}`,
      maxBytes: undefined,
      streamBody: undefined,
    };
    const response = await this.fetchFollowing(tokenRequest, headers.Authorization, 'realm');
    this.deps.observe?.({ type: 'token', host: endpoint.host });
    if (response.status === 401 || response.status === 403) {
      throw new RegistryAuthError({
        message: credentials
          ? `the token service of ${endpoint.host} (${realm.host}) refused the username and password (HTTP ${response.status})`
          : `the token service of ${endpoint.host} (${realm.host}) refused an anonymous token (HTTP ${response.status})`,
        fix: credentials
          ? 'check Username and Password on the package repository (some registries want an access token as the password)'
          : 'set Username and Password on the package repository',
      });
    }
    const body = parseJson(checkStatus(response, tokenRequest, this.deps.now()), `the token service of ${endpoint.host}`);
    const token = matchesSchema('tokenAnswer', body) ? body.token || body.access_token : undefined;
    if (!token) {
      throw new RegistryResponseError({
        message: `the token service of ${endpoint.host} answered without a token`,
        fix: 'check that the registry URL is right; the token service sent neither "token" nor "access_token"',
      });
    }
    this.deps.log.registerSecret(token);
    return { value: token, expiresAtMs: tokenExpiry(body as TokenAnswer, this.deps.now()) };
  }

  /** One HTTP exchange; a blob's redirect to a CDN is followed without our Authorization on another host. */
  private async fetchFollowing(request: RegistryRequest, authorization: string | undefined, firstHop: Hop = 'registry'): Promise<RegistryResponse> {
    let url = request.url;
    let auth = authorization;
    let hop = firstHop;
    for (let hops = 0; ; hops += 1) {
      const response = await this.fetchOnce({ ...request, url }, auth, hop);
      const location = response.headers.get('location');
      if (!request.followRedirect || response.status < 300 || response.status >= 400 || !location || hops >= MAX_REDIRECTS) return response;
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') return response;
      if (next.host !== new URL(url).host) auth = undefined; // GGCR bearer.go: never hand the registry's token to a CDN
      url = next.toString();
      hop = 'redirect';
    }
  }

  private async fetchOnce(request: RegistryRequest, authorization: string | undefined, hop: Hop): Promise<RegistryResponse> {
    const target = new URL(request.url);
    const remainingMs = request.deadlineMs - this.deps.now();
    if (remainingMs <= 0) {
      // Names no duration: the deadline may be the whole poll's, begun several requests ago.
      throw new RegistryUnreachableError({
        message: `gave up reading ${request.subject}: the time allowed for this call ran out (the registry is slow or keeps failing)`,
        fix: "check the registry's health; GoCD retries the poll later by itself",
      });
    }
    const timeoutMs = Math.min(this.options.requestTimeoutMs, remainingMs);
    const headers: Record<string, string> = { 'User-Agent': 'gocd-registry-bridge', ...request.headers };
    if (authorization) headers.Authorization = authorization;
    const isFromRegistry = target.origin === registryOrigin(request.access);
    const semaphore = this.semaphoreFor(target.host);
    const maxBytes = Math.min(request.maxBytes ?? Infinity, this.options.maxResponseBytes);
    return semaphore.runExclusive(async () => {
      let response: Response;
      let status = 0; // no answer (yet): a network error
      let body: Buffer;
      // node-fetch's size limit rejects but reads on to the end of the body (of an endless one, until the timeout):
      // aborting closes the connection instead.
      const download = new AbortController();
      const timeout = AbortSignal.timeout(timeoutMs);
      const abortDownload = () => download.abort();
      timeout.addEventListener('abort', abortDownload, { once: true });
      try {
        const agent = isFromRegistry ? await this.agentFor(request.access, target.protocol) : await this.hopAgent(request, target, hop);
        response = await this.deps.fetch(request.url, {
          method: request.method,
          headers,
          redirect: 'manual',
          size: maxBytes,
          signal: download.signal as RequestInit['signal'],
          agent,
        });
        status = response.status;
        body = await readBody(request, response, maxBytes);
      } catch (err) {
        abortDownload();
        if (err instanceof BridgeError) {
          // The hop was refused before anything was sent, or streamBody refused what it read (a cap reached).
          if (status !== 0) this.deps.observe?.({ type: 'request', host: target.host, method: request.method, status });
          throw err;
        }
        this.deps.observe?.({ type: 'request', host: target.host, method: request.method, status: 0 });
        throw networkError(err, request, timeoutMs, maxBytes, hop);
      } finally {
        timeout.removeEventListener('abort', abortDownload);
      }
      this.deps.observe?.({ type: 'request', host: target.host, method: request.method, status: response.status });
      this.noticeHeaders(target.host, response.headers);
      return { status: response.status, headers: response.headers, body, url: request.url, isFromRegistry };
    });
  }

  /**
   * A connection away from the registry's origin, to an address the hop may reach (address-guard.ts), pinned so
   * the name cannot resolve elsewhere between the check and the connect. Not kept alive: such hops are rare
   * (a token per scope and expiry, a blob redirect per new image).
   */
  private async hopAgent(request: RegistryRequest, target: URL, hop: Hop): Promise<http.Agent> {
    const { access } = request;
    const [candidates, registryAddresses] = await Promise.all([resolveHost(target.hostname), resolveHost(new URL(access.endpoint.baseUrl).hostname)]);
    const [pinnedAddress] = allowedAddresses(candidates, { registryAddresses, mayShareRegistryAddress: hop === 'realm' });
    if (!pinnedAddress) throw refusedHop(request, target, hop, candidates);
    const ca = target.protocol === 'https:' ? await this.trustedCasFor(access) : undefined;
    return buildAgent(target.protocol, { keepAlive: false, ca, isInsecure: access.tls?.isInsecure, pinnedAddress });
  }

  private semaphoreFor(host: string): Semaphore {
    let semaphore = this.semaphores.get(host);
    if (!semaphore) {
      semaphore = new Semaphore(this.options.maxConcurrentPerHost);
      this.semaphores.set(host, semaphore);
    }
    return semaphore;
  }

  /** One keep-alive agent per protocol and trust setting, for the registries' own origins. */
  private async agentFor(access: RegistryAccess, protocol: string): Promise<http.Agent> {
    const ca = protocol === 'https:' ? await this.trustedCasFor(access) : undefined;
    const isInsecure = access.tls?.isInsecure === true;
    const key = JSON.stringify([protocol, access.tls?.caFile ?? '', isInsecure]);
    let agent = this.agents.get(key);
    if (!agent) {
      agent = buildAgent(protocol, { keepAlive: true, ca, isInsecure });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private trustedCasFor(access: RegistryAccess): Promise<string[] | undefined> {
    const caFile = access.tls?.caFile;
    if (!caFile) return Promise.resolve(undefined);
    let cas = this.trustedCas.get(caFile);
    if (!cas) {
      cas = readTrustedCas(caFile, access.endpoint.host);
      this.trustedCas.set(caFile, cas);
      cas.catch(() => this.trustedCas.delete(caFile)); // a fixed CA file is read again on the next poll
    }
    return cas;
  }

  /** Docker Hub's rate-limit headers go to metrics; registry Warning headers are logged once each. */
  private noticeHeaders(host: string, headers: Headers): void {
    const limit = parseRateLimit(headers.get('ratelimit-limit'));
    const remaining = parseRateLimit(headers.get('ratelimit-remaining'));
    if (limit && remaining) this.deps.observe?.({ type: 'rate-limit', host, limit: limit.count, remaining: remaining.count, windowS: limit.windowS });
    const warning = headers.get('warning');
    if (warning && !this.warningsSeen.has(`${host}\n${warning}`)) {
      this.warningsSeen.add(`${host}\n${warning}`);
      this.deps.log.warn('registry warning', { host, warning });
    }
  }
}

/** The body, whole; or, for a 2xx answer to a request with streamBody, handed over as it arrives and not kept. */
async function readBody(request: RegistryRequest, response: Response, maxBytes: number): Promise<Buffer> {
  if (request.method === 'HEAD') return Buffer.alloc(0);
  if (!request.streamBody || response.status < 200 || response.status >= 300) return Buffer.from(await response.arrayBuffer());
  const take = request.streamBody();
  let bytes = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    // networkError names it as it names node-fetch's own size limit.
    if (bytes > maxBytes) throw Object.assign(new Error(`body over ${maxBytes} bytes`), { type: 'max-size' });
    await take(chunk);
  }
  return Buffer.alloc(0);
}

async function readTrustedCas(caFile: string, host: string): Promise<string[]> {
  // The system CAs stay trusted next to the configured ones: a registry may move to a public certificate.
  return [...rootCertificates, ...(await readCaFile(caFile, { registryHost: host }))];
}

function registryOrigin(access: RegistryAccess): string {
  return new URL(access.endpoint.baseUrl).origin;
}

function sameChallenge(a: Challenge, b: Challenge): boolean {
  return a.scheme === b.scheme && a.params.realm === b.params.realm && a.params.service === b.params.service;
}

function refusedHop(request: RegistryRequest, target: URL, hop: Hop, candidates: readonly ResolvedAddress[]): BridgeError {
  const { host } = request.access.endpoint;
  const first = candidates[0]?.address ?? 'no address';
  const where = `${target.host}, which is ${describeAddressClass(first)} (${first})`;
  if (hop === 'realm') {
    return new RegistryAuthError({
      message: `${host} sends clients to a token service at ${where}`,
      fix: "the bridge follows a token realm to such an address only when it is the registry's own address; check the registry's auth.token.realm (behind a proxy, its external URL)",
    });
  }
  return new RegistryResponseError({
    message: `${host} redirected the request for ${request.subject} to ${where}`,
    fix: 'the bridge follows redirects to public addresses, and to private-network ones only when the registry itself is on a private network; check the registry\'s storage redirect settings',
  });
}

/** Maps every non-2xx answer (after authentication) to an error that says what failed and what to do. */
function checkStatus(response: RegistryResponse, request: RegistryRequest, nowMs: number): RegistryResponse {
  const { status } = response;
  if (status >= 200 && status < 300) return response;
  const host = new URL(request.url).host;
  const detail = response.isFromRegistry ? registryErrorDetail(response.body) : '';
  if (status === 403) {
    throw new RegistryAuthError({
      message: `${host} denied access to ${request.subject} (HTTP 403${detail})`,
      fix: 'give the configured user pull rights on this repository',
    });
  }
  if (status === 404) {
    throw new RegistryNotFoundError({
      message: `${request.subject} was not found on ${host} (HTTP 404${detail})`,
      fix: 'check the image name (on Docker Hub, official images live under library/); the registry does not know it',
    });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), nowMs);
    const quota = describeRateLimit(response.headers);
    throw new RegistryResponseError({
      message: `${host} is rate-limiting us (HTTP 429${detail}) while reading ${request.subject}${quota}${retryAfterMs === undefined ? '' : `; it asks to retry after ${formatDuration(retryAfterMs)}`}`,
      fix: 'poll less often or authenticate (Docker Hub gives authenticated users a higher pull limit)',
      retryable: true,
      retryAfterMs,
      status,
    });
  }
  if (status >= 300 && status < 400) {
    throw new RegistryResponseError({
      message: `${host} redirected ${request.method} ${redactUrl(request.url)} to ${redactLocation(response.headers.get('location'), request.url)}`,
      fix: 'use the URL the registry redirects to as the registry URL',
      status,
    });
  }
  throw new RegistryResponseError({
    message: `${host} answered HTTP ${status} while reading ${request.subject}${detail}`,
    fix: status >= 500 ? 'the registry is failing; GoCD retries the poll later by itself' : 'check the registry URL and image name',
    retryable: RETRYABLE_STATUS.has(status),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), nowMs),
    status,
  });
}

export function parseJson(response: RegistryResponse, what: string): unknown {
  const text = response.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    // Bytes from another host (a realm that may be a metadata service) never reach a message or the status page.
    const quoted = response.isFromRegistry ? `: ${JSON.stringify(printable(text).slice(0, 80))}` : `, ${response.headers.get('content-type') ?? 'no content type'}`;
    throw new RegistryResponseError({
      message: `${what} answered with malformed JSON (${response.body.length} bytes${quoted})`,
      fix: 'check that the URL points at a Docker Registry V2 API; if it does, the registry or a proxy is cutting responses short',
      retryable: true, // a body cut short by a proxy or a reset usually comes whole on the next try
      cause: err,
    });
  }
}

/** The registry's own error code and message, when its body is the spec's {"errors":[…]} shape. */
function registryErrorDetail(body: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (matchesSchema('errorBody', parsed)) {
      const [first] = parsed.errors;
      return printable(`, ${first!.code}${first!.message !== undefined ? `: ${first!.message}` : ''}`).slice(0, MAX_QUOTED_CHARS);
    }
  } catch {
    // not JSON (Quay sends HTML 429s): the status says enough
  }
  return '';
}

/** `100;w=21600` → 100 requests per 21600 s (Docker Hub; regclient setRateLimit). */
function parseRateLimit(header: string | null): { count: number; windowS?: number } | undefined {
  const match = header ? /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(header) : null;
  if (!match) return undefined;
  return { count: Number(match[1]), windowS: match[2] === undefined ? undefined : Number(match[2]) };
}

function describeRateLimit(headers: Headers): string {
  const limit = parseRateLimit(headers.get('ratelimit-limit'));
  const remaining = parseRateLimit(headers.get('ratelimit-remaining'));
  if (!limit || !remaining) return '';
  const window = limit.windowS ? ` per ${Math.round(limit.windowS / 3600)} h` : '';
  return `; pull limit ${limit.count}${window}, ${remaining.count} left`;
}

function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

function tokenCacheKey(challenge: Challenge, request: RegistryRequest): string {
  return [challenge.params.realm, challenge.params.service ?? '', request.scope ?? '', credentialIdentity(request.access.credentials)].join('\n');
}


/**
 * Realm safety (spec registry-v2.md §4.6): http(s) only; plain http only for a plain-http registry. Where the realm
 * may lead (SSRF) is checked on the address connected to, by hopAgent.
 */
function resolveRealm(challenge: Challenge, request: RegistryRequest): URL {
  const { endpoint } = request.access;
  const raw = challenge.params.realm;
  let realm: URL | undefined;
  try {
    realm = raw ? new URL(raw, request.url) : undefined;
  } catch {
    realm = undefined;
  }
  if (!realm || (realm.protocol !== 'https:' && realm.protocol !== 'http:')) {
    throw new RegistryAuthError({
      message: `${endpoint.host} sent a Bearer challenge without a usable realm (${raw ?? 'none'})`,
      fix: "check the registry's token service configuration (auth.token.realm)",
    });
  }
  const registryUrl = new URL(endpoint.baseUrl);
  if (realm.protocol === 'http:' && registryUrl.protocol === 'https:') {
    throw new RegistryAuthError({
      message: `${endpoint.host} sends clients to a token service over plain http (${realm.origin})`,
      fix: 'configure the registry to advertise an https:// token realm (behind a TLS proxy, set its external URL)',
    });
  }
  if (realm.protocol === 'http:' && realm.hostname !== registryUrl.hostname && request.access.credentials) {
    throw new RegistryAuthError({
      message: `${endpoint.host} asks for the credentials to be sent in clear text to another host (${realm.origin})`,
      fix: 'serve the registry and its token service over https, or keep the token service on the registry\'s host',
    });
  }
  return realm;
}

/** expires_in clamped to ≥ 60 s, counted from issued_at unless that is missing, in the future or already expired. */
function tokenExpiry(answer: TokenAnswer, nowMs: number): number {
  const { expires_in: expiresIn, issued_at: issuedAt } = answer;
  const lifetimeMs = (expiresIn !== undefined && expiresIn > MIN_TOKEN_LIFETIME_S ? expiresIn : MIN_TOKEN_LIFETIME_S) * 1000;
  const issuedMs = issuedAt !== undefined ? Date.parse(issuedAt) : NaN;
  const fromIssue = issuedMs + lifetimeMs;
  return Number.isNaN(issuedMs) || issuedMs > nowMs || fromIssue <= nowMs ? nowMs + lifetimeMs : fromIssue;
}

function rejected(request: RegistryRequest, scheme: string): RegistryAuthError {
  const { endpoint, credentials } = request.access;
  const what = request.scope ? `access to ${request.scope.split(':')[1]}` : 'access';
  return new RegistryAuthError({
    message: credentials
      ? `${endpoint.host} refused ${what} with the configured credentials (HTTP 401, ${scheme} authentication)`
      : `${endpoint.host} refused anonymous ${what} (HTTP 401, ${scheme} authentication)`,
    fix: credentials
      ? 'check Username and Password, and that this user may pull the image; a misspelled image name also answers 401 on some registries'
      : 'set Username and Password on the package repository, or check the image name (Docker Hub answers 401 for unknown images)',
  });
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);
// A reset or a cut-off answer is usually a proxy or a restarting registry: worth another try.
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

function networkError(err: unknown, request: RegistryRequest, timeoutMs: number, maxBytes: number, hop: Hop): Error {
  const target = new URL(request.url);
  const registry = request.access.endpoint.host;
  const code = errorCode(err);
  const name = (err as Error)?.name;
  // A failing token service or redirect target is named as such: "check the registry URL" would send the admin
  // to the wrong place.
  const who =
    hop === 'realm' ? `the token service of ${registry} (${target.host})` : hop === 'redirect' ? `${target.host} (where ${registry} redirected)` : target.host;
  const reachFix =
    hop === 'realm'
      ? `check that the token service named by ${registry}'s WWW-Authenticate realm is up and reachable from the GoCD server`
      : 'check that the registry is up and reachable from the GoCD server (proxy, firewall)';
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new RegistryUnreachableError({
      message: `${who} did not answer ${request.method} ${redactUrl(request.url)} within ${formatDuration(timeoutMs)}`,
      fix: reachFix,
      retryable: true,
      cause: err,
    });
  }
  if ((err as { type?: string })?.type === 'max-size') {
    return new ResponseTooLargeError({
      limitBytes: maxBytes,
      message: `${who} answered ${request.method} ${redactUrl(request.url)} with more than ${formatBytes(maxBytes)}`,
      fix: 'check that the registry URL points at a Docker Registry V2 API',
      cause: err,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryUnreachableError({
      message: `the host name ${target.hostname}${hop === 'registry' ? '' : ` (${who})`} does not resolve (DNS ${code})`,
      fix: hop === 'registry' ? "check the registry URL for typos and the GoCD server's DNS settings" : reachFix,
      retryable: code === 'EAI_AGAIN',
      cause: err,
    });
  }
  if (code === 'ECONNREFUSED') {
    return new RegistryUnreachableError({
      message: `${who} refused the connection`,
      fix: hop === 'registry' ? 'check the port in the registry URL and that the registry is running' : reachFix,
      cause: err,
    });
  }
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL'))) {
    return new RegistryTlsError({
      message: `TLS with ${who} failed (${code})`,
      fix:
        target.protocol === 'https:'
          ? 'if the registry uses a private CA, set TLS_CA_FILE on the package repository; if it has no TLS, use an http:// URL'
          : 'check the registry URL scheme',
      cause: err,
    });
  }
  return new RegistryUnreachableError({
    message: `the connection to ${who} failed during ${request.method} ${redactUrl(request.url)} (${code ?? (err as Error)?.message ?? String(err)})`,
    fix: reachFix,
    retryable: code !== undefined && TRANSIENT_CODES.has(code),
    cause: err,
  });
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} bytes`;
}

function errorCode(err: unknown): string | undefined {
  for (const candidate of [err, (err as { cause?: unknown })?.cause]) {
    const code = (candidate as { code?: unknown })?.code;
    if (typeof code === 'string') return code;
    const errno = (candidate as { errno?: unknown })?.errno;
    if (typeof errno === 'string') return errno;
  }
  return undefined;
}
