// The environment variables GoCD gives a job for a package material, named as GoCD names them.

import type { GoCdRevision } from '../gocd';

/** GoCD's escapeEnvironmentVariable: every character outside [A-Za-z0-9_] becomes _, then upper case. */
export function envName(...parts: string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9_]/g, '_').toUpperCase();
}

/** XML-defined pipelines name a package material <repository>_<package> (since GoCD 19.12; `:` before, same env). */
export function materialName(repositoryName: string, packageName: string): string {
  return `${repositoryName}_${packageName}`;
}

export interface MaterialSettings {
  repository: Record<string, string>;
  package: Record<string, string>;
  /** Keys whose values GoCD masks; their values are not shown here either. */
  secureKeys: ReadonlySet<string>;
}

export const HIDDEN = '(secure: not shown)';

/** In GoCD's order: LABEL, repository properties, package properties, data, HAS_CHANGED; later names win. */
export function jobEnvironment(material: string, settings: MaterialSettings, revision: GoCdRevision): Map<string, string> {
  const env = new Map<string, string>();
  env.set(envName('GO_PACKAGE', material, 'LABEL'), revision.revision);
  for (const [key, value] of Object.entries(settings.repository)) env.set(envName('GO_REPO', material, key), settings.secureKeys.has(key) ? HIDDEN : value);
  for (const [key, value] of Object.entries(settings.package)) env.set(envName('GO_PACKAGE', material, key), value);
  for (const [key, value] of Object.entries(revision.data)) env.set(envName('GO_PACKAGE', material, key), value);
  env.set(envName('GO_MATERIAL', material, 'HAS_CHANGED'), 'true');
  return env;
}
