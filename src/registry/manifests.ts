// Manifests: the digest of a tag by HEAD (free of Docker Hub's pull quota) when a digest is already known, by one GET
// when none is (it answers the digest and the manifest at once), and the image's metadata by digest: platforms of an
// index (without BuildKit's attestation entries), and the config blob's `created` and labels. Every body fetched by
// digest is checked against that digest.

import { createHash } from 'node:crypto';
import { RegistryResponseError } from './errors';
import { apiUrl } from './reference';
import { Descriptor, Manifest, matchesSchema, Platform } from './schema';
import { parseJson, RegistryAccess, RegistryRequest, RegistryResponse, RegistryTransport } from './transport';

export type ImageRef = RegistryAccess & { repository: string };

// Sent on every manifest request: without the OCI types a registry answers 404 for OCI content, and without the
// list types it swaps in the linux/amd64 child and its digest (DIST-CODE manifests.go).
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface ManifestDigest {
  digest: string;
  mediaType?: string;
}

/** A manifest GET by tag: its digest and the parsed body, so metadata need not GET it again by digest. */
export interface FetchedManifest extends ManifestDigest {
  manifest: Manifest;
}

export function isFetched(manifest: ManifestDigest): manifest is FetchedManifest {
  return 'manifest' in manifest;
}

export interface ImageMetadata {
  digest: string;
  mediaType?: string;
  /** os/architecture[/variant] of each image; attestation entries left out. */
  platforms: string[];
  /** The config's `created` (RFC 3339), of linux/amd64 when the index has it, else of the first platform. */
  created?: string;
  labels: Record<string, string>;
  /** The manifest's annotations; an index's own annotations win over its child's. */
  annotations: Record<string, string>;
}

const PREFERRED_PLATFORM = 'linux/amd64'; // what `docker pull` picks on the usual CI agent

export async function headManifest(transport: RegistryTransport, image: ImageRef, reference: string, deadlineMs: number): Promise<ManifestDigest | FetchedManifest> {
  const { response } = await transport.send({ ...manifestRequest(image, reference, deadlineMs), method: 'HEAD' });
  const digest = response.headers.get('docker-content-digest');
  if (digest) return { digest, mediaType: contentType(response) };
  // Some registries omit the header on HEAD (ECR, static S3 registries): the GET answers it.
  return getManifestByTag(transport, image, reference, deadlineMs);
}

/**
 * One GET by tag: the digest from Docker-Content-Digest (checked against the body, as OCI-DIST asks), else the sha256
 * of the exact bytes (identity encoding, never re-serialised), and the manifest itself.
 */
export async function getManifestByTag(transport: RegistryTransport, image: ImageRef, tag: string, deadlineMs: number): Promise<FetchedManifest> {
  const request = manifestRequest(image, tag, deadlineMs);
  return transport.read({ ...request, headers: { ...request.headers, 'Accept-Encoding': 'identity' } }, (response) => {
    const digest = response.headers.get('docker-content-digest') ?? `sha256:${sha256Hex(response.body)}`;
    return { digest, ...parseManifest(response, image, digest) };
  });
}

/** `fetched`: the manifest of this digest when a GET by tag already brought it. */
export async function readImageMetadata(transport: RegistryTransport, image: ImageRef, digest: string, deadlineMs: number, fetched?: FetchedManifest): Promise<ImageMetadata> {
  const top = fetched?.digest === digest ? fetched : await getManifest(transport, image, digest, deadlineMs);
  if (isIndex(top.manifest, top.mediaType)) {
    const children = (top.manifest.manifests ?? []).filter((d) => !isAttestation(d));
    const platforms = children.map((d) => platformName(d.platform)).filter((p): p is string => p !== undefined);
    const chosen = children.find((d) => platformName(d.platform) === PREFERRED_PLATFORM) ?? children[0];
    const child = chosen ? await getManifest(transport, image, chosen.digest, deadlineMs) : undefined;
    const config = child ? await readConfig(transport, image, child.manifest, deadlineMs) : undefined;
    return {
      digest,
      mediaType: top.mediaType,
      platforms,
      created: config?.created,
      labels: config?.labels ?? {},
      annotations: { ...stringMap(child?.manifest.annotations), ...stringMap(top.manifest.annotations) },
    };
  }
  const config = await readConfig(transport, image, top.manifest, deadlineMs);
  return {
    digest,
    mediaType: top.mediaType,
    platforms: config?.platform ? [config.platform] : [],
    created: config?.created,
    labels: config?.labels ?? {},
    annotations: stringMap(top.manifest.annotations),
  };
}

function manifestRequest(image: ImageRef, reference: string, deadlineMs: number): RegistryRequest {
  return {
    method: 'GET',
    url: apiUrl(image.endpoint, `${image.repository}/manifests/${reference}`),
    access: image,
    scope: `repository:${image.repository}:pull`,
    headers: { Accept: MANIFEST_ACCEPT },
    subject: `the manifest ${image.repository}:${reference}`,
    deadlineMs,
  };
}

async function getManifest(transport: RegistryTransport, image: ImageRef, digest: string, deadlineMs: number) {
  return transport.read(manifestRequest(image, digest, deadlineMs), (response) => parseManifest(response, image, digest));
}

function parseManifest(response: RegistryResponse, image: ImageRef, digest: string): { manifest: Manifest; mediaType?: string } {
  verifyDigest(response, digest, image);
  const manifest = parseJson(response, `the manifest ${image.repository}@${digest}`);
  if (!matchesSchema('manifest', manifest)) throw notAManifest(image, digest);
  return { manifest, mediaType: manifest.mediaType ?? contentType(response) };
}

async function readConfig(transport: RegistryTransport, image: ImageRef, manifest: Manifest, deadlineMs: number) {
  const descriptor = manifest.config;
  if (!descriptor) return undefined; // schema 1 or an artifact without config
  const request: RegistryRequest = {
    method: 'GET',
    url: apiUrl(image.endpoint, `${image.repository}/blobs/${descriptor.digest}`),
    access: image,
    scope: `repository:${image.repository}:pull`,
    subject: `the image config ${image.repository}@${descriptor.digest}`,
    deadlineMs,
    followRedirect: true, // blobs may be served from a CDN
  };
  return transport.read(request, (response) => {
    verifyDigest(response, descriptor.digest, image);
    const config = parseJson(response, request.subject);
    // An artifact's config (a Helm chart's, say) need not be an image config: it then carries no metadata.
    if (!matchesSchema('imageConfig', config)) return { created: undefined, labels: {}, platform: undefined };
    return { created: config.created, labels: stringMap(config.config?.Labels), platform: platformName(config) };
  });
}

function isIndex(manifest: Manifest, mediaType: string | undefined): boolean {
  if (mediaType) return mediaType.includes('index') || mediaType.includes('manifest.list');
  return Array.isArray(manifest.manifests); // OCI manifests may omit mediaType: classify by shape
}

/** BuildKit attaches provenance as index entries with platform unknown/unknown. */
function isAttestation(descriptor: Descriptor): boolean {
  return descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || descriptor.platform?.os === 'unknown';
}

function platformName(platform: Platform | undefined): string | undefined {
  if (!platform?.os || !platform.architecture) return undefined;
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** OCI-DIST: a client that fetches by digest MUST verify it; a mismatch means a lying registry or proxy. */
function verifyDigest(response: RegistryResponse, digest: string, image: ImageRef): void {
  const [algorithm, expected] = digest.split(':');
  if (algorithm !== 'sha256') return; // sha512 and others: accepted unverified, as the spec allows unknown algorithms
  const actual = sha256Hex(response.body);
  if (actual !== expected) {
    throw new RegistryResponseError({
      message: `${image.endpoint.host} served content for ${image.repository}@${digest} whose sha256 is ${actual}`,
      fix: 'the registry or a proxy in between altered the content; check the proxy, then the registry storage',
    });
  }
}

function notAManifest(image: ImageRef, digest: string): RegistryResponseError {
  return new RegistryResponseError({
    message: `${image.endpoint.host} answered ${image.repository}@${digest} with something that is not a manifest`,
    fix: 'check that the registry URL points at a Docker Registry V2 API',
  });
}

function stringMap(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function contentType(response: RegistryResponse): string | undefined {
  return response.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
