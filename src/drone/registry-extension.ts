// The Drone registry extension: a runner posts {repo, build} once per pipeline stage, signed with the shared secret,
// and gets the `docker login` credentials that build is entitled to, from the credentials file. The answers follow
// what the runner does with them (drone-go plugin/internal/client, runner-go registry/combine.go): any error status
// makes the runner drop every credential, its own DRONE_DOCKER_CONFIG file included, so "nothing for this build"
// is 204, never an error.

import { LRUCache } from 'lru-cache';
import { CredentialsEntry, CredentialsList, DroneCredentialsRequest, entitlementKey, entryCredentials } from '../credentials';
import { Logger, SerializedJson } from '../log';
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
  /**
   * The credentials file (CredentialsFileStore): its current version, replaced whole on each reload. Answers are
   * cached per version: a reload drops them all.
   */
  credentials: { readonly list: Pick<CredentialsList, 'entitledFor'> };
  /**
   * For an entitled entry without its own username and password, the login an exchange gives for it (serve wires the
   * ECR exchange), or undefined to leave it out. Asked on every request that entry serves, since tokens change;
   * without this option such entries are left out.
   */
  exchangeLogin?(entry: CredentialsEntry): Promise<RegistryLogin | undefined>;
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

/** What one build is entitled to, worked out once per credentials-file version. */
interface Entitlement {
  /** In file order: an entry's finished answer item, or an entry whose login comes from the exchange. */
  items: readonly EntitledItem[];
  /** The whole answer, when no item waits on an exchange. */
  finished?: FinishedAnswer;
}

/** `{"address","username","password"}`, serialised, with its address for the log line. */
interface AnswerItem {
  address: string;
  json: string;
}

type EntitledItem = AnswerItem | { exchange: CredentialsEntry };

interface FinishedAnswer {
  /** The JSON array of logins; undefined when there is none (204). */
  json: Buffer | undefined;
  /** The addresses it holds, for the log line. */
  addresses: SerializedJson;
}

// Builds remembered per credentials-file version, and as many distinct entitlements: a site's repositories × the
// events and branches they build. A build pushed out is worked out again, an entitlement scan over the file.
const REMEMBERED_BUILDS = 1_000;

export class DroneRegistryExtension {
  /** By entitlementKey: which entitlement a build has. */
  private readonly builds = new LRUCache<string, Entitlement>({ max: REMEMBERED_BUILDS });
  /** By the entitled entries' indexes: builds entitled to the same entries share one answer. */
  private readonly entitlements = new LRUCache<string, Entitlement>({ max: REMEMBERED_BUILDS });
  /** The file version the caches were filled from. */
  private cachedList?: Pick<CredentialsList, 'entitledFor'>;

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
    const entitlement = this.entitlementOf(parsed);
    const { json, addresses } = entitlement.finished ?? (await this.exchangeLogins(entitlement.items));
    const fields = { repo: parsed.repo.slug, event: parsed.build.event, addresses };
    if (json === undefined) {
      observe('none_entitled');
      log.info('drone registry request', { ...fields, status: 204 });
      return { status: 204, body: '', contentType: TEXT };
    }
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
   * Every entitled entry, in file order (the runner takes the first that matches an image), from the caches while
   * the file version they were filled from is current.
   */
  private entitlementOf(request: DroneCredentialsRequest): Entitlement {
    const { list } = this.options.credentials;
    if (list !== this.cachedList) {
      this.builds.clear();
      this.entitlements.clear();
      this.cachedList = list;
    }
    const key = entitlementKey(request);
    const known = this.builds.get(key);
    if (known) return known;
    const entries = list.entitledFor(request);
    const entriesKey = entries.map((entry) => entry.index).join();
    const entitlement = this.entitlements.get(entriesKey) ?? this.entitle(entries);
    this.entitlements.set(entriesKey, entitlement);
    this.builds.set(key, entitlement);
    return entitlement;
  }

  /** Each entry's answer item, serialised here once for an entry with its own login. */
  private entitle(entries: readonly CredentialsEntry[]): Entitlement {
    const items = entries.flatMap((entry): EntitledItem[] => {
      const own = entryCredentials(entry);
      if (own) return [{ address: entry.address, json: answerItem(entry.address, own) }];
      return this.options.exchangeLogin ? [{ exchange: entry }] : [];
    });
    const answerItems = items.filter((item): item is AnswerItem => !('exchange' in item));
    return answerItems.length === items.length ? { items, finished: finish(answerItems) } : { items };
  }

  /**
   * The answer with a fresh login from the exchange for each entry that needs one. An entry whose login cannot be
   * had is left out with a warning: failing the call would cost the runner every other credential.
   */
  private async exchangeLogins(items: readonly EntitledItem[]): Promise<FinishedAnswer> {
    const logins = await Promise.all(items.map((item) => ('exchange' in item ? this.exchangeLogin(item.exchange) : item)));
    return finish(logins.filter((login) => login !== undefined));
  }

  private async exchangeLogin(entry: CredentialsEntry): Promise<AnswerItem | undefined> {
    try {
      const login = await this.options.exchangeLogin?.(entry);
      return login && { address: entry.address, json: answerItem(entry.address, login) };
    } catch (err) {
      this.options.log.warn('drone registry request: an entry is left out, its login could not be had', { address: entry.address, line: entry.line, error: err });
      return undefined;
    }
  }
}

function answerItem(address: string, login: RegistryLogin): string {
  return JSON.stringify({ address, username: login.username, password: login.password });
}

function finish(items: readonly AnswerItem[]): FinishedAnswer {
  const addresses = new SerializedJson(JSON.stringify(items.map((item) => item.address)));
  return { json: items.length === 0 ? undefined : Buffer.from(`[${items.map((item) => item.json).join(',')}]`), addresses };
}
