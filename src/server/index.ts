// The express app that serves GoCD calls forwarded by the Java shim. Imports gocd/; nothing imports it but cli/.

export { createApp } from './app';
export type { AppOptions } from './app';
