// Attack (issue 9, finding 2): someone with package-repository rights sets TLS_CA_FILE to something that is not a
// CA file. Before the fix /dev/zero grew the sidecar by ~400 MB/s, and a FIFO with no writer (or /dev/stdin) held a
// libuv thread-pool thread for ever: four of them and every later poll of every registry hung, /health still 200.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';

describe('a hostile TLS_CA_FILE', () => {
  let registry: StartedRegistry;
  let healthyRegistry: StartedRegistry;
  let dir: string;
  let socketServer: net.Server;
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    [registry, healthyRegistry] = await Promise.all([startRegistry({ tls: true }), startRegistry({ tls: true })]);
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-hostile-ca-'));
    execFileSync('mkfifo', [file('fifo')]);
    mkdirSync(file('directory'));
    socketServer = net.createServer();
    await new Promise<void>((resolve) => socketServer.listen(file('socket'), resolve));
    writeFileSync(file('two-mib.pem'), Buffer.alloc(2 * 1024 * 1024, 'A'));
    writeFileSync(file('no-pem.pem'), 'this is a wiki page, not a certificate\n');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(file('key-only.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const ca = readFileSync(registry.caFile!, 'utf8');
    // The second block keeps its armour but loses the middle of its body: a copy cut short.
    const lines = ca.trim().split('\n');
    writeFileSync(file('broken.pem'), `${ca}${[...lines.slice(0, 3), ...lines.slice(-2)].join('\n')}\n`);
    symlinkSync(registry.caFile!, file('link-to-ca.pem'));
  });
  afterAll(async () => {
    socketServer.close();
    await Promise.all([registry.stop(), healthyRegistry.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const repository = (target: StartedRegistry, caFile: string) =>
    configMap({ DOCKER_REGISTRY_URL: target.url, DOCKER_REGISTRY_NAME: target.host, TLS_CA_FILE: caFile });

  const { call } = sidecarApp();
  const validate = async (caFile: string) => {
    const response = await call('validate-repository-configuration', { 'repository-configuration': repository(registry, caFile) });
    expect(response.status).toBe(200);
    return JSON.parse(response.text) as Array<{ key: string; message: string }>;
  };
  const check = async (caFile: string, target = registry, caller = call) => {
    const response = await caller('check-repository-connection', { 'repository-configuration': repository(target, caFile) });
    expect(response.status).toBe(200);
    return JSON.parse(response.text) as { status: string; messages: string[] };
  };

  const refusals: Array<[string, () => string, string | RegExp]> = [
    ['/dev/zero', () => '/dev/zero', 'is a character device, not a regular file'],
    ['a FIFO with no writer', () => file('fifo'), 'is a FIFO, not a regular file'],
    ['a directory', () => file('directory'), 'is a directory, not a regular file'],
    ['a socket', () => file('socket'), 'is a socket, not a regular file'],
    ['a 2 MiB file', () => file('two-mib.pem'), 'is 2 MiB; a CA file is at most 1 MiB'],
    ['a file without PEM', () => file('no-pem.pem'), 'holds no PEM certificate'],
    ['a private key alone', () => file('key-only.pem'), 'holds a private key but no certificate'],
    ['a broken certificate block', () => file('broken.pem'), /holds a certificate \(2 of 2\) that does not parse: [^;]+/],
  ];

  describe.each(refusals)('%s', (_name, caFile, problem) => {
    // Saved: "<the CA file … problem>; <fix>" in one message. Polled: the same cause, then "Fix: …" on its own line.
    const expectProblem = (message: string | undefined, suffix: string) => {
      const cause = typeof problem === 'string' ? escape(problem) : problem.source;
      expect(message).toMatch(new RegExp(`^${escape(`the CA file ${caFile()} configured for ${registry.host} `)}${cause}${suffix}$`));
    };

    it('is refused when the repository is saved, with the path and the problem', async () => {
      const errors = await validate(caFile());
      expect(errors).toHaveLength(1);
      expect(errors[0]?.key).toBe('TLS_CA_FILE');
      expectProblem(errors[0]?.message, '; .+');
    });

    it('fails a poll at once with the same message and a fix', async () => {
      const result = await check(caFile());
      expect(result.status).toBe('failure');
      expectProblem(result.messages[0], '');
      expect(result.messages[1]).toMatch(/^Fix: ./);
    });
  });

  it('refuses /dev/stdin, whatever stdin is (a pipe, a terminal or /dev/null)', async () => {
    const [error] = await validate('/dev/stdin');
    expect(error?.message).toMatch(/^the CA file \/dev\/stdin configured for \S+ (is a (FIFO|character device|socket), not a regular file|holds no PEM certificate);/);
  });

  it.each([
    ['the CA file itself', () => registry.caFile!],
    ['a symbolic link to it (as in /etc/ssl/certs)', () => file('link-to-ca.pem')],
  ])('accepts %s when saved and when polled', async (_name, caFile) => {
    expect(await validate(caFile())).toStrictEqual([]);
    expect((await check(caFile())).status).toBe('success');
  });

  it('keeps polling other registries, and its memory, after a FIFO and /dev/zero were polled many times', async () => {
    const fresh = sidecarApp(); // no agent cached yet: the healthy poll must read its CA file on the thread pool
    await check(file('no-pem.pem'), registry, fresh.call); // warm up the app before measuring
    const rssBefore = process.memoryUsage().rss;
    // Twice libuv's four thread-pool threads each: before the fix, the FIFO polls alone blocked all of them.
    const hostile = Array.from({ length: 8 }, () => [check(file('fifo'), registry, fresh.call), check('/dev/zero', registry, fresh.call)]).flat();
    for (const result of await Promise.all(hostile)) expect(result.status).toBe('failure');
    expect((await check(healthyRegistry.caFile!, healthyRegistry, fresh.call)).status).toBe('success');
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(40 * 1024 * 1024);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
