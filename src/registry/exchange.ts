// One HTTP exchange with a registry, or with where it sends us: TLS trust per registry (TLS_CA_FILE, skip-verify),
// keep-alive agents per origin, at most a few requests in flight per host, redirects (blobs only; a token realm or
// redirect away from the registry's origin is checked and pinned by http/'s hop policy), a body cap, and every
// network failure turned into an error that names who failed (the registry, its token service, a redirect target).

import type http from 'node:http';
import { rootCertificates } from 'node:tls';
import { Semaphore } from 'async-mutex';
import type { Headers, RequestInit, Response } from 'node-fetch';
import { cacheKey } from '../cache-key';
import type { Credentials, FoundCredentials, RegistryHost } from '../credentials';
import { BridgeError } from '../errors';
import type { Logger } from '../log';
import {
  allowedAddresses,
  buildAgent,
  describeAddressClass,
  formatDuration,
  redactUrl,
  resolveHost,
  ResolvedAddress,
  RETRY_DEFAULTS,
  RetryOptions,
} from '../http';
import { readCaFile } from './ca-file';
import { RegistryAuthError, RegistryResponseError, RegistryTlsError, RegistryUnreachableError, ResponseTooLargeError } from './errors';
import type { RegistryEndpoint } from './reference';
import { parseRateLimit } from './status';

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
  /** Where what is learned about digests outlives the process (the work dir); none: memory only. */
  metadataStore?: MetadataStore;
}

/**
 * A key-value store that survives restarts. Values come back as unknown: the client checks their shape, and a
 * store answers undefined for anything it cannot vouch for (missing, damaged, or not written by this user).
 */
export interface MetadataStore {
  read(kind: MetadataKind, key: string): Promise<unknown>;
  /** Fire and forget: a failed write costs a GET after the next restart, never a poll. */
  write(kind: MetadataKind, key: string, value: unknown): void;
}

/** 'metadata': an image's metadata by digest (immutable); 'tag': the digest a tag last had (confirmed by HEAD). */
export type MetadataKind = 'metadata' | 'tag';

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

const MAX_REDIRECTS = 3;

/**
 * Whom a request goes to: the registry itself, the token service its challenge names, or wherever a redirect
 * points. The last two are checked and pinned (http/address-guard.ts) unless they are the registry's own origin.
 */
export type Hop = 'registry' | 'realm' | 'redirect';

export class RegistryExchange {
  private readonly semaphores = new Map<string, Semaphore>();
  /** The CAs each registry's TLS settings trust (undefined: the system's), read once per CA file. */
  private readonly trustedCas = new Map<string, Promise<string[] | undefined>>();
  private readonly agents = new Map<string, http.Agent>();
  private readonly warningsSeen = new Set<string>();

  constructor(
    private readonly deps: RegistryDeps,
    private readonly options: TransportOptions,
  ) {}

  /** One HTTP exchange; a blob's redirect to a CDN is followed without our Authorization on another host. */
  async fetchFollowing(request: RegistryRequest, authorization: string | undefined, firstHop: Hop = 'registry'): Promise<RegistryResponse> {
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
    const seenKey = cacheKey(host, warning ?? '');
    if (warning && !this.warningsSeen.has(seenKey)) {
      this.warningsSeen.add(seenKey);
      this.deps.log.warn('registry warning', { host, warning });
    }
  }
}

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

export function registryOrigin(access: RegistryAccess): string {
  return new URL(access.endpoint.baseUrl).origin;
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
