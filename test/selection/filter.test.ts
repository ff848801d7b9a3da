import { compileTagFilter, InvalidFilterError } from '../../src/selection';

describe('compileTagFilter', () => {
  it('accepts every tag when empty', () => {
    expect(['latest', '1.0', 'x'].every(compileTagFilter(''))).toBe(true);
  });

  it('matches anywhere in the tag, as the old plugin did', () => {
    const accepts = compileTagFilter('1\\.0');
    expect(accepts('1.0.2')).toBe(true);
    expect(accepts('v11.0.2')).toBe(true);
    expect(accepts('2.0')).toBe(false);
  });

  it('is anchored by ^…$', () => {
    const accepts = compileTagFilter('^\\d+\\.\\d+$');
    expect(accepts('1.0')).toBe(true);
    expect(accepts('1.0-rc1')).toBe(false);
  });

  it('rejects an invalid pattern with the reason and a fix', () => {
    expect(() => compileTagFilter('([')).toThrow(InvalidFilterError);
    expect(() => compileTagFilter('([')).toThrow(/not a valid regular expression/);
  });
});
