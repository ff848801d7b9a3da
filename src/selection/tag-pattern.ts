// User regular expressions (DOCKER_TAG_FILTER, TAG_EXCLUDE, TAG_SORT_KEY), written in JavaScript syntax. A
// backtracking engine can run for minutes on one tag with a pattern like (x+x+)+y, and no probe at save time can
// find every such pattern, so patterns run on RE2 (re2js: linear in the tag's length, whatever the pattern).
// Lookaround and backreferences, which RE2 cannot express, keep JavaScript's engine: V8 can only interrupt a
// script, so each evaluation over a tag list runs as one vm script with a timeout, and a pattern that ran out of
// time is not run again.

import vm from 'node:vm';
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';
import { BridgeError } from '../errors';
import { translateToRe2 } from './re2-syntax';

export class InvalidFilterError extends BridgeError {
  constructor(message: string, fix: string, cause?: unknown) {
    super('INVALID_FILTER', { message, fix, cause });
  }
}

export interface TagPatternBudget {
  /** For one evaluation over a whole tag list at poll time, on the backtracking engine. */
  evaluationMs: number; // 1000: 10,000 tags take ~5 ms with a sane pattern
  /** For the probe run at validate time, on the backtracking engine. */
  probeMs: number; // 100: the probes are a handful of short strings
}

export const TAG_PATTERN_BUDGET: TagPatternBudget = { evaluationMs: 1000, probeMs: 100 };

/** linear-time: RE2 semantics, no budget needed. backtracking: JavaScript's own engine, time-bounded. */
export type PatternEngine = 'linear-time' | 'backtracking';

export interface TagPatternOptions {
  /** The pattern must have a named group (?<key>…) whose capture is a sort key. */
  keyGroup?: boolean;
  budget?: TagPatternBudget;
  /** CPU time the process has used, in ms: tells a pattern that ran out of time from a starved process. */
  cpuTimeMs?: () => number;
}

// Strings that make backtracking patterns explode, so validate-* rejects them before a poll ever runs them.
const PROBES = ['a'.repeat(32) + '!', '1'.repeat(32) + '!', '1.'.repeat(16) + '!', 'v1.2.3-' + 'rc'.repeat(16) + '!', '-'.repeat(32) + '!'];

// Whether a pattern matches a tag never changes, and GoCD asks about the same tags every minute. A timed vm run
// starts a watchdog thread before any matching, and re2js compiles the pattern first (below): a large share of the
// sidecar's CPU in a fleet (BENCHMARKS.md, P3). So answers are remembered, by pattern and tag;
// only tags not seen before are evaluated. 20,000 answers (about 2 MB) hold two 10,000-tag repositories' worth.
const rememberedMatches = new LRUCache<string, boolean>({ max: 20_000 });

interface Timeout {
  timeoutMs: number;
  /** "5,000 tags", "5 test tags" */
  over: string;
  /** When it ran out of time, for the message of a later refusal. */
  when: string;
}
// A pattern that ran out of time once will again (GoCD polls the same tags every minute), blocking every other
// poll for the whole budget each time. So it is refused without running, by source, until the sidecar restarts.
const timedOut = new LRUCache<string, Timeout>({ max: 1000 });

type Question = 'matches' | 'keys';
const sandbox = vm.createContext({ pattern: undefined, tags: undefined });
const BOUNDED: Record<Question, vm.Script> = {
  matches: new vm.Script('tags.map((tag) => pattern.test(tag))'),
  keys: new vm.Script('tags.map((tag) => { const m = pattern.exec(tag); return m && m.groups ? m.groups.key : undefined; })'),
};

function processCpuTimeMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export class TagPattern {
  readonly engine: PatternEngine;

  private constructor(
    readonly source: string,
    private readonly what: string,
    private readonly options: Required<Omit<TagPatternOptions, 'keyGroup'>>,
    /** re2: the pattern in RE2 syntax. regex and construct: what runs instead, and the reason. */
    private readonly compiled: { re2: string } | { regex: RegExp; construct: string },
  ) {
    this.engine = 're2' in compiled ? 'linear-time' : 'backtracking';
  }

  /**
   * Compiles a pattern (and probes it, where it must run on the backtracking engine). `what` names it in messages
   * ("the tag filter").
   */
  static compile(source: string, what: string, options: TagPatternOptions = {}): TagPattern {
    const settings = { budget: options.budget ?? TAG_PATTERN_BUDGET, cpuTimeMs: options.cpuTimeMs ?? processCpuTimeMs };
    let regex: RegExp;
    try {
      regex = new RegExp(source); // the syntax users write; no u flag: it rejects escapes such as \- that Java patterns used
    } catch (err) {
      throw new InvalidFilterError(
        `${what} ${JSON.stringify(source)} is not a valid regular expression (${(err as Error).message})`,
        'fix the pattern (JavaScript regular expression syntax, e.g. ^v?\\d+\\.\\d+\\.\\d+$)',
        err,
      );
    }
    if (options.keyGroup && !/\(\?<key>/.test(source)) {
      throw new InvalidFilterError(`${what} ${JSON.stringify(source)} has no named group "key"`, 'capture the sort key as (?<key>…), e.g. ^build-(?<key>\\d+)$');
    }
    const translation = translateToRe2(source, { keyGroup: options.keyGroup });
    let construct: string;
    if ('re2' in translation) {
      try {
        RE2JS.compile(translation.re2); // to know that RE2 takes it; not kept: validate-* sees many patterns once
        return new TagPattern(source, what, settings, { re2: translation.re2 });
      } catch (err) {
        construct = `something RE2 cannot compile (${(err as Error).message.replace(/^error parsing regexp: /, '')})`; // e.g. a{1001}
      }
    } else {
      construct = translation.unsupported;
    }
    const pattern = new TagPattern(source, what, settings, { regex, construct });
    pattern.runBounded('matches', PROBES, { timeoutMs: settings.budget.probeMs, over: `${PROBES.length} test tags`, when: 'when it was first checked' });
    return pattern;
  }

  /** For each tag: does the pattern match anywhere in it? */
  test(tags: readonly string[]): boolean[] {
    const keyOf = (tag: string) => `${this.source}\n${tag}`; // no tag holds a newline (OCI tag grammar)
    const answers = tags.map((tag) => rememberedMatches.get(keyOf(tag)));
    const unseen = tags.filter((_tag, i) => answers[i] === undefined);
    if (unseen.length === 0) return answers as boolean[];
    const fresh = this.evaluate('matches', unseen) as boolean[];
    let next = 0;
    return answers.map((known, i) => {
      if (known !== undefined) return known;
      const matched = fresh[next++]!;
      rememberedMatches.set(keyOf(tags[i]!), matched);
      return matched;
    });
  }

  /** For each tag: the (?<key>…) capture, or undefined where the pattern does not match. */
  captureKeys(tags: readonly string[]): Array<string | undefined> {
    return this.evaluate('keys', tags) as Array<string | undefined>;
  }

  private evaluate(question: Question, tags: readonly string[]): unknown[] {
    if (!('re2' in this.compiled)) {
      const over = `${tags.length.toLocaleString('en-US')} tag${tags.length === 1 ? '' : 's'}`;
      return this.runBounded(question, tags, { timeoutMs: this.options.budget.evaluationMs, over, when: 'on an earlier poll' });
    }
    // Compiled for each evaluation, and dropped: a program takes ~12 KB (a RegExp ~1 KB) and up to 5,000 patterns
    // are kept (gocd/configuration.ts); a cache of 100 programs grew the heap by 15 MB over 1,000 patterns. It
    // costs 25-80 µs, and test() remembers its answers.
    const re2 = RE2JS.compile(this.compiled.re2);
    if (question === 'matches') return tags.map((tag) => re2.test(tag));
    return tags.map((tag) => (re2.exec(tag) as { groups?: Record<string, string | undefined> } | null)?.groups?.key);
  }

  private runBounded(question: Question, tags: readonly string[], limit: Timeout): unknown[] {
    const { regex, construct } = this.compiled as { regex: RegExp; construct: string };
    const earlier = timedOut.get(this.source);
    if (earlier) {
      throw new InvalidFilterError(
        `${this.what} ${JSON.stringify(this.source)} took longer than ${earlier.timeoutMs} ms over ${earlier.over} ${earlier.when}; ${NOT_AGAIN}`,
        backtrackingFix(construct),
      );
    }
    sandbox.pattern = regex;
    sandbox.tags = tags;
    const cpuBefore = this.options.cpuTimeMs();
    try {
      return BOUNDED[question].runInContext(sandbox, { timeout: limit.timeoutMs }) as unknown[];
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      // The timeout is wall-clock time: on a starved host (a probe of -rc timed out at load 10 on 2 cores) even a
      // sane pattern runs out of it. Only one that kept the CPU busy for a tenth of its budget, 20 times what
      // 10,000 tags take with a sane pattern, is sure to do so again.
      const wasBusy = this.options.cpuTimeMs() - cpuBefore >= limit.timeoutMs / 10;
      if (wasBusy) timedOut.set(this.source, limit);
      throw new InvalidFilterError(
        `${this.what} ${JSON.stringify(this.source)} takes longer than ${limit.timeoutMs} ms over ${limit.over}` +
          (wasBusy ? `; ${NOT_AGAIN}` : ' (with the CPU busy elsewhere: it is tried again)'),
        backtrackingFix(construct),
        err,
      );
    } finally {
      sandbox.pattern = undefined;
      sandbox.tags = undefined;
    }
  }
}

const NOT_AGAIN = 'it is not run again until the sidecar restarts or the pattern changes';

/** Says why the pattern runs on the engine that can backtrack, and how to get it onto the linear-time one. */
function backtrackingFix(construct: string): string {
  const hint = construct.startsWith('a negative lookahead') ? ' (TAG_EXCLUDE leaves tags out without one)' : '';
  return (
    `the pattern uses ${construct}, which only JavaScript's backtracking engine runs, and there nested quantifiers ` +
    `such as (a+)+ or (\\d|\\d+)* backtrack catastrophically: write it without ${construct}${hint} so that it runs ` +
    `on the linear-time engine (RE2), or simplify its quantifiers`
  );
}
