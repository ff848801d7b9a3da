import { BridgeError } from '../../src/errors';
import { silentLogger } from '../../src/log';
import { RegistryResponseError, RegistryAuthError } from '../../src/registry';
import { parseRetryAfter, RETRY_DEFAULTS, withRetry } from '../../src/http';

/** A clock that only moves when the code under test sleeps. */
function fakeClock() {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const transient = (retryAfterMs?: number) => {
  const status = retryAfterMs === undefined ? 503 : 429;
  return new RegistryResponseError({ message: `HTTP ${status}`, fix: 'wait', retryable: true, retryAfterMs, status });
};

function failingTimes(failures: BridgeError[]) {
  let calls = 0;
  return {
    calls: () => calls,
    attempt: async () => {
      calls += 1;
      const failure = failures[calls - 1];
      if (failure) throw failure;
      return 'ok';
    },
  };
}

describe('withRetry', () => {
  const context = (clock: ReturnType<typeof fakeClock>, deadlineInMs = 60_000) => ({
    options: RETRY_DEFAULTS,
    sleep: clock.sleep,
    now: clock.now,
    log: silentLogger,
    deadlineMs: clock.now() + deadlineInMs,
  });

  it('retries transient failures with growing, jittered delays up to the attempt limit', async () => {
    const clock = fakeClock();
    const op = failingTimes([transient(), transient(), transient()]);
    await expect(withRetry('x', op.attempt, context(clock))).resolves.toBe('ok');
    expect(op.calls()).toBe(4);
    expect(clock.slept).toHaveLength(3);
    clock.slept.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(Math.min(RETRY_DEFAULTS.maxDelayMs, RETRY_DEFAULTS.baseDelayMs * 2 ** i));
    });
  });

  it('gives up after maxAttempts with the last error', async () => {
    const clock = fakeClock();
    const op = failingTimes([transient(), transient(), transient(), transient(), transient()]);
    await expect(withRetry('x', op.attempt, context(clock))).rejects.toThrow('HTTP 503');
    expect(op.calls()).toBe(RETRY_DEFAULTS.maxAttempts);
  });

  it('waits exactly what Retry-After asks', async () => {
    const clock = fakeClock();
    const op = failingTimes([transient(2000)]);
    await withRetry('x', op.attempt, context(clock));
    expect(clock.slept).toEqual([2000]);
  });

  it('fails at once when Retry-After is longer than it is willing to wait', async () => {
    const clock = fakeClock();
    const op = failingTimes([transient(RETRY_DEFAULTS.maxRetryAfterMs + 1)]);
    await expect(withRetry('x', op.attempt, context(clock))).rejects.toThrow('HTTP 429');
    expect(op.calls()).toBe(1);
  });

  it('does not start a retry that would end after the deadline', async () => {
    const clock = fakeClock();
    const op = failingTimes([transient(5000)]);
    await expect(withRetry('x', op.attempt, context(clock, 4000))).rejects.toThrow('HTTP 429');
    expect(clock.slept).toEqual([]);
  });

  it('never retries what cannot get better', async () => {
    const clock = fakeClock();
    const op = failingTimes([new RegistryAuthError({ message: 'denied', fix: 'x' })]);
    await expect(withRetry('x', op.attempt, context(clock))).rejects.toThrow('denied');
    expect(op.calls()).toBe(1);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-02T08:00:00Z');
  it.each([
    ['delta-seconds', '7', 7000],
    ['an HTTP-date', 'Mon, 02 Mar 2026 08:00:30 GMT', 30_000],
    ['an HTTP-date in the past', 'Mon, 02 Mar 2026 07:00:00 GMT', 0],
  ])('reads %s', (_name, header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });

  it.each([null, '', 'soon', '-5'])('ignores %p', (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });
});
