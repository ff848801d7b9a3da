// Retries of transient failures (a BridgeError marked retryable: 429, 502/503/504, connection resets, truncated
// bodies), for every caller that talks HTTP: registry polls, git pushes, webhook calls. Backoff is jittered so many
// callers do not retry in step (getwud/wud#1136), a Retry-After from the server wins over our own guess, and no
// attempt starts after the caller's deadline.

import { BridgeError } from '../errors';
import type { Logger } from '../log';

export interface RetryOptions {
  maxAttempts: number; // 4: one try and three retries; more only delays the error the user should see
  baseDelayMs: number; // 250: first retry soon, a burst of 503s is usually over within a second
  maxDelayMs: number; // 4000: our own backoff never waits longer than this
  maxRetryAfterMs: number; // 30000: a longer Retry-After (Docker Hub's 6-hour windows) fails at once with the hint
}

export const RETRY_DEFAULTS: RetryOptions = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 4000, maxRetryAfterMs: 30_000 };

export interface RetryContext {
  options: RetryOptions;
  sleep(ms: number): Promise<void>;
  now(): number;
  log: Logger;
  /** Absolute epoch ms after which no further attempt starts. */
  deadlineMs: number;
  onRetry?(error: BridgeError, delayMs: number): void;
}

export async function withRetry<T>(what: string, attempt: () => Promise<T>, context: RetryContext): Promise<T> {
  for (let number = 1; ; number += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof BridgeError) || !err.retryable || number >= context.options.maxAttempts) throw err;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > context.options.maxRetryAfterMs) throw err;
      const delayMs = err.retryAfterMs ?? backoffMs(number, context.options);
      if (context.now() + delayMs >= context.deadlineMs) throw err;
      context.log.info('retrying', { what, attempt: number, delayMs: Math.round(delayMs), error: err.message });
      context.onRetry?.(err, delayMs);
      await context.sleep(delayMs);
    }
  }
}

/** Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^(n-1))]. */
function backoffMs(attempt: number, options: RetryOptions): number {
  return Math.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
}

/** RFC 9110 §10.2.3: delta-seconds or an HTTP-date. Answers ms from now, or undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  if (!/[A-Za-z]/.test(value)) return undefined; // an HTTP-date names its day and month; Date.parse('-5') is a year
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** For messages: "750 ms", "42 s", "15 min", "6 h", "3 days"; a hostile Retry-After of 10^20 s reads "more than a year". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 120) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h`;
  if (seconds <= 365 * 86400) return `${Math.round(seconds / 86400)} days`;
  return 'more than a year';
}
