import { realFetch } from '../../src/deps';
import { createLogger, Logger } from '../../src/log';
import type { FetchLike, RegistryDeps } from '../../src/registry';

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
  authorization?: string;
}

/** Real fetch that records every request, for asserting what a call cost. */
export function recordingFetch(requests: RecordedRequest[], inner: FetchLike = realFetch()): FetchLike {
  return async (url, init) => {
    const response = await inner(url, init);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    requests.push({ method: init?.method ?? 'GET', url, status: response.status, authorization: headers.Authorization });
    return response;
  };
}

/** A logger whose lines a test can read (and check for secrets). */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger((line) => lines.push(line), 'debug'), { lines });
}

export function testDeps(requests: RecordedRequest[] = []): RegistryDeps & { log: ReturnType<typeof capturingLogger> } {
  return { fetch: recordingFetch(requests), now: Date.now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), log: capturingLogger() };
}
