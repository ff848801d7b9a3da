import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../src/log';
import { CredentialSourceError, DockerConfigOptions, dockerConfigCredentials, runCredentialHelper } from '../../src/credentials';
import { parseRegistryUrl } from '../../src/registry';

const PRIVATE = parseRegistryUrl('https://registry.example.com/v2/');
const PRIVATE_5000 = parseRegistryUrl('registry.example.com:5000');
const HUB = parseRegistryUrl('docker.io');

const basic = (userAndPassword: string) => Buffer.from(userAndPassword).toString('base64');

/** Records every call unscrubbed, so a test sees exactly what would reach the log and what was registered. */
function recordingLogger(): Logger & { lines: string[]; secrets: string[] } {
  const lines: string[] = [];
  const secrets: string[] = [];
  const record = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  };
  return {
    lines,
    secrets,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    registerSecret: (secret) => secrets.push(secret),
  };
}

interface HelperCall {
  helper: string;
  serverUrl: string;
}

/** A runHelper that answers from a table (helper → stdout) and records its calls. */
function fakeHelpers(answers: Record<string, string | Error>): DockerConfigOptions['runHelper'] & { calls: HelperCall[] } {
  const calls: HelperCall[] = [];
  const run = async (helper: string, serverUrl: string) => {
    calls.push({ helper, serverUrl });
    const answer = answers[helper];
    if (answer instanceof Error) throw answer;
    if (answer === undefined) throw new Error(`unexpected helper ${helper}`);
    return answer;
  };
  return Object.assign(run, { calls });
}

/** The error a promise rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<CredentialSourceError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.err).toBeInstanceOf(CredentialSourceError);
  return outcome.err as CredentialSourceError;
}

const helperJson = (username: string, secret: string) => JSON.stringify({ ServerURL: 'x', Username: username, Secret: secret });

describe('dockerConfigCredentials', () => {
  let dir: string;
  let clockMs: number;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'docker-config-'));
    clockMs = 1_000_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const configFile = () => path.join(dir, 'config.json');
  const writeConfig = (config: unknown) => writeFileSync(configFile(), typeof config === 'string' ? config : JSON.stringify(config));

  function source(runHelper = fakeHelpers({}), log = recordingLogger()) {
    return { runHelper, log, source: dockerConfigCredentials({ configDir: dir, homeDir: '/nonexistent', runHelper, now: () => clockMs, log }) };
  }

  describe('auths keys', () => {
    it.each([
      ['a bare host', 'registry.example.com', PRIVATE],
      ['an https URL', 'https://registry.example.com', PRIVATE],
      ['an http URL with /v2/', 'http://registry.example.com/v2/', PRIVATE],
      ['an upper-case URL with a trailing slash', 'https://Registry.Example.COM/', PRIVATE],
      ['host:port', 'registry.example.com:5000', PRIVATE_5000],
      ['an https URL with a port and /v1/', 'https://registry.example.com:5000/v1/', PRIVATE_5000],
      ['the Hub index URL', 'https://index.docker.io/v1/', HUB],
      ['index.docker.io', 'index.docker.io', HUB],
      ['docker.io', 'docker.io', HUB],
      ['registry-1.docker.io', 'registry-1.docker.io', HUB],
      ['https://registry-1.docker.io/v2/', 'https://registry-1.docker.io/v2/', HUB],
    ])('matches %s', async (_name, key, endpoint) => {
      writeConfig({ auths: { [key]: { auth: basic('ci-bot:pa55-word') } } });
      expect(await source().source.lookup(endpoint)).toEqual({ username: 'ci-bot', password: 'pa55-word' });
    });

    it.each([
      ['a host without the port', 'registry.example.com', PRIVATE_5000],
      ['another port', 'registry.example.com:5001', PRIVATE_5000],
      ['another host', 'https://other.example.com', PRIVATE],
      ['a Hub key for a private registry', 'https://index.docker.io/v1/', PRIVATE],
      ['a private key for the Hub', 'registry.example.com', HUB],
    ])('does not match %s', async (_name, key, endpoint) => {
      writeConfig({ auths: { [key]: { auth: basic('ci-bot:pa55-word') } } });
      expect(await source().source.lookup(endpoint)).toBeUndefined();
    });

    it('prefers the key the docker CLI writes over another form of the same registry', async () => {
      writeConfig({
        auths: {
          'docker.io': { auth: basic('old-user:old-password') },
          'https://index.docker.io/v1/': { auth: basic('hub-user:hub-password') },
        },
      });
      expect(await source().source.lookup(HUB)).toEqual({ username: 'hub-user', password: 'hub-password' });
    });
  });

  describe('auths entries', () => {
    it.each([
      ['splits auth on the first colon only', { auth: basic('ci-bot:pa:ss:word') }, { username: 'ci-bot', password: 'pa:ss:word' }],
      ['reads username and password fields', { username: 'ci-bot', password: 'field-password' }, { username: 'ci-bot', password: 'field-password' }],
      ['prefers auth over the separate fields', { auth: basic('from-auth:auth-password'), username: 'u', password: 'p' }, { username: 'from-auth', password: 'auth-password' }],
      ['answers nothing for an empty entry', {}, undefined],
    ])('%s', async (_name, entry, expected) => {
      writeConfig({ auths: { 'registry.example.com': entry } });
      expect(await source().source.lookup(PRIVATE)).toEqual(expected);
    });

    it('reports an auth that is not base64 of user:password, without quoting it', async () => {
      writeConfig({ auths: { 'registry.example.com': { auth: basic('no-colon-secret') } } });
      const err = await rejectionOf(source().source.lookup(PRIVATE));
      expect(err.message).toContain(configFile());
      expect(err.message).toContain('auths["registry.example.com"]');
      expect(err.fix).toMatch(/docker login/);
      expect(`${err.message} ${err.fix}`).not.toContain('no-colon-secret');
      expect(`${err.message} ${err.fix}`).not.toContain(basic('no-colon-secret'));
    });

    it('registers the password it answers as a secret', async () => {
      writeConfig({ auths: { 'registry.example.com': { auth: basic('ci-bot:pa55-word') } } });
      const { source: docker, log } = source();
      await docker.lookup(PRIVATE);
      expect(log.secrets).toContain('pa55-word');
      expect(log.lines.join('\n')).not.toContain('pa55-word');
    });
  });

  describe('lookup order', () => {
    const everywhere = {
      credHelpers: { 'registry.example.com': 'ecr-login' },
      credsStore: 'desktop',
      auths: { 'registry.example.com': { auth: basic('from-auths:auths-password') } },
    };

    it.each([
      [
        'credHelpers beats credsStore and auths',
        everywhere,
        { 'ecr-login': helperJson('AWS', 'ecr-password'), desktop: helperJson('desk', 'desk-password') },
        { username: 'AWS', password: 'ecr-password' },
        [{ helper: 'ecr-login', serverUrl: 'registry.example.com' }],
      ],
      [
        'credsStore beats auths',
        { credsStore: 'desktop', auths: everywhere.auths },
        { desktop: helperJson('desk', 'desk-password') },
        { username: 'desk', password: 'desk-password' },
        [{ helper: 'desktop', serverUrl: 'registry.example.com' }],
      ],
      [
        'a credsStore without this registry falls through to auths',
        { credsStore: 'desktop', auths: everywhere.auths },
        { desktop: '' },
        { username: 'from-auths', password: 'auths-password' },
        [{ helper: 'desktop', serverUrl: 'registry.example.com' }],
      ],
      [
        'a credHelpers entry without credentials is final, as in the docker CLI',
        everywhere,
        { 'ecr-login': '', desktop: helperJson('desk', 'desk-password') },
        undefined,
        [{ helper: 'ecr-login', serverUrl: 'registry.example.com' }],
      ],
      [
        'credHelpers for another registry leaves this one to credsStore',
        { ...everywhere, credHelpers: { 'other.example.com': 'ecr-login' } },
        { desktop: helperJson('desk', 'desk-password') },
        { username: 'desk', password: 'desk-password' },
        [{ helper: 'desktop', serverUrl: 'registry.example.com' }],
      ],
    ])('%s', async (_name, config, answers, expected, calls) => {
      writeConfig(config);
      const { source: docker, runHelper } = source(fakeHelpers(answers));
      expect(await docker.lookup(PRIVATE)).toEqual(expected);
      expect(runHelper.calls).toEqual(calls);
    });

    it('asks helpers for Docker Hub under https://index.docker.io/v1/', async () => {
      writeConfig({ credsStore: 'desktop' });
      const { source: docker, runHelper } = source(fakeHelpers({ desktop: helperJson('hub-user', 'hub-token') }));
      expect(await docker.lookup(HUB)).toEqual({ username: 'hub-user', password: 'hub-token' });
      expect(runHelper.calls).toEqual([{ helper: 'desktop', serverUrl: 'https://index.docker.io/v1/' }]);
    });

    it('asks with host:port for a registry on a port', async () => {
      writeConfig({ credHelpers: { 'https://registry.example.com:5000': 'pass' } });
      const { source: docker, runHelper } = source(fakeHelpers({ pass: helperJson('ci', 'pass-secret') }));
      expect(await docker.lookup(PRIVATE_5000)).toEqual({ username: 'ci', password: 'pass-secret' });
      expect(runHelper.calls).toEqual([{ helper: 'pass', serverUrl: 'registry.example.com:5000' }]);
    });

    it('registers the secret a helper answers', async () => {
      writeConfig({ credsStore: 'desktop' });
      const { source: docker, log } = source(fakeHelpers({ desktop: helperJson('ci', 'helper-secret') }));
      await docker.lookup(PRIVATE);
      expect(log.secrets).toContain('helper-secret');
      expect(log.lines.join('\n')).not.toContain('helper-secret');
    });

    it('rejects a helper name that is not a plain name, naming the file, without running anything', async () => {
      writeConfig({ credHelpers: { 'registry.example.com': '../../bin/evil' } });
      const { source: docker, runHelper } = source();
      const err = await rejectionOf(docker.lookup(PRIVATE));
      expect(err.message).toContain('"../../bin/evil"');
      expect(err.message).toContain(configFile());
      expect(err.message).toMatch(/not a valid credential helper name/);
      expect(runHelper.calls).toEqual([]);
    });

    it('reports helper output that is not the credential JSON, without quoting it', async () => {
      writeConfig({ credsStore: 'odd' });
      const { source: docker } = source(fakeHelpers({ odd: 'Username=ci Secret=odd-secret' }));
      const err = await rejectionOf(docker.lookup(PRIVATE));
      expect(err.message).toMatch(/docker-credential-odd get answered for registry.example.com/);
      expect(err.message).not.toContain('odd-secret');
    });
  });

  describe('tokens the bridge cannot use', () => {
    it.each([
      ['a helper answering an identity token', { credsStore: 'desktop' }, { desktop: helperJson('<token>', 'refresh-token-1') }, 'refresh-token-1'],
      ['an auths identitytoken', { auths: { 'registry.example.com': { identitytoken: 'refresh-token-2' } } }, {}, 'refresh-token-2'],
      ['an auths registrytoken', { auths: { 'registry.example.com': { registrytoken: 'registry-token-3' } } }, {}, 'registry-token-3'],
    ])('answers nothing for %s and warns once per host', async (_name, config, answers, token) => {
      writeConfig(config);
      const { source: docker, log } = source(fakeHelpers(answers));
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      const warnings = log.lines.filter((line) => line.startsWith('warn '));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/only a token for registry\.example\.com/);
      expect(warnings[0]).toMatch(/set Username and Password on the package repository/);
      expect(log.lines.join('\n')).not.toContain(token);
      expect(log.secrets).toContain(token);
    });

    it('warns again for another host', async () => {
      writeConfig({ auths: { 'registry.example.com': { identitytoken: 'refresh-a' }, 'docker.io': { identitytoken: 'refresh-b' } } });
      const { source: docker, log } = source();
      await docker.lookup(PRIVATE);
      await docker.lookup(HUB);
      expect(log.lines.filter((line) => line.startsWith('warn '))).toHaveLength(2);
    });

    it('uses auth when an identity token sits beside it', async () => {
      writeConfig({ auths: { 'registry.example.com': { auth: basic('ci:pw-beside'), identitytoken: 'refresh-token' } } });
      const { source: docker, log } = source();
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'ci', password: 'pw-beside' });
      expect(log.lines.filter((line) => line.startsWith('warn '))).toEqual([]);
    });
  });

  describe('the config file', () => {
    it('answers nothing when there is no config file', async () => {
      const { source: docker, runHelper } = source();
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      expect(runHelper.calls).toEqual([]);
    });

    it('answers nothing when the config directory does not exist', async () => {
      const docker = dockerConfigCredentials({
        configDir: path.join(dir, 'missing'),
        homeDir: dir,
        runHelper: fakeHelpers({}),
        now: () => clockMs,
        log: recordingLogger(),
      });
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
    });

    it('reads ~/.docker/config.json when DOCKER_CONFIG is unset', async () => {
      mkdirSync(path.join(dir, '.docker'));
      writeFileSync(path.join(dir, '.docker', 'config.json'), JSON.stringify({ auths: { 'registry.example.com': { auth: basic('home:home-pw') } } }));
      const docker = dockerConfigCredentials({ configDir: undefined, homeDir: dir, runHelper: fakeHelpers({}), now: () => clockMs, log: recordingLogger() });
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'home', password: 'home-pw' });
    });

    it('reads $DOCKER_CONFIG/config.json instead of the home directory', async () => {
      mkdirSync(path.join(dir, '.docker'));
      writeFileSync(path.join(dir, '.docker', 'config.json'), JSON.stringify({ auths: { 'registry.example.com': { auth: basic('home:home-pw') } } }));
      mkdirSync(path.join(dir, 'custom'));
      writeFileSync(path.join(dir, 'custom', 'config.json'), JSON.stringify({ auths: { 'registry.example.com': { auth: basic('env:env-pw') } } }));
      const docker = dockerConfigCredentials({ configDir: path.join(dir, 'custom'), homeDir: dir, runHelper: fakeHelpers({}), now: () => clockMs, log: recordingLogger() });
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'env', password: 'env-pw' });
    });

    it('reports malformed JSON naming the file and the fix, without quoting it', async () => {
      writeConfig(`{"auths": {"registry.example.com": {"auth": "${basic('ci:json-secret')}"}}`);
      const err = await rejectionOf(source().source.lookup(PRIVATE));
      expect(err.message).toBe(`the Docker config ${configFile()} is not valid JSON`);
      expect(err.fix).toMatch(/correct the file .* or remove it and run docker login again/);
      expect(err.cause).toBeUndefined();
      expect(`${err.message} ${err.fix}`).not.toContain(basic('ci:json-secret'));
    });

    it.each([
      ['a top-level array', [], /the file in the Docker config .* is not a JSON object/],
      ['auths as a string', { auths: 'registry.example.com' }, /"auths" in the Docker config/],
      ['an auth that is a number', { auths: { 'registry.example.com': { auth: 42 } } }, /"auths" in the Docker config/],
      ['credHelpers with a non-string helper', { credHelpers: { 'registry.example.com': true } }, /"credHelpers" in the Docker config/],
      ['credsStore as an object', { credsStore: {} }, /"credsStore" in the Docker config/],
    ])('reports %s as malformed', async (_name, config, message) => {
      writeConfig(config);
      await expect(source().source.lookup(PRIVATE)).rejects.toThrow(message);
    });

    it('re-reads the file when its mtime changes, and only then', async () => {
      // A whole second: utimes cannot restore the sub-millisecond part of a fresh file's mtime.
      const firstMtime = new Date('2024-05-01T12:00:00Z');
      writeConfig({ auths: { 'registry.example.com': { auth: basic('user-a:password-a') } } });
      utimesSync(configFile(), firstMtime, firstMtime);
      const { source: docker } = source();
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'user-a', password: 'password-a' });

      // Same size, same inode, same mtime: the cached config stands.
      writeConfig({ auths: { 'registry.example.com': { auth: basic('user-b:password-b') } } });
      utimesSync(configFile(), firstMtime, firstMtime);
      clockMs += 5_000;
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'user-a', password: 'password-a' });

      const later = new Date(firstMtime.getTime() + 10_000);
      utimesSync(configFile(), later, later);
      clockMs += 5_000;
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'user-b', password: 'password-b' });
    });

    it('looks at the file at most once per 5 s, so a docker login shows within 5 s', async () => {
      const { source: docker } = source();
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      writeConfig({ auths: { 'registry.example.com': { auth: basic('ci:pw-new') } } });
      clockMs += 4_999;
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      clockMs += 1;
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'ci', password: 'pw-new' });
    });

    it('answers nothing once the file is removed', async () => {
      writeConfig({ auths: { 'registry.example.com': { auth: basic('ci:pw-gone') } } });
      const { source: docker } = source();
      expect(await docker.lookup(PRIVATE)).toBeDefined();
      rmSync(configFile());
      clockMs += 5_000;
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
    });
  });

  describe('helper cache', () => {
    it('runs a helper once per 60 s for a registry', async () => {
      writeConfig({ credsStore: 'desktop' });
      const { source: docker, runHelper } = source(fakeHelpers({ desktop: helperJson('ci', 'cached-secret') }));
      await docker.lookup(PRIVATE);
      clockMs += 59_999;
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'ci', password: 'cached-secret' });
      expect(runHelper.calls).toHaveLength(1);
      clockMs += 1;
      await docker.lookup(PRIVATE);
      expect(runHelper.calls).toHaveLength(2);
    });

    it('shares one helper run between concurrent lookups', async () => {
      writeConfig({ credsStore: 'desktop' });
      const { source: docker, runHelper } = source(fakeHelpers({ desktop: helperJson('ci', 'shared-secret') }));
      await Promise.all([docker.lookup(PRIVATE), docker.lookup(PRIVATE), docker.lookup(PRIVATE)]);
      expect(runHelper.calls).toHaveLength(1);
    });

    it('caches per registry', async () => {
      writeConfig({ credsStore: 'desktop' });
      const { source: docker, runHelper } = source(fakeHelpers({ desktop: helperJson('ci', 'per-host-secret') }));
      await docker.lookup(PRIVATE);
      await docker.lookup(PRIVATE_5000);
      expect(runHelper.calls.map((call) => call.serverUrl)).toEqual(['registry.example.com', 'registry.example.com:5000']);
    });

    it('does not cache a failing helper', async () => {
      writeConfig({ credsStore: 'desktop' });
      const answers: Record<string, string | Error> = {
        desktop: new CredentialSourceError({ message: 'docker-credential-desktop get failed', fix: 'unlock it' }),
      };
      const { source: docker, runHelper } = source(fakeHelpers(answers));
      await expect(docker.lookup(PRIVATE)).rejects.toThrow('docker-credential-desktop get failed');
      answers.desktop = helperJson('ci', 'after-unlock');
      expect(await docker.lookup(PRIVATE)).toEqual({ username: 'ci', password: 'after-unlock' });
      expect(runHelper.calls).toHaveLength(2);
    });
  });
});

describe('runCredentialHelper', () => {
  let binDir: string;
  const savedPath = process.env.PATH;

  function writeHelper(name: string, script: string): void {
    const file = path.join(binDir, `docker-credential-${name}`);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }

  beforeAll(() => {
    binDir = mkdtempSync(path.join(tmpdir(), 'credential-helpers-'));
    process.env.PATH = `${binDir}${path.delimiter}${savedPath ?? ''}`;
    // Echoes the server URL it read on stdin, so the test sees what was sent; fails unless called with "get".
    writeHelper(
      'good',
      '[ "$1" = get ] || exit 3\nurl=$(cat)\nprintf \'{"ServerURL":"%s","Username":"ci-bot","Secret":"helper-s3cret"}\' "$url"',
    );
    writeHelper('empty', 'cat >/dev/null\necho "credentials not found in native keychain"\nexit 1');
    writeHelper('locked', 'cat >/dev/null\necho "secret service: the collection is locked" >&2\nexit 4');
    writeHelper('leaky', 'echo \'{"ServerURL":"x","Username":"ci","Secret":"leaked-s3cret"}\'\nexit 2');
    writeHelper('slow', 'exec sleep 5');
    writeFileSync(path.join(binDir, 'docker-credential-noexec'), '#!/bin/sh\n');
  });

  afterAll(() => {
    process.env.PATH = savedPath;
    rmSync(binDir, { recursive: true, force: true });
  });

  it('sends the server URL on stdin and answers stdout', async () => {
    expect(JSON.parse(await runCredentialHelper('good', 'https://index.docker.io/v1/'))).toEqual({
      ServerURL: 'https://index.docker.io/v1/',
      Username: 'ci-bot',
      Secret: 'helper-s3cret',
    });
  });

  it('answers empty output when the helper has no credentials for the server', async () => {
    expect(await runCredentialHelper('empty', 'registry.example.com')).toBe('');
  });

  it('reports a failing helper with its name, exit code and stderr', async () => {
    const err = await rejectionOf(runCredentialHelper('locked', 'registry.example.com'));
    expect(err.message).toBe(
      'docker-credential-locked get failed for registry.example.com (exit code 4): secret service: the collection is locked',
    );
    expect(err.fix).toMatch(/docker-credential-locked get/);
  });

  it('keeps JSON a failing helper printed out of the message', async () => {
    const err = await rejectionOf(runCredentialHelper('leaky', 'registry.example.com'));
    expect(err.message).toBe('docker-credential-leaky get failed for registry.example.com (exit code 2)');
    expect(err.fix).not.toContain('leaked-s3cret');
  });

  it('gives up on a helper that does not answer in time', async () => {
    const err = await rejectionOf(runCredentialHelper('slow', 'registry.example.com', 200));
    expect(err.message).toBe('docker-credential-slow get did not answer within 0.2 s for registry.example.com');
    expect(err.retryable).toBe(true);
  });

  it.each([
    ['missing', 'not on the PATH'],
    ['noexec', 'not executable'],
  ])('reports a helper that is %s', async (name, problem) => {
    const err = await rejectionOf(runCredentialHelper(name, 'registry.example.com'));
    expect(err.message).toBe(`docker-credential-${name} is ${problem} for the user running the GoCD server`);
    expect(err.fix).toMatch(`install docker-credential-${name}`);
  });

  it.each(['../good', 'good; rm -rf /', 'a b', '', 'sub/dir', '$(id)'])('rejects the helper name %j', async (name) => {
    const err = await rejectionOf(runCredentialHelper(name, 'registry.example.com'));
    expect(err.message).toMatch(/is not a valid credential helper name/);
  });

  it('feeds dockerConfigCredentials end to end', async () => {
    const configDir = mkdtempSync(path.join(tmpdir(), 'docker-config-'));
    try {
      writeFileSync(
        path.join(configDir, 'config.json'),
        JSON.stringify({ credHelpers: { 'registry.example.com': 'empty' }, credsStore: 'good' }),
      );
      const log = recordingLogger();
      const docker = dockerConfigCredentials({ configDir, homeDir: configDir, runHelper: runCredentialHelper, now: Date.now, log });
      expect(await docker.lookup(PRIVATE)).toBeUndefined();
      expect(await docker.lookup(HUB)).toEqual({ username: 'ci-bot', password: 'helper-s3cret' });
      expect(log.secrets).toEqual(['helper-s3cret']);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});
