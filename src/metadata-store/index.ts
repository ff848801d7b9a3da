// What the registry client learns about digests, kept on disk so a restart is not a cold cycle (registry/'s
// MetadataStore): one small JSON file per key, written atomically, trusted only when this user owns it and nobody
// else may read or write it, the number of files bounded. Imports errors and log; never registry.
//
// Reads are synchronous: the first cycle after a restart reads 2 files per material, and through fs.promises each
// read cost more CPU than the registry request it saves (P3 profile: opening file handles alone was 12 % of the
// sidecar's CPU). The files are a few kB in the sidecar's own work dir; a name this process has not seen on disk is
// a miss without a system call.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, futimesSync, openSync, readSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { BridgeError } from '../errors';
import type { Logger } from '../log';

export interface DiskStoreOptions {
  maxEntries: number; // 10,000 per kind: a fleet's recent digests and tags (metadata ~1-2 KiB each, ~20 MiB at most)
  maxFileBytes: number; // 256 KiB: labels and annotations of one image stay far below; a larger file is not ours
  /** The sidecar's user; undefined where the OS has none (Windows), which skips the owner and mode checks. */
  uid: number | undefined;
  log: Logger;
}

export const DISK_STORE_DEFAULTS = { maxEntries: 10_000, maxFileBytes: 256 * 1024 };

export class MetadataStoreError extends BridgeError {
  constructor(message: string, fix: string, cause?: unknown) {
    super('INVALID_CONFIGURATION', { message, fix, cause });
  }
}

const KINDS = ['metadata', 'tag'] as const;
type Kind = (typeof KINDS)[number];
const TEMP_PREFIX = '.tmp-';
// A file's mtime is its last use across restarts (pruning goes by it); within a run the store keeps use times in
// memory, and touches a file it reads only when its mtime is older than this, to save a write per read.
const TOUCH_AFTER_MS = 24 * 60 * 60 * 1000;
// O_NOFOLLOW: a link planted in place of an entry is never followed. O_NONBLOCK: a FIFO there opens at once.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export class DiskStore {
  /** Each kind's file names on disk, with their last use in this run as a sequence number (0: not used yet). */
  private readonly names = new Map<Kind, Map<string, number>>();
  private uses = 0;
  private isPruning = false;
  private hasWarned = false;

  private constructor(
    readonly dir: string,
    private readonly options: DiskStoreOptions,
  ) {}

  /** The store in dir (made 0700 if missing); a dir another user owns or could change is refused. */
  static async open(dir: string, options: DiskStoreOptions): Promise<DiskStore> {
    const store = new DiskStore(path.resolve(dir), options);
    await store.prepare();
    return store;
  }

  /** How many entries it holds, by kind: for the start-up log line. */
  counts(): Record<Kind, number> {
    return { metadata: this.names.get('metadata')!.size, tag: this.names.get('tag')!.size };
  }

  /** The value stored under key, or undefined: missing, damaged, too large, or not a file of ours alone. */
  async read(kind: Kind, key: string): Promise<unknown> {
    const names = this.names.get(kind)!;
    const name = this.nameOf(key);
    if (!names.has(name)) return undefined;
    const file = path.join(this.dir, kind, name);
    let fd: number | undefined;
    try {
      fd = openSync(file, OPEN_FLAGS);
      const stats = fstatSync(fd);
      const problem = this.problemWith(stats);
      if (problem) {
        this.options.log.warn('metadata cache: ignoring a file that is not ours alone', { file, problem });
        return undefined;
      }
      const entry = JSON.parse(readWhole(fd, stats.size)) as { key?: unknown; value?: unknown };
      if (entry?.key !== key) return undefined; // a hash collision or a file from elsewhere: not this key's
      names.set(name, (this.uses += 1));
      const now = Date.now();
      if (now - stats.mtimeMs > TOUCH_AFTER_MS) futimesSync(fd, now / 1000, now / 1000);
      return entry.value;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') names.delete(name);
      else this.options.log.debug('metadata cache: unreadable entry ignored', { file, error: code ?? (err as Error).message });
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * Written to a temp file and renamed over the entry: a reader never sees half a file, a crash leaves none. Off the
   * event loop: creating a file is the costly step (P3: about 1 ms of CPU each on the test VM, 2,000 in a cold cycle),
   * and the thread pool spends it on the other core.
   */
  write(kind: Kind, key: string, value: unknown): void {
    const name = this.nameOf(key);
    const temp = path.join(this.dir, kind, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const text = JSON.stringify({ key, value });
    const done = (async () => {
      await fs.writeFile(temp, text, { mode: 0o600, flag: 'wx' });
      await fs.rename(temp, path.join(this.dir, kind, name));
      const names = this.names.get(kind)!;
      names.set(name, (this.uses += 1));
      if (names.size > this.options.maxEntries) await this.prune(kind);
    })();
    done.catch((err: NodeJS.ErrnoException) => {
      void fs.rm(temp, { force: true }).catch(() => undefined);
      // A full or read-only disk costs manifest GETs after the next restart, never a poll: say so once.
      if (!this.hasWarned) this.options.log.warn('metadata cache: cannot write; a restart will fetch metadata again', { dir: this.dir, error: err.code ?? err.message });
      this.hasWarned = true;
    });
  }

  private async prepare(): Promise<void> {
    for (const kind of KINDS) {
      const dir = path.join(this.dir, kind);
      await this.ensurePrivateDir(dir);
      const names = new Map<string, number>();
      for (const name of await fs.readdir(dir)) {
        // Temp files of a write cut short by a crash: ours (the dir is), and never renamed.
        if (name.startsWith(TEMP_PREFIX)) await fs.rm(path.join(dir, name), { force: true });
        else names.set(name, 0);
      }
      this.names.set(kind, names);
    }
  }

  private async ensurePrivateDir(dir: string): Promise<void> {
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      for (const each of [this.dir, dir]) {
        const stats = await fs.lstat(each);
        if (!stats.isDirectory()) throw new MetadataStoreError(`the metadata cache ${each} is not a directory`, 'remove it, or point GOCD_REGISTRY_BRIDGE_CACHE_DIR elsewhere');
        if (this.options.uid === undefined) continue;
        if (stats.uid !== this.options.uid) {
          throw new MetadataStoreError(
            `the metadata cache ${each} belongs to uid ${stats.uid}, not to the sidecar's user (uid ${this.options.uid})`,
            'another user could plant image metadata there: remove it, or point GOCD_REGISTRY_BRIDGE_CACHE_DIR at a dir of the GoCD user',
          );
        }
        // Ours, so ours to close: a dir others could write would let them plant entries.
        if ((stats.mode & 0o077) !== 0) await fs.chmod(each, 0o700);
      }
    } catch (err) {
      if (err instanceof MetadataStoreError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new MetadataStoreError(`cannot use ${dir} as the metadata cache (${code})`, 'give the GoCD user a writable dir in GOCD_REGISTRY_BRIDGE_CACHE_DIR', err);
    }
  }

  private problemWith(stats: { isFile(): boolean; uid: number; mode: number; size: number }): string | undefined {
    if (!stats.isFile()) return 'not a regular file';
    if (stats.size > this.options.maxFileBytes) return `larger than ${this.options.maxFileBytes} bytes`;
    if (this.options.uid === undefined) return undefined;
    if (stats.uid !== this.options.uid) return `owned by uid ${stats.uid}`;
    if ((stats.mode & 0o077) !== 0) return `mode ${(stats.mode & 0o777).toString(8)}, open to others`;
    return undefined;
  }

  /**
   * Down to 90% of the bound, least recently used first, one pass at a time: entries this run has not used, by
   * their files' mtime, then the ones it has, in the order of their last use.
   */
  private async prune(kind: Kind): Promise<void> {
    if (this.isPruning) return;
    this.isPruning = true;
    try {
      const dir = path.join(this.dir, kind);
      const names = this.names.get(kind)!;
      const aged = await Promise.all(
        [...names].map(async ([name, use]) => ({ name, use, mtimeMs: use ? 0 : ((await fs.stat(path.join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0) })),
      );
      aged.sort((a, b) => a.use - b.use || a.mtimeMs - b.mtimeMs);
      for (const { name } of aged.slice(0, names.size - Math.floor(this.options.maxEntries * 0.9))) {
        await fs.rm(path.join(dir, name), { force: true });
        names.delete(name);
      }
    } catch (err) {
      this.options.log.debug('metadata cache: pruning stopped', { dir: this.dir, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
    } finally {
      this.isPruning = false;
    }
  }

  private nameOf(key: string): string {
    return `${createHash('sha256').update(key).digest('hex')}.json`;
  }
}

/** The size bytes of an open file (a read may return fewer than asked). */
function readWhole(fd: number, size: number): string {
  const buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const got = readSync(fd, buffer, filled, size - filled, filled);
    if (got === 0) break;
    filled += got;
  }
  return buffer.toString('utf8', 0, filled);
}
