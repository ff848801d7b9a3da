// What every handler may use: the shared registry client (it holds token and challenge caches across calls),
// the logger and the clock.

import type { Logger } from '../log';
import type { RegistryClient } from '../registry';

export interface GoCdContext {
  registry: RegistryClient;
  log: Logger;
  now(): number;
}
