// The pure rules of the status registry (spec §4, §7): verdict, waves, normalisation, the unlisted-repo rule and
// the action's state machine.

import { parseRegistration, parseReport } from '../../src/status-registry/bodies';
import {
  applyReport,
  finishAction,
  normaliseStatus,
  PackageRecord,
  reclaimAction,
  registerWave,
  RetryPolicy,
  StatusRegistryError,
  ticketOf,
  verdictOf,
} from '../../src/status-registry/record';

const KEY = { package: '@acme/ui', version: '1.2.3' };
const WEBHOOK = { kind: 'webhook' as const, url: 'http://127.0.0.1:1/hook' };
const POLICY: RetryPolicy = { maxAttempts: 3, backoffMs: 100, maxBackoffMs: 150, staleClaimMs: 1000 };

function registered(repositories: string[], extra: Partial<PackageRecord> = {}): PackageRecord {
  const record = registerWave(undefined, KEY, { repositories, handlers: { success: WEBHOOK, failure: WEBHOOK }, failFast: true, allowUnlisted: false }, 1000);
  return { ...record, ...extra };
}

function report(record: PackageRecord | undefined, repo: string, status: string, nowMs = 2000, wave?: number) {
  return applyReport(record, KEY, { repo, status, number: 7, wave }, nowMs);
}

function refusal(work: () => unknown): { status: number; message: string } {
  try {
    work();
  } catch (err) {
    if (err instanceof StatusRegistryError) return { status: err.status, message: err.message };
    throw err;
  }
  throw new Error('no refusal');
}

describe('normaliseStatus', () => {
  it.each([
    ['success', 'success'],
    ['passing', 'success'],
    ['failure', 'failure'],
    ['failing', 'failure'],
    ['error', 'failure'],
    ['killed', 'failure'],
    [' Success ', 'success'],
    ['running', undefined],
    ['pending', undefined],
    ['__proto__', undefined],
    ['', undefined],
  ])('maps %j to %j', (text, expected) => {
    expect(normaliseStatus(text)).toBe(expected);
  });
});

describe('verdictOf', () => {
  const build = (repo: string, status: 'success' | 'failure') => ({ repo, status, reportedAs: status, number: 1, reportedAtMs: 0 });
  it.each([
    ['nothing reported', true, [], 'waiting'],
    ['one of two succeeded', true, [build('a', 'success')], 'waiting'],
    ['all succeeded', true, [build('a', 'success'), build('b', 'success')], 'success'],
    ['one failed while the other waits (failFast)', true, [build('a', 'failure')], 'failure'],
    ['one failed while the other waits (no failFast)', false, [build('a', 'failure')], 'waiting'],
    ['one failed, all reported (no failFast)', false, [build('a', 'failure'), build('b', 'success')], 'failure'],
    ['an unlisted repo failed (allowUnlisted)', true, [build('x', 'failure')], 'failure'],
    ['an unlisted repo succeeded, listed ones wait', true, [build('x', 'success')], 'waiting'],
  ])('%s → %s', (_name, failFast, builds, expected) => {
    expect(verdictOf({ repositories: ['a', 'b'], builds, failFast: failFast as boolean })).toBe(expected);
  });
});

describe('applyReport', () => {
  it('refuses a report before the registration with 404 (spec §7.2)', () => {
    expect(refusal(() => report(undefined, 'a', 'success'))).toEqual({ status: 404, message: expect.stringContaining('not registered') });
  });

  it('refuses an unknown status with 422 and records nothing (spec §7.9)', () => {
    expect(refusal(() => report(registered(['a']), 'a', 'running'))).toEqual({ status: 422, message: expect.stringContaining('"running"') });
  });

  it('refuses a repo that is not listed with 409 (pitfall 1)', () => {
    expect(refusal(() => report(registered(['max-vasin/sub1']), 'maxvasin/sub1', 'success'))).toEqual({ status: 409, message: expect.stringContaining('max-vasin/sub1') });
  });

  it('counts an unlisted repo when allowUnlisted', () => {
    const outcome = report(registered(['a'], { allowUnlisted: true }), 'x', 'failure');
    expect([outcome.verdict, outcome.isClaimed]).toEqual(['failure', true]);
  });

  it('claims the action once when the last repo succeeds (spec §7.4)', () => {
    const first = report(registered(['a', 'b']), 'a', 'success');
    expect([first.verdict, first.isClaimed, first.record.action.state]).toEqual(['waiting', false, 'none']);
    const second = report(first.record, 'b', 'passing');
    expect([second.verdict, second.isClaimed, second.record.action]).toEqual(['success', true, expect.objectContaining({ state: 'claimed', verdict: 'success', idempotencyKey: '@acme/ui@1.2.3#1:success' })]);
    const again = report(second.record, 'b', 'success');
    expect(again.isClaimed).toBe(false);
  });

  it('fires the failure handler on the first failure; a later success changes nothing (spec §7.3)', () => {
    const failed = report(registered(['a', 'b']), 'a', 'failure');
    expect([failed.verdict, failed.isClaimed, failed.record.action.verdict]).toEqual(['failure', true, 'failure']);
    const rerun = report(report(failed.record, 'a', 'success').record, 'b', 'success');
    expect([rerun.verdict, rerun.isClaimed, rerun.record.action.verdict]).toEqual(['success', false, 'failure']);
  });

  it('waits for every repo before firing failure when failFast is false', () => {
    const failed = report(registered(['a', 'b'], { failFast: false }), 'a', 'failure');
    expect([failed.verdict, failed.isClaimed]).toEqual(['waiting', false]);
    const last = report(failed.record, 'b', 'success');
    expect([last.verdict, last.isClaimed, last.record.action.verdict]).toEqual(['failure', true, 'failure']);
  });

  it('overwrites a re-run repo\'s result (spec §7.5)', () => {
    const first = report(registered(['a', 'b']), 'a', 'success', 2000);
    const rerun = applyReport(first.record, KEY, { repo: 'a', status: 'failing', number: 8 }, 3000);
    expect(rerun.record.builds).toEqual([{ repo: 'a', status: 'failure', reportedAs: 'failing', number: 8, reportedAtMs: 3000 }]);
  });

  it('keeps a repo named __proto__ an ordinary name', () => {
    const outcome = report(registered(['__proto__']), '__proto__', 'success');
    expect([outcome.verdict, outcome.record.builds.map((b) => b.repo)]).toEqual(['success', ['__proto__']]);
  });

  it('marks the action done without a call when the verdict has no handler', () => {
    const record = { ...registered(['a']), handlers: {} };
    const outcome = report(record, 'a', 'success');
    expect([outcome.isClaimed, outcome.record.action.state, outcome.record.action.hasNoHandler]).toEqual([false, 'done', true]);
  });
});

describe('waves', () => {
  it('starts the next wave on re-registration, with no builds and no action', () => {
    const done = report(registered(['a']), 'a', 'success').record;
    const next = registerWave(done, KEY, { repositories: ['a'], handlers: {}, failFast: true, allowUnlisted: false }, 5000);
    expect([next.wave, next.builds, next.action]).toEqual([2, [], { state: 'none', attempts: 0 }]);
  });

  it('refuses a late report for an old wave with 409, and does not count it', () => {
    const wave2 = registerWave(registered(['a']), KEY, { repositories: ['a'], handlers: {}, failFast: true, allowUnlisted: false }, 5000);
    expect(refusal(() => report(wave2, 'a', 'success', 6000, 1))).toEqual({ status: 409, message: expect.stringContaining('wave 1') });
    expect(report(wave2, 'a', 'success', 6000, 2).verdict).toBe('success');
  });
});

describe('the action state machine', () => {
  const claimed = () => report(registered(['a']), 'a', 'success', 2000).record;

  it('goes claimed → done on success', () => {
    const record = claimed();
    expect(finishAction(record, ticketOf(record), {}, 2500, POLICY)?.action).toEqual(expect.objectContaining({ state: 'done', attempts: 1, finishedAtMs: 2500 }));
  });

  it('goes claimed → failed with a backoff, then stops retrying after maxAttempts', () => {
    let record = claimed();
    const seen: Array<[string, number | undefined]> = [];
    for (let n = 0; n < 3; n += 1) {
      record = finishAction(record, ticketOf(record), { error: 'webhook answered 500' }, 3000 + n * 1000, POLICY)!;
      seen.push([record.action.state, record.action.nextAttemptAtMs]);
      record = reclaimAction(record, 3000 + n * 1000 + 500, POLICY, 'due') ?? record;
    }
    expect(seen).toEqual([
      ['failed', 3100],
      ['failed', 4150],
      ['failed', undefined],
    ]);
    expect(record.action.state).toBe('failed');
    expect(reclaimAction(record, 1e9, POLICY, 'due')).toBeUndefined();
  });

  it('grants a fresh round of attempts on a manual retry', () => {
    const record = claimed();
    const failed = finishAction(record, ticketOf(record), { error: 'no answer' }, 3000, { ...POLICY, maxAttempts: 1 })!;
    const retaken = reclaimAction(failed, 4000, POLICY, 'manual');
    expect(retaken?.action).toEqual(expect.objectContaining({ state: 'claimed', attempts: 0, claimedAtMs: 4000, lastError: 'no answer' }));
  });

  it('refuses a manual retry of an action that did not fail', () => {
    expect(reclaimAction(claimed(), 3000, POLICY, 'manual')).toBeUndefined();
  });

  it('retakes a claim older than staleClaimMs (its process died), and the old call can no longer finish it', () => {
    const record = claimed();
    expect(reclaimAction(record, 2999, POLICY, 'due')).toBeUndefined();
    const retaken = reclaimAction(record, 3000, POLICY, 'due')!;
    expect(retaken.action.state).toBe('claimed');
    expect(finishAction(retaken, ticketOf(record), {}, 3100, POLICY)).toBeUndefined();
    expect(finishAction(retaken, ticketOf(retaken), {}, 3100, POLICY)?.action.state).toBe('done');
  });

  it('ignores a call that ends after its wave was replaced', () => {
    const record = claimed();
    const wave2 = registerWave(record, KEY, { repositories: ['a'], handlers: {}, failFast: true, allowUnlisted: false }, 2100);
    expect(finishAction(wave2, ticketOf(record), {}, 2200, POLICY)).toBeUndefined();
  });
});

describe('request bodies', () => {
  it('reads a registration with the defaults of the original', () => {
    expect(parseRegistration('{"repositories": ["a/b"]}')).toEqual({ repositories: ['a/b'], handlers: {}, failFast: true, allowUnlisted: false });
  });

  it.each([
    ['no repositories (spec §7.1)', '{"repositories": []}', '/repositories must NOT have fewer than 1 items'],
    ['not JSON', '{', 'not JSON'],
    ['a handler of an unknown kind', '{"repositories": ["a"], "handlers": {"success": {"kind": "ftp"}}}', '/handlers/success'],
    ['a drone handler without a build', '{"repositories": ["a"], "handlers": {"success": {"kind": "drone", "server": "http://d", "repository": "o/n", "environment": "prod"}}}', "must have required property 'build'"],
    ['a token inside the record', '{"repositories": ["a"], "handlers": {"success": {"kind": "gocd", "server": "http://g", "pipeline": "p", "token": "s3cret"}}}', 'must NOT have additional properties'],
    ['a token env var outside STATUS_REGISTRY_*', '{"repositories": ["a"], "handlers": {"failure": {"kind": "gocd", "server": "http://g", "pipeline": "p", "tokenEnv": "GOCD_REGISTRY_BRIDGE_TOKEN"}}}', '/handlers/failure/tokenEnv must match pattern'],
  ])('refuses %s with 400', (_name, body, problem) => {
    expect(refusal(() => parseRegistration(body))).toEqual({ status: 400, message: expect.stringContaining(problem) });
  });

  it('refuses a report with a build number below 1', () => {
    expect(refusal(() => parseReport('{"repo": "a", "status": "success", "number": 0}'))).toEqual({ status: 400, message: expect.stringContaining('/number must be >= 1') });
  });
});
