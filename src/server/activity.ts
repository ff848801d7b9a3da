// What the status page shows: each package polled recently, by the settings that identify it, with its last
// result. Bounded, so a GoCD with thousands of materials cannot grow the sidecar without limit.

import { LRUCache } from 'lru-cache';
import { cacheKey } from '../cache-key';
import type { PollRecord } from '../gocd';

export interface MaterialActivity {
  registry: string;
  image: string;
  filter: string;
  exclude: string;
  order: string;
  polls: number;
  failures: number;
  lastPollAtMs: number;
  last: PollRecord['outcome'];
}

const MAX_MATERIALS = 5000;

export class ActivityLog {
  private readonly materials = new LRUCache<string, MaterialActivity>({ max: MAX_MATERIALS });

  /** Records a poll; answers the material's outcome before it, if it was polled before. */
  record(poll: PollRecord, atMs: number): PollRecord['outcome'] | undefined {
    const key = cacheKey(poll.registry, poll.image, poll.filter, poll.exclude, poll.order);
    const known = this.materials.get(key);
    const failed = 'error' in poll.outcome ? 1 : 0;
    this.materials.set(key, {
      registry: poll.registry,
      image: poll.image,
      filter: poll.filter,
      exclude: poll.exclude,
      order: poll.order,
      polls: (known?.polls ?? 0) + 1,
      failures: (known?.failures ?? 0) + failed,
      lastPollAtMs: atMs,
      last: poll.outcome,
    });
    return known?.last;
  }

  /** Materials polled within the window, most recent first. */
  recent(nowMs: number, windowMs: number): MaterialActivity[] {
    return [...this.materials.values()].filter((m) => nowMs - m.lastPollAtMs <= windowMs).sort((a, b) => b.lastPollAtMs - a.lastPollAtMs);
  }
}
