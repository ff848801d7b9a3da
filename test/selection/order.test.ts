import { compareAlphabetical, compareNatural, compareSemver, TagComparator } from '../../src/selection';

describe.each<[string, TagComparator, Array<[string, string, string]>]>([
  [
    'compareNatural',
    compareNatural,
    [
      ['1.10 after 1.9', '1.10', '1.9'],
      ['rc10 after rc9', '1.0-rc10', '1.0-rc9'],
      ['20-digit build numbers, past 2^63', '20240101123000123456', '20240101123000123455'],
      ['a longer number after a shorter one', 'build-1000000', 'build-999999'],
      ['latest after numbers, as the old plugin sorted', 'latest', '9.9.9'],
      ['more parts after fewer', '1.2.3.1', '1.2.3'],
    ],
  ],
  [
    'compareSemver',
    compareSemver,
    [
      ['1.10.0 after 1.9.0', '1.10.0', '1.9.0'],
      ['a v prefix compared by version', 'v1.10.0', '1.9.0'],
      ['a release after its pre-release', '1.0.0', '1.0.0-rc.1'],
      ['rc.10 after rc.9 (numeric identifiers)', '1.0.0-rc.10', '1.0.0-rc.9'],
      ['rc9 after rc10, as semver compares alphanumeric identifiers', '1.0.0-rc9', '1.0.0-rc10'],
      ['any version above a non-version', '0.0.1', 'latest'],
      ['calendar versions as versions', '2024.10.1', '2024.9.30'],
    ],
  ],
  [
    'compareAlphabetical',
    compareAlphabetical,
    [
      ['26 after 225, character by character', '26', '225'],
      ['lower case after upper case (code points)', 'a', 'Z'],
    ],
  ],
])('%s', (_name, compare, cases) => {
  it.each(cases)('puts %s', (_case, greater, lesser) => {
    expect(compare(greater, lesser)).toBeGreaterThan(0);
    expect(compare(lesser, greater)).toBeLessThan(0);
  });
});

describe('compareNatural', () => {
  it('is a total order: equal numbers with leading zeros still differ', () => {
    expect(compareNatural('1.01', '1.1')).not.toBe(0);
    expect(compareNatural('1.01', '1.1')).toBe(-compareNatural('1.1', '1.01'));
    expect(compareNatural('abc', 'abc')).toBe(0);
  });
});
