import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { realMetadataStore } from '../../src/deps';
import { DISK_STORE_DEFAULTS, DiskStore, MetadataStoreError } from '../../src/metadata-store';
import { parseRegistryUrl, RegistryClient } from '../../src/registry';
import { capturingLogger, RecordedRequest, testDeps } from '../support/deps';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

const UID = process.getuid!();
const ANOTHER_USER = 65534; // nobody

describe('the on-disk metadata cache', () => {
  let registry: StartedRegistry;
  let digest: string;
  let root: string;
  let dir: string;

  beforeAll(async () => {
    registry = await startRegistry();
    digest = await pushImage(registry, 'team/app', ['1.0'], { seed: 'one', labels: { 'org.opencontainers.image.revision': 'abc123' } });
  });
  afterAll(() => registry.stop());
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'bridge-metadata-'));
    dir = path.join(root, 'work', 'metadata');
  });
  // A rewrite of the last poll may still be landing: rm retries on ENOTEMPTY, asynchronously so that it can land.
  afterEach(() => rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));

  const image = () => ({ endpoint: parseRegistryUrl(registry.url), repository: 'team/app' });
  const open = (options: Partial<typeof DISK_STORE_DEFAULTS> = {}) => DiskStore.open(dir, { ...DISK_STORE_DEFAULTS, ...options, uid: UID, log: capturingLogger() });
  /** Writes and touches are fire and forget: wait for what they do, on a loaded machine too. */
  const until = async (condition: () => boolean) => {
    for (let waited = 0; !condition(); waited += 20) {
      if (waited > 10_000) throw new Error('the store did not get there within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const filesOf = (kind: string) => readdirSync(path.join(dir, kind)).map((name) => path.join(dir, kind, name));

  /** One GoCD poll of one material by a sidecar with this store: what it cost, and what it learned. */
  const pollWith = async (store: DiskStore) => {
    const requests: RecordedRequest[] = [];
    const client = new RegistryClient({ ...testDeps(requests), metadataStore: store });
    await client.listTags(image());
    const { digest: got } = await client.resolveTag(image(), '1.0');
    const metadata = await client.getImageMetadata(image(), got);
    const isWritten = (kind: string) => filesOf(kind).some((file) => !path.basename(file).startsWith('.'));
    await until(() => isWritten('metadata') && isWritten('tag'));
    return { cost: requests.map((r) => `${r.method} ${new URL(r.url).pathname.split('/').slice(-2).join('/')}`), metadata };
  };

  it('makes the first poll after a restart cost what a steady one does: one tag walk and one HEAD', async () => {
    const first = await pollWith(await open());
    expect(first.cost).toEqual(['GET tags/list', 'GET manifests/1.0', expect.stringMatching(/^GET blobs\/sha256:[0-9a-f]{64}$/)]);
    const restarted = await pollWith(await open());
    expect(restarted.cost).toEqual(['GET tags/list', 'HEAD manifests/1.0']);
    expect(restarted.metadata).toEqual(first.metadata);
    expect(restarted.metadata.labels).toMatchObject({ 'org.opencontainers.image.revision': 'abc123' });
  });

  it('keeps its files 0600 in 0700 dirs, leaves no temp file, and closes a dir of its own left open', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    await pollWith(await open());
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, 'metadata')).mode & 0o777).toBe(0o700);
    const files = [...filesOf('metadata'), ...filesOf('tag')];
    expect(files).toHaveLength(2);
    expect(files.map((file) => statSync(file).mode & 0o777)).toEqual([0o600, 0o600]);
    expect(files.filter((file) => path.basename(file).startsWith('.'))).toEqual([]);
  });

  it.each([
    ['damaged', (file: string) => writeFileSync(file, '{"key": [1, 2')],
    ['valid JSON of another key', (file: string) => writeFileSync(file, JSON.stringify({ key: 'another', value: 'sha256:0' }))],
    ['open to others', (file: string) => chmodSync(file, 0o644)],
    ['owned by another user', (file: string) => chownSync(file, ANOTHER_USER, ANOTHER_USER)],
    [
      'a link to a file elsewhere',
      (file: string) => {
        const elsewhere = path.join(root, 'planted.json');
        writeFileSync(elsewhere, '{}', { mode: 0o600 });
        rmSync(file);
        symlinkSync(elsewhere, file);
      },
    ],
  ])('ignores a file that is %s, and fetches again', async (_kind, spoil) => {
    await pollWith(await open());
    for (const file of [...filesOf('metadata'), ...filesOf('tag')]) spoil(file);
    const restarted = await pollWith(await open());
    expect(restarted.cost).toEqual(['GET tags/list', 'GET manifests/1.0', expect.stringMatching(/^GET blobs\/sha256:/)]);
    expect(restarted.metadata.digest).toBe(digest);
  });

  it('ignores stored metadata whose shape is not metadata, even under the right key', async () => {
    await pollWith(await open());
    const [file] = filesOf('metadata');
    const entry = JSON.parse(readFileSync(file!, 'utf8'));
    writeFileSync(file!, JSON.stringify({ ...entry, value: { ...entry.value, platforms: 'linux/amd64' } }));
    const restarted = await pollWith(await open());
    expect(restarted.cost).toEqual(['GET tags/list', 'HEAD manifests/1.0', 'GET manifests/' + digest, expect.stringMatching(/^GET blobs\//)]);
    expect(restarted.metadata.platforms).toEqual(['linux/amd64']);
  });

  it('stays within its bound, dropping the least recently used entries', async () => {
    const store = await open({ maxEntries: 10 });
    const fileOfKey = (i: number) => path.join(dir, 'tag', `${createHash('sha256').update(`key ${i}`).digest('hex')}.json`);
    for (let i = 0; i < 10; i += 1) {
      store.write('tag', `key ${i}`, `sha256:${i}`);
      await until(() => existsSync(fileOfKey(i)));
    }
    expect(await store.read('tag', 'key 0')).toBe('sha256:0'); // used: now kept over keys 1 to 9
    for (let i = 10; i < 14; i += 1) {
      store.write('tag', `key ${i}`, `sha256:${i}`);
      await until(() => existsSync(fileOfKey(i)) && filesOf('tag').length <= 10);
    }
    expect(await store.read('tag', 'key 13')).toBe('sha256:13');
    expect(await store.read('tag', 'key 0')).toBe('sha256:0');
    expect(await store.read('tag', 'key 1')).toBeUndefined();
  });

  it('after a restart, drops entries by the last use their files record: a read touches a file not used for a day', async () => {
    const before = await open({ maxEntries: 10 });
    const fileOfKey = (i: number) => path.join(dir, 'tag', `${createHash('sha256').update(`key ${i}`).digest('hex')}.json`);
    for (let i = 0; i < 10; i += 1) before.write('tag', `key ${i}`, `sha256:${i}`);
    await until(() => [...Array(10).keys()].every((i) => existsSync(fileOfKey(i))));
    const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60 * 1000);
    for (let i = 0; i < 10; i += 1) utimesSync(fileOfKey(i), daysAgo(10 - i), daysAgo(10 - i)); // key 0 the oldest
    const restarted = await open({ maxEntries: 10 });
    expect(await restarted.read('tag', 'key 0')).toBe('sha256:0');
    expect(Date.now() - statSync(fileOfKey(0)).mtimeMs).toBeLessThan(60_000);
    const again = await open({ maxEntries: 10 });
    again.write('tag', 'key 10', 'sha256:10');
    await until(() => filesOf('tag').length <= 9);
    // Key 0's touch outlived the restart; keys 1 and 2 had the oldest files.
    expect(await Promise.all([0, 1, 2, 3].map((i) => again.read('tag', `key ${i}`)))).toEqual(['sha256:0', undefined, undefined, 'sha256:3']);
  });

  it('refuses a dir another user owns, naming it and the fix', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, ANOTHER_USER, ANOTHER_USER);
    const promise = open();
    await expect(promise).rejects.toThrow(MetadataStoreError);
    await expect(promise).rejects.toThrow(`the metadata cache ${dir} belongs to uid ${ANOTHER_USER}, not to the sidecar's user (uid ${UID})`);
  });

  it('lives in metadata/ of the shim\'s work dir; a default dir it cannot use turns it off with a warning, a named one stops the start', async () => {
    const log = capturingLogger();
    const workDir = path.join(root, 'work');
    const store = await realMetadataStore(log, { GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });
    expect([store?.dir, store?.counts()]).toEqual([path.join(workDir, 'metadata'), { metadata: 0, tag: 0 }]);
    chownSync(path.join(workDir, 'metadata'), ANOTHER_USER, ANOTHER_USER);
    expect(await realMetadataStore(log, { GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir })).toBeUndefined();
    expect(log.lines.join('\n')).toContain('metadata cache off: a restart will fetch image metadata again');
    await expect(realMetadataStore(log, { GOCD_REGISTRY_BRIDGE_CACHE_DIR: path.join(workDir, 'metadata') })).rejects.toThrow(MetadataStoreError);
  });
});
