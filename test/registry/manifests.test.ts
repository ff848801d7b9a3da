import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { RecordedRequest, testDeps } from '../support/deps';
import { pushImage, pushIndex } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

describe('RegistryClient.getImageMetadata', () => {
  let registry: StartedRegistry;
  let single: string;
  let index: string;

  beforeAll(async () => {
    registry = await startRegistry();
    single = await pushImage(registry, 'team/app', ['1.0'], {
      created: '2026-04-01T12:00:00Z',
      labels: { 'org.opencontainers.image.source': 'https://git.example.com/team/app' },
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    index = await pushIndex(
      registry,
      'team/multi',
      ['2.0'],
      [
        { seed: 'arm', created: '2026-05-01T00:00:00Z', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { seed: 'amd', created: '2026-05-02T00:00:00Z', labels: { 'org.opencontainers.image.revision': 'abc123' } },
      ],
      { annotations: { 'org.opencontainers.image.source': 'https://git.example.com/team/multi' }, withAttestation: true },
    );
  });
  afterAll(() => registry.stop());

  const image = (repository: string) => ({ endpoint: parseRegistryUrl(registry.url), repository });

  it('reads creation time, labels and platform from a single image\'s config', async () => {
    const client = new RegistryClient(testDeps());
    expect(await client.getImageMetadata(image('team/app'), single)).toEqual({
      digest: single,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      platforms: ['linux/arm64/v8'],
      created: '2026-04-01T12:00:00Z',
      labels: { 'test.seed': '1.0', 'org.opencontainers.image.source': 'https://git.example.com/team/app' },
      annotations: {},
    });
  });

  it('lists an index\'s platforms without the attestation entry, and reads linux/amd64\'s config', async () => {
    const client = new RegistryClient(testDeps());
    const { digest } = await client.resolveTag(image('team/multi'), '2.0');
    expect(digest).toBe(index); // the index itself, not a child swapped in for a client without list support
    expect(await client.getImageMetadata(image('team/multi'), digest)).toEqual({
      digest: index,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      platforms: ['linux/arm64/v8', 'linux/amd64'],
      created: '2026-05-02T00:00:00Z',
      labels: { 'test.seed': 'amd', 'org.opencontainers.image.revision': 'abc123' },
      annotations: { 'org.opencontainers.image.source': 'https://git.example.com/team/multi' },
    });
  });

  it('serves a digest it has read from memory: no request at all', async () => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient(testDeps(requests));
    await client.getImageMetadata(image('team/multi'), index);
    const first = requests.length;
    await client.getImageMetadata(image('team/multi'), index);
    expect(first).toBe(3); // index, amd64 manifest, its config
    expect(requests).toHaveLength(first);
  });
});
