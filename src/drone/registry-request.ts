// The body a Drone runner posts to the registry extension: {"repo": …, "build": …} with drone-go's JSON names
// (drone/types.go), read leniently: every field optional, unknown keys ignored, a field of the wrong type taken as
// absent. Only what the credentials file's filters test is kept; a filter whose field is absent withholds its entry.

import type { DroneCredentialsRequest } from '../credentials';

/** The request, or undefined when the body is not a JSON object (drone-go's handler answers "Invalid Input"). */
export function parseRegistryRequest(body: Buffer): DroneCredentialsRequest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  // Go decodes `null` into the empty request without an error; anything else that is not an object fails there.
  if (parsed === null) return { repo: {}, build: {} };
  if (!isObject(parsed)) return undefined;
  const repo = isObject(parsed.repo) ? parsed.repo : {};
  const build = isObject(parsed.build) ? parsed.build : {};
  return {
    repo: { slug: text(repo.slug), namespace: text(repo.namespace) },
    build: { event: text(build.event), target: text(build.target), sourceRepo: text(build.source_repo) },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
