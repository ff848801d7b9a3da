// What a command may touch of the outside world, so tests run commands in-process with their own streams.

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

/** Exit codes a script can rely on; README lists them. */
export const EXIT = {
  OK: 0,
  FAILED: 1, // the registry or docker failed, or nothing to do
  USAGE: 2, // unknown option, missing argument
  INVALID_SETTINGS: 3, // a URL, image name or pattern that cannot be used
  NO_MATCHING_TAG: 4, // the image has no tag the settings accept
} as const;

export class UsageError extends Error {}
