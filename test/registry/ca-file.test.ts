import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, Stats, writeFileSync } from 'node:fs';
import { FileHandle, open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CaFileSystem, readCaFile, RegistryTlsError } from '../../src/registry';
import { makeServerCertificate } from '../support/certs';

describe('readCaFile', () => {
  let dir: string;
  let caPem: string;
  let otherPem: string;
  const file = (name: string) => path.join(dir, name);
  const failure = (caFile: string, options?: Parameters<typeof readCaFile>[1]): Promise<RegistryTlsError> =>
    readCaFile(caFile, options).then(
      () => Promise.reject(new Error(`expected ${caFile} to be refused`)),
      (err: RegistryTlsError) => err,
    );

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-ca-file-'));
    caPem = readFileSync(makeServerCertificate(dir).caFile, 'utf8');
    otherPem = readFileSync(makeServerCertificate(mkdtempSync(path.join(dir, 'other-'))).caFile, 'utf8');
    execFileSync('mkfifo', [file('fifo')]);
    writeFileSync(file('bundle.pem'), `# our two CAs\r\n${caPem.replace(/\n/g, '\r\n')}\n${otherPem}`);
    writeFileSync(file('notes.txt'), 'not a certificate\n');
    writeFileSync(file('ca.der'), new X509Certificate(caPem).raw);
    writeFileSync(file('unclosed.pem'), `${caPem}${caPem.split('\n').slice(0, 3).join('\n')}\n`);
    writeFileSync(file('huge.pem'), Buffer.alloc(64 * 1024, 'A'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers every certificate of a bundle, each on its own (CRLF lines and comments too)', async () => {
    const certificates = await readCaFile(file('bundle.pem'));
    expect(certificates.map((pem) => new X509Certificate(pem).fingerprint256)).toEqual(
      [caPem, otherPem].map((pem) => new X509Certificate(pem).fingerprint256),
    );
  });

  it('names the file alone when no registry is given', async () => {
    expect((await failure(file('notes.txt'))).message).toBe(`the CA file ${file('notes.txt')} holds no PEM certificate`);
  });

  it('recognises a DER certificate and says how to convert it', async () => {
    const error = await failure(file('ca.der'));
    expect(error.message).toBe(`the CA file ${file('ca.der')} holds no PEM certificate (it looks like a binary DER certificate)`);
    expect(error.fix).toMatch(/openssl x509 -inform der/);
  });

  it('refuses a certificate block cut before its END line', async () => {
    expect((await failure(file('unclosed.pem'))).message).toBe(
      `the CA file ${file('unclosed.pem')} holds a certificate (2 of 2) without its -----END CERTIFICATE----- line`,
    );
  });

  it('reads to the end rather than to the reported size (files in /proc report 0 bytes)', async () => {
    expect((await stat('/proc/self/status')).size).toBe(0);
    expect((await failure('/proc/self/status', { maxBytes: 64 })).message).toBe(
      'the CA file /proc/self/status holds more than 64 bytes; a CA file is at most 64 bytes',
    );
  });

  it('refuses a FIFO swapped in after the stat, without waiting for a writer, and closes it', async () => {
    const opened: FileHandle[] = [];
    const regular = await stat(file('bundle.pem'));
    const swapped: CaFileSystem = {
      stat: async () => regular,
      open: async (p, flags) => {
        const handle = await open(p, flags);
        opened.push(handle);
        return handle;
      },
    };
    expect((await failure(file('fifo'), { fileSystem: swapped })).message).toBe(`the CA file ${file('fifo')} is a FIFO, not a regular file`);
    expect(opened.map((handle) => handle.fd)).toEqual([-1]);
  });

  it('gives up on a file system that hangs, holds no second thread for that path meanwhile, and closes the late descriptor', async () => {
    const caFile = file('bundle.pem');
    let release: (stats: Stats) => void = () => undefined;
    let statCalls = 0;
    let closed: Promise<void> | undefined;
    const hanging: CaFileSystem = {
      stat: (p) => {
        statCalls += 1;
        return statCalls === 1 ? new Promise((resolve) => (release = resolve)) : stat(p);
      },
      open: async (p, flags) => {
        const handle = await open(p, flags);
        const close = handle.close.bind(handle);
        closed = new Promise((resolve) => (handle.close = () => close().then(resolve)));
        return handle;
      },
    };
    const options = { fileSystem: hanging, timeoutMs: 20, registryHost: 'registry.example.com' };
    const timedOut = `the CA file ${caFile} configured for registry.example.com could not be read within 0.02 s`;
    expect((await failure(caFile, options)).message).toBe(timedOut);
    expect((await failure(caFile, options)).message).toBe(timedOut);
    expect(statCalls).toBe(1);

    release(await stat(caFile));
    await until(() => closed !== undefined);
    await closed;
    await new Promise(setImmediate); // the hung read leaves the in-flight list once it has settled
    expect(await readCaFile(caFile, { ...options, timeoutMs: 10_000 })).toHaveLength(2); // a loaded machine may take 20 ms
    expect(statCalls).toBe(2);
  });

  it('leaves no descriptor open after any refusal', async () => {
    const openDescriptors = () => readdirSync('/proc/self/fd').length;
    const before = openDescriptors();
    for (const caFile of [file('fifo'), dir, '/dev/zero', file('huge.pem'), file('notes.txt'), file('unclosed.pem'), '/proc/self/status']) {
      await failure(caFile, { maxBytes: 32 * 1024 });
    }
    expect(openDescriptors()).toBe(before);
  });
});

/** Waits (a bounded number of event-loop turns) for a condition that file-system callbacks make true. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 10_000 && !condition(); turn += 1) await new Promise(setImmediate);
}
