// A real smart-HTTP git server for tests: Debian's `git http-backend` as a CGI behind a node HTTP server on a
// loopback port, with Basic auth. Pushes need the right token (any user name); reads need it too when
// `privateReads`. Plus bare repositories made with plain git commands.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const HTTP_BACKEND = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim() + '/git-http-backend';

/** git with no user or system config and a fixed identity: the tests' own git commands. */
export const TEST_GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: tmpdir(),
  LC_ALL: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: TEST_GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A bare repository `<root>/<name>.git` whose `branch` holds `files` in one commit. */
export function createBareRepo(root: string, name: string, files: Record<string, string>, branch = 'main'): string {
  const work = mkdtempSync(path.join(tmpdir(), 'gitops-seed-'));
  try {
    git(work, 'init', '--quiet', '--initial-branch', branch);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
      writeFileSync(path.join(work, file), text);
    }
    git(work, 'add', '--all');
    git(work, 'commit', '--quiet', '--allow-empty', '-m', 'seed');
    const bare = path.join(root, `${name}.git`);
    git(root, 'clone', '--quiet', '--bare', work, bare);
    return bare;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface GitServer {
  /** http://127.0.0.1:PORT/ ; a repository `<name>.git` in `root` is at `${url}<name>.git`. */
  url: string;
  root: string;
  /** Every Authorization header and URL seen, to prove what the client sent. */
  requests: { url: string; authorization?: string }[];
  close(): Promise<void>;
}

export interface GitServerOptions {
  token: string;
  privateReads?: boolean;
  root?: string;
  /** Runs once a clone or fetch has its pack, before the client sees the end of it: to move the branch under a client. */
  afterUploadPack?(): void;
}

export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const root = options.root ?? mkdtempSync(path.join(tmpdir(), 'gitops-server-'));
  const requests: GitServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isPush = url.searchParams.get('service') === 'git-receive-pack' || url.pathname.endsWith('/git-receive-pack');
    const user = authorizedUser(req, options.token);
    if ((isPush || options.privateReads) && user === undefined) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const isUploadPack = req.method === 'POST' && url.pathname.endsWith('/git-upload-pack');
    runBackend(req, res, url, root, user, isUploadPack ? options.afterUploadPack : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    root,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function authorizedUser(req: IncomingMessage, token: string): string | undefined {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return decoded.slice(colon + 1) === token ? decoded.slice(0, colon) : undefined;
}

/** RFC 3875 CGI: the request in environment variables and stdin, the answer as CGI headers then the body. */
function runBackend(req: IncomingMessage, res: ServerResponse, url: URL, root: string, user: string | undefined, beforeEnd?: () => void): void {
  const env: NodeJS.ProcessEnv = {
    ...TEST_GIT_ENV,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
    ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
    ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    ...(user !== undefined ? { REMOTE_USER: user || 'git' } : {}),
  };
  const child = spawn(HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  child.once('close', () => {
    beforeEnd?.();
    res.end();
  });
  child.once('error', () => {
    res.writeHead(500);
    res.end();
  });
}
