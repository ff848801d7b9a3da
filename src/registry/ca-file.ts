// Reading a registry's TLS_CA_FILE without trusting the path (issue 9): whoever may edit a package repository
// picks it. A device (/dev/zero) must not be read into memory, a FIFO or /dev/stdin must not hold a thread-pool
// thread for ever (four of them stall every file and DNS call of the sidecar), and a hung network mount must not
// hold a poll. The file's bytes never appear in a message: the path may point at something secret.

import { X509Certificate } from 'node:crypto';
import { constants, Stats } from 'node:fs';
import { FileHandle, open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryTlsError } from './errors';

/** The two calls the reader makes; tests stand in for a file system that hangs. */
export interface CaFileSystem {
  stat(path: string): Promise<Stats>;
  open(path: string, flags: number): Promise<FileHandle>;
}

export interface CaFileOptions {
  maxBytes: number; // 1 MiB: every public root CA in one bundle is ~220 KiB; a private CA file is a few KiB
  timeoutMs: number; // 5 s: a local file reads in microseconds; longer is a hung mount, and the poll must go on
  /** For messages: the registry that trusts this file, when known. */
  registryHost?: string;
  fileSystem: CaFileSystem;
}

const MIB = 1024 * 1024;

export const CA_FILE_DEFAULTS: CaFileOptions = { maxBytes: MIB, timeoutMs: 5_000, fileSystem: { stat, open } };

// O_NONBLOCK: should a FIFO slip in between the stat and the open, opening it for reading returns at once instead
// of waiting for a writer. O_NOCTTY: a terminal never becomes the sidecar's controlling terminal.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const BEGIN_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const END_CERTIFICATE = '-----END CERTIFICATE-----';

/** What is wrong with the file, without the path: readCaFile adds the path and the registry. */
class CaFileProblem extends Error {
  constructor(
    readonly problem: string,
    readonly fix: string,
    cause?: unknown,
  ) {
    super(problem, { cause });
  }
}

const USE_A_PEM_FILE = "point TLS_CA_FILE at a regular file holding the registry's CA certificate(s) in PEM form";

/**
 * Reads of a path still under way, so a file system that hangs holds one thread-pool thread per path, not one per
 * poll: a later read of that path shares the pending one, and fails at once when it has already timed out. Module
 * state because the thread pool it protects is the process's.
 */
const readsInFlight = new Map<string, Promise<Buffer>>();

/** The PEM certificates in a CA file, each checked to parse; a RegistryTlsError naming the path and the problem otherwise. */
export async function readCaFile(path: string, options: Partial<CaFileOptions> = {}): Promise<string[]> {
  const settings = { ...CA_FILE_DEFAULTS, ...options };
  try {
    return parseCertificates(await readShared(path, settings));
  } catch (err) {
    if (!(err instanceof CaFileProblem)) throw err;
    const registry = settings.registryHost ? ` configured for ${settings.registryHost}` : '';
    throw new RegistryTlsError({ message: `the CA file ${path}${registry} ${err.problem}`, fix: err.fix, cause: err.cause });
  }
}

function readShared(path: string, settings: CaFileOptions): Promise<Buffer> {
  const shared = readsInFlight.get(path);
  if (shared) return shared;
  const read = readBounded(path, settings);
  const cancelTimer = new AbortController();
  const timedOut = sleep(settings.timeoutMs, undefined, { signal: cancelTimer.signal, ref: false }).then(() => {
    throw new CaFileProblem(
      `could not be read within ${settings.timeoutMs / 1000} s`,
      'check the file system that holds it (a hung network mount?); the next poll tries again once that read has ended',
    );
  });
  const raced = Promise.race([read, timedOut]).finally(() => cancelTimer.abort());
  readsInFlight.set(path, raced);
  read.then(
    () => readsInFlight.delete(path),
    () => readsInFlight.delete(path),
  );
  timedOut.catch(() => undefined); // the cancelled timer rejects with an AbortError nobody needs
  return raced;
}

/** Never opens anything but a regular file, never reads more than maxBytes + 1, always closes what it opened. */
async function readBounded(path: string, settings: CaFileOptions): Promise<Buffer> {
  const { fileSystem, maxBytes } = settings;
  // Stat before opening: opening some devices acts (/dev/watchdog arms the hardware watchdog), reading is not needed.
  refuseUnlessSmallRegularFile(await fileCall(() => fileSystem.stat(path)), maxBytes);
  const handle = await fileCall(() => fileSystem.open(path, OPEN_FLAGS));
  try {
    // The path may have been swapped since the stat: what counts is what was opened.
    refuseUnlessSmallRegularFile(await fileCall(() => handle.stat()), maxBytes);
    // Read to the end, not to the reported size: files in /proc and /sys report 0 bytes and still hold some.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await fileCall(() => handle.read(buffer, length, buffer.length - length, null));
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw tooLarge(`holds more than ${formatSize(maxBytes)}`, maxBytes);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function refuseUnlessSmallRegularFile(stats: Stats, maxBytes: number): void {
  if (!stats.isFile()) throw new CaFileProblem(`is ${describeType(stats)}, not a regular file`, USE_A_PEM_FILE);
  if (stats.size > maxBytes) throw tooLarge(`is ${formatSize(stats.size)}`, maxBytes);
}

function tooLarge(what: string, maxBytes: number): CaFileProblem {
  return new CaFileProblem(
    `${what}; a CA file is at most ${formatSize(maxBytes)}`,
    "put only the registry's own CA certificate(s) in it; the system's CAs are trusted anyway",
  );
}

function describeType(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/** Runs one file-system call; its failure becomes a problem that names the error code. */
async function fileCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CaFileProblem('does not exist (ENOENT)', "put the registry's CA certificate (PEM) at that path on the GoCD server, readable by the GoCD user", err);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CaFileProblem(`is not readable by the sidecar's user (${code})`, 'make the file (and its directories) readable by the user GoCD runs as', err);
    }
    throw new CaFileProblem(`cannot be read (${code ?? (err as Error).message})`, USE_A_PEM_FILE, err);
  }
}

interface PemBlock {
  text: string;
  isClosed: boolean;
}

/**
 * The certificate blocks, each checked with X509Certificate. Line by line rather than one regular expression: a
 * lazy match from each BEGIN to its END scans to the end of the file for every unclosed BEGIN (quadratic over 1 MiB).
 */
function parseCertificates(bytes: Buffer): string[] {
  const blocks: PemBlock[] = [];
  const labels = new Set<string>();
  let current: string[] | undefined;
  for (const rawLine of bytes.toString('utf8').split('\n')) {
    const line = rawLine.trim();
    if (line === BEGIN_CERTIFICATE) {
      if (current) blocks.push({ text: current.join('\n'), isClosed: false });
      current = [line];
    } else if (current) {
      current.push(line);
      if (line === END_CERTIFICATE) {
        blocks.push({ text: current.join('\n'), isClosed: true });
        current = undefined;
      }
    } else {
      const label = /^-----BEGIN ([A-Z0-9 ]{1,40})-----$/.exec(line)?.[1];
      if (label) labels.add(label);
    }
  }
  if (current) blocks.push({ text: current.join('\n'), isClosed: false });
  if (blocks.length === 0) throw noCertificate(labels, bytes);
  return blocks.map((block, index) => {
    const which = `${index + 1} of ${blocks.length}`;
    const fix = `replace certificate ${which} with an intact copy of the CA certificate (lines cut or edited?)`;
    if (!block.isClosed) throw new CaFileProblem(`holds a certificate (${which}) without its ${END_CERTIFICATE} line`, fix);
    try {
      new X509Certificate(block.text); // parsing is the check
    } catch (err) {
      throw new CaFileProblem(`holds a certificate (${which}) that does not parse: ${(err as Error).message}`, fix, err);
    }
    return `${block.text}\n`;
  });
}

function noCertificate(labels: Set<string>, bytes: Buffer): CaFileProblem {
  if ([...labels].some((label) => label.endsWith('PRIVATE KEY'))) {
    return new CaFileProblem(
      'holds a private key but no certificate',
      "point TLS_CA_FILE at the CA's certificate, not at a key (the bridge needs no key)",
    );
  }
  // A DER certificate starts with an ASN.1 SEQUENCE with a two-byte length: 30 82.
  const isDer = bytes[0] === 0x30 && bytes[1] === 0x82;
  const found = labels.size > 0 ? ` (it holds ${[...labels].slice(0, 3).join(', ')})` : isDer ? ' (it looks like a binary DER certificate)' : '';
  return new CaFileProblem(
    `holds no PEM certificate${found}`,
    `the file must hold the CA certificate as PEM (${BEGIN_CERTIFICATE} …); convert a DER file with openssl x509 -inform der -in ca.der -out ca.pem`,
  );
}

/** "2 MiB", "1.1 MiB": rounded up, so a file just over the cap never reads as the cap itself. */
function formatSize(bytes: number): string {
  const [value, unit] = bytes >= MIB ? [bytes / MIB, 'MiB'] : bytes >= 1024 ? [bytes / 1024, 'KiB'] : [bytes, 'bytes'];
  return `${Number.isInteger(value) ? value : (Math.ceil(value * 10) / 10).toFixed(1)} ${unit}`;
}
