// The full tag list: every page, following Link rel="next" verbatim (relative, absolute
// or an opaque cursor) but only on the registry's own origin. No page cap, since registries list in no useful
// order and a cut-off list can pick the wrong newest tag; instead a walk has a cap on tags (MAX_TAGS) and on bytes,
// checked as each page streams in (tag-page.ts), and passing either fails the walk: a registry that lists without
// end or sends a 63 MB page gets an error naming the cap, never a partial list and never a sidecar full of tags.

import type { Logger } from '../log';
import { RegistryResponseError, ResponseTooLargeError } from './errors';
import { findNextLink } from './link';
import { apiUrl, isValidTag } from './reference';
import { TagPageReader } from './tag-page';
import { RegistryAccess, RegistryResponse, RegistryTransport } from './transport';

export interface TagList {
  tags: string[];
  pages: number;
  /** Entries the registry listed that are not tags by the OCI grammar (digests, nulls): dropped. */
  skipped: number;
}

export interface TagWalkLimits {
  /** MAX_TAGS: a list with more entries than this fails the walk. */
  maxTags: number;
  /** What the walk may read in all: page bodies, and next-page links (each is kept to detect loops). */
  maxBytes: number;
}

// The longest legal tag (128 characters) is 131 bytes as a JSON array entry ("…",); the rest is room for the page
// around it and for pretty-printing, so no list within MAX_TAGS is refused for its size.
const BYTES_PER_TAG = 160;
// An error answer (401, 404, a proxy's HTML page) is read whole even when the budget is nearly spent, so that it
// still reads as the error it is.
const ERROR_ANSWER_BYTES = 64 * 1024;

/** Limits for a walk of up to maxTags tags: room for each at its longest, and never less than minBytes. */
export function tagWalkLimits(maxTags: number, minBytes: number): TagWalkLimits {
  return { maxTags, maxBytes: Math.max(minBytes, maxTags * BYTES_PER_TAG) };
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
  limits: TagWalkLimits,
): Promise<TagList> {
  const first = new URL(apiUrl(access.endpoint, `${repository}/tags/list`));
  first.searchParams.set('n', String(PAGE_SIZE_BY_HOST[access.endpoint.host] ?? DEFAULT_PAGE_SIZE));
  const subject = `the tag list of ${repository}`;
  const budget = new WalkBudget(access.endpoint.host, repository, limits);
  const visited = new Set<string>();
  const tags = new Set<string>();
  let entries = 0;
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
    let reader: TagPageReader | undefined; // the latest attempt's
    const reading = { subject, maxEntries: limits.maxTags - entries, tooMany: () => budget.tooManyTags() };
    const request = {
      method: 'GET' as const,
      url: next,
      access,
      scope: `repository:${repository}:pull`,
      subject,
      deadlineMs,
      maxBytes: Math.max(budget.bytesLeft(), ERROR_ANSWER_BYTES),
      streamBody: () => {
        const pageReader = (reader = new TagPageReader(reading));
        return (chunk: Buffer) => pageReader.write(chunk);
      },
    };
    const readPage = (response: RegistryResponse) => ({ response, entries: reader!.end(), bytes: reader!.bytes });
    let page: { response: RegistryResponse; entries: unknown[]; bytes: number };
    try {
      page = await transport.read(request, readPage);
    } catch (err) {
      if (err instanceof ResponseTooLargeError && err.limitBytes === request.maxBytes) throw budget.tooManyBytes();
      // Registries that reject our n (distribution v3.1.0 answered 400 PAGINATION_NUMBER_INVALID above its maxtags)
      // get the first page again without n, and choose the page size themselves.
      if (!(err instanceof RegistryResponseError && err.status === 400 && pages === 0 && first.searchParams.has('n'))) throw err;
      log.info('registry rejected the tag page size; listing without one', { host: access.endpoint.host, error: err.message });
      first.searchParams.delete('n');
      next = first.toString();
      continue;
    }
    budget.spend(page.bytes);
    pages += 1;
    entries += page.entries.length;
    for (const entry of page.entries) {
      if (typeof entry === 'string' && isValidTag(entry)) tags.add(entry);
      else skipped += 1;
    }
    next = nextPage(page.response, next, access, repository);
    if (next) budget.spend(next.length);
  }
  if (skipped > 0) log.debug('dropped tag list entries that are not tags', { repository, skipped });
  return { tags: [...tags], pages, skipped };
}

/** The bytes a walk has left, and the errors that name its caps. */
class WalkBudget {
  private bytesSpent = 0;

  constructor(
    private readonly host: string,
    private readonly repository: string,
    private readonly limits: TagWalkLimits,
  ) {}

  bytesLeft(): number {
    return Math.max(0, this.limits.maxBytes - this.bytesSpent);
  }

  spend(bytes: number): void {
    if (bytes > this.bytesLeft()) throw this.tooManyBytes();
    this.bytesSpent += bytes;
  }

  tooManyTags(): RegistryResponseError {
    return new RegistryResponseError({
      message:
        `${this.host} lists more than ${this.limits.maxTags} tags for ${this.repository} (the MAX_TAGS cap); ` +
        'the poll stopped rather than pick the newest tag from part of the list',
      fix: `if the repository really has that many tags, raise MAX_TAGS on the package or delete old tags; otherwise ${BROKEN_LIST}`,
    });
  }

  tooManyBytes(): RegistryResponseError {
    return new RegistryResponseError({
      message:
        `the tag list of ${this.repository} on ${this.host} is larger than ${formatMiB(this.limits.maxBytes)}, the most a walk ` +
        `of up to ${this.limits.maxTags} tags (MAX_TAGS) reads; the poll stopped reading it`,
      fix: `if the repository really has that many tags, raise MAX_TAGS on the package, which allows ${BYTES_PER_TAG} bytes per tag; otherwise ${BROKEN_LIST}`,
    });
  }
}

const BROKEN_LIST = 'the registry is sending a broken or endless list: check the registry URL and the registry itself';

function formatMiB(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
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
