// The Drone registry extension: a runner posts {repo, build} once per pipeline stage, signed with the shared secret,
// and gets the `docker login` credentials that build is entitled to, from the credentials file. The answers follow
// what the runner does with them (drone-go plugin/internal/client, runner-go registry/combine.go): any error status
// makes the runner drop every credential, its own DRONE_DOCKER_CONFIG file included, so "nothing for this build"
// is 204, never an error.

import { CredentialsEntry, DroneCredentialsRequest, entryCredentials } from '../credentials';
import type { Logger } from '../log';
import { encryptAesGcm, isAesGcmKeyable } from './aesgcm';
import { parseRegistryRequest } from './registry-request';
import { SignatureOptions, SignatureRefusalOutcome, SignatureVerdict, SignedRequest, verifySignature } from './signature';

/** How a request ended, for the metrics. */
export type DroneRequestOutcome = SignatureRefusalOutcome | 'served' | 'none_entitled' | 'bad_body' | 'error';

export interface RegistryLogin {
  username: string;
  password: string;
}

export interface DroneRegistryExtensionOptions extends SignatureOptions {
  /** The credentials file (CredentialsFileStore): which entries a build may have, kept current by its reloads. */
  credentials: { entitledFor(request: DroneCredentialsRequest): CredentialsEntry[] };
  /**
   * The login an entitled entry stands for, or undefined to leave it out: the entry's own username and password,
   * or (serve wires this) a token from the ECR exchange for an ECR registry.
   */
  resolveEntry(entry: CredentialsEntry): RegistryLogin | undefined | Promise<RegistryLogin | undefined>;
  log: Logger;
  observe(outcome: DroneRequestOutcome): void;
}

/** One answer, ready for the router. */
export interface DroneAnswer {
  status: 200 | 204 | 400 | 500;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
}

const TEXT = 'text/plain; charset=utf-8';

export const ownLogin = (entry: CredentialsEntry): RegistryLogin | undefined => entryCredentials(entry);

export class DroneRegistryExtension {
  private readonly answerItems = new WeakMap<CredentialsEntry, RegistryLogin & { json: string }>();

  constructor(private readonly options: DroneRegistryExtensionOptions) {}

  /**
   * The signature check, for the route's policy: it runs on the raw body before the handler, and a refusal is
   * counted and logged here (with the reason, never a header value) since the handler never sees it.
   */
  verify(request: SignedRequest, peer: string | undefined): SignatureVerdict {
    const verdict = verifySignature(request, this.options);
    if (!verdict.accepted) {
      this.options.observe(verdict.outcome);
      this.options.log.warn('drone registry request refused', { outcome: verdict.outcome, reason: verdict.reason, peer });
    }
    return verdict;
  }

  /** The answer to a request whose signature verify() accepted with `secret`. */
  async answer(request: { body: Buffer; acceptEncoding: string | undefined; secret: string }): Promise<DroneAnswer> {
    const { log, observe } = this.options;
    const parsed = parseRegistryRequest(request.body);
    if (parsed === undefined) {
      observe('bad_body');
      log.warn('drone registry request refused', { outcome: 'bad_body', reason: 'the body is not a JSON object' });
      return { status: 400, body: 'gocd-registry-bridge: Invalid Input: the body is not a JSON object', contentType: TEXT };
    }
    const logins = await this.loginsFor(parsed);
    const fields = { repo: parsed.repo.slug, event: parsed.build.event, addresses: logins.map((login) => login.address) };
    if (logins.length === 0) {
      observe('none_entitled');
      log.info('drone registry request', { ...fields, status: 204 });
      return { status: 204, body: '', contentType: TEXT };
    }
    const json = Buffer.from(`[${logins.map((login) => login.json).join(',')}]`);
    // drone-go's handler encrypts only for exactly this value, and the client decrypts only then.
    if (request.acceptEncoding !== 'aesgcm') {
      observe('served');
      log.info('drone registry request', { ...fields, status: 200 });
      return { status: 200, body: json, contentType: 'application/json' };
    }
    if (!isAesGcmKeyable(request.secret)) {
      observe('error');
      log.error('drone registry request asks for an aesgcm answer, but the shared secret that signed it is shorter than 32 bytes', {
        ...fields,
        fix: 'use a secret of at least 32 characters on the runners and here (openssl rand -hex 16)',
      });
      return { status: 500, body: 'gocd-registry-bridge: the shared secret is shorter than 32 bytes, too short to key aesgcm', contentType: TEXT };
    }
    observe('served');
    log.info('drone registry request', { ...fields, status: 200, encoding: 'aesgcm' });
    return { status: 200, body: encryptAesGcm(json, request.secret), contentType: 'application/octet-stream', headers: { 'Content-Encoding': 'aesgcm' } };
  }

  /**
   * Every entitled entry's login, in file order (the runner takes the first that matches an image). An entry whose
   * login cannot be had is left out with a warning: failing the call would cost the runner every other credential.
   */
  private async loginsFor(request: DroneCredentialsRequest): Promise<{ address: string; json: string }[]> {
    const entries = this.options.credentials.entitledFor(request);
    const pending = entries.map((entry) => this.loginOf(entry));
    // Only an ECR exchange answers later: a request without one goes through with no promise per entry.
    const logins = pending.some((login) => login instanceof Promise) ? await Promise.all(pending) : (pending as (RegistryLogin | undefined)[]);
    return entries.flatMap((entry, i) => {
      const login = logins[i];
      return login ? [{ address: entry.address, json: this.answerItem(entry, login) }] : [];
    });
  }

  /**
   * The entry's item of the answer, `{"address","username","password"}`, serialised once per entry and login: the
   * same builds ask again and again, and an entry object lives until the file is reloaded.
   */
  private answerItem(entry: CredentialsEntry, login: RegistryLogin): string {
    const known = this.answerItems.get(entry);
    if (known && known.username === login.username && known.password === login.password) return known.json;
    const json = JSON.stringify({ address: entry.address, username: login.username, password: login.password });
    this.answerItems.set(entry, { username: login.username, password: login.password, json });
    return json;
  }

  private loginOf(entry: CredentialsEntry): RegistryLogin | undefined | Promise<RegistryLogin | undefined> {
    const leaveOut = (err: unknown): undefined => {
      this.options.log.warn('drone registry request: an entry is left out, its login could not be had', { address: entry.address, line: entry.line, error: err });
      return undefined;
    };
    try {
      const login = this.options.resolveEntry(entry);
      return login instanceof Promise ? login.catch(leaveOut) : login;
    } catch (err) {
      return leaveOut(err);
    }
  }
}
