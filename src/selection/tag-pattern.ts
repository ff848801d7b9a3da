// User regular expressions, evaluated with a time bound. JavaScript regexes backtrack, so a pattern like (a+)+$
// can run for minutes on one tag and stall every material the sidecar serves; V8 can only interrupt a script
// (vm timeout), so each whole evaluation over a tag list runs as one bounded vm script.

import vm from 'node:vm';
import { LRUCache } from 'lru-cache';
import { BridgeError } from '../errors';

export class InvalidFilterError extends BridgeError {
  constructor(message: string, fix: string, cause?: unknown) {
    super('INVALID_FILTER', { message, fix, cause });
  }
}

export interface TagPatternBudget {
  /** For one evaluation over a whole tag list at poll time. */
  evaluationMs: number; // 1000: 10,000 tags take ~5 ms with a sane pattern
  /** For the probe run at validate time. */
  probeMs: number; // 100: the probes are a handful of short strings
}

export const TAG_PATTERN_BUDGET: TagPatternBudget = { evaluationMs: 1000, probeMs: 100 };

// Strings that make backtracking patterns explode, so validate-* rejects them before a poll ever runs them.
const PROBES = ['a'.repeat(32) + '!', '1'.repeat(32) + '!', '1.'.repeat(16) + '!', 'v1.2.3-' + 'rc'.repeat(16) + '!', '-'.repeat(32) + '!'];

// Whether a pattern matches a tag never changes, and GoCD asks about the same tags every minute. A timed vm run
// costs ~0.1 ms before any matching (it starts a watchdog thread) and more on busy cores: 17 % of the sidecar's
// CPU in benchmark P3. So answers are remembered, by pattern and tag; only tags not seen before go through vm.
// 20,000 answers (about 2 MB) hold two 10,000-tag repositories' worth.
const rememberedMatches = new LRUCache<string, boolean>({ max: 20_000 });

const sandbox = vm.createContext({ pattern: undefined, tags: undefined });
const TEST_ALL = new vm.Script('tags.map((tag) => pattern.test(tag))');
const CAPTURE_ALL = new vm.Script('tags.map((tag) => { const m = pattern.exec(tag); return m && m.groups ? m.groups.key : undefined; })');

export class TagPattern {
  private constructor(
    readonly source: string,
    private readonly regex: RegExp,
    private readonly what: string,
    private readonly budget: TagPatternBudget,
  ) {}

  /**
   * Compiles and probes a pattern. `what` names it in messages ("the tag filter"). With `keyGroup`, the pattern
   * must have a named group (?<key>…) whose capture is a sort key.
   */
  static compile(source: string, what: string, options: { keyGroup?: boolean; budget?: TagPatternBudget } = {}): TagPattern {
    const budget = options.budget ?? TAG_PATTERN_BUDGET;
    let regex: RegExp;
    try {
      regex = new RegExp(source); // no u flag: it rejects escapes such as \- that the old plugin's Java patterns used
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
    const pattern = new TagPattern(source, regex, what, budget);
    pattern.run(TEST_ALL, PROBES, budget.probeMs);
    return pattern;
  }

  /** For each tag: does the pattern match anywhere in it? */
  test(tags: readonly string[]): boolean[] {
    const keyOf = (tag: string) => `${this.source}\n${tag}`; // no tag holds a newline (OCI tag grammar)
    const answers = tags.map((tag) => rememberedMatches.get(keyOf(tag)));
    const unseen = tags.filter((_tag, i) => answers[i] === undefined);
    if (unseen.length === 0) return answers as boolean[];
    const fresh = this.run(TEST_ALL, unseen, this.budget.evaluationMs) as boolean[];
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
    return this.run(CAPTURE_ALL, tags, this.budget.evaluationMs) as Array<string | undefined>;
  }

  private run(script: vm.Script, tags: readonly string[], timeoutMs: number): unknown[] {
    sandbox.pattern = this.regex;
    sandbox.tags = tags;
    try {
      return script.runInContext(sandbox, { timeout: timeoutMs }) as unknown[];
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      throw new InvalidFilterError(
        `${this.what} ${JSON.stringify(this.source)} takes longer than ${timeoutMs} ms over ${tags.length} tags`,
        'simplify the pattern: nested quantifiers such as (a+)+ or (\\d|\\d+)* backtrack catastrophically',
        err,
      );
    } finally {
      sandbox.pattern = undefined;
      sandbox.tags = undefined;
    }
  }
}
