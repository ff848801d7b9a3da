// Every git command of a write-back, run with the real git binary in a sealed environment: no user or system
// config (a credential helper there would store the token), no prompts, and the token handed over through
// GIT_ASKPASS from this process's memory, so it is never in a URL, an argument, .git/config or a file.

import { spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface GitCredentials {
  /** x-access-token (GitHub, Gitea); GitLab wants oauth2. */
  username: string;
  token: string;
}

export interface GitOutput {
  code: number;
  stdout: string;
  stderr: string;
}

// git asks "Username for 'https://host':" then "Password for 'https://user@host':"; the helper answers from its
// environment, which only git and its children see, and only for the repository's own host: a redirect to another
// host gets no token. The script itself holds no secret.
const ASKPASS = `#!/bin/sh
case "$1" in
  *"//$GITOPS_ASKPASS_HOST'"*|*"@$GITOPS_ASKPASS_HOST'"*) ;;
  *) echo "gitops: no credentials for $1" >&2; exit 1 ;;
esac
case "$1" in
  Username*) printf '%s\\n' "$GITOPS_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$GITOPS_ASKPASS_PASSWORD" ;;
esac
`;

export class Git {
  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly secrets: readonly string[],
  ) {}

  /** A runner whose askpass helper lives in `workDir` (created by the caller, closed to others) and answers `host` only. */
  static async create(workDir: string, host: string, credentials: GitCredentials | undefined): Promise<Git> {
    const askpass = path.join(workDir, 'askpass.sh');
    await writeFile(askpass, ASKPASS, { mode: 0o700 });
    await chmod(askpass, 0o700);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: workDir,
      LC_ALL: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: askpass,
      GITOPS_ASKPASS_HOST: host,
      GITOPS_ASKPASS_USERNAME: credentials?.username ?? '',
      GITOPS_ASKPASS_PASSWORD: credentials?.token ?? '',
    };
    return new Git(env, credentials ? [credentials.token] : []);
  }

  /** Runs git; output comes back redacted. `extraEnv` sets the commit identity. */
  run(args: readonly string[], options: { cwd: string; input?: string; extraEnv?: Record<string, string> }): Promise<GitOutput> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', ['-c', 'credential.helper=', ...args], {
        cwd: options.cwd,
        env: { ...this.env, ...options.extraEnv },
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? 1, stdout: this.redact(Buffer.concat(out).toString('utf8')), stderr: this.redact(Buffer.concat(err).toString('utf8')) }));
      child.stdin?.end(options.input);
    });
  }

  /** The token, and any user:password@ a remote message carries (spec §3.1 step 2), never leave in output. */
  redact(text: string): string {
    let out = text.replace(/:\/\/[^@/\s]+@/g, '://***@');
    for (const secret of this.secrets) if (secret.length > 0) out = out.split(secret).join('***');
    return out;
  }
}
