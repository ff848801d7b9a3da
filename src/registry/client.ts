// What the GoCD layer asks of registries, with the economy a fleet of materials needs: concurrent polls of one
// repository share one tag walk (single-flight) and may reuse it for a short window; image metadata is cached by
// digest (immutable), so an unchanged repository costs a tag walk and a HEAD, and no manifest GET.

import { LRUCache } from 'lru-cache';
import { cacheKey } from '../cache-key';
import { credentialIdentity } from '../credentials';
import { NotARegistryError, RegistryNotFoundError, RegistryResponseError } from './errors';
import { headManifest, ImageMetadata, ImageRef, ManifestDigest, readImageMetadata } from './manifests';
import { apiUrl } from './reference';
import { TagList, tagWalkLimits, walkTags } from './tags';
import { AuthOutcome, RegistryAccess, RegistryDeps, RegistryResponse, RegistryTransport, TRANSPORT_DEFAULTS, TransportOptions } from './transport';

export interface RegistryClientOptions extends TransportOptions {
  operationTimeoutMs: number; // 45 s per call unless the caller sets a deadline: under the shim's 60 s, so GoCD sees our error
  tagListReuseMs: number; // 30 s: materials sharing an image poll in one GoCD cycle, which takes tens of seconds on a busy server; a new tag still shows within GoCD's own 60-90 s cadence
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
  tagListReuseMs: 30_000,
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
}

export interface PingResult {
  auth: AuthOutcome;
  apiVersionHeader?: string;
  /** Where the credentials came from when not from the repository (the credentials file, the docker config). */
  credentialSource?: string;
}

interface ReusableTagList {
  atMs: number;
  list: TagList;
}

export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly options: RegistryClientOptions;
  private readonly tagWalks = new Map<string, Promise<TagList>>();
  private readonly recentTagLists: LRUCache<string, ReusableTagList>;
  private readonly metadata: LRUCache<string, ImageMetadata>;

  constructor(
    private readonly deps: RegistryDeps,
    options: Partial<RegistryClientOptions> = {},
  ) {
    this.options = { ...REGISTRY_CLIENT_DEFAULTS, ...options };
    this.transport = new RegistryTransport(deps, this.options);
    this.recentTagLists = new LRUCache({ max: 10_000 });
    this.metadata = new LRUCache({ max: this.options.metadataCacheEntries });
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
   * Every tag. Concurrent calls for one repository share one walk; a walk younger than tagListReuseMs is reused.
   * A list longer than the cap fails: packages with different caps walk apart, so each gets its own answer.
   */
  async listTags(configured: ImageRef, call: CallOptions = {}): Promise<TagList> {
    const image = await this.withFallbackCredentials(configured);
    const maxTags = call.maxTags ?? this.options.maxTags;
    const key = cacheKey(imageKey(image), maxTags);
    const recent = call.isFreshListingRequired ? undefined : this.recentTagLists.get(key);
    if (recent && this.deps.now() - recent.atMs < this.options.tagListReuseMs) {
      this.deps.observe?.({ type: 'cache', cache: 'tags', hit: true });
      return recent.list;
    }
    let walk = this.tagWalks.get(key);
    if (!walk) {
      this.deps.observe?.({ type: 'cache', cache: 'tags', hit: false });
      const limits = tagWalkLimits(maxTags, this.options.minTagListBytes);
      walk = walkTags(this.transport, image, image.repository, this.deadline(call), this.deps.log, limits)
        .then((list) => {
          this.recentTagLists.set(key, { atMs: this.deps.now(), list });
          return list;
        })
        .finally(() => this.tagWalks.delete(key));
      this.tagWalks.set(key, walk);
    }
    return walk;
  }

  /** HEAD for the digest of a tag; GET and sha256 of the exact bytes only when the registry omits the header. */
  async headManifest(image: ImageRef, reference: string, call: CallOptions = {}): Promise<ManifestDigest> {
    return headManifest(this.transport, await this.withFallbackCredentials(image), reference, this.deadline(call));
  }

  /** Platforms, creation time, labels and annotations of a digest: fetched once, then served from memory. */
  async getImageMetadata(image: ImageRef, digest: string, call: CallOptions = {}): Promise<ImageMetadata> {
    const key = `${image.endpoint.host}/${image.repository}@${digest}`;
    const cached = this.metadata.get(key);
    this.deps.observe?.({ type: 'cache', cache: 'metadata', hit: cached !== undefined });
    if (cached) return cached;
    const metadata = await readImageMetadata(this.transport, await this.withFallbackCredentials(image), digest, this.deadline(call));
    this.metadata.set(key, metadata);
    return metadata;
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

/** Who asks matters: another user may see other repositories, so credentials are part of the sharing key. */
function imageKey(image: ImageRef): string {
  return cacheKey(image.endpoint.baseUrl, image.repository, credentialIdentity(image.credentials));
}
