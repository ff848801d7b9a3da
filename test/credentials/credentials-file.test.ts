import { appendFile, chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CredentialsFileStore,
  CredentialsFileStoreOptions,
  CredentialsList,
  DroneCredentialsRequest,
  InvalidCredentialsFileError,
  loadCredentialsFile,
  StoreTimers,
} from '../../src/credentials/credentials-file';
import { createLogger } from '../../src/log';
import { rejection } from '../support/thrown';

const ANOTHER_USER = 65534; // nobody

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'credentials-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a file as the credentials file must be: the sidecar's own, written by nobody else. */
async function writeOwn(name: string, text: string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

async function load(text: string, env: NodeJS.ProcessEnv = {}): Promise<CredentialsList> {
  return (await loadCredentialsFile(await writeOwn('credentials.yml', text), { env })).list;
}

async function loadError(text: string, env: NodeJS.ProcessEnv = {}): Promise<InvalidCredentialsFileError> {
  const file = await writeOwn('credentials.yml', text);
  const err = await rejection<InvalidCredentialsFileError>(loadCredentialsFile(file, { env }));
  expect(err).toBeInstanceOf(InvalidCredentialsFileError);
  expect(err.code).toBe('INVALID_CONFIGURATION');
  expect(err.message).toContain(file);
  expect(err.fix).not.toBe('');
  return err;
}

function capturingLogger() {
  const lines: string[] = [];
  return { lines, log: createLogger((line) => lines.push(line), 'debug') };
}

describe('loadCredentialsFile', () => {
  it("reads drone-registry-plugin's example file unchanged", async () => {
    const list = await load('- address: index.docker.io\n  username: octocat\n  password: correct-horse-battery-staple\n');
    expect(list.entries).toEqual([
      expect.objectContaining({ address: 'docker.io', username: 'octocat', password: 'correct-horse-battery-staple', passwordSource: { kind: 'inline' } }),
    ]);
  });

  it("reads drone-registry-plugin's README examples: a block-scalar JSON key and an ECR entry", async () => {
    const list = await load(
      [
        '- address: docker.io',
        '  username: octocat',
        '  password: correct-horse-batter-staple',
        '- address: gcr.io',
        '  username: _json_key',
        '  password: |',
        '    {',
        '      "private_key_id": "..."',
        '    }',
        '- address: 012345678910.dkr.ecr.us-east-1.amazonaws.com',
        '  aws_access_key_id: a50d28f4dd477bc184fbd10b376de753',
        '  aws_secret_access_key: bc5785d3ece6a9cdefa42eb99b58986f9095ff1c',
        '- address: 012345678910.dkr.ecr.eu-west-1.amazonaws.com',
        '- address: registry.example.com',
        '  token: registry-token-1234',
        '  email: ci@example.com',
        '',
      ].join('\n'),
    );
    expect(list.entries.map((entry) => [entry.address, entry.line])).toEqual([
      ['docker.io', 1],
      ['gcr.io', 4],
      ['012345678910.dkr.ecr.us-east-1.amazonaws.com', 10],
      ['012345678910.dkr.ecr.eu-west-1.amazonaws.com', 13],
      ['registry.example.com', 14],
    ]);
    expect(list.entries[1]!.password).toBe('{\n  "private_key_id": "..."\n}\n');
    expect(list.entries[2]).toMatchObject({ awsAccessKeyId: 'a50d28f4dd477bc184fbd10b376de753', awsSecretAccessKey: 'bc5785d3ece6a9cdefa42eb99b58986f9095ff1c' });
    expect(list.entries[4]).toMatchObject({ token: 'registry-token-1234', email: 'ci@example.com' });
  });

  it('reads numbers and booleans under string keys as the text written, as the reference plugin does', async () => {
    const list = await load('- address: registry.local:5000\n  username: 0042\n  password: 123456.50\n- address: gcr.io\n  username: true\n  password: 0x1F\n');
    expect(list.entries.map(({ username, password }) => [username, password])).toEqual([
      ['0042', '123456.50'],
      ['true', '0x1F'],
    ]);
  });

  it('reads the filters', async () => {
    const list = await load(
      '- address: docker.io\n  username: ci\n  password: pw-1234\n  repos: [octocat/*]\n  namespaces: [octocat]\n  events: [push, tag]\n  branches: [main, release/**]\n  deny_forks: true\n',
    );
    expect(list.entries[0]!.filters).toEqual({ repos: ['octocat/*'], namespaces: ['octocat'], events: ['push', 'tag'], branches: ['main', 'release/**'], denyForks: true });
  });

  it('accepts an explicitly empty list', async () => {
    expect((await load('[]\n')).entries).toEqual([]);
  });

  it.each([
    ['text that is not YAML', '- address: [docker.io\n', 'line 2, column 1: not valid YAML', 'correct the YAML'],
    ['a key given twice', '- address: docker.io\n  username: a\n  username: b\n  password: pw-1234\n', 'line 3, column 3: not valid YAML (Map keys must be unique)', 'correct the YAML'],
    ['an empty file', '\n', 'is empty', 'write [] for none'],
    ['a map at the top level', 'address: docker.io\nusername: ci\n', 'the top level is a map, not a list', 'YAML list'],
    ['an entry that is not a map', '- docker.io\n', 'entry 1 of 1 (line 1): is a string, not a map of keys', 'YAML list'],
    ['an entry without address', '- username: ci\n  password: pw-1234\n', 'entry 1 of 1 (line 1): has no address', 'address: docker.io'],
    ['a misspelt key', '- address: docker.io\n  username: ci\n  pasword: pw-1234\n', 'entry 1 of 1 (line 1, address docker.io): "pasword" is not a credentials-file key', 'did you mean password?'],
    ['a key in another spelling', '- address: docker.io\n  username: ci\n  password: pw-1234\n  deny-forks: true\n', '"deny-forks" is not a credentials-file key', 'did you mean deny_forks?'],
    ['a __proto__ key', '- address: docker.io\n  __proto__: { username: ci }\n', '"__proto__" is not a credentials-file key', 'an entry takes address, username'],
    ['a key without a value', '- address: docker.io\n  username: ci\n  password:\n', 'password has no value', 'give password a value'],
    ['an empty string', '- address: docker.io\n  username: ""\n  password: pw-1234\n', 'username is empty', 'give username a value'],
    ['a password that is a list', '- address: docker.io\n  username: ci\n  password: [a, b]\n', 'password is a list, not a string', 'write password as a string'],
    ['deny_forks that is not a boolean', '- address: docker.io\n  token: tok-1234\n  deny_forks: yes\n', 'deny_forks is a string, not true or false', 'write deny_forks as true or false'],
    ['a filter that is not a list', '- address: docker.io\n  token: tok-1234\n  repos: octocat/*\n', 'repos is a string, not a list', 'write repos as a list'],
    ['an empty filter list', '- address: docker.io\n  token: tok-1234\n  events: []\n', 'events is an empty list, which matches nothing', 'remove events'],
    ['an unknown event', '- address: docker.io\n  token: tok-1234\n  events: [push, pr]\n', 'events item 2 "pr" is not a Drone event', 'push, pull_request, tag, promote, rollback, cron, custom'],
    ['a filter item that is not a string', '- address: docker.io\n  token: tok-1234\n  namespaces: [[octocat]]\n', 'namespaces item 1 is a list, not a string', 'as a string'],
    ['a glob with a wildcard we do not have', '- address: docker.io\n  token: tok-1234\n  repos: ["octo?at/*"]\n', 'repos item 1 "octo?at/*" uses "?"', 'only * (any characters but /)'],
    ['an address with a path', '- address: registry.gitlab.com/group\n  token: tok-1234\n', 'address: the registry address "registry.gitlab.com/group" has a path', 'write the host alone (registry.gitlab.com)'],
    ['an address that is no host', '- address: "registry local"\n  token: tok-1234\n', 'white space', 'registry host alone'],
    ['two password sources', '- address: docker.io\n  username: ci\n  password: pw-1234\n  password_env: HUB_PASSWORD\n', 'sets password and password_env; only one may be set', 'keep one of password'],
    ['a password without username', '- address: docker.io\n  password_file: hub\n', 'has password_file but no username', 'add the username'],
    ['a username without password', '- address: docker.io\n  username: ci\n', 'has a username but no password', 'keep one of password'],
    ['one AWS key without the other', '- address: 1.dkr.ecr.eu-west-1.amazonaws.com\n  aws_access_key_id: AKIA1234\n', 'only one of aws_access_key_id and aws_secret_access_key', 'give both AWS keys'],
    ['AWS keys for a registry that is not ECR', '- address: gcr.io\n  aws_access_key_id: AKIA1234\n  aws_secret_access_key: aws-secret-1234\n', 'has AWS keys, but its address is not an ECR registry', 'write the ECR registry address'],
    ['an entry without credentials', '- address: gcr.io\n  email: ci@example.com\n', 'gives no credentials', 'add username with password'],
    ['a password_env that is no variable name', '- address: docker.io\n  username: ci\n  password_env: $HUB\n', 'password_env "$HUB" is not an environment variable name', 'without $'],
    ['a password_env that is not set', '- address: docker.io\n  username: ci\n  password_env: HUB_PASSWORD\n', "password_env names HUB_PASSWORD, which is not set in the sidecar's environment", 'set HUB_PASSWORD'],
    ['a password_file that does not exist', '- address: docker.io\n  username: ci\n  password_file: missing\n', 'missing does not exist', "create it, owned by the sidecar's user (uid 0) with mode 600, or correct password_file"],
    ['aliases past the limit', `- &a { address: docker.io, token: tok-1234, repos: [${'x,'.repeat(5)}x] }\n${'- *a\n'.repeat(101)}`, 'Excessive alias count', 'at most 100 YAML aliases'],
  ])('refuses %s, naming the file, the entry, the key and the fix', async (_name, text, message, fix) => {
    const err = await loadError(text);
    expect(err.message).toContain(message);
    expect(err.fix).toContain(fix);
  });

  it('counts entries from 1 and names the line of the faulty one', async () => {
    const err = await loadError('- address: docker.io\n  token: tok-1234\n- address: gcr.io\n  username: ci\n  pasword: pw-1234\n');
    expect(err.message).toContain('entry 2 of 2 (line 3, address gcr.io): "pasword" is not a credentials-file key');
  });

  it('never puts a value of a secret key into a message', async () => {
    const texts = [
      '- address: docker.io\n  username: ci\n  password: [leaked-secret-1]\n',
      '- address: docker.io\n  username: ci\n  pasword: leaked-secret-1\n',
      '- address: https://ci:leaked-secret-1@registry.local\n  token: tok-1234\n',
      '- address: docker.io\n  username: ci\n  password: leaked-secret-1\n  password: leaked-secret-1\n',
      '- address: docker.io\n  username: ci\n  password: "leaked-secret-1\n',
    ];
    for (const text of texts) {
      const err = await loadError(text);
      expect(`${err.message} ${err.fix}`).not.toContain('leaked-secret-1');
    }
  });

  describe('password_file', () => {
    const entry = (passwordFile: string) => `- address: docker.io\n  username: ci\n  password_file: ${passwordFile}\n`;

    it('reads the password from the file, relative to the credentials file, without the trailing newline', async () => {
      await mkdir(path.join(dir, 'secrets'));
      await writeOwn('secrets/hub', 'from-a-file\r\n');
      const list = await load(entry('secrets/hub'));
      expect(list.entries[0]).toMatchObject({ password: 'from-a-file', passwordSource: { kind: 'file', path: path.join(dir, 'secrets/hub') } });
    });

    it('keeps inner newlines and all but the last trailing one', async () => {
      const file = await writeOwn('hub', 'line one\nline two\n\n');
      expect((await load(entry(file))).entries[0]!.password).toBe('line one\nline two\n');
    });

    it('refuses a password file that its group or other users may read', async () => {
      const file = await writeOwn('hub', 'group-readable-secret\n', 0o640);
      const err = await loadError(entry(file));
      expect(err.message).toContain(`entry 1 of 1 (line 1, address docker.io): password_file ${file} may be read by its group (mode 0640, owner uid 0)`);
      expect(err.fix).toBe(`it holds a password, so only the sidecar's user may read or write it: chown 0 ${file} && chmod 600 ${file}`);
    });

    it('refuses a password file that other users may write', async () => {
      const err = await loadError(entry(await writeOwn('hub', 'secret-1234\n', 0o602)));
      expect(err.message).toContain('may be written by other users (mode 0602');
    });

    it("refuses a password file owned by another user", async () => {
      const file = await writeOwn('hub', 'foreign-secret\n');
      await chown(file, ANOTHER_USER, ANOTHER_USER);
      const err = await loadError(entry(file));
      expect(err.message).toContain(`password_file ${file} is owned by uid ${ANOTHER_USER}, not by the sidecar's user (uid 0) or root`);
      expect(err.fix).toContain(`chown 0 ${file}`);
    });

    it('refuses a directory and an empty file', async () => {
      await mkdir(path.join(dir, 'a-directory'));
      expect((await loadError(entry('a-directory'))).message).toContain('is a directory, not a regular file');
      await writeOwn('empty', '\n');
      expect((await loadError(entry('empty'))).message).toContain(`password_file ${path.join(dir, 'empty')} is empty`);
    });
  });

  describe('password_env', () => {
    it('reads the password from the named variable', async () => {
      const list = await load('- address: docker.io\n  username: ci\n  password_env: HUB_PASSWORD\n', { HUB_PASSWORD: 'from-the-env' });
      expect(list.entries[0]).toMatchObject({ password: 'from-the-env', passwordSource: { kind: 'env', name: 'HUB_PASSWORD' } });
    });

    it('refuses an empty variable', async () => {
      const err = await loadError('- address: docker.io\n  username: ci\n  password_env: HUB_PASSWORD\n', { HUB_PASSWORD: '' });
      expect(err.message).toContain('which is empty');
    });
  });

  describe('the credentials file itself', () => {
    const text = '- address: docker.io\n  username: ci\n  password: inline-secret\n';

    it('is refused when owned by another user', async () => {
      const file = await writeOwn('credentials.yml', text);
      await chown(file, ANOTHER_USER, ANOTHER_USER);
      const err = await rejection<InvalidCredentialsFileError>(loadCredentialsFile(file));
      expect(err.message).toBe(`credentials file ${file} is owned by uid ${ANOTHER_USER}, not by the sidecar's user (uid 0) or root, so another user could change it`);
      expect(err.fix).toBe(`it decides which builds get which password, so only the sidecar's user may write it: chown 0 ${file} && chmod go-w ${file}`);
    });

    it('is refused when its group may write it', async () => {
      const file = await writeOwn('credentials.yml', text, 0o664);
      const err = await rejection<InvalidCredentialsFileError>(loadCredentialsFile(file));
      expect(err.message).toBe(`credentials file ${file} may be written by its group (mode 0664, owner uid 0)`);
    });

    it('is read when owned by root, whoever the sidecar runs as', async () => {
      const file = await writeOwn('credentials.yml', text);
      expect((await loadCredentialsFile(file, { uid: 1000 })).list.entries).toHaveLength(1);
    });

    it('is read but warned about when others may read the inline passwords in it', async () => {
      const loaded = await loadCredentialsFile(await writeOwn('credentials.yml', text, 0o644));
      expect(loaded.warnings).toEqual([expect.stringContaining('holds passwords or tokens and is readable by every user on this machine (mode 0644)')]);
    });

    it('draws no warning when readable by others but holding no secret', async () => {
      await writeOwn('hub', 'secret-1234\n');
      const loaded = await loadCredentialsFile(await writeOwn('credentials.yml', '- address: docker.io\n  username: ci\n  password_file: hub\n', 0o644));
      expect(loaded.warnings).toEqual([]);
    });

    it('is refused when larger than the limit', async () => {
      const file = await writeOwn('credentials.yml', text);
      const err = await rejection<InvalidCredentialsFileError>(loadCredentialsFile(file, { maxFileBytes: 16 }));
      expect(err.message).toBe(`credentials file ${file} holds ${text.length} bytes, more than the 16 allowed`);
      expect(err.fix).toContain('at a regular file holding the YAML list');
    });

    it('is refused when it does not exist', async () => {
      const err = await rejection<InvalidCredentialsFileError>(loadCredentialsFile(path.join(dir, 'missing.yml')));
      expect(err.message).toBe(`credentials file ${path.join(dir, 'missing.yml')} does not exist`);
    });
  });
});

describe('findForHost', () => {
  let list: CredentialsList;
  beforeEach(async () => {
    list = await load(
      [
        '- address: https://index.docker.io/v1/',
        '  username: hub-first',
        '  password: pw-1234',
        '  repos: [nobody/*]', // Drone filters: not applied to GoCD lookups
        '- address: docker.io',
        '  username: hub-second',
        '  password: pw-1234',
        '- address: Registry.Local:5000',
        '  username: local-5000',
        '  password: pw-1234',
        '- address: registry.local',
        '  username: local',
        '  password: pw-1234',
      ].join('\n'),
    );
  });

  it.each([
    ['registry-1.docker.io', 'hub-first'],
    ['index.docker.io', 'hub-first'],
    ['docker.io', 'hub-first'],
    ['registry.local:5000', 'local-5000'],
    ['REGISTRY.local:5000', 'local-5000'],
    ['registry.local', 'local'],
  ])('finds the first entry, in file order, for %s', (host, username) => {
    expect(list.findForHost(host)?.username).toBe(username);
  });

  it.each([['registry.local:5001'], ['gcr.io'], ['not a host']])('finds nothing for %s', (host) => {
    expect(list.findForHost(host)).toBeUndefined();
  });
});

describe('entitledFor', () => {
  const request = (overrides: { repo?: DroneCredentialsRequest['repo']; build?: DroneCredentialsRequest['build'] } = {}): DroneCredentialsRequest => ({
    repo: { slug: 'octocat/hello-world', namespace: 'octocat', ...overrides.repo },
    build: { event: 'push', target: 'main', sourceRepo: '', ...overrides.build },
  });
  const entitled = async (filters: string, req: DroneCredentialsRequest) =>
    (await load(`- address: docker.io\n  username: ci\n  password: pw-1234\n${filters}`)).entitledFor(req).length === 1;

  it.each([
    ['no filter', '', request(), true],
    ['repos matching the slug', '  repos: [other/*, octocat/*]\n', request(), true],
    ['repos not matching the slug', '  repos: [other/*]\n', request(), false],
    ['repos with no slug in the request', '  repos: [octocat/*]\n', request({ repo: { slug: undefined } }), false],
    ['namespaces holding the namespace', '  namespaces: [octocat]\n', request(), true],
    ['namespaces without it', '  namespaces: [OctoCat]\n', request(), false],
    ['events holding the event', '  events: [push, tag]\n', request(), true],
    ['events without it', '  events: [tag]\n', request({ build: { event: 'pull_request' } }), false],
    ['branches matching the target', '  branches: [release/**]\n', request({ build: { target: 'release/1.2/rc' } }), true],
    ['branches not matching it', '  branches: [release/*]\n', request({ build: { target: 'release/1.2/rc' } }), false],
    ['branches with no target in the request', '  branches: [main]\n', request({ build: { target: undefined } }), false],
    ['deny_forks, a build of the repository itself', '  deny_forks: true\n', request({ build: { sourceRepo: 'octocat/hello-world' } }), true],
    ['deny_forks, no source repository', '  deny_forks: true\n', request({ build: { sourceRepo: '' } }), true],
    ['deny_forks, a pull request from a fork', '  deny_forks: true\n', request({ build: { event: 'pull_request', sourceRepo: 'mallory/hello-world' } }), false],
    ['deny_forks off, a pull request from a fork', '  deny_forks: false\n', request({ build: { sourceRepo: 'mallory/hello-world' } }), true],
    ['all filters passing', '  repos: [octocat/*]\n  namespaces: [octocat]\n  events: [push]\n  branches: [main]\n  deny_forks: true\n', request(), true],
    ['all filters but one passing', '  repos: [octocat/*]\n  namespaces: [octocat]\n  events: [push]\n  branches: [dev]\n  deny_forks: true\n', request(), false],
  ])('with %s: entitled is %s', async (_name, filters, req, expected) => {
    expect(await entitled(filters, req)).toBe(expected);
  });

  it('returns every entitled entry in file order', async () => {
    const list = await load('- address: docker.io\n  token: a-1234\n- address: gcr.io\n  token: b-1234\n  events: [tag]\n- address: quay.io\n  token: c-1234\n');
    expect(list.entitledFor(request()).map((entry) => entry.address)).toEqual(['docker.io', 'quay.io']);
  });
});

describe('CredentialsFileStore', () => {
  const FIRST = '- address: docker.io\n  username: ci\n  password: first-secret-1\n';
  const SECOND = '- address: docker.io\n  username: ci\n  password: second-secret-2\n- address: gcr.io\n  username: _json_key\n  password: third-secret-3\n';
  const SECRETS = ['first-secret-1', 'second-secret-2', 'third-secret-3', 'typo-secret-4'];

  /** Timers and a directory watch the test fires by hand. */
  function manualScheduling() {
    const pending = new Set<{ callback: () => void; repeats: boolean }>();
    const events: (() => void)[] = [];
    const schedule = (repeats: boolean) => (callback: () => void) => {
      const timer = { callback, repeats };
      pending.add(timer);
      return { cancel: () => pending.delete(timer) };
    };
    const timers: StoreTimers = { setTimeout: schedule(false), setInterval: schedule(true) };
    return {
      timers,
      watchDirectory: (_dir: string, onEvent: () => void) => {
        events.push(onEvent);
        return { close: () => events.splice(0) };
      },
      fireWatchEvent: () => events.forEach((onEvent) => onEvent()),
      pendingTimeouts: () => [...pending].filter((timer) => !timer.repeats).length,
      fire(kind: 'timeout' | 'interval') {
        for (const timer of [...pending].filter((t) => t.repeats === (kind === 'interval'))) {
          if (!timer.repeats) pending.delete(timer);
          timer.callback();
        }
      },
    };
  }

  async function openStore(options: Partial<CredentialsFileStoreOptions> = {}) {
    const file = await writeOwn('credentials.yml', FIRST);
    const { lines, log } = capturingLogger();
    const store = await CredentialsFileStore.open(file, { log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5), ...options });
    return { file, lines, store };
  }

  /** Waits for the store to see a condition; bounded by jest's test timeout. */
  async function eventually(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const messages = (lines: string[], level: string) => lines.map((line) => JSON.parse(line)).filter((line) => line.level === level);

  it('fails to open on a file it cannot use, with the reason', async () => {
    const file = await writeOwn('credentials.yml', '- address: docker.io\n  pasword: x\n');
    const err = await rejection<InvalidCredentialsFileError>(CredentialsFileStore.open(file, { log: capturingLogger().log }));
    expect(err).toBeInstanceOf(InvalidCredentialsFileError);
    expect(err.message).toContain('"pasword" is not a credentials-file key');
  });

  it('logs the entry count on load, never a password', async () => {
    const { store, lines } = await openStore();
    store.close();
    expect(messages(lines, 'info')).toEqual([expect.objectContaining({ msg: 'credentials file loaded', entries: 1 })]);
  });

  it('warns when others may read the inline passwords in the file', async () => {
    const file = await writeOwn('credentials.yml', FIRST, 0o644);
    const { lines, log } = capturingLogger();
    (await CredentialsFileStore.open(file, { log, ...manualScheduling() })).close();
    expect(messages(lines, 'warn')).toEqual([expect.objectContaining({ msg: expect.stringContaining('is readable by every user on this machine (mode 0644)') })]);
  });

  it('sees an edit written in place', async () => {
    const { store, file } = await openStore({ debounceMs: 20 });
    try {
      await writeFile(file, SECOND);
      await eventually(() => store.findForHost('gcr.io') !== undefined);
      expect(store.findForHost('docker.io')?.password).toBe('second-secret-2');
    } finally {
      store.close();
    }
  });

  it('sees a new file renamed over the old one, as editors save', async () => {
    const { store, file } = await openStore({ debounceMs: 20 });
    try {
      const temporary = await writeOwn('.credentials.yml.swp', SECOND);
      await rename(temporary, file);
      await eventually(() => store.findForHost('gcr.io') !== undefined);
    } finally {
      store.close();
    }
  });

  it('keeps the last good entries when an edit is invalid, and says why once', async () => {
    const scheduling = manualScheduling();
    const { store, file, lines } = await openStore(scheduling);
    await writeFile(file, '- address: docker.io\n  username: ci\n  pasword: typo-secret-4\n');
    await store.reload();
    await store.reload();
    expect(store.findForHost('docker.io')?.password).toBe('first-secret-1');
    const warnings = messages(lines, 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'credentials file not reloaded, keeping the last good one',
        problem: `credentials file ${file}, entry 1 of 1 (line 1, address docker.io): "pasword" is not a credentials-file key`,
        fix: expect.stringContaining('did you mean password?'),
        entries: 1,
      }),
    ]);
    expect(store.status().lastError).toEqual({ message: warnings[0].problem, fix: warnings[0].fix, at: '2026-01-02T03:04:05.000Z' });

    await writeFile(file, SECOND);
    await store.reload();
    expect(store.findForHost('gcr.io')?.username).toBe('_json_key');
    expect(store.status().lastError).toBeUndefined();
    for (const line of lines) for (const secret of SECRETS) expect(line).not.toContain(secret);
  });

  it('keeps the last good entries when the file becomes writable by others', async () => {
    const { store, file, lines } = await openStore(manualScheduling());
    await chmod(file, 0o666);
    await store.reload();
    expect(store.findForHost('docker.io')?.password).toBe('first-secret-1');
    expect(messages(lines, 'warn')[0].problem).toContain('may be written by its group and other users (mode 0666');
  });

  it('loads once after a burst of directory events', async () => {
    const scheduling = manualScheduling();
    const { store, file, lines } = await openStore(scheduling);
    await writeFile(file, SECOND);
    scheduling.fireWatchEvent();
    scheduling.fireWatchEvent();
    scheduling.fireWatchEvent();
    expect(scheduling.pendingTimeouts()).toBe(1);
    scheduling.fire('timeout');
    await eventually(() => store.findForHost('gcr.io') !== undefined);
    expect(messages(lines, 'info')).toHaveLength(2); // the first load and this one
  });

  it('does not read the file again for a write to another file in its directory', async () => {
    const scheduling = manualScheduling();
    let clock = Date.UTC(2026, 0, 1);
    const { store, file } = await openStore({ ...scheduling, now: () => (clock += 1000) });
    const loadedAt = store.status().lastReloadAt;
    await writeFile(path.join(path.dirname(file), 'sidecar.log'), 'a line\n');
    scheduling.fireWatchEvent();
    scheduling.fire('timeout');
    // Nothing to wait for when nothing happens: give a needless reload (a few ms) ample time to show.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(store.status().lastReloadAt).toBe(loadedAt);
    await writeFile(file, SECOND); // while a change of the file itself is still taken on the next event
    scheduling.fireWatchEvent();
    scheduling.fire('timeout');
    await eventually(() => store.findForHost('gcr.io') !== undefined);
  });

  it('takes an edit within debounceMaxMs while another file in its directory is written all the time', async () => {
    const { store, file } = await openStore({ debounceMs: 20, debounceMaxMs: 100, recheckMs: 60_000, now: Date.now });
    const logFile = path.join(path.dirname(file), 'sidecar.log');
    const writer = setInterval(() => void appendFile(logFile, 'a line\n'), 5); // an event more often than debounceMs
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await writeFile(file, SECOND);
      const deadline = Date.now() + 2_000; // far beyond debounceMaxMs, far before the periodic check
      while (store.findForHost('gcr.io') === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(store.findForHost('gcr.io')?.username).toBe('_json_key');
    } finally {
      clearInterval(writer);
      store.close();
    }
  });

  it('finds a change the directory watch missed by its periodic check', async () => {
    const scheduling = manualScheduling();
    const { store, file } = await openStore(scheduling);
    await writeFile(file, SECOND);
    scheduling.fire('interval');
    await eventually(() => store.findForHost('gcr.io') !== undefined);
  });

  it('takes a rotated password_file by its periodic check', async () => {
    const scheduling = manualScheduling();
    const passwordFile = await writeOwn('hub', 'before-rotation\n');
    const file = await writeOwn('credentials.yml', '- address: docker.io\n  username: ci\n  password_file: hub\n');
    const store = await CredentialsFileStore.open(file, { log: capturingLogger().log, ...scheduling });
    await writeFile(passwordFile, 'after-rotation\n');
    scheduling.fire('interval');
    await eventually(() => store.findForHost('docker.io')?.password === 'after-rotation');
  });

  it('reads the file again only when it changed, and logs only a change of content', async () => {
    const scheduling = manualScheduling();
    let clock = Date.UTC(2026, 0, 1);
    const { store, file, lines } = await openStore({ ...scheduling, now: () => (clock += 1000) });
    const loadedAt = store.status().lastReloadAt;
    await store.reloadIfChanged();
    expect(store.status().lastReloadAt).toBe(loadedAt);
    await writeFile(file, FIRST); // the same content, written again: a change of the file all the same
    await store.reloadIfChanged();
    expect(store.status().lastReloadAt).not.toBe(loadedAt);
    expect(messages(lines, 'info')).toHaveLength(1); // read again, but nothing new to report
  });

  it('registers every password it loads, so the logger masks it in any later line', async () => {
    const file = await writeOwn('credentials.yml', SECOND);
    const { lines, log } = capturingLogger();
    (await CredentialsFileStore.open(file, { log, ...manualScheduling() })).close();
    log.info('a careless line', { detail: 'second-secret-2 third-secret-3' });
    expect(JSON.parse(lines[lines.length - 1]!).detail).toBe('*** ***');
  });

  it('reports its state for a status page without secrets', async () => {
    const scheduling = manualScheduling();
    const file = await writeOwn(
      'credentials.yml',
      '- address: https://index.docker.io/v1/\n  username: ci\n  password: first-secret-1\n  repos: [octocat/*]\n  deny_forks: true\n- address: gcr.io\n  token: second-secret-2\n',
    );
    const store = await CredentialsFileStore.open(file, { log: capturingLogger().log, now: () => Date.UTC(2026, 0, 2, 3, 4, 5), ...scheduling });
    const status = store.status();
    expect(status).toEqual({
      file,
      lastReloadAt: '2026-01-02T03:04:05.000Z',
      lastError: undefined,
      entries: [
        { address: 'docker.io', username: 'ci', credentials: 'password (inline)', filters: { repos: ['octocat/*'], deny_forks: true } },
        { address: 'gcr.io', username: undefined, credentials: 'token', filters: {} },
      ],
    });
    expect(JSON.stringify(status)).not.toMatch(/first-secret-1|second-secret-2/);
  });
});
