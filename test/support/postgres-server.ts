// A real PostgreSQL from Debian's packages for one test file: initdb into a temp dir, pg_ctl on a free loopback
// port, the unix socket in the temp dir too. initdb refuses to run as root, so as root the cluster belongs to the
// postgres user of the Debian package (runuser); otherwise to the user running the tests.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export interface PostgresServer {
  url: string;
  stop(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin); scripts/install-deps.sh installs the postgresql package');
  return path.join(root, versions[0] as string, 'bin');
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-pg-'));
  const isRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const command = isRoot ? ['runuser', '-u', 'postgres', '--', path.join(bin, tool), ...args] : [path.join(bin, tool), ...args];
    execFileSync(command[0] as string, command.slice(1), { stdio: 'pipe' });
  };
  if (isRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()));
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'bridge', '--no-sync']);
  const port = await freePort();
  // -F: no fsync; the tests kill services, not the database machine.
  run('pg_ctl', ['-D', data, '-o', `-h 127.0.0.1 -p ${port} -k ${dir} -F -c max_connections=200`, '-l', path.join(dir, 'log'), '-w', 'start']);
  return {
    url: `postgres://bridge@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A fresh database on the server, so each test starts empty. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}
