// P7 GitOps write-back (issue 13): one update (shallow clone, edit, commit, push) of a repository with 1,000 files
// and 500 commits over loopback smart HTTP (git http-backend behind the tests' Basic-auth server), side by side with
// the same steps as a shell script of plain git commands, the floor any tool on git pays. Runs alternate ours and
// the floor so a neighbour's load falls on both. Then 10 concurrent updates of one branch, each writing its own
// file, with the production retry settings: all must land.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PUSH_RETRY, updateRepository, UpdateRequest } from '../src/gitops';
import { silentLogger } from '../src/log';
import { git, startGitServer, TEST_GIT_ENV } from '../test/support/git-server';
import { log, round, Row, spread } from './support';

const FILES = 1000;
const COMMITS = 500;
const RUNS = 7;
const CONCURRENT = 10;
const CONCURRENT_RUNS = 3;
const TOKEN = 'p7-git-token-0123456789abcdef';

// The floor: what a careful shell step does, token handed over the same way (askpass from the environment).
const FLOOR_SCRIPT = `set -e
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#!/bin/sh\\necho "$P7_PASS"\\n' > "$dir/askpass"; chmod 700 "$dir/askpass"
export GIT_ASKPASS="$dir/askpass" GIT_TERMINAL_PROMPT=0
git clone --quiet --depth 1 --single-branch --no-tags --branch main "$1" "$dir/clone"
cd "$dir/clone"
printf '%s\\n' "$2" > deploy/tag
git add -- deploy/tag
git -c user.name=Bot -c user.email=bot@example.com commit --quiet -m "Update deploy/tag to $2"
git push --quiet origin HEAD:refs/heads/main
`;

/** Asynchronous: the git server runs in this process, so a synchronous child would block it and never finish. */
function runFloor(repo: string, tag: string, home: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', FLOOR_SCRIPT, 'p7-floor', repo, tag], { env: { ...TEST_GIT_ENV, HOME: home, P7_PASS: TOKEN }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', resolve);
  });
}

/** 1,000 files over 500 commits, written with fast-import in one process (seconds, not minutes). */
function seedRepository(root: string): string {
  const bare = path.join(root, 'infra.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch', 'main', bare);
  const lines: string[] = [];
  const perCommit = FILES / COMMITS;
  for (let c = 0; c < COMMITS; c += 1) {
    const message = `commit ${c}`;
    lines.push('commit refs/heads/main', `committer Seed <seed@example.com> ${1_700_000_000 + c * 60} +0000`, `data ${Buffer.byteLength(message)}`, message);
    for (let f = 0; f < perCommit; f += 1) {
      const n = c * perCommit + f;
      const content = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-${n}\ndata:\n  revision: "${c}"\n${'  filler: padding padding padding padding\n'.repeat(20)}`;
      lines.push(`M 100644 inline apps/app-${Math.floor(n / 10)}/file-${n}.yaml`, `data ${Buffer.byteLength(content)}`, content);
    }
    if (c === 0) lines.push('M 100644 inline deploy/tag', 'data 6', '0.0.0');
    lines.push('');
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: bare, env: TEST_GIT_ENV, input: `${lines.join('\n')}\n` });
  return bare;
}

export async function runP7(): Promise<{ rows: Row[]; details: unknown }> {
  const root = mkdtempSync(path.join(tmpdir(), 'bridge-p7-'));
  const server = await startGitServer({ token: TOKEN, root });
  try {
    const bare = seedRepository(root);
    const repo = `${server.url}infra.git`;
    log(`p7: ${git(bare, 'rev-list', '--count', 'main').trim()} commits, ${git(bare, 'ls-tree', '-r', '--name-only', 'main').trim().split('\n').length} files at ${repo}`);
    const deps = { log: silentLogger, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)), now: Date.now, retry: PUSH_RETRY };
    const request = (file: string, tag: string): UpdateRequest => ({
      repo,
      branch: 'main',
      file,
      edit: { mode: 'whole-file', change: { tag } },
      author: { name: 'Bot', email: 'bot@example.com' },
      message: `Update ${file} to ${tag}`,
      credentials: { username: 'x-access-token', token: TOKEN },
      allowInsecureHttp: true,
    });

    const ours: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < RUNS; r += 1) {
      let started = performance.now();
      const result = await updateRepository(request('deploy/tag', `1.0.${r}`), deps);
      ours.push(round(performance.now() - started, 0));
      if (result.result !== 'pushed') throw new Error(`p7: run ${r} did not push (${result.result})`);
      started = performance.now();
      const status = await runFloor(repo, `2.0.${r}`, root);
      floor.push(round(performance.now() - started, 0));
      if (status !== 0) throw new Error(`p7: the floor script exited ${status}`);
      log(`p7: run ${r + 1}: ours ${ours.at(-1)} ms, plain git ${floor.at(-1)} ms`);
    }

    const concurrent: { totalMs: number; landed: number; attempts: number[] }[] = [];
    for (let r = 0; r < CONCURRENT_RUNS; r += 1) {
      const before = Number(git(bare, 'rev-list', '--count', 'main').trim());
      const started = performance.now();
      const results = await Promise.allSettled(Array.from({ length: CONCURRENT }, (_, i) => updateRepository(request(`concurrent/${i}`, `3.${r}.${i}`), deps)));
      const totalMs = round(performance.now() - started, 0);
      const landed = Number(git(bare, 'rev-list', '--count', 'main').trim()) - before;
      const attempts = results.map((settled) => (settled.status === 'fulfilled' ? settled.value.attempts : -1));
      concurrent.push({ totalMs, landed, attempts });
      log(`p7: ${CONCURRENT} concurrent, run ${r + 1}: ${landed} landed in ${totalMs} ms, attempts ${attempts.join(' ')}`);
    }
    if (git(bare, 'rev-list', '--merges', 'main').trim() !== '') throw new Error('p7: a merge commit on main');

    const floorMedian = spread(floor).median;
    const allAttempts = concurrent.flatMap((run) => run.attempts);
    const rows: Row[] = [
      {
        metric: `one update of a ${FILES}-file, ${COMMITS}-commit repository over loopback smart HTTP (clone, edit, commit, push)`,
        target: '—',
        unit: 'ms',
        value: spread(ours),
        pass: null,
        note: `floor, the same steps as a shell script of plain git: median ${floorMedian} ms (${spread(floor).min} – ${spread(floor).max})`,
      },
      {
        metric: `${CONCURRENT} concurrent updates of one branch, each its own file: commits landed`,
        target: `${CONCURRENT} of ${CONCURRENT}`,
        unit: 'commits',
        value: spread(concurrent.map((run) => run.landed)),
        pass: concurrent.every((run) => run.landed === CONCURRENT),
        note: `history linear (no merges); pushes per update: median ${spread(allAttempts).median}, most ${Math.max(...allAttempts)} of ${PUSH_RETRY.maxAttempts}`,
      },
      {
        metric: `${CONCURRENT} concurrent updates of one branch: total time`,
        target: '—',
        unit: 'ms',
        value: spread(concurrent.map((run) => run.totalMs)),
        pass: null,
        note: `the retry backoff (from ${PUSH_RETRY.baseDelayMs} ms, full jitter) is most of it`,
      },
    ];
    return { rows, details: { ours, floor, concurrent } };
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
