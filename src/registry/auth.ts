// Authentication on demand (Docker token spec, RFC 6750): the challenge each host sent is remembered so later
// requests authenticate up front; Basic or Bearer; a token cache keyed by realm/service/scope/credentials with
// single-flight; one retry with the new challenge after a 401; a remembered challenge whose token service fails is
// dropped and the registry asked again; realm rules (http(s) only, no credentials in clear text to another host).

import { cacheKey } from '../cache-key';
import { Credentials, credentialIdentity } from '../credentials';
import { redactUrl } from '../http';
import { Challenge, parseWwwAuthenticate, preferredChallenge } from './challenge';
import { RegistryAuthError, RegistryResponseError } from './errors';
import type { RegistryDeps, RegistryExchange, RegistryRequest, RegistryResponse } from './exchange';
import { matchesSchema, TokenAnswer } from './schema';
import { checkStatus, parseJson } from './status';

// Token servers must not issue shorter tokens (distribution auth/token.md); regclient/containers-image clamp too.
const MIN_TOKEN_LIFETIME_S = 60;
// Renew a little early so a token does not expire between the cache check and the registry's own check.
const TOKEN_RENEW_EARLY_MS = 5_000;

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

export interface AuthOutcome {
  scheme: 'none' | 'basic' | 'bearer';
  hasCredentials: boolean;
}

export class RegistryAuthenticator {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly tokensInFlight = new Map<string, Promise<CachedToken>>();
  /** The last challenge each host sent, so later requests authenticate up front instead of collecting a 401. */
  private readonly challenges = new Map<string, Challenge>();

  constructor(
    private readonly deps: RegistryDeps,
    private readonly exchange: RegistryExchange,
  ) {}

  authOutcome(request: RegistryRequest): AuthOutcome {
    const scheme = this.challenges.get(request.access.endpoint.host)?.scheme;
    return { scheme: scheme === 'basic' || scheme === 'bearer' ? scheme : 'none', hasCredentials: request.access.credentials !== undefined };
  }

  async authenticated(request: RegistryRequest): Promise<RegistryResponse> {
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
    let response = await this.exchange.fetchFollowing(request, authorization);
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
      response = await this.exchange.fetchFollowing(request, await this.authorize(challenge, request));
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
    const response = await this.exchange.fetchFollowing(tokenRequest, headers.Authorization, 'realm');
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
}

function sameChallenge(a: Challenge, b: Challenge): boolean {
  return a.scheme === b.scheme && a.params.realm === b.params.realm && a.params.service === b.params.service;
}

function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

function tokenCacheKey(challenge: Challenge, request: RegistryRequest): string {
  return cacheKey(challenge.params.realm ?? '', challenge.params.service ?? '', request.scope ?? '', credentialIdentity(request.access.credentials));
}


/**
 * Realm safety: http(s) only; plain http only for a plain-http registry. Where the realm
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
