// The full tag list (spec registry-v2.md §5): every page, following Link rel="next" verbatim (relative, absolute
// or an opaque cursor) but only on the registry's own origin; no page cap, since registries list in no useful
// order and a cut-off list can pick the wrong newest tag.

import type { Logger } from '../log';
import { RegistryResponseError } from './errors';
import { findNextLink } from './link';
import { apiUrl, isValidTag } from './reference';
import { parseJson, RegistryAccess, RegistryResponse, RegistryTransport } from './transport';

export interface TagList {
  tags: string[];
  pages: number;
  /** Entries the registry listed that are not tags by the OCI grammar (digests, nulls): dropped. */
  skipped: number;
}

// Hosts that reject the default page size (quay.io answers TOO_MANY_TAGS_REQUESTED above 100 since 2024-06,
// fluxcd/image-reflector-controller#585). Others get DEFAULT_PAGE_SIZE.
const PAGE_SIZE_BY_HOST: Readonly<Record<string, number>> = { 'quay.io': 100 };
const DEFAULT_PAGE_SIZE = 1000; // ECR rejects more; distribution's maxtags defaults to 1000

export async function walkTags(
  transport: RegistryTransport,
  access: RegistryAccess,
  repository: string,
  deadlineMs: number,
  log: Logger,
): Promise<TagList> {
  const first = new URL(apiUrl(access.endpoint, `${repository}/tags/list`));
  first.searchParams.set('n', String(PAGE_SIZE_BY_HOST[access.endpoint.host] ?? DEFAULT_PAGE_SIZE));
  const request = (url: string) => ({
    method: 'GET' as const,
    url,
    access,
    scope: `repository:${repository}:pull`,
    subject: `the tag list of ${repository}`,
    deadlineMs,
  });
  const readPage = (response: RegistryResponse) => ({ response, entries: tagsFrom(response, repository) });

  const visited = new Set<string>();
  const tags = new Set<string>();
  let skipped = 0;
  let pages = 0;
  let next: string | undefined = first.toString();
  while (next) {
    if (visited.has(next)) {
      throw new RegistryResponseError({
        message: `${access.endpoint.host} sent a pagination loop while listing tags of ${repository}`,
        fix: 'report this to the registry vendor; the bridge stopped instead of listing for ever',
      });
    }
    visited.add(next);
    let page: { response: RegistryResponse; entries: unknown[] };
    try {
      page = await transport.read(request(next), readPage);
    } catch (err) {
      // Registries that reject our n (distribution v3.1.0 answered 400 PAGINATION_NUMBER_INVALID above its maxtags)
      // get the first page again without n, and choose the page size themselves.
      if (!(err instanceof RegistryResponseError && err.status === 400 && pages === 0 && first.searchParams.has('n'))) throw err;
      log.info('registry rejected the tag page size; listing without one', { host: access.endpoint.host, error: err.message });
      first.searchParams.delete('n');
      next = first.toString();
      continue;
    }
    pages += 1;
    for (const entry of page.entries) {
      if (typeof entry === 'string' && isValidTag(entry)) tags.add(entry);
      else skipped += 1;
    }
    next = nextPage(page.response, next, access, repository);
  }
  if (skipped > 0) log.debug('dropped tag list entries that are not tags', { repository, skipped });
  return { tags: [...tags], pages, skipped };
}

function tagsFrom(response: RegistryResponse, repository: string): unknown[] {
  const body = parseJson(response, `the tag list of ${repository}`);
  const tags = typeof body === 'object' && body !== null ? (body as { tags?: unknown }).tags : undefined;
  if (tags === null) return []; // some registries send null for an empty list
  if (!Array.isArray(tags)) {
    throw new RegistryResponseError({
      message: `the tag list of ${repository} has no "tags" array`,
      fix: 'check that the registry URL points at a Docker Registry V2 API',
    });
  }
  return tags;
}

/** GGCR list.go: a next link to another origin could point the bridge (and its token) anywhere (SSRF). */
function nextPage(response: RegistryResponse, current: string, access: RegistryAccess, repository: string): string | undefined {
  const link = findNextLink(response.headers.get('link'));
  if (!link) return undefined;
  const target = new URL(link, current);
  if (target.origin !== new URL(current).origin) {
    throw new RegistryResponseError({
      message: `${access.endpoint.host} sent a next-page link to another host (${target.origin}) while listing tags of ${repository}`,
      fix: "the bridge follows pagination links only on the registry's own host; check the registry or proxy configuration",
    });
  }
  return target.toString();
}
