// serve's build-status registry options: the API token file, where the records go, and the call timeout.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BridgeError } from '../../src/errors';
import { parseCallTimeout, readStatusRegistryTokens, ServeOptionError } from '../../src/server';
import { defaultDataDir, statusRegistryLocation } from '../../src/status-registry';
import { rejection, thrown } from '../support/thrown';

describe('readStatusRegistryTokens', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'status-tokens-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string, mode = 0o600) => {
    const name = path.join(dir, 'tokens');
    writeFileSync(name, text, { mode });
    return name;
  };

  it('reads one token a line, skipping blank lines', async () => {
    expect(await readStatusRegistryTokens(file('token-number-one-0123456\n\ntoken-number-two-0123456\n'), process.getuid?.())).toEqual(['token-number-one-0123456', 'token-number-two-0123456']);
  });

  it.each([
    ['a short token, without showing it', 'short-secret\n', 'the secret on line 1 is shorter than 16 characters'],
    ['an empty file', '\n', 'holds no secret'],
  ])('refuses %s', async (_name, text, message) => {
    const err = await rejection<ServeOptionError>(readStatusRegistryTokens(file(text), process.getuid?.()));
    expect([err instanceof ServeOptionError, err.message]).toEqual([true, expect.stringContaining(message)]);
    expect(err.message).not.toContain('short-secret');
  });

  it('refuses a token file others can read', async () => {
    const err = await rejection<ServeOptionError>(readStatusRegistryTokens(file('token-number-one-0123456\n', 0o644), process.getuid?.()));
    expect([err instanceof ServeOptionError, err.fix]).toEqual([true, expect.stringContaining('chmod')]);
  });
});

describe('statusRegistryLocation', () => {
  it('keeps records in SQLite in the data directory unless a PostgreSQL URL is given', () => {
    expect(statusRegistryLocation('/var/lib/bridge', undefined)).toEqual({ engine: 'sqlite', file: '/var/lib/bridge/status-registry.sqlite' });
    expect(statusRegistryLocation('/var/lib/bridge', 'postgres://bridge@db:5432/status')).toEqual({ engine: 'postgres', url: 'postgres://bridge@db:5432/status' });
  });

  it.each([
    ['a password in the URL, without showing it', 'postgres://bridge:hunter2-secret@db/status', 'holds a password'],
    ['another database', 'mysql://bridge@db/status', 'mysql: is not a PostgreSQL URL'],
    ['not a URL', 'db:5432', 'not a PostgreSQL URL'],
  ])('refuses %s', (_name, url, message) => {
    const err = thrown<BridgeError>(() => statusRegistryLocation('/d', url));
    expect([err.code, err.message]).toEqual(['INVALID_CONFIGURATION', expect.stringContaining(message)]);
    expect(err.message).not.toContain('hunter2');
  });

  it('defaults the data directory to XDG_DATA_HOME or ~/.local/share', () => {
    expect(defaultDataDir({ XDG_DATA_HOME: '/x' })).toBe('/x/gocd-registry-bridge');
    expect(defaultDataDir({})).toMatch(/\/\.local\/share\/gocd-registry-bridge$/);
  });
});

describe('parseCallTimeout', () => {
  it('takes 1 to 300 whole seconds', () => {
    expect(parseCallTimeout('10')).toBe(10_000);
    expect(thrown<ServeOptionError>(() => parseCallTimeout('0')).message).toContain('is not 1 to 300 seconds');
    expect(thrown<ServeOptionError>(() => parseCallTimeout('1.5')).message).toContain('is not 1 to 300 seconds');
  });
});
