// Pushes tiny single-layer images through the registry API (no Docker engine here), the way a client does:
// blob uploads, then a Docker schema 2 manifest PUT per tag. Works against every startRegistry mode: Basic
// credentials are sent up front, a Bearer challenge is answered with a token, a TLS registry's CA is trusted.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { httpRequest, HttpResponse } from './http-request';

export interface PushTarget {
  url: string; // http(s)://127.0.0.1:<port>
  credentials?: { username: string; password: string };
  /** PEM file of the CA a TLS registry's certificate chains to (StartedRegistry.caFile). */
  caFile?: string;
}

export interface ImageSpec {
  /** Makes the image (and so its digest) unique; defaults to the first tag. */
  seed?: string;
  created?: string;
  labels?: Record<string, string>;
  /** Defaults to linux/amd64. */
  platform?: { os: string; architecture: string; variant?: string };
}

export interface IndexOptions {
  /** The index's own annotations (buildx --annotation index:...). */
  annotations?: Record<string, string>;
  /** Adds a BuildKit-style provenance entry (platform unknown/unknown) for the first image. */
  withAttestation?: boolean;
}

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
// Enough to keep the registry busy on loopback without piling up thousands of sockets.
const TAG_PUTS_IN_FLIGHT = 16;

/** Pushes one image under every given tag; answers its manifest digest. */
export async function pushImage(target: PushTarget, repository: string, tags: string[], spec: ImageSpec = {}): Promise<string> {
  const session = new PushSession(target, repository);
  const manifest = await uploadImage(session, tags[0] ?? '', spec);
  for (const tag of tags) await putManifest(session, tag, manifest);
  return sha256(manifest);
}

/**
 * Pushes one image (its blobs once) and tags it with every given tag, several manifest PUTs at a time:
 * the way to seed a repository with thousands of tags. Answers the manifest digest.
 */
export async function pushTags(target: PushTarget, repository: string, tags: string[], spec: ImageSpec = {}): Promise<string> {
  const session = new PushSession(target, repository);
  const manifest = await uploadImage(session, tags[0] ?? '', spec);
  const queue = [...tags];
  const worker = async () => {
    for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) await putManifest(session, tag, manifest);
  };
  await Promise.all(Array.from({ length: TAG_PUTS_IN_FLIGHT }, worker));
  return sha256(manifest);
}

/**
 * Pushes one image per spec (by digest), then an OCI index over them under every given tag, the shape
 * `docker buildx build --platform ...` pushes. Answers the index digest.
 */
export async function pushIndex(target: PushTarget, repository: string, tags: string[], images: ImageSpec[], options: IndexOptions = {}): Promise<string> {
  const session = new PushSession(target, repository);
  const entries: object[] = [];
  for (const spec of images) {
    const manifest = await uploadImage(session, spec.seed ?? tags[0] ?? '', spec);
    await putManifest(session, sha256(manifest), manifest);
    entries.push({ mediaType: MANIFEST_TYPE, size: manifest.length, digest: sha256(manifest), platform: spec.platform ?? { os: 'linux', architecture: 'amd64' } });
  }
  if (options.withAttestation && entries[0]) {
    const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2' }));
    const config = Buffer.from('{}');
    await uploadBlob(session, statement);
    await uploadBlob(session, config);
    const attestation = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_TYPE,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha256(config) },
        layers: [{ mediaType: 'application/vnd.in-toto+json', size: statement.length, digest: sha256(statement) }],
      }),
    );
    await putManifest(session, sha256(attestation), attestation, OCI_MANIFEST_TYPE);
    entries.push({
      mediaType: OCI_MANIFEST_TYPE,
      size: attestation.length,
      digest: sha256(attestation),
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': (entries[0] as { digest: string }).digest },
    });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_TYPE, manifests: entries, annotations: options.annotations }));
  for (const tag of tags) await putManifest(session, tag, index, OCI_INDEX_TYPE);
  return sha256(index);
}

/** Uploads the layer and config blobs; answers the manifest that references them. */
async function uploadImage(session: PushSession, defaultSeed: string, spec: ImageSpec): Promise<Buffer> {
  const layer = gzipSync(Buffer.alloc(1024)); // an empty tar: two zero blocks
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.platform?.architecture ?? 'amd64',
      os: spec.platform?.os ?? 'linux',
      ...(spec.platform?.variant ? { variant: spec.platform.variant } : {}),
      created: spec.created ?? '2026-01-01T00:00:00Z',
      config: { Labels: { 'test.seed': spec.seed ?? defaultSeed, ...spec.labels } },
      rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] },
    }),
  );
  await uploadBlob(session, layer);
  await uploadBlob(session, config);
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
    }),
  );
}

async function putManifest(session: PushSession, reference: string, manifest: Buffer, mediaType = MANIFEST_TYPE): Promise<void> {
  const response = await session.send('PUT', `/v2/${session.repository}/manifests/${reference}`, { 'Content-Type': mediaType }, manifest);
  if (response.status !== 201) throw new Error(`manifest PUT ${session.repository}:${reference} answered ${response.status}: ${response.body}`);
}

async function uploadBlob(session: PushSession, blob: Buffer): Promise<void> {
  const start = await session.send('POST', `/v2/${session.repository}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`blob upload start answered ${start.status}: ${start.body}`);
  const location = new URL(String(start.headers.location ?? ''), session.target.url);
  location.searchParams.set('digest', sha256(blob));
  const put = await session.send('PUT', location, { 'Content-Type': 'application/octet-stream' }, blob);
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}: ${put.body}`);
}

/** Requests to one repository, carrying whatever authorization the registry asked for. */
class PushSession {
  private authorization: string | undefined;
  private readonly ca: Buffer | undefined;

  constructor(
    readonly target: PushTarget,
    readonly repository: string,
  ) {
    // htpasswd registries take Basic on every request; token registries answer it with a challenge anyway.
    this.authorization = basicAuthorization(target);
    this.ca = target.caFile ? readFileSync(target.caFile) : undefined;
  }

  /** Sends once; on a first Bearer challenge fetches a pull,push token for the repository and sends again. */
  async send(method: string, pathOrUrl: string | URL, headers: Record<string, string> = {}, body?: Buffer): Promise<HttpResponse> {
    const url = new URL(pathOrUrl, this.target.url);
    const attempt = () =>
      httpRequest(url, { method, headers: { ...headers, ...(this.authorization && { Authorization: this.authorization }) }, body, ca: this.ca });
    const response = await attempt();
    const challenge = bearerChallenge(response.headers['www-authenticate']);
    if (response.status !== 401 || !challenge || this.authorization?.startsWith('Bearer ')) return response;
    this.authorization = `Bearer ${await this.fetchToken(challenge)}`;
    return attempt();
  }

  private async fetchToken(challenge: Record<string, string>): Promise<string> {
    const url = new URL(challenge.realm ?? '');
    if (challenge.service) url.searchParams.set('service', challenge.service);
    url.searchParams.set('scope', `repository:${this.repository}:pull,push`);
    const basic = basicAuthorization(this.target);
    const response = await httpRequest(url, { headers: basic ? { Authorization: basic } : {}, ca: this.ca });
    if (response.status !== 200) throw new Error(`token request answered ${response.status}: ${response.body}`);
    const answer = JSON.parse(response.body.toString()) as { token?: string; access_token?: string };
    const token = answer.token ?? answer.access_token;
    if (!token) throw new Error(`token response carried no token: ${response.body}`);
    return token;
  }
}

function basicAuthorization({ credentials }: PushTarget): string | undefined {
  return credentials && `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/** The parameters of a `Bearer k="v",...` challenge; enough for the registry's own, well-formed headers. */
function bearerChallenge(header: string | undefined): Record<string, string> | undefined {
  const match = /^Bearer\s+(.*)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  return Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
