// serve --gitops-token-file: the write-back's API tokens, read under the secret-file rules.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGitOpsTokens, ServeOptionError } from '../../src/server';

const UID = process.getuid?.();
const GOOD = 'gitops-token-0123456789abcdef';

describe('readGitOpsTokens', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-gitops-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Each name is written once, so the mode given at creation is the file's mode (umask takes no bit of these).
  const file = (name: string, content: string, mode = 0o600) => (writeFileSync(path.join(dir, name), content, { mode }), path.join(dir, name));

  it('reads one token a line, blank lines and CRLF ends aside', async () => {
    expect(await readGitOpsTokens(file('two', `${GOOD}\r\n\nanother-token-0123456789\n`), UID)).toEqual([GOOD, 'another-token-0123456789']);
  });

  it.each([
    ['a short token', 'short\n', 0o600, 'the secret on line 1 is shorter than 16 characters'],
    ['no token', '\n\n', 0o600, 'holds no secret'],
    ['a file others may read', `${GOOD}\n`, 0o644, '--gitops-token-file'],
  ])('refuses %s, never naming a token', async (name, content, mode, message) => {
    const error = await readGitOpsTokens(file(name, content, mode), UID).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServeOptionError);
    expect((error as ServeOptionError).message).toContain(message);
    expect((error as ServeOptionError).describe()).not.toContain(GOOD);
  });
});
