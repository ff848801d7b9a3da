import vm from 'node:vm';
import { InvalidFilterError, TagPattern } from '../../src/selection';
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

  it('rejects a catastrophically backtracking pattern when it is compiled', () => {
    const error = thrown<InvalidFilterError>(() => TagPattern.compile('^(\\d+)+$', 'the tag filter'));
    expect(error.message).toMatch(/^the tag filter "\^\(\\\\d\+\)\+\$" takes longer than 100 ms/);
    expect(error.fix).toMatch(/nested quantifiers/);
  });

  it('evaluates each tag once per pattern: repeat polls run no time-bounded script for tags already seen', () => {
    const runs = jest.spyOn(vm.Script.prototype, 'runInContext');
    try {
      const pattern = TagPattern.compile('^2\\.', 'the tag filter');
      const again = TagPattern.compile('^2\\.', 'the tag filter'); // another material with the same filter
      runs.mockClear();
      expect(pattern.test(['2.0', '1.9', '2.1'])).toEqual([true, false, true]);
      expect(runs).toHaveBeenCalledTimes(1);
      expect(again.test(['2.1', '2.0', '1.9'])).toEqual([true, true, false]);
      expect(runs).toHaveBeenCalledTimes(1);
      expect(pattern.test(['1.9', '2.2'])).toEqual([false, true]); // only 2.2 is new
      expect(runs).toHaveBeenCalledTimes(2);
      expect(TagPattern.compile('^1\\.', 'the tag filter').test(['1.9'])).toEqual([true]); // answers are per pattern
    } finally {
      runs.mockRestore();
    }
  });

  it('bounds the evaluation at poll time too, and stays usable afterwards', () => {
    // Passes the probes (they contain no "b"), explodes on the tag that poll time brings.
    const pattern = TagPattern.compile('^(b+)+$', 'the tag filter', { budget: { evaluationMs: 100, probeMs: 100 } });
    expect(() => pattern.test(['1.0', 'b'.repeat(40) + '!'])).toThrow(/takes longer than 100 ms over 2 tags/);
    expect(pattern.test(['bbb'])).toEqual([true]);
  });
});
