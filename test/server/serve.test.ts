// `serve`: what --listen, --port and the status token accept, and the binary listening where it is told.

import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describePolicy, listenOnLoopbackPort, parseClockSkew, parseListenAddress, readDroneSecrets, readStatusToken, ServeOptionError } from '../../src/server';
import { DRONE_CLIENT_BUILD_TIMEOUT_MS, runDroneClient } from '../support/drone-client';
import { postSigned } from '../support/drone-signer';
import { httpRequest } from '../support/http-request';
import { startMoto } from '../support/moto-server';
import { rejection, thrown } from '../support/thrown';

const LISTEN_FIX = 'give HOST:PORT, e.g. 127.0.0.1:8787, 0.0.0.0:8787 (every IPv4 interface) or [::1]:8787 (IPv6 in brackets)';
const TOKEN = 'serve-test-token-0123456789abcdef';
const STATUS_TOKEN = 'serve-status-token-0123456789';
const UID = process.getuid!();
const ANOTHER_USER = 65534; // nobody

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:8787', { host: '127.0.0.1', port: 8787 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:8787', { host: '::1', port: 8787 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['gocd-sidecar.internal:8787', { host: 'gocd-sidecar.internal', port: 8787 }],
  ])('reads %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each([
    ['8787', '--listen "8787" has no port'],
    ['::1:8787', '--listen "::1:8787": an IPv6 address needs brackets'],
    ['[127.0.0.1]:8787', '--listen "[127.0.0.1]:8787": "127.0.0.1" is not an IPv6 address'],
    ['[::1]8787', '--listen "[::1]8787": an IPv6 address needs brackets'],
    ['999.1.1.1:80', '--listen "999.1.1.1:80": "999.1.1.1" is neither an IP address nor a host name'],
    [':8787', '--listen ":8787": "" is neither an IP address nor a host name'],
    ['bad_host:80', '--listen "bad_host:80": "bad_host" is neither an IP address nor a host name'],
    ['127.0.0.1:65536', '--listen "127.0.0.1:65536": the port must be a number from 0 to 65535'],
    ['127.0.0.1:', '--listen "127.0.0.1:": the port must be a number from 0 to 65535'],
    ['127.0.0.1:http', '--listen "127.0.0.1:http": the port must be a number from 0 to 65535'],
  ])('refuses %s with the cause and the fix', (text, message) => {
    const err = thrown(() => parseListenAddress(text));
    expect(err).toBeInstanceOf(ServeOptionError);
    expect((err as ServeOptionError).message).toBe(message);
    expect((err as ServeOptionError).fix).toBe(message.endsWith('65535') ? '0 picks a free port; external mode needs a fixed one, e.g. 8787' : LISTEN_FIX);
  });

  it('takes --port N as loopback port N', () => {
    expect(listenOnLoopbackPort('8787')).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(thrown(() => listenOnLoopbackPort('-1'))).toBeInstanceOf(ServeOptionError);
  });
});

describe('readStatusToken', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-status-token-'));
  const file = (name: string, content: string, mode = 0o600) => {
    const full = path.join(dir, name);
    writeFileSync(full, content);
    chmodSync(full, mode);
    return full;
  };

  it('is undefined when neither the file nor the variable is given', async () => {
    expect(await readStatusToken(undefined, undefined, UID)).toBeUndefined();
  });

  it('reads the file without its trailing newline, or the variable', async () => {
    expect(await readStatusToken(file('good', `${STATUS_TOKEN}\n`), undefined, UID)).toBe(STATUS_TOKEN);
    expect(await readStatusToken(undefined, STATUS_TOKEN, UID)).toBe(STATUS_TOKEN);
  });

  it.each([
    ['both are given', () => readStatusToken(file('both', STATUS_TOKEN), STATUS_TOKEN, UID), /^a status token is given twice/],
    ['the token is short', () => readStatusToken(undefined, 'short-secret', UID), /^GOCD_REGISTRY_BRIDGE_STATUS_TOKEN is shorter than 16 characters/],
    ['the token holds a space', () => readStatusToken(file('spaced', 'two words of a token\n'), undefined, UID), /status token in .*spaced is shorter than 16 characters or holds spaces/],
    ['the file is missing', () => readStatusToken(path.join(dir, 'missing'), undefined, UID), /missing does not exist$/],
    ['others may read the file', () => readStatusToken(file('open', STATUS_TOKEN, 0o644), undefined, UID), /open may be read by its group and other users \(mode 0644/],
    ['the path is a directory', () => readStatusToken(dir, undefined, UID), /is a directory, not a regular file$/],
    ['the file is larger than 4 KiB', () => readStatusToken(file('large', 'x'.repeat(4097)), undefined, UID), /large holds 4097 bytes, more than the 4096 allowed$/],
  ])('refuses when %s, without the token in the message', async (_name, read, message) => {
    const err = await read().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ServeOptionError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('two words');
    expect((err as Error).message).not.toContain(STATUS_TOKEN);
  });
});

describe('readDroneSecrets', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-drone-secret-'));
  const file = (name: string, content: string, mode = 0o600) => {
    const full = path.join(dir, name);
    writeFileSync(full, content);
    chmodSync(full, mode);
    return full;
  };
  const SECRET_A = 'drone-secret-a-0123456789abcdef';
  const SECRET_B = 'drone-secret-b-fedcba9876543210';

  it('is undefined when neither the file nor the variable is given: the extension is off', async () => {
    expect(await readDroneSecrets(undefined, undefined, UID)).toBeUndefined();
  });

  it('reads one secret a line, for rotation, skipping blank lines and CRLF endings', async () => {
    expect(await readDroneSecrets(file('two', `${SECRET_A}\r\n\n${SECRET_B}\n`), undefined, UID)).toEqual([SECRET_A, SECRET_B]);
    expect(await readDroneSecrets(undefined, `${SECRET_A}\n${SECRET_B}`, UID)).toEqual([SECRET_A, SECRET_B]);
  });

  it.each([
    ['both are given', () => readDroneSecrets(file('both', SECRET_A), SECRET_A, UID), /^the Drone secret is given twice/, 'keep one of them'],
    ['a secret is short', () => readDroneSecrets(undefined, `${SECRET_A}\nshort-secret`, UID), /^GOCD_REGISTRY_BRIDGE_DRONE_SECRET: the secret on line 2 is shorter than 16 characters$/, /openssl rand -hex 16/],
    ['a secret has a space at its end', () => readDroneSecrets(file('spaced', `${SECRET_A} \n`), undefined, UID), /secret-file .*spaced: the secret on line 1 has spaces at its start or end$/, /without spaces at either end/],
    ['there is no secret', () => readDroneSecrets(file('blank', '\n\n'), undefined, UID), /blank holds no secret$/, /one a line|on a line of its own/],
    ['the file is missing', () => readDroneSecrets(path.join(dir, 'missing'), undefined, UID), /^--drone-registry-secret-file .*missing does not exist$/, /correct --drone-registry-secret-file/],
    ['others may read the file', () => readDroneSecrets(file('open', SECRET_A, 0o644), undefined, UID), /open may be read by its group and other users \(mode 0644/, /chmod 600/],
    ['another user owns the file', () => {
      const owned = file('theirs', SECRET_A);
      chownSync(owned, ANOTHER_USER, ANOTHER_USER);
      return readDroneSecrets(owned, undefined, UID);
    }, /theirs is owned by uid 65534, not by the sidecar's user/, /chown/],
  ])('refuses when %s, without the secret in the message', async (_case, read, message, fix) => {
    const err = await rejection<ServeOptionError>(read());
    expect(err).toBeInstanceOf(ServeOptionError);
    expect(err.message).toMatch(message);
    expect(err.fix).toMatch(fix);
    for (const secret of [SECRET_A, 'short-secret']) expect(`${err.message} ${err.fix}`).not.toContain(secret);
  });
});

describe('parseClockSkew', () => {
  it('reads whole seconds into milliseconds, 0 included', () => {
    expect(parseClockSkew('300')).toBe(300_000);
    expect(parseClockSkew('0')).toBe(0);
  });

  it.each(['-1', '1.5', '5m', ''])('refuses %j', (text) => {
    expect(thrown<ServeOptionError>(() => parseClockSkew(text)).message).toBe(`--drone-max-clock-skew "${text}" is not a whole number of seconds`);
  });
});

describe('describePolicy', () => {
  it('says who gets through, for the warning when serve listens beyond loopback', () => {
    expect(describePolicy('gocd', { allowRemoteGoCd: false })).toBe("the shim's token, from loopback peers only (--allow-remote-gocd not given)");
    expect(describePolicy('gocd', { allowRemoteGoCd: true })).toBe("the shim's token, from any peer (--allow-remote-gocd)");
    expect(describePolicy('status', { allowRemoteGoCd: false })).toBe('loopback peers only (no status token configured)');
    expect(describePolicy('status', { allowRemoteGoCd: false, statusToken: STATUS_TOKEN })).toBe('loopback peers, and others with the status token');
    expect(describePolicy('drone', { allowRemoteGoCd: false })).toBe("any peer, with a request signed by a Drone shared secret (HMAC over the headers and the body's digest)");
  });
});

describe('the serve command', () => {
  const binary = path.resolve(__dirname, '../../dist/gocd-registry-bridge.js');
  const started: ChildProcess[] = [];
  afterEach(() => {
    for (const child of started.splice(0)) child.stdin?.end(); // --exit-on-stdin-eof
  });

  /** Runs serve; answers the ready line's port, or the exit code and stderr when it stops first. */
  const runServe = (args: string[], env: Record<string, string> = {}) => {
    const child = spawn('node', [binary, 'serve', '--exit-on-stdin-eof', ...args], { env: { PATH: process.env.PATH, GOCD_REGISTRY_BRIDGE_TOKEN: TOKEN, ...env }, stdio: 'pipe' });
    started.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    return new Promise<{ port?: number; code?: number | null; stderr: () => string }>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const ready = /^GOCD_REGISTRY_BRIDGE_READY port=(\d+) /m.exec(stdout);
        if (ready) resolve({ port: Number(ready[1]), stderr: () => stderr });
      });
      child.once('exit', (code) => resolve({ code, stderr: () => stderr }));
    });
  };

  it('listens where --listen says, on IPv4 and IPv6 loopback', async () => {
    for (const [listen, host] of [['127.0.0.1:0', '127.0.0.1'], ['[::1]:0', '[::1]']] as const) {
      const { port } = await runServe(['--listen', listen]);
      const health = await httpRequest(`http://${host}:${port}/health`);
      expect(health.status).toBe(200);
      const call = await httpRequest(`http://${host}:${port}/gocd/package-repository/1.0/package-configuration`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(call.status).toBe(200);
    }
  });

  it('keeps --port N working, on 127.0.0.1', async () => {
    const { port, stderr } = await runServe(['--port', '0']);
    expect((await httpRequest(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(JSON.parse(stderr().split('\n')[0]!)).toMatchObject({ msg: 'listening', address: '127.0.0.1', port });
  });

  it.each([
    [['--listen', '::1:8787'], 'gocd-registry-bridge: --listen "::1:8787": an IPv6 address needs brackets. Fix: give HOST:PORT, e.g. 127.0.0.1:8787'],
    [['--listen', '127.0.0.1:0', '--port', '0'], 'gocd-registry-bridge: give --listen or --port, not both (--port N is --listen 127.0.0.1:N)'],
    [['--status-token-file', '/nonexistent/status-token'], 'gocd-registry-bridge: --status-token-file /nonexistent/status-token does not exist. Fix: '],
    [['--data-dir', '/nonexistent/data'], 'gocd-registry-bridge: --data-dir and --status-registry-db set up the status registry, which is off without its token file. Fix: '],
  ])('exits 2 on serve %j with the cause and a pointer to --help', async (args, message) => {
    const result = await runServe(args);
    expect(result.code).toBe(2);
    expect(result.stderr()).toContain(message);
    expect(result.stderr()).toMatch(/\nRun gocd-registry-bridge serve --help for usage\.\n$/);
  });

  it('keeps its metadata cache in metadata/ of the work dir, and says so; a named cache dir of another user stops it', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'bridge-serve-'));
    const { port, stderr } = await runServe(['--port', '0'], { GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir });
    for (let waited = 0; !stderr().includes('\n') && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20)); // the log line follows the ready line
    expect(JSON.parse(stderr().split('\n')[0]!)).toMatchObject({ msg: 'listening', port, metadataCache: { dir: path.join(workDir, 'metadata'), metadata: 0, tag: 0 } });
    const theirs = mkdtempSync(path.join(tmpdir(), 'bridge-serve-'));
    chownSync(theirs, ANOTHER_USER, ANOTHER_USER);
    const refused = await runServe(['--port', '0'], { GOCD_REGISTRY_BRIDGE_CACHE_DIR: theirs });
    expect(refused.code).toBe(2);
    expect(refused.stderr()).toContain(`gocd-registry-bridge: the metadata cache ${theirs} belongs to uid ${ANOTHER_USER}, not to the sidecar's user (uid ${UID}). Fix: `);
  });

  it('starts with a status token from a file and never logs it', async () => {
    const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'bridge-serve-')), 'status-token');
    writeFileSync(tokenFile, `${STATUS_TOKEN}\n`);
    chmodSync(tokenFile, 0o600);
    const { port, stderr } = await runServe(['--status-token-file', tokenFile]);
    expect((await httpRequest(`http://127.0.0.1:${port}/metrics`)).status).toBe(200); // loopback: no token needed
    expect(stderr()).not.toContain(STATUS_TOKEN);
  });

  describe('with the Drone registry extension', () => {
    const DRONE_SECRET = 'serve-drone-secret-0123456789abcdef';
    const dir = mkdtempSync(path.join(tmpdir(), 'bridge-serve-drone-'));
    const own = (name: string, content: string) => {
      const full = path.join(dir, name);
      writeFileSync(full, content);
      chmodSync(full, 0o600);
      return full;
    };
    const secretFile = own('drone-secret', `${DRONE_SECRET}\n`);
    const credentials = own('credentials.yml', '- address: https://index.docker.io/v1/\n  username: hub-bot\n  password: serve-hub-pa55word\n');
    const BODY = JSON.stringify({ repo: { slug: 'octocat/hello' }, build: { event: 'push' } });

    it('answers drone-go\'s client at /drone/registry on the --listen address, and never logs the secret or a password', async () => {
      const { port, stderr } = await runServe(['--listen', '127.0.0.1:0', '--credentials', credentials, '--drone-registry-secret-file', secretFile]);
      const endpoint = `http://127.0.0.1:${port}/drone/registry`;
      const result = await runDroneClient({ endpoint, secret: DRONE_SECRET, request: { repo: { slug: 'octocat/hello' }, build: { event: 'push' } }, images: ['alpine'] });
      expect(result).toEqual({ registries: [{ address: 'docker.io', username: 'hub-bot', password: 'serve-hub-pa55word', email: '', token: '' }], picked: { alpine: 'docker.io' } });
      expect((await httpRequest(endpoint)).status).toBe(405);
      const lines = stderr().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'drone registry extension on', endpoint, secrets: 1, allowHmacSha1: false, maxClockSkewSeconds: 300 }));
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'drone registry request', repo: 'octocat/hello', event: 'push', addresses: ['docker.io'], status: 200 }));
      expect(stderr()).not.toContain(DRONE_SECRET);
      expect(stderr()).not.toContain('serve-hub-pa55word');
    }, DRONE_CLIENT_BUILD_TIMEOUT_MS);

    it('answers an ECR entry with a token from ECR (moto here), and a password entry beside it as written', async () => {
      const moto = await startMoto();
      try {
        const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
        const withEcr = own(
          'credentials-ecr.yml',
          `- address: ${ecr}\n  aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n  aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n` +
            '- address: docker.io\n  username: hub-bot\n  password: serve-hub-pa55word\n',
        );
        const { port, stderr } = await runServe(['--credentials', withEcr, '--drone-registry-secret-file', secretFile], { AWS_ENDPOINT_URL_ECR: moto.url });
        const response = await postSigned(`http://127.0.0.1:${port}/drone/registry`, { secret: DRONE_SECRET, body: BODY });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body.toString())).toEqual([
          { address: ecr, username: 'AWS', password: '123456789012-auth-token' },
          { address: 'docker.io', username: 'hub-bot', password: 'serve-hub-pa55word' },
        ]);
        expect(stderr()).not.toContain('123456789012-auth-token');
        expect(stderr()).not.toContain('wJalrXUtnFEMI');
      } finally {
        await moto.stop();
      }
    });

    it('takes the secret from GOCD_REGISTRY_BRIDGE_DRONE_SECRET, and hmac-sha1 and the clock window from flags', async () => {
      const { port } = await runServe(['--credentials', credentials, '--drone-allow-hmac-sha1', '--drone-max-clock-skew', '0'], { GOCD_REGISTRY_BRIDGE_DRONE_SECRET: DRONE_SECRET });
      const response = await postSigned(`http://127.0.0.1:${port}/drone/registry`, { secret: DRONE_SECRET, body: BODY, algorithm: 'hmac-sha1', dateMs: Date.now() - 86_400_000 });
      expect(response.status).toBe(200);
    });

    it('leaves /drone/registry unrouted without a Drone secret', async () => {
      const { port } = await runServe(['--credentials', credentials]);
      expect((await postSigned(`http://127.0.0.1:${port}/drone/registry`, { secret: DRONE_SECRET, body: BODY })).status).toBe(404);
    });

    it.each([
      [['--drone-registry-secret-file', secretFile], 'gocd-registry-bridge: the Drone registry extension is configured (a Drone secret is given) but no credentials file, from which it answers. Fix: give --credentials FILE'],
      [['--credentials', credentials, '--drone-allow-hmac-sha1'], 'gocd-registry-bridge: --drone-allow-hmac-sha1 and --drone-max-clock-skew set up the Drone registry extension, which is off without a Drone secret'],
      [['--credentials', credentials, '--drone-registry-secret-file', secretFile, '--drone-max-clock-skew', '5m'], 'gocd-registry-bridge: --drone-max-clock-skew "5m" is not a whole number of seconds'],
    ])('exits 2 on serve %j with the cause and the fix', async (args, message) => {
      const result = await runServe(args);
      expect(result.code).toBe(2);
      expect(result.stderr()).toContain(message);
    });
  });
});
