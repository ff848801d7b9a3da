// kill -9 of the real serve process in the middle of bursts of reports, 20 rounds, then of two serve processes on
// one PostgreSQL: after restarts no acknowledged report is lost, every wave's action is done (none left claimed),
// and each action reached the receiver under one Idempotency-Key. A kill between the call and the commit that
// records it makes the call again with the same key (the receiver drops it): at most one repeat per kill.

import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActionReceiver, startActionReceiver } from '../support/action-receiver';
import { createDatabase, PostgresServer, startPostgres } from '../support/postgres-server';

const BINARY = path.resolve(__dirname, '../../dist/gocd-registry-bridge.js');
const API_TOKEN = 'crash-test-token-0123456789abcdef';
const REPOS = ['o/a', 'o/b', 'o/c', 'o/d', 'o/e'];

interface Serve {
  child: ChildProcess;
  port: number;
}

let dir: string;
let receiver: ActionReceiver;
const running = new Set<ChildProcess>();

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'status-crash-'));
  writeFileSync(path.join(dir, 'tokens'), `${API_TOKEN}\n`, { mode: 0o600 });
  receiver = await startActionReceiver();
  receiver.answer.delayMs = 5; // a window in which a kill lands between the call and its commit
});

afterEach(async () => {
  for (const child of running) child.kill('SIGKILL');
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

function startServe(storeArgs: string[]): Promise<Serve> {
  const args = [BINARY, 'serve', '--listen', '127.0.0.1:0', '--status-registry-token-file', path.join(dir, 'tokens'), '--status-registry-call-timeout', '1', ...storeArgs];
  // NODE_PATH: the bundle leaves the native SQLite driver out (README).
  const child = spawn('node', args, { env: { PATH: process.env.PATH, GOCD_REGISTRY_BRIDGE_TOKEN: 'sidecar-token-0123456789', GOCD_REGISTRY_BRIDGE_LOG_LEVEL: 'warn', NODE_PATH: path.resolve(__dirname, '../../node_modules') }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const ready = /GOCD_REGISTRY_BRIDGE_READY port=(\d+) /.exec(stdout);
      if (ready) resolve({ child, port: Number(ready[1]) });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

function kill9(serve: Serve): Promise<void> {
  return new Promise((resolve) => {
    serve.child.once('exit', () => resolve());
    serve.child.kill('SIGKILL');
  });
}

/** The answer's status, or undefined when the process died under the request. */
async function call(serve: Serve, method: string, pathname: string, body?: object): Promise<{ status: number; json: any } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${serve.port}${pathname}`, { method, headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
    return { status: response.status, json: await response.json() };
  } catch {
    return undefined;
  }
}

const versionPath = (version: string) => `/status-registry/packages/${encodeURIComponent('@acme/crash')}/${version}`;
const registration = () => ({ repositories: REPOS, handlers: { success: { kind: 'webhook', url: `${receiver.url}/hook` } } });

async function waitAllDone(serve: Serve, versions: string[]): Promise<any[]> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const views = await Promise.all(versions.map(async (v) => (await call(serve, 'GET', versionPath(v)))?.json));
    if (views.every((view) => view?.action?.state === 'done') || Date.now() > deadline) return views;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function expectExactlyOnce(views: any[], versions: string[], kills: number): void {
  expect(views.map((view) => [view.builds.length, view.action.state])).toEqual(versions.map(() => [REPOS.length, 'done']));
  const keys = receiver.calls.map((c) => c.headers['idempotency-key']);
  expect(new Set(keys)).toEqual(new Set(versions.map((v) => `@acme/crash@${v}#1:success`)));
  expect(keys.length - versions.length).toBeLessThanOrEqual(kills);
}

it('loses no report and fires no action twice across 20 rounds of kill -9 in a burst of reports (SQLite)', async () => {
  const storeArgs = ['--data-dir', path.join(dir, 'data')];
  let serve = await startServe(storeArgs);
  const versions: string[] = [];
  let unanswered = 0;
  for (let round = 0; round < 20; round += 1) {
    const version = `1.0.${round}`;
    versions.push(version);
    expect((await call(serve, 'PUT', versionPath(version), registration()))?.status).toBe(201);
    const burst = REPOS.map((repo) => call(serve, 'POST', `${versionPath(version)}/builds`, { repo, status: 'success', number: round + 1 }));
    // Kill at a different point of each burst: before, among and after the reports and the action call.
    await new Promise((resolve) => setTimeout(resolve, (round * 7) % 25));
    await kill9(serve);
    const answers = await Promise.all(burst);
    unanswered += answers.filter((answer) => answer === undefined).length;
    serve = await startServe(storeArgs);
    const view = (await call(serve, 'GET', versionPath(version)))!.json;
    const recorded = new Set(view.builds.map((b: { repo: string }) => b.repo));
    // An acknowledged report survived the kill.
    REPOS.forEach((repo, i) => answers[i]?.status === 200 && expect(recorded.has(repo)).toBe(true));
    // The pipelines retry what got no answer.
    for (const [i, repo] of REPOS.entries()) {
      if (answers[i]?.status !== 200) expect((await call(serve, 'POST', `${versionPath(version)}/builds`, { repo, status: 'success', number: round + 1 }))?.status).toBe(200);
    }
  }
  expectExactlyOnce(await waitAllDone(serve, versions), versions, 20);
  // The kills did land inside bursts, not only between them.
  expect(unanswered).toBeGreaterThan(0);
});

describe('two serve processes on one PostgreSQL', () => {
  let postgres: PostgresServer;
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(() => postgres?.stop());

  it('fire each action exactly once, also when one of them is killed mid-burst', async () => {
    const url = await createDatabase(postgres, 'two_nodes');
    const nodes = [await startServe(['--status-registry-db', url]), await startServe(['--status-registry-db', url])];
    const versions = Array.from({ length: 10 }, (_, i) => `2.0.${i}`);
    for (const version of versions) expect((await call(nodes[0]!, 'PUT', versionPath(version), registration()))?.status).toBe(201);
    const reports = versions.flatMap((version) => REPOS.map((repo, i) => ({ version, repo, node: i % 2 })));
    const answers = reports.map((r) => call(nodes[r.node]!, 'POST', `${versionPath(r.version)}/builds`, { repo: r.repo, status: 'success', number: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await kill9(nodes[1]!);
    const settled = await Promise.all(answers);
    for (const [i, r] of reports.entries()) {
      if (settled[i]?.status !== 200) expect((await call(nodes[0]!, 'POST', `${versionPath(r.version)}/builds`, { repo: r.repo, status: 'success', number: 1 }))?.status).toBe(200);
    }
    expectExactlyOnce(await waitAllDone(nodes[0]!, versions), versions, 1);
  });
});
