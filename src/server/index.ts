// The HTTP app that serves GoCD calls forwarded by the Java shim, and the `serve` command that runs it.
// Imports gocd/; only main.ts imports it.

export { createApp, createStatusApp } from './app';
export { Observability } from './observability';
export type { AppOptions } from './app';
export { serve } from './serve';
export type { ServeOptions } from './serve';
