// What every handler may use: the shared registry client (it holds token and challenge caches across calls),
// the logger, the clock, and a hook that hears every poll (the status page and metrics live in server/).

import type { Logger } from '../log';
import type { RegistryClient } from '../registry';
import type { TagOrder } from '../selection';

export interface GoCdContext {
  registry: RegistryClient;
  log: Logger;
  now(): number;
  /** The shim's X-Request-Id of the call being handled; dispatch sets it per call. */
  requestId?: string;
  observePoll?(record: PollRecord): void;
}

/** One poll of one package, as the status page shows it: no credentials, only what identifies the material. */
export interface PollRecord {
  requestId?: string;
  registry: string;
  image: string;
  filter: string;
  exclude: string;
  order: TagOrder;
  outcome: { tag: string; digest: string } | { error: string };
  /**
   * latest-revision-since only: whether the answer is news to GoCD, which sent the revision it has. After a restart
   * the sidecar has seen no poll yet, but GoCD has: an answer it already holds is no news.
   */
  isNewToGoCd?: boolean;
}
