// What the GoCD layer asks of a registry: ping, the full tag list, and a manifest digest. Each call names its
// HTTP cost (listTags walks every page; headManifest is a HEAD, free of Docker Hub's pull quota).

import { createHash } from 'node:crypto';
import type { Response } from 'node-fetch';
import { NotARegistryError, RegistryNotFoundError, RegistryResponseError } from './errors';
import { findNextLink } from './link';
import { apiUrl, isValidTag, RegistryEndpoint } from './reference';
import {
  AuthOutcome,
  Credentials,
  drain,
  readJson,
  redactUrl,
  RegistryDeps,
  RegistryTransport,
  TRANSPORT_DEFAULTS,
  TransportOptions,
} from './transport';

// Sent on every manifest request: without the OCI types a registry answers 404 for OCI content, and without the
// list types it swaps in the linux/amd64 child and its digest (spec registry-v2.md §6.2).
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface RegistryClientOptions extends TransportOptions {
  pageSize: number; // 1000: ECR rejects more, distribution's maxtags defaults to 1000
}

export const REGISTRY_CLIENT_DEFAULTS: RegistryClientOptions = { ...TRANSPORT_DEFAULTS, pageSize: 1000 };

export interface ImageRef {
  endpoint: RegistryEndpoint;
  repository: string;
  credentials?: Credentials;
}

export interface PingResult {
  auth: AuthOutcome;
  apiVersionHeader?: string;
}

export interface TagList {
  tags: string[];
  pages: number;
  /** Entries the registry listed that are not tags by the OCI grammar (digests, nulls): dropped. */
  skipped: number;
}

export interface ManifestDigest {
  digest: string;
  mediaType?: string;
}

export class RegistryClient {
  private readonly transport: RegistryTransport;

  constructor(
    private readonly deps: RegistryDeps,
    private readonly options: RegistryClientOptions = REGISTRY_CLIENT_DEFAULTS,
  ) {
    this.transport = new RegistryTransport(deps, options);
  }

  /** GET /v2/: is this a V2 registry, which auth scheme, and (with credentials) are they accepted? */
  async ping(endpoint: RegistryEndpoint, credentials?: Credentials): Promise<PingResult> {
    const url = apiUrl(endpoint, '');
    const { response, auth } = await this.transport.send({ method: 'GET', url, endpoint, credentials });
    await drain(response);
    if (response.status !== 200) {
      throw new NotARegistryError({
        message: `${redactUrl(url)} answered HTTP ${response.status}, not the 200 of a Docker Registry V2 API`,
        fix: 'check the registry URL: it should be the registry\'s base URL (the old plugin\'s form, https://host/v2/, works too)',
      });
    }
    return { auth, apiVersionHeader: response.headers.get('docker-distribution-api-version') ?? undefined };
  }

  /** Every tag, following Link rel="next" to the end: a cut-off list can pick the wrong newest tag. */
  async listTags(image: ImageRef): Promise<TagList> {
    const first = new URL(apiUrl(image.endpoint, `${image.repository}/tags/list`));
    first.searchParams.set('n', String(this.options.pageSize));
    const seen = new Set<string>();
    const tags = new Set<string>();
    let skipped = 0;
    let pages = 0;
    let next: string | undefined = first.toString();
    let triedWithoutPageSize = false;
    while (next) {
      if (seen.has(next)) {
        throw new RegistryResponseError({
          message: `${image.endpoint.host} sent a pagination loop while listing tags of ${image.repository}`,
          fix: 'report this to the registry vendor; the bridge stopped instead of listing for ever',
        });
      }
      seen.add(next);
      const response = await this.get(image, next);
      // Some registries reject n above their own maximum (distribution v3.1.0 answered 400): ask without n.
      if (response.status === 400 && pages === 0 && !triedWithoutPageSize) {
        await drain(response);
        triedWithoutPageSize = true;
        first.searchParams.delete('n');
        next = first.toString();
        continue;
      }
      await this.expectOk(response, image, 'listing tags');
      const body = await readJson(response, `${image.endpoint.host} (tags of ${image.repository})`);
      const page = tagsFrom(body);
      if (!page) {
        throw new RegistryResponseError({
          message: `${image.endpoint.host} answered the tag list of ${image.repository} without a "tags" array`,
          fix: 'check that the registry URL points at a Docker Registry V2 API',
        });
      }
      pages += 1;
      for (const tag of page) {
        if (typeof tag === 'string' && isValidTag(tag)) tags.add(tag);
        else skipped += 1;
      }
      next = this.nextPage(response, next, image);
    }
    if (skipped > 0) this.deps.log.debug('dropped tag list entries that are not tags', { repository: image.repository, skipped });
    return { tags: [...tags], pages, skipped };
  }

  /** HEAD for the digest; GET and sha256 of the exact bytes only when the registry omits the header. */
  async headManifest(image: ImageRef, reference: string): Promise<ManifestDigest> {
    const url = apiUrl(image.endpoint, `${image.repository}/manifests/${reference}`);
    const head = await this.transport.send({ ...this.request(image, url), method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
    await this.expectOk(head.response, image, `reading the manifest of ${reference}`);
    await drain(head.response);
    const mediaType = contentType(head.response);
    const digest = head.response.headers.get('docker-content-digest');
    if (digest) return { digest, mediaType };

    const get = await this.transport.send({
      ...this.request(image, url),
      headers: { Accept: MANIFEST_ACCEPT, 'Accept-Encoding': 'identity' },
    });
    await this.expectOk(get.response, image, `reading the manifest of ${reference}`);
    const bytes = Buffer.from(await get.response.arrayBuffer());
    return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, mediaType: contentType(get.response) };
  }

  private request(image: ImageRef, url: string) {
    return {
      method: 'GET' as const,
      url,
      endpoint: image.endpoint,
      scope: `repository:${image.repository}:pull`,
      credentials: image.credentials,
    };
  }

  private async get(image: ImageRef, url: string): Promise<Response> {
    return (await this.transport.send(this.request(image, url))).response;
  }

  /** A next link is followed verbatim (Quay's cursors are opaque) but only on the same origin: no SSRF by Link. */
  private nextPage(response: Response, current: string, image: ImageRef): string | undefined {
    const link = findNextLink(response.headers.get('link'));
    if (!link) return undefined;
    const target = new URL(link, current);
    if (target.origin !== new URL(current).origin) {
      throw new RegistryResponseError({
        message: `${image.endpoint.host} sent a next-page link to another host (${target.origin}) while listing tags of ${image.repository}`,
        fix: 'the bridge follows pagination links only on the registry\'s own host; check the registry or proxy configuration',
      });
    }
    return target.toString();
  }

  private async expectOk(response: Response, image: ImageRef, during: string): Promise<void> {
    if (response.ok) return;
    const detail = await registryErrorDetail(response);
    const where = `${image.endpoint.host}/${image.repository}`;
    if (response.status === 404) {
      throw new RegistryNotFoundError({
        message: `${where} was not found while ${during}${detail}`,
        fix: 'check the image name (and, on Docker Hub, the library/ prefix); the registry does not know this repository or tag',
      });
    }
    throw new RegistryResponseError({
      message: `${image.endpoint.host} answered HTTP ${response.status} while ${during} for ${image.repository}${detail}`,
      fix: response.status >= 500 || response.status === 429 ? 'retry later; the registry is overloaded or failing' : 'check the registry URL and image name',
      retryable: response.status >= 500 || response.status === 429,
    });
  }
}

function tagsFrom(body: unknown): unknown[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const tags = (body as { tags?: unknown }).tags;
  if (tags === null) return []; // some registries send null for an empty list
  return Array.isArray(tags) ? tags : undefined;
}

function contentType(response: Response): string | undefined {
  return response.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
}

/** The registry's own error code and message, if its body is the spec's {"errors":[…]} shape. */
async function registryErrorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const first = (JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> }).errors?.[0];
    if (first && typeof first.code === 'string') {
      return ` (${first.code}${typeof first.message === 'string' ? `: ${first.message}` : ''})`;
    }
  } catch {
    // not JSON: the status code says enough
  }
  return '';
}
