// What every outgoing HTTP caller shares (registry polls, git pushes, webhook and Drone calls): retries with
// deadlines and Retry-After, agents that notice cut-off bodies, the SSRF policy for hops away from a configured
// host, and redaction for messages. Speaks no registry, GoCD or Drone words; imports only errors and log.

export { formatDuration, parseRetryAfter, RETRY_DEFAULTS, withRetry } from './retry';
export type { RetryContext, RetryOptions } from './retry';
export { buildAgent } from './agents';
export type { AgentSettings } from './agents';
export { allowedAddresses, canonicalAddress, classifyAddress, describeAddressClass, resolveHost } from './address-guard';
export type { AddressClass, HopPolicy, ResolvedAddress } from './address-guard';
export { printable, redactLocation, redactUrl } from './redact';
export { keepAlivePoster } from './post';
export type { Poster, PostInit } from './post';
