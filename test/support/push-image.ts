// Pushes tiny single-layer images through the registry API (no Docker engine here), the way a client does:
// blob uploads, then a Docker schema 2 manifest PUT per tag.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface PushTarget {
  url: string; // http://127.0.0.1:<port>
  credentials?: { username: string; password: string };
}

export interface ImageSpec {
  /** Makes the image (and so its digest) unique; defaults to the first tag. */
  seed?: string;
  created?: string;
  labels?: Record<string, string>;
}

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/** Pushes one image under every given tag; answers its manifest digest. */
export async function pushImage(target: PushTarget, repository: string, tags: string[], spec: ImageSpec = {}): Promise<string> {
  const layer = gzipSync(Buffer.alloc(1024)); // an empty tar: two zero blocks
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: spec.created ?? '2026-01-01T00:00:00Z',
      config: { Labels: { 'test.seed': spec.seed ?? tags[0] ?? '', ...spec.labels } },
      rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] },
    }),
  );
  await uploadBlob(target, repository, layer);
  await uploadBlob(target, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
    }),
  );
  for (const tag of tags) {
    const response = await fetch(`${target.url}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { ...authHeader(target), 'Content-Type': MANIFEST_TYPE },
      body: manifest,
    });
    if (response.status !== 201) throw new Error(`manifest PUT ${repository}:${tag} answered ${response.status}: ${await response.text()}`);
  }
  return sha256(manifest);
}

async function uploadBlob(target: PushTarget, repository: string, blob: Buffer): Promise<void> {
  const digest = sha256(blob);
  const start = await fetch(`${target.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: authHeader(target) });
  if (start.status !== 202) throw new Error(`blob upload start answered ${start.status}: ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', target.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...authHeader(target), 'Content-Type': 'application/octet-stream' },
    body: blob,
  });
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}: ${await put.text()}`);
}

function authHeader(target: PushTarget): Record<string, string> {
  if (!target.credentials) return {};
  const { username, password } = target.credentials;
  return { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
