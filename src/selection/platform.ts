// PLATFORMS: the os/architecture[/variant] a material's image must provide, as Argo CD Image Updater's `platforms`.
// Names are normalised the way containerd's platforms package does (containerd/platforms database.go), so
// linux/arm64 matches linux/arm64/v8, linux/amd64 matches x86_64, and linux/arm means linux/arm/v7.

import { InvalidFilterError } from './tag-pattern';

const PLATFORM = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)?$/;

/** A comma list such as `linux/arm64` or `linux/amd64,linux/arm64/v8`, normalised, without repeats. */
export function parsePlatforms(source: string): string[] {
  const items = source.split(',').map((item) => item.trim());
  const bad = items.filter((item) => !PLATFORM.test(item));
  if (bad.length > 0) {
    throw new InvalidFilterError(
      `${bad.map((item) => JSON.stringify(item)).join(', ')} ${bad.length === 1 ? 'is not a platform' : 'are not platforms'}`,
      'list platforms as os/architecture[/variant], separated by commas, e.g. linux/arm64 or linux/amd64,linux/arm64/v8',
    );
  }
  return [...new Set(items.map(normalisePlatform))];
}

/** containerd's Normalize: lower case, the usual aliases, and each architecture's default variant left out. */
export function normalisePlatform(platform: string): string {
  const [os = '', architecture = '', variant = ''] = platform.toLowerCase().split('/');
  const [arch, normalisedVariant] = normaliseArchitecture(architecture, variant);
  return [os === 'macos' ? 'darwin' : os, arch, normalisedVariant].filter(Boolean).join('/');
}

function normaliseArchitecture(architecture: string, variant: string): [string, string] {
  switch (architecture) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', variant === 'v1' ? '' : variant];
    case 'aarch64':
    case 'arm64':
      return ['arm64', variant === '8' || variant === 'v8' ? '' : variant];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (variant === '' || variant === '7') return ['arm', 'v7'];
      return ['arm', ['5', '6', '8'].includes(variant) ? `v${variant}` : variant];
    default:
      return [architecture, variant];
  }
}

/** Which of the wanted (normalised) platforms an image that provides `available` lacks. */
export function missingPlatforms(available: readonly string[], wanted: readonly string[]): string[] {
  const provided = new Set(available.map(normalisePlatform));
  return wanted.filter((platform) => !provided.has(platform));
}
