// The HTTP side of the sidecar: one route table in which every route names who may call it (GoCD calls forwarded
// by the Java shim, Drone's registry extension, /health, /status, /metrics), and the `serve` command that runs it.
// Imports gocd/ and drone/; only main.ts imports it.

export { createApp, sidecarRoutes } from './app';
export type { AppOptions } from './app';
export { accessChecks, describePolicy, isLoopbackAddress } from './access';
export { createRouter } from './router';
export type { Route } from './router';
export { Observability } from './observability';
export { serve } from './serve';
export { DEFAULT_LISTEN, listenOnLoopbackPort, parseCallTimeout, parseClockSkew, parseListenAddress, readDroneSecrets, readGitOpsTokens, readStatusRegistryTokens, readStatusToken, ServeOptionError } from './serve-options';
export type { ListenAddress } from './serve-options';
