import { InvalidFilterError, TagPattern } from '../../src/selection';
import { countBoundedRuns } from '../support/bounded-runs';
import { thrown } from '../support/thrown';

describe('TagPattern', () => {
  it('matches anywhere in the tag, as the old plugin did; ^…$ anchors it', () => {
    expect(TagPattern.compile('1\\.0', 'the tag filter').test(['1.0.2', 'v11.0.2', '2.0'])).toEqual([true, true, false]);
    expect(TagPattern.compile('^\\d+\\.\\d+$', 'the tag filter').test(['1.0', '1.0-rc1'])).toEqual([true, false]);
  });

  it('accepts the escapes of the old plugin\'s Java patterns', () => {
    expect(TagPattern.compile('^v\\d+\\-rc$', 'the tag filter').test(['v1-rc'])).toEqual([true]);
  });

  it('captures the sort key', () => {
    expect(TagPattern.compile('^build-(?<key>\\d+)', 'the sort key pattern', { keyGroup: true }).captureKeys(['build-12-x', 'release'])).toEqual([
      '12',
      undefined,
    ]);
  });

  it('rejects an invalid pattern with the reason and a fix', () => {
    const error = thrown<InvalidFilterError>(() => TagPattern.compile('([', 'the tag filter'));
    expect(error).toBeInstanceOf(InvalidFilterError);
    expect(error.message).toMatch(/^the tag filter "\(\[" is not a valid regular expression/);
  });

  it('rejects a sort key pattern without (?<key>…)', () => {
    expect(() => TagPattern.compile('^build-(\\d+)$', 'the sort key pattern', { keyGroup: true })).toThrow('has no named group "key"');
  });
});

afterEach(() => jest.restoreAllMocks());

describe('TagPattern engines', () => {
  it.each<[string, string, boolean, string]>([
    ['nested quantifiers', '^(\\d+)+$', false, 'linear-time'],
    ['a named group', '^v(?<key>\\d+)', true, 'linear-time'],
    ['an optional group around the key', '^app(?:-(?<key>\\d+))?$', true, 'linear-time'],
    ['a lookahead', '^(?=1)\\d+$', false, 'backtracking'],
    ['a negative lookahead', '^(?!.*-rc)', false, 'backtracking'],
    ['a lookbehind', '(?<=v)\\d+$', false, 'backtracking'],
    ['a backreference', '^(\\d)\\1$', false, 'backtracking'],
    ['a named backreference', '^(?<d>\\d)\\k<d>$', false, 'backtracking'],
    ['a repeat count RE2 does not take', '^\\d{1,1001}$', false, 'backtracking'],
    ['a key group inside a repeated group', '^(?:(?<key>\\d)|x)+$', true, 'backtracking'],
    ['a key group that may repeat empty', '^v(?<key>\\d*)?$', true, 'backtracking'],
  ])('runs a pattern with %s on the %s engine', (_name, source, keyGroup, engine) => {
    expect(TagPattern.compile(source, 'the tag filter', { keyGroup }).engine).toBe(engine);
  });

  // Patterns are written in JavaScript syntax and translated for RE2; each edge case answers as JavaScript does.
  const TAGS = ['1.0', 'v1-rc', 'x-1', 'a', 'A', 'b', 'p', 'pL', 'u', 'u'.repeat(41), 'Q.E', 'x{,5}', 'a{', '-', 'z', '5', '/', '\\', ']', '[', '_', '', 'ab', 'a\n', '\r', '\v', '\t', ' ', '\x01', '\x08', '\0', '\u00a0'];
  it.each<[string, string]>([
    ['an escaped hyphen (Java habit)', '^v\\d+\\-rc$'],
    ['an escaped slash', '^\\/$'],
    ['\\d, \\w and \\b (ASCII in both)', '^\\w\\b|\\d$'],
    ['$ before a final newline (no match in JavaScript, unlike Java)', '^a$'],
    ['. and the line terminators it skips', '^.$'],
    ['\\s with \\v and no-break space', '^\\s$'],
    ['\\S', '^\\S$'],
    ['[\\S] inside a class', '^[\\S]$'],
    ['[^\\s] inside a class', '^[^\\s]$'],
    ['[] (matches nothing)', '[]'],
    ['[^] (matches anything)', '^[^]$'],
    ['[]a] (an empty class, then a])', '[]a]'],
    ['[\\d-z] (\\d, - and z)', '^[\\d-z]$'],
    ['[a-] and [-a]', '^[a-]$|^[-b]$'],
    ['[\\]] and [[]', '^[\\]]$|^[[]$'],
    ['[\\b] (backspace)', '^[\\b]$'],
    ['a brace that is no quantifier', '^x\\{,5}$|^a{$'],
    ['{,5} after an atom', '^x{,5}$'],
    ['\\x41 and \\u0041', '^\\x41$|^\\u0041$'],
    ['\\u{41} (41 u\'s without the u flag)', '^\\u{41}$'],
    ['\\x and \\u without hex digits', '^\\x$|^\\u$'],
    ['\\cA (a control character)', '^\\cA$'],
    ['\\c1 outside a class (a backslash, then c1)', '\\c1'],
    ['[\\c1] inside a class', '^[\\c1]$'],
    ['\\0 (NUL)', '^\\0$'],
    ['\\p and \\pL (plain letters without the u flag)', '^\\pL$|^\\p$'],
    ['\\Q…\\E (plain letters in JavaScript, quoting in Java and RE2)', '^\\Q.\\E$'],
    ['identity escapes of letters', '^\\a$|^\\z$'],
    ['lazy and counted quantifiers', '^a{1,2}?b?$|^u{2,}$'],
    ['alternatives with empty branches', '^(|a|)$'],
  ])('%s', (_name, source) => {
    const pattern = TagPattern.compile(source, 'the tag filter');
    expect(pattern.engine).toBe('linear-time');
    const js = new RegExp(source);
    expect(pattern.test(TAGS)).toEqual(TAGS.map((tag) => js.test(tag)));
  });

  it.each<[string, string[]]>([
    ['^app(?:-(?<key>\\d+))?$', ['app', 'app-12', 'app-x']],
    ['^(?<key>\\d+)|^v(?<other>\\d+)', ['12', 'v3', 'x']],
    ['^(?:x|(?<key>y))z', ['xz', 'yz']],
    ['(?<key>\\d+?)', ['123']],
    ['^(?<key>a|ab)(c|bcd)', ['abcd']],
  ])('captures the sort key of %p as JavaScript does', (source, tags) => {
    const pattern = TagPattern.compile(source, 'the sort key pattern', { keyGroup: true });
    expect(pattern.engine).toBe('linear-time');
    const js = new RegExp(source);
    expect(pattern.captureKeys(tags)).toEqual(tags.map((tag) => js.exec(tag)?.groups?.key));
  });

  it('keeps JavaScript\'s answer where RE2 would capture the key differently', () => {
    // JavaScript clears captures inside a group each time it repeats: "a" then "b" leaves key undefined.
    const pattern = TagPattern.compile('^(?:(?<key>a)|b)+$', 'the sort key pattern', { keyGroup: true });
    expect(pattern.captureKeys(['ab', 'ba'])).toEqual([undefined, 'a']);
  });

  it('rejects a catastrophically backtracking pattern on the backtracking engine when it is compiled, naming why it runs there', () => {
    const cpuTimeMs = () => performance.now(); // busy all along, however loaded the test machine is
    const error = thrown<InvalidFilterError>(() => TagPattern.compile('^(?!x)(\\d+)+$', 'the tag filter', { cpuTimeMs }));
    expect(error.message).toBe(
      'the tag filter "^(?!x)(\\\\d+)+$" takes longer than 100 ms over 5 test tags; it is not run again until the sidecar restarts or the pattern changes',
    );
    expect(error.fix).toBe(
      "the pattern uses a negative lookahead (?!…), which only JavaScript's backtracking engine runs, and there nested quantifiers such as (a+)+ " +
        'or (\\d|\\d+)* backtrack catastrophically: write it without a negative lookahead (?!…) (TAG_EXCLUDE leaves tags out without one) so ' +
        'that it runs on the linear-time engine (RE2), or simplify its quantifiers',
    );
  });

  it('evaluates each tag once per pattern on the backtracking engine: repeat polls run no time-bounded script for tags already seen', () => {
    const pattern = TagPattern.compile('^(?=2)2\\.', 'the tag filter');
    const again = TagPattern.compile('^(?=2)2\\.', 'the tag filter'); // another material with the same filter
    const boundedRuns = countBoundedRuns();
    expect(pattern.test(['2.0', '1.9', '2.1'])).toEqual([true, false, true]);
    expect(boundedRuns()).toBe(1);
    expect(again.test(['2.1', '2.0', '1.9'])).toEqual([true, true, false]);
    expect(boundedRuns()).toBe(1);
    expect(pattern.test(['1.9', '2.2'])).toEqual([false, true]); // only 2.2 is new
    expect(boundedRuns()).toBe(2);
    expect(TagPattern.compile('^(?=1)1\\.', 'the tag filter').test(['1.9'])).toEqual([true]); // answers are per pattern
  });

  it('tries a pattern again that ran out of time while the process got little CPU (a starved host)', () => {
    const pattern = TagPattern.compile('^(?=c)(c+)+$', 'the tag filter', { budget: { evaluationMs: 50, probeMs: 100 }, cpuTimeMs: () => 0 });
    const boundedRuns = countBoundedRuns();
    const tags = ['c'.repeat(40) + '-'];
    expect(() => pattern.test(tags)).toThrow('the tag filter "^(?=c)(c+)+$" takes longer than 50 ms over 1 tag (with the CPU busy elsewhere: it is tried again)');
    expect(() => pattern.test(tags)).toThrow('takes longer than 50 ms over 1 tag (with the CPU busy elsewhere');
    expect(boundedRuns()).toBe(2);
  });
});
