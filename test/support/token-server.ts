// A minimal Docker token server (distribution's auth/token.md, GET variant) for token-auth registries:
// GET /token?service=&scope=... answers a JWT that docker-registry 2.8 accepts, and records every request so
// tests can count token fetches.

import { createPrivateKey, KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSigningCertificate } from './certs';

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenServerOptions {
  /** Accounts that may log in with HTTP Basic; without any, every request gets an anonymous token. */
  users?: Credentials[];
  /** The OAuth2 spelling `access_token` instead of `token`, as some servers answer. */
  responseField?: 'token' | 'access_token';
  /** Leave out expires_in and issued_at, as old Docker Hub responses did. */
  omitExpiry?: boolean;
  /** Serve https with this certificate, so a TLS registry's realm is https too. */
  tls?: { certFile: string; keyFile: string };
}

export interface TokenRequest {
  /** The scope parameters, in the order sent. */
  scopes: string[];
  /** The Basic user, when the request carried one. */
  username?: string;
  status: number;
}

export interface TokenServer {
  /** http(s)://127.0.0.1:<port>/token */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the certificate whose key signs the tokens: the registry's rootcertbundle. */
  rootCertBundle: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

// Deliberately not the registry's host:port, so a client that does not echo the challenge's service fails.
const SERVICE = 'bridge-test-registry';
const ISSUER = 'bridge-test-token-server';
const EXPIRES_IN_SECONDS = 300;
const GRANTABLE_ACTIONS = ['pull', 'push'];

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-token-'));
  const signing = makeSigningCertificate(dir);
  const signer = {
    key: createPrivateKey(readFileSync(signing.keyFile)),
    // distribution verifies the x5c chain against its rootcertbundle: the self-signed cert is the whole chain.
    certificate: new X509Certificate(readFileSync(signing.certFile)).raw.toString('base64'),
  };
  const requests: TokenRequest[] = [];
  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://token-server');
    const scopes = url.searchParams.getAll('scope');
    const user = basicUser(req.headers.authorization);
    const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
      requests.push({ scopes, ...(user && { username: user.username }), status });
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/token') return answer(404, { details: 'only GET /token is served' });
    const users = options.users ?? [];
    if (users.length > 0 && !users.some((u) => u.username === user?.username && u.password === user?.password)) {
      return answer(401, { details: 'incorrect username or password' }, { 'WWW-Authenticate': 'Basic realm="bridge-test-token-server"' });
    }
    // Like real token servers, the audience is the service the client asked for; a wrong one fails at the registry.
    const token = signToken(signer, user?.username ?? '', url.searchParams.get('service') ?? '', scopes);
    const field = options.responseField ?? 'token';
    const expiry = options.omitExpiry ? {} : { expires_in: EXPIRES_IN_SECONDS, issued_at: new Date().toISOString() };
    answer(200, { [field]: token, ...expiry });
  };
  const server = options.tls
    ? https.createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    realm: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/token`,
    service: SERVICE,
    issuer: ISSUER,
    rootCertBundle: signing.certFile,
    requests,
    stop: async () => {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function basicUser(authorization: string | undefined): Credentials | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString();
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * An ES256 JWT in the shape distribution 2.8 verifies (registry/auth/token): x5c header chaining to the
 * rootcertbundle, iss/aud matching its config, exp/nbf around now, and the granted access list.
 */
function signToken(signer: { key: KeyObject; certificate: string }, subject: string, audience: string, scopes: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [signer.certificate] };
  const claims = {
    iss: ISSUER,
    sub: subject,
    aud: audience,
    exp: now + EXPIRES_IN_SECONDS,
    nbf: now,
    iat: now,
    jti: randomBytes(16).toString('hex'),
    access: scopes.flatMap(grant),
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s pair, not the DER encoding node produces by default.
  const signature = sign('sha256', Buffer.from(signingInput), { key: signer.key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(signature)}`;
}

/** repository:<name>:<actions> → the pull/push part of it; other resource types get nothing. */
function grant(scope: string): Array<{ type: string; name: string; actions: string[] }> {
  // The name may itself contain a colon (a registry port), so split at the first and the last one.
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first || scope.slice(0, first) !== 'repository') return [];
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((action) => GRANTABLE_ACTIONS.includes(action));
  return [{ type: 'repository', name: scope.slice(first + 1, last), actions }];
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}
