// One authenticated request to a registry: ping-free auth on the first 401 (Basic or Bearer, spec registry-v2.md
// §4), a token cache keyed by realm/service/scope/credentials, one retry with the new challenge, a per-request
// timeout, and network failures turned into errors that name the cause.

import { createHash } from 'node:crypto';
import type { RequestInit, Response } from 'node-fetch';
import type { Logger } from '../log';
import { Challenge, parseWwwAuthenticate, preferredChallenge } from './challenge';
import {
  RegistryAuthError,
  RegistryResponseError,
  RegistryTlsError,
  RegistryUnreachableError,
} from './errors';
import type { RegistryEndpoint } from './reference';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface RegistryDeps {
  fetch: FetchLike;
  now(): number;
  log: Logger;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface TransportOptions {
  requestTimeoutMs: number; // 30 s: a registry slower than that is down for GoCD's purposes, and GoCD itself never times out
}

export const TRANSPORT_DEFAULTS: TransportOptions = { requestTimeoutMs: 30_000 };

// Token servers must not issue shorter tokens (distribution auth/token.md); regclient/containers-image clamp too.
const MIN_TOKEN_LIFETIME_S = 60;
// Renew a little early so a token does not expire between the cache check and the registry's own check.
const TOKEN_RENEW_EARLY_MS = 5_000;

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

export interface RegistryRequest {
  method: 'GET' | 'HEAD';
  url: string;
  endpoint: RegistryEndpoint;
  /** `repository:<name>:pull` when the call reads a repository; absent for the ping. */
  scope?: string;
  credentials?: Credentials;
  headers?: Record<string, string>;
}

export interface AuthOutcome {
  scheme: 'none' | 'basic' | 'bearer';
  hasCredentials: boolean;
}

export class RegistryTransport {
  private readonly tokens = new Map<string, CachedToken>();
  /** The last challenge each host sent, so later requests authenticate up front instead of collecting a 401 first. */
  private readonly challenges = new Map<string, Challenge>();

  constructor(
    private readonly deps: RegistryDeps,
    private readonly options: TransportOptions = TRANSPORT_DEFAULTS,
  ) {}

  /** Sends the request, authenticating as the registry demands; answers the final response (any status but 401). */
  async send(request: RegistryRequest): Promise<{ response: Response; auth: AuthOutcome }> {
    const known = this.challenges.get(request.endpoint.host);
    let authorization = known ? await this.authorize(known, request) : undefined;
    let response = await this.fetchOnce(request, authorization);
    if (response.status === 401) {
      const challenge = preferredChallenge(parseWwwAuthenticate(response.headers.get('www-authenticate') ?? ''));
      await drain(response);
      if (!challenge) {
        throw new RegistryAuthError({
          message: `${request.endpoint.host} answered 401 to ${request.method} ${redactUrl(request.url)} without a usable WWW-Authenticate challenge`,
          fix: 'check that the URL points at the registry itself and not at a login page or proxy',
        });
      }
      this.challenges.set(request.endpoint.host, challenge);
      this.forgetToken(challenge, request);
      authorization = await this.authorize(challenge, request);
      response = await this.fetchOnce(request, authorization);
      if (response.status === 401) {
        await drain(response);
        throw rejected(request, challenge.scheme);
      }
    }
    const scheme = this.challenges.get(request.endpoint.host)?.scheme;
    return {
      response,
      auth: {
        scheme: scheme === 'basic' || scheme === 'bearer' ? scheme : 'none',
        hasCredentials: request.credentials !== undefined,
      },
    };
  }

  private async authorize(challenge: Challenge, request: RegistryRequest): Promise<string> {
    if (challenge.scheme === 'basic') {
      if (!request.credentials) {
        throw new RegistryAuthError({
          message: `${request.endpoint.host} requires a username and password (Basic authentication)`,
          fix: 'set Username and Password on the package repository',
        });
      }
      return basicAuthorization(request.credentials);
    }
    if (challenge.scheme === 'bearer') return `Bearer ${await this.bearerToken(challenge, request)}`;
    throw new RegistryAuthError({
      message: `${request.endpoint.host} asks for "${challenge.scheme}" authentication, which the bridge does not speak`,
      fix: 'use a registry that offers Bearer or Basic authentication (the Docker Registry V2 schemes)',
    });
  }

  private async bearerToken(challenge: Challenge, request: RegistryRequest): Promise<string> {
    const key = tokenCacheKey(challenge, request);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAtMs - TOKEN_RENEW_EARLY_MS > this.deps.now()) return cached.value;

    const realm = resolveRealm(challenge, request);
    if (challenge.params.service) realm.searchParams.append('service', challenge.params.service);
    if (request.scope) realm.searchParams.append('scope', request.scope);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (request.credentials) {
      headers.Authorization = basicAuthorization(request.credentials);
      realm.searchParams.append('account', request.credentials.username);
    }
    const tokenRequest: RegistryRequest = { method: 'GET', url: realm.toString(), endpoint: request.endpoint, headers };
    const response = await this.fetchOnce(tokenRequest, headers.Authorization);
    if (response.status === 401 || response.status === 403) {
      await drain(response);
      throw new RegistryAuthError({
        message: request.credentials
          ? `the token service of ${request.endpoint.host} (${realm.host}) refused the username and password (HTTP ${response.status})`
          : `the token service of ${request.endpoint.host} (${realm.host}) refused an anonymous token (HTTP ${response.status})`,
        fix: request.credentials
          ? 'check Username and Password on the package repository (some registries want an access token as the password)'
          : 'set Username and Password on the package repository',
      });
    }
    if (!response.ok) {
      await drain(response);
      throw new RegistryResponseError({
        message: `the token service of ${request.endpoint.host} (${realm.host}) answered HTTP ${response.status}`,
        fix: 'retry later; if it persists, check the registry and its token service',
        retryable: response.status >= 500,
      });
    }
    const body = await readJson(response, `the token service of ${request.endpoint.host}`);
    const token = tokenFrom(body);
    if (!token) {
      throw new RegistryResponseError({
        message: `the token service of ${request.endpoint.host} answered without a token`,
        fix: 'check that the registry URL is right; the token service sent neither "token" nor "access_token"',
      });
    }
    this.deps.log.registerSecret(token);
    this.tokens.set(key, { value: token, expiresAtMs: this.deps.now() + tokenLifetimeS(body) * 1000 });
    return token;
  }

  private forgetToken(challenge: Challenge, request: RegistryRequest): void {
    this.tokens.delete(tokenCacheKey(challenge, request));
  }

  private async fetchOnce(request: RegistryRequest, authorization: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { 'User-Agent': 'gocd-registry-bridge', ...request.headers };
    if (authorization) headers.Authorization = authorization;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.requestTimeoutMs);
    try {
      // Redirects are followed by hand nowhere yet; registries redirect only blob downloads, which come later.
      return await this.deps.fetch(request.url, {
        method: request.method,
        headers,
        redirect: 'manual',
        signal: controller.signal as RequestInit['signal'],
      });
    } catch (err) {
      throw networkError(err, request, this.options.requestTimeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }
}

function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

function tokenCacheKey(challenge: Challenge, request: RegistryRequest): string {
  const identity = request.credentials
    ? createHash('sha256').update(`${request.credentials.username}\0${request.credentials.password}`).digest('hex')
    : 'anonymous';
  return [challenge.params.realm, challenge.params.service ?? '', request.scope ?? '', identity].join('\n');
}

/** Realm safety (spec registry-v2.md §4.6): http(s) only, and never credentials in clear text to another host. */
function resolveRealm(challenge: Challenge, request: RegistryRequest): URL {
  const raw = challenge.params.realm;
  let realm: URL | undefined;
  try {
    realm = raw ? new URL(raw, request.url) : undefined;
  } catch {
    realm = undefined;
  }
  if (!realm || (realm.protocol !== 'https:' && realm.protocol !== 'http:')) {
    throw new RegistryAuthError({
      message: `${request.endpoint.host} sent a Bearer challenge without a usable realm (${raw ?? 'none'})`,
      fix: 'check the registry\'s token service configuration (auth.token.realm)',
    });
  }
  const registryIsHttps = request.endpoint.baseUrl.startsWith('https:');
  if (realm.protocol === 'http:' && registryIsHttps) {
    throw new RegistryAuthError({
      message: `${request.endpoint.host} sends clients to a token service over plain http (${realm.origin})`,
      fix: 'configure the registry to advertise an https:// token realm (behind a TLS proxy, set the external URL)',
    });
  }
  return realm;
}

function tokenFrom(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { token, access_token: accessToken } = body as Record<string, unknown>;
  if (typeof token === 'string' && token !== '') return token;
  if (typeof accessToken === 'string' && accessToken !== '') return accessToken;
  return undefined;
}

function tokenLifetimeS(body: unknown): number {
  const expiresIn = (body as Record<string, unknown>).expires_in;
  return typeof expiresIn === 'number' && expiresIn > MIN_TOKEN_LIFETIME_S ? expiresIn : MIN_TOKEN_LIFETIME_S;
}

function rejected(request: RegistryRequest, scheme: string): RegistryAuthError {
  const what = request.scope ? `access to ${request.scope.split(':')[1]}` : 'access';
  return new RegistryAuthError({
    message: request.credentials
      ? `${request.endpoint.host} refused ${what} with the configured credentials (HTTP 401, ${scheme} authentication)`
      : `${request.endpoint.host} refused anonymous ${what} (HTTP 401, ${scheme} authentication)`,
    fix: request.credentials
      ? 'check Username and Password, and that this user may pull the image; a misspelled image name also answers 401 on some registries'
      : 'set Username and Password on the package repository, or check the image name (Docker Hub answers 401 for unknown images)',
  });
}

export async function readJson(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RegistryResponseError({
      message: `${what} answered with malformed JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`,
      fix: 'check that the URL points at a Docker Registry V2 API; if it does, the registry or a proxy is truncating responses',
      retryable: true,
      cause: err,
    });
  }
}

export async function drain(response: Response): Promise<void> {
  await response.arrayBuffer().catch(() => undefined);
}

/** Query strings can carry tokens or cursors: keep them out of messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
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

function networkError(err: unknown, request: RegistryRequest, timeoutMs: number): Error {
  const target = new URL(request.url);
  const where = `${target.host} (${request.method} ${redactUrl(request.url)})`;
  const code = errorCode(err);
  if ((err as Error)?.name === 'AbortError') {
    return new RegistryUnreachableError({
      message: `${where} did not answer within ${timeoutMs / 1000} s`,
      fix: 'check that the registry is up and reachable from the GoCD server (proxy, firewall)',
      cause: err,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryUnreachableError({
      message: `the host name ${target.hostname} does not resolve (DNS ${code})`,
      fix: 'check the registry URL for typos and the GoCD server\'s DNS settings',
      retryable: code === 'EAI_AGAIN',
      cause: err,
    });
  }
  if (code === 'ECONNREFUSED') {
    return new RegistryUnreachableError({
      message: `${target.host} refused the connection`,
      fix: 'check the port in the registry URL and that the registry is running',
      cause: err,
    });
  }
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL'))) {
    return new RegistryTlsError({
      message: `TLS with ${target.host} failed (${code})`,
      fix: target.protocol === 'https:'
        ? 'if the registry uses a private CA, add the CA to the sidecar (NODE_EXTRA_CA_CERTS); if it has no TLS, use an http:// URL'
        : 'check the registry URL scheme',
      cause: err,
    });
  }
  return new RegistryUnreachableError({
    message: `the connection to ${where} failed (${code ?? (err as Error)?.message ?? String(err)})`,
    fix: 'check that the registry is up and reachable from the GoCD server',
    cause: err,
  });
}

function errorCode(err: unknown): string | undefined {
  const direct = (err as { code?: unknown })?.code;
  if (typeof direct === 'string') return direct;
  const errno = (err as { errno?: unknown })?.errno;
  return typeof errno === 'string' ? errno : undefined;
}
