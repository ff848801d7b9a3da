// Registry answers turned into errors: every non-2xx status (after authentication) becomes a typed error that
// says what failed and what to do; JSON bodies are parsed with a message that quotes only the registry's own bytes.

import type { Headers } from 'node-fetch';
import { formatDuration, parseRetryAfter, printable, redactLocation, redactUrl } from '../http';
import { RegistryAuthError, RegistryNotFoundError, RegistryResponseError } from './errors';
import type { RegistryRequest, RegistryResponse } from './exchange';
import { matchesSchema } from './schema';

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);
// A registry's own error text is quoted in messages; more than this is not a diagnosis.
const MAX_QUOTED_CHARS = 200;

export function checkStatus(response: RegistryResponse, request: RegistryRequest, nowMs: number): RegistryResponse {
  const { status } = response;
  if (status >= 200 && status < 300) return response;
  const host = new URL(request.url).host;
  const detail = response.isFromRegistry ? registryErrorDetail(response.body) : '';
  if (status === 403) {
    throw new RegistryAuthError({
      message: `${host} denied access to ${request.subject} (HTTP 403${detail})`,
      fix: 'give the configured user pull rights on this repository',
    });
  }
  if (status === 404) {
    throw new RegistryNotFoundError({
      message: `${request.subject} was not found on ${host} (HTTP 404${detail})`,
      fix: 'check the image name (on Docker Hub, official images live under library/); the registry does not know it',
    });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), nowMs);
    const quota = describeRateLimit(response.headers);
    throw new RegistryResponseError({
      message: `${host} is rate-limiting us (HTTP 429${detail}) while reading ${request.subject}${quota}${retryAfterMs === undefined ? '' : `; it asks to retry after ${formatDuration(retryAfterMs)}`}`,
      fix: 'poll less often or authenticate (Docker Hub gives authenticated users a higher pull limit)',
      retryable: true,
      retryAfterMs,
      status,
    });
  }
  if (status >= 300 && status < 400) {
    throw new RegistryResponseError({
      message: `${host} redirected ${request.method} ${redactUrl(request.url)} to ${redactLocation(response.headers.get('location'), request.url)}`,
      fix: 'use the URL the registry redirects to as the registry URL',
      status,
    });
  }
  throw new RegistryResponseError({
    message: `${host} answered HTTP ${status} while reading ${request.subject}${detail}`,
    fix: status >= 500 ? 'the registry is failing; GoCD retries the poll later by itself' : 'check the registry URL and image name',
    retryable: RETRYABLE_STATUS.has(status),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), nowMs),
    status,
  });
}

export function parseJson(response: RegistryResponse, what: string): unknown {
  const text = response.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    // Bytes from another host (a realm that may be a metadata service) never reach a message or the status page.
    const quoted = response.isFromRegistry ? `: ${JSON.stringify(printable(text).slice(0, 80))}` : `, ${response.headers.get('content-type') ?? 'no content type'}`;
    throw new RegistryResponseError({
      message: `${what} answered with malformed JSON (${response.body.length} bytes${quoted})`,
      fix: 'check that the URL points at a Docker Registry V2 API; if it does, the registry or a proxy is cutting responses short',
      retryable: true, // a body cut short by a proxy or a reset usually comes whole on the next try
      cause: err,
    });
  }
}

/** The registry's own error code and message, when its body is the spec's {"errors":[…]} shape. */

function registryErrorDetail(body: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (matchesSchema('errorBody', parsed)) {
      const [first] = parsed.errors;
      return printable(`, ${first!.code}${first!.message !== undefined ? `: ${first!.message}` : ''}`).slice(0, MAX_QUOTED_CHARS);
    }
  } catch {
    // not JSON (Quay sends HTML 429s): the status says enough
  }
  return '';
}

/** `100;w=21600` → 100 requests per 21600 s (Docker Hub; regclient setRateLimit). */

export function parseRateLimit(header: string | null): { count: number; windowS?: number } | undefined {
  const match = header ? /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(header) : null;
  if (!match) return undefined;
  return { count: Number(match[1]), windowS: match[2] === undefined ? undefined : Number(match[2]) };
}

function describeRateLimit(headers: Headers): string {
  const limit = parseRateLimit(headers.get('ratelimit-limit'));
  const remaining = parseRateLimit(headers.get('ratelimit-remaining'));
  if (!limit || !remaining) return '';
  const window = limit.windowS ? ` per ${Math.round(limit.windowS / 3600)} h` : '';
  return `; pull limit ${limit.count}${window}, ${remaining.count} left`;
}
