// Attack: a user with package-configuration rights saves a tag filter that backtracks catastrophically but
// slips past the save-time probe. Before issue 9 each poll then blocked the event loop for the whole 1 s budget,
// every minute (10 such packages delayed a healthy poll to 10.1 s). Patterns now run on RE2, in linear time;
// those RE2 cannot express keep the time-bounded JavaScript engine, and one that ran out of time is not run again.

import { InvalidFilterError, TagPattern } from '../../src/selection';
import { countBoundedRuns } from '../support/bounded-runs';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';
import { configMap, sidecarApp } from '../support/sidecar-app';
import { thrown } from '../support/thrown';

// A budget no backtracking run over these tags could meet: where it is never used, nothing backtracks.
const TINY_BUDGET = { evaluationMs: 1, probeMs: 1 };

afterEach(() => jest.restoreAllMocks());

describe('nested-quantifier filters', () => {
  it.each<[string, string, string, boolean]>([
    ['^(x+x+)+y$', "5,000 x's", 'x'.repeat(5000), false],
    ['^(x+x+)+y$', "5,000 x's and y", 'x'.repeat(5000) + 'y', true],
    ['^(x+x+)+y$', "5,000 x's, y and x", 'x'.repeat(5000) + 'yx', false],
    ['^(x|x)*y$', "5,000 x's", 'x'.repeat(5000), false],
    ['^(x|x)*y$', "5,000 x's and y", 'x'.repeat(5000) + 'y', true],
    ['(a+)+$', "30 a's and !", 'a'.repeat(30) + '!', false],
    ['(a+)+$', "! and 30 a's", '!' + 'a'.repeat(30), true],
    ['(a|aa)*b', "30 a's and !", 'a'.repeat(30) + '!', false],
    ['(a|aa)*b', "30 a's and b", 'a'.repeat(30) + 'b', true],
    ['(\\d+)*x', "5,000 1's and !", '1'.repeat(5000) + '!', false],
    ['(\\d+)*x', "5,000 1's and x", '1'.repeat(5000) + 'x', true],
  ])('%s over %s answers correctly, on the linear-time engine, without a time-bounded run', (source, _description, tag, expected) => {
    const boundedRuns = countBoundedRuns();
    const pattern = TagPattern.compile(source, 'the tag filter', { budget: TINY_BUDGET });
    expect(pattern.engine).toBe('linear-time');
    expect(pattern.test([tag, '1.0'])).toEqual([expected, false]);
    expect(boundedRuns()).toBe(0);
  });

  it('captures a sort key through a nested-quantifier pattern without a time-bounded run', () => {
    const boundedRuns = countBoundedRuns();
    const pattern = TagPattern.compile('^(?<key>(x+x+)+)y', 'the sort key pattern', { keyGroup: true, budget: TINY_BUDGET });
    expect(pattern.captureKeys(['x'.repeat(5000), 'x'.repeat(5000) + 'y-1'])).toEqual([undefined, 'x'.repeat(5000)]);
    expect(boundedRuns()).toBe(0);
  });
});

describe('a filter only the backtracking engine can run (a lookahead)', () => {
  // Passes the save-time probes (they hold no "b"); explodes on the tag that poll time brings.
  const EXPLODING_TAG = 'b'.repeat(40) + '-';

  it('times out once, then refuses the pattern without running it again, naming the lookahead', () => {
    const boundedRuns = countBoundedRuns();
    const budget = { evaluationMs: 50, probeMs: 100 };
    const cpuTimeMs = () => performance.now(); // the CPU was ours all along, however loaded the test machine is
    const pattern = TagPattern.compile('^(?!x)(b+)+$', 'the tag filter', { budget, cpuTimeMs });
    expect(pattern.engine).toBe('backtracking');

    const first = thrown<InvalidFilterError>(() => pattern.test(['1.0', EXPLODING_TAG]));
    expect(first).toBeInstanceOf(InvalidFilterError);
    expect(first.message).toBe(
      'the tag filter "^(?!x)(b+)+$" takes longer than 50 ms over 2 tags; it is not run again until the sidecar restarts or the pattern changes',
    );
    expect(first.fix).toMatch(/^the pattern uses a negative lookahead \(\?!…\), which only JavaScript's backtracking engine runs/);

    const runsBefore = boundedRuns();
    const second = thrown<InvalidFilterError>(() => pattern.test(['bbb']));
    expect(second.message).toBe(
      'the tag filter "^(?!x)(b+)+$" took longer than 50 ms over 2 tags on an earlier poll; it is not run again until the sidecar restarts or the pattern changes',
    );
    expect(second.fix).toBe(first.fix);
    // Another package with the same filter: compiling it does not even probe.
    expect(() => TagPattern.compile('^(?!x)(b+)+$', 'the exclusion filter', { budget, cpuTimeMs })).toThrow(/took longer than 50 ms over 2 tags on an earlier poll/);
    expect(boundedRuns()).toBe(runsBefore);
  });
});

describe('through latest-revision on a real registry', () => {
  let registry: StartedRegistry;
  const { call } = sidecarApp();
  const POISON = 'b'.repeat(40) + '-'; // a valid tag on which (b+)+$ backtracks for minutes

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'team/app', ['bbbb', POISON], { seed: 'app' });
  });
  afterAll(() => registry.stop());

  const poll = (filter: string) =>
    call('latest-revision', {
      'repository-configuration': configMap({ DOCKER_REGISTRY_URL: registry.url, DOCKER_REGISTRY_NAME: registry.host }),
      'package-configuration': configMap({ DOCKER_IMAGE: 'team/app', DOCKER_TAG_FILTER: filter, TAG_ORDER: 'alphabetical' }),
    });

  it('answers the right tag for a nested-quantifier filter, without a time-bounded run', async () => {
    const boundedRuns = countBoundedRuns();
    const response = await poll('^(b+)+$');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).revision).toBe('bbbb');
    expect(boundedRuns()).toBe(0);
  });

  it('fails the poll of a backtracking-only filter that ran out of time with the clear message, and does not run it again', async () => {
    const boundedRuns = countBoundedRuns();
    const filter = '^(?=b)(b+)+$';
    const first = await poll(filter);
    expect(first.status).toBe(422);
    expect(first.text).toMatch(
      /^the tag filter "\^\(\?=b\)\(b\+\)\+\$" takes longer than 1000 ms over 2 tags; it is not run again until the sidecar restarts or the pattern changes\. Fix: the pattern uses a lookahead \(\?=…\)/,
    );

    const runsBefore = boundedRuns();
    const second = await poll(filter);
    expect(second.status).toBe(422);
    expect(second.text).toMatch(
      /^the tag filter "\^\(\?=b\)\(b\+\)\+\$" took longer than 1000 ms over 2 tags on an earlier poll; it is not run again until the sidecar restarts or the pattern changes\. Fix: the pattern uses a lookahead/,
    );
    expect(boundedRuns()).toBe(runsBefore);
  });
});
