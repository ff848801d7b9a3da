import { compareNatural, pickGreatest } from '../../src/selection';

describe('compareNatural', () => {
  it.each([
    ['1.10 after 1.9', '1.10', '1.9'],
    ['rc10 after rc9', '1.0-rc10', '1.0-rc9'],
    ['20-digit build numbers, past 2^63', '20240101123000123456', '20240101123000123455'],
    ['a longer number after a shorter one', 'build-1000000', 'build-999999'],
    ['latest after numbers, as the old plugin sorted', 'latest', '9.9.9'],
    ['more parts after fewer', '1.2.3.1', '1.2.3'],
  ])('puts %s', (_name, greater, lesser) => {
    expect(compareNatural(greater, lesser)).toBeGreaterThan(0);
    expect(compareNatural(lesser, greater)).toBeLessThan(0);
  });

  it('is a total order: equal numbers with leading zeros still differ', () => {
    expect(compareNatural('1.01', '1.1')).not.toBe(0);
    expect(compareNatural('1.01', '1.1')).toBe(-compareNatural('1.1', '1.01'));
    expect(compareNatural('abc', 'abc')).toBe(0);
  });
});

describe('pickGreatest', () => {
  it('picks the newest of a mixed tag set', () => {
    expect(pickGreatest(['1.9', '1.10', '1.2', 'v0.1'], compareNatural)).toBe('v0.1');
    expect(pickGreatest(['1.9', '1.10', '1.2'], compareNatural)).toBe('1.10');
  });

  it('answers undefined for no tags', () => {
    expect(pickGreatest([], compareNatural)).toBeUndefined();
  });
});
