// What the GoCD layer asks of registries, with the economy a fleet of materials needs: concurrent polls of one
// repository share one tag walk (single-flight) and may reuse it for a short window; a tag whose digest is unknown
// costs one manifest GET (it answers the digest too), a known one a HEAD to confirm it; image metadata is cached by
// digest (immutable), in memory and in the metadata store, so an unchanged repository costs a tag walk and a HEAD,
// and no manifest GET, after a restart too.

import { LRUCache } from 'lru-cache';
import { cacheKey } from '../cache-key';
import { credentialIdentity } from '../credentials';
import { NotARegistryError, RegistryNotFoundError, RegistryResponseError } from './errors';
import { FetchedManifest, getManifestByTag, headManifest, ImageMetadata, isFetched, ImageRef, ManifestDigest, readImageMetadata } from './manifests';
import { matchesSchema } from './schema';
import { apiUrl } from './reference';
import { TagList, tagWalkLimits, walkTags } from './tags';
import { AuthOutcome, MetadataKind, RegistryAccess, RegistryDeps, RegistryResponse, RegistryTransport, TRANSPORT_DEFAULTS, TransportOptions } from './transport';

export interface RegistryClientOptions extends TransportOptions {
  operationTimeoutMs: number; // 45 s per call unless the caller sets a deadline: under the shim's 60 s, so GoCD sees our error
  tagListReuseMs: number; // 10 s: the materials of one image poll within one GoCD cycle (P3: 1,000 materials in under 5 s), and a tag pushed just before someone presses Trigger must show within seconds
  metadataCacheEntries: number; // 10,000 digests (~2 KiB each): metadata never changes for a digest
  /**
   * 100,000 tags per repository unless the package sets MAX_TAGS: library/node has ~9,000, and a list this long
   * already takes seconds per walk; the few larger repositories known (202,000 and ~1,000,000 tags) set
   * MAX_TAGS. A longer list fails the poll: a cut-off list can pick the wrong newest tag.
   */
  maxTags: number;
  /**
   * 32 MiB read per walk at least, and 160 bytes per allowed tag above that (tags.ts): 100,000 tags of the longest
   * legal length are 13 MiB, typical ones 2-4 MiB, and GCR's extended list adds ~300 bytes per image (100,000 fit).
   * A list of legal tags reaches MAX_TAGS first; this stops padding (whitespace, junk keys) and long links. Pages
   * are read as they stream in, so a walk holds a slice of this at a time, never all of it (tag-page.ts).
   */
  minTagListBytes: number;
}

export const REGISTRY_CLIENT_DEFAULTS: RegistryClientOptions = {
  ...TRANSPORT_DEFAULTS,
  operationTimeoutMs: 45_000,
  tagListReuseMs: 10_000,
  metadataCacheEntries: 10_000,
  maxTags: 100_000,
  minTagListBytes: 32 * 1024 * 1024,
};

export interface CallOptions {
  /** Absolute epoch ms by which the whole call must be done. */
  deadlineMs?: number;
  /** listTags: walk again even within the reuse window (a person pressed "check"). */
  isFreshListingRequired?: boolean;
  /** listTags: the package's MAX_TAGS, when it sets one. */
  maxTags?: number;
  /**
   * listTags: who asks (a GoCD material). One asker is never answered twice from the same walk, however young: the
   * materials of an image share one walk per GoCD cycle, yet a material asked again (Trigger, right after a push)
   * sees a list walked since its last answer.
   */
  askerKey?: string;
}

export interface PingResult {
  auth: AuthOutcome;
  apiVersionHeader?: string;
  /** Where the credentials came from when not from the repository (the credentials file, the docker config). */
  credentialSource?: string;
}

interface ReusableTagList {
  /** When the walk started: a tag pushed after that may be missing from it. */
  startedAtMs: number;
  list: TagList;
}

// Materials whose last walk is remembered: a sidecar's fleet. lru-cache allocates its whole size up front (100,000
// took 20 ms of a CLI poll's start); an asker pushed out may at worst reuse a walk younger than the window.
const ASKERS = 10_000;
// GET-by-tag manifests held for the metadata read that follows at once; bounded so unread ones cannot pile up.
const FETCHED_MANIFESTS = 1_000;

export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly options: RegistryClientOptions;
  private readonly tagWalks = new Map<string, Promise<ReusableTagList>>();
  private readonly recentTagLists: LRUCache<string, ReusableTagList>;
  private readonly metadata: LRUCache<string, ImageMetadata>;
  private readonly tagDigests: LRUCache<string, string>;
  /** When the walk an asker was last answered from started. */
  private readonly lastWalkOfAsker = new LRUCache<string, number>({ max: ASKERS });
  private readonly fetchedManifests = new LRUCache<string, FetchedManifest>({ max: FETCHED_MANIFESTS });

  constructor(
    private readonly deps: RegistryDeps,
    options: Partial<RegistryClientOptions> = {},
  ) {
    this.options = { ...REGISTRY_CLIENT_DEFAULTS, ...options };
    this.transport = new RegistryTransport(deps, this.options);
    this.recentTagLists = new LRUCache({ max: 10_000 });
    this.metadata = new LRUCache({ max: this.options.metadataCacheEntries });
    this.tagDigests = new LRUCache({ max: this.options.metadataCacheEntries });
  }

  /** GET /v2/: is this a V2 registry, which auth scheme, and (with credentials) are they accepted? */
  async ping(configured: RegistryAccess, call: CallOptions = {}): Promise<PingResult> {
    const { access, source } = await this.withStoredCredentials(configured);
    const url = apiUrl(access.endpoint, '');
    try {
      const { response, auth } = await this.transport.send({ method: 'GET', url, access, subject: 'the API root /v2/', deadlineMs: this.deadline(call) });
      const apiVersionHeader = response.headers.get('docker-distribution-api-version') ?? undefined;
      if (!apiVersionHeader && !isJsonOrEmpty(response)) {
        // OCI-DIST says not to require the legacy header, but a web page answering 200 is no registry.
        throw new NotARegistryError({
          message: `${url} answered with a ${response.headers.get('content-type') ?? 'non-JSON'} page, not the Docker Registry V2 API`,
          fix: "check the registry URL: it should be the registry's base URL, not a web UI in front of it",
        });
      }
      return { auth, apiVersionHeader, credentialSource: source };
    } catch (err) {
      if (err instanceof NotARegistryError) throw err;
      const status = err instanceof RegistryResponseError ? err.status : err instanceof RegistryNotFoundError ? 404 : undefined;
      if (status === undefined || status >= 500 || status === 429) throw err;
      throw new NotARegistryError({
        message: `${url} answered HTTP ${status}, not the 200 of a Docker Registry V2 API`,
        fix: "check the registry URL: it should be the registry's base URL (the old plugin's form, https://host/v2/, works too)",
        cause: err,
      });
    }
  }

  /**
   * Every tag. Concurrent calls for one repository share one walk; a walk that started less than tagListReuseMs ago
   * (and after the walk call.askerKey was last answered from) is reused.
   * A list longer than the cap fails: packages with different caps walk apart, so each gets its own answer.
   */
  async listTags(configured: ImageRef, call: CallOptions = {}): Promise<TagList> {
    const image = await this.withFallbackCredentials(configured);
    const maxTags = call.maxTags ?? this.options.maxTags;
    const key = cacheKey(imageKey(image), maxTags);
    const askerKey = call.askerKey === undefined ? undefined : cacheKey(key, call.askerKey);
    const askerLastWalk = (askerKey === undefined ? undefined : this.lastWalkOfAsker.get(askerKey)) ?? -Infinity;
    const recent = call.isFreshListingRequired ? undefined : this.recentTagLists.get(key);
    const isReusable = recent && this.deps.now() - recent.startedAtMs < this.options.tagListReuseMs && recent.startedAtMs > askerLastWalk;
    this.deps.observe?.({ type: 'cache', cache: 'tags', hit: Boolean(isReusable) });
    const walk = isReusable ? recent : await this.walkOnce(key, image, maxTags, call);
    if (askerKey !== undefined) this.lastWalkOfAsker.set(askerKey, walk.startedAtMs);
    return walk.list;
  }

  /** The walk in flight for this key, or a new one: concurrent callers share it. */
  private walkOnce(key: string, image: ImageRef, maxTags: number, call: CallOptions): Promise<ReusableTagList> {
    let walk = this.tagWalks.get(key);
    if (!walk) {
      const limits = tagWalkLimits(maxTags, this.options.minTagListBytes);
      const startedAtMs = this.deps.now();
      walk = walkTags(this.transport, image, image.repository, this.deadline(call), this.deps.log, limits)
        .then((list) => {
          const walked = { startedAtMs, list };
          this.recentTagLists.set(key, walked);
          return walked;
        })
        .finally(() => this.tagWalks.delete(key));
      this.tagWalks.set(key, walk);
    }
    return walk;
  }

  /**
   * The digest of a tag. Known before (in memory or in the metadata store): one HEAD confirms it, free of Docker
   * Hub's pull quota. Unknown: one GET, which answers the digest and the manifest that getImageMetadata then needs.
   */
  async resolveTag(configured: ImageRef, tag: string, call: CallOptions = {}): Promise<ManifestDigest> {
    const image = await this.withFallbackCredentials(configured);
    const key = tagKey(image, tag);
    const known = this.tagDigests.get(key) ?? (await this.readStored('tag', key, (value): value is string => typeof value === 'string'));
    const got = known ? await headManifest(this.transport, image, tag, this.deadline(call)) : await getManifestByTag(this.transport, image, tag, this.deadline(call));
    if (isFetched(got)) this.fetchedManifests.set(metadataKey(image, got.digest), got);
    this.tagDigests.set(key, got.digest);
    if (got.digest !== known) this.deps.metadataStore?.write('tag', key, got.digest);
    return { digest: got.digest, mediaType: got.mediaType };
  }

  /** Platforms, creation time, labels and annotations of a digest: fetched once, then served from memory or the store. */
  async getImageMetadata(image: ImageRef, digest: string, call: CallOptions = {}): Promise<ImageMetadata> {
    const key = metadataKey(image, digest);
    const cached = this.metadata.get(key) ?? (await this.readStored('metadata', key, (value): value is ImageMetadata => matchesSchema('imageMetadata', value) && value.digest === digest));
    this.deps.observe?.({ type: 'cache', cache: 'metadata', hit: cached !== undefined });
    if (cached) {
      this.metadata.set(key, cached);
      return cached;
    }
    const fetched = this.fetchedManifests.get(key);
    this.fetchedManifests.delete(key);
    const metadata = await readImageMetadata(this.transport, await this.withFallbackCredentials(image), digest, this.deadline(call), fetched);
    this.metadata.set(key, metadata);
    this.deps.metadataStore?.write('metadata', key, metadata);
    return metadata;
  }

  /** What the store holds under key, if it has the expected shape: anything else counts as not stored. */
  private async readStored<T>(kind: MetadataKind, key: string, isValid: (value: unknown) => value is T): Promise<T | undefined> {
    const value = await this.deps.metadataStore?.read(kind, key);
    return isValid(value) ? value : undefined;
  }

  /** A deadline on this client's clock, for a caller that spans several calls (one GoCD poll). */
  deadlineIn(budgetMs: number): number {
    return this.deps.now() + budgetMs;
  }

  /** Repository credentials win; without them, the credential store may have some for this host. */
  private async withStoredCredentials<T extends RegistryAccess>(access: T): Promise<{ access: T; source?: string }> {
    if (access.credentials || !this.deps.credentialStore) return { access };
    const found = await this.deps.credentialStore.lookup(access.endpoint);
    return found ? { access: { ...access, credentials: found.credentials }, source: found.source } : { access };
  }

  private async withFallbackCredentials<T extends RegistryAccess>(access: T): Promise<T> {
    return (await this.withStoredCredentials(access)).access;
  }

  private deadline(call: CallOptions): number {
    return call.deadlineMs ?? this.deps.now() + this.options.operationTimeoutMs;
  }
}

function isJsonOrEmpty(response: RegistryResponse): boolean {
  if (response.body.length === 0) return true;
  try {
    JSON.parse(response.body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function metadataKey(image: ImageRef, digest: string): string {
  return cacheKey(image.endpoint.baseUrl, image.repository, digest);
}

function tagKey(image: ImageRef, tag: string): string {
  return cacheKey(image.endpoint.baseUrl, image.repository, tag);
}

/** Who asks matters: another user may see other repositories, so credentials are part of the sharing key. */
function imageKey(image: ImageRef): string {
  return cacheKey(image.endpoint.baseUrl, image.repository, credentialIdentity(image.credentials));
}
