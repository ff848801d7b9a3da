import { InvalidFilterError, namedTag, parseSemverRange, pickNewest, selectCandidates, SelectionSettings, TagOrder, TagPattern } from '../../src/selection';
import { thrown } from '../support/thrown';

const SIGNATURE = `sha256-${'ab'.repeat(32)}.sig`;
const TRICKY = [
  '1.9',
  '1.10',
  'v1.11.0',
  '1.11.0-rc.1',
  '1.0-rc9',
  '1.0-rc10',
  '20240101123000123456',
  '20240101123000123455',
  'latest',
  'junk_tag',
  SIGNATURE,
];

function settings(order: TagOrder, options: { include?: string; exclude?: string; sortKey?: string; prereleases?: boolean; range?: string } = {}): SelectionSettings {
  const compile = (pattern: string | undefined, keyGroup = false) => (pattern ? TagPattern.compile(pattern, 'pattern', { keyGroup }) : undefined);
  const includePrereleases = options.prereleases ?? false;
  return {
    order,
    include: compile(options.include),
    exclude: compile(options.exclude),
    sortKey: compile(options.sortKey, true),
    includePrereleases,
    semverRange: options.range === undefined ? undefined : parseSemverRange(options.range, includePrereleases),
  };
}

const RELEASES = ['1.2.3', '1.2.10', '1.3.0', 'v1.10.1', '1.11.0-rc.1', '2.0.0-rc.1', '2.0.0', 'latest'];

describe('selectCandidates + pickNewest', () => {
  it.each<[string, string[], SelectionSettings, string | undefined]>([
    ['natural, no filter: letters sort after digits, as the old plugin did', TRICKY, settings('natural'), 'v1.11.0'],
    ['natural never picks a signature tag', ['1.0', SIGNATURE], settings('natural'), '1.0'],
    ['natural with an anchored filter: 1.10 after 1.9', TRICKY, settings('natural', { include: '^\\d+\\.\\d+$' }), '1.10'],
    ['natural over 20-digit build numbers', TRICKY, settings('natural', { include: '^\\d{14,}$' }), '20240101123000123456'],
    ['natural: rc10 after rc9', TRICKY, settings('natural', { include: '-rc\\d+$' }), '1.0-rc10'],
    ['natural with an exclusion', ['1.0', '1.1-alpine'], settings('natural', { exclude: '-alpine$' }), '1.0'],
    ['semver: v prefix allowed, pre-releases left out', TRICKY, settings('semver'), 'v1.11.0'],
    ['semver with pre-releases asked for', TRICKY, settings('semver', { include: '^1\\.11', prereleases: true }), '1.11.0-rc.1'],
    ['semver: rc.10 after rc.9', ['2.0.0-rc.9', '2.0.0-rc.10'], settings('semver', { prereleases: true }), '2.0.0-rc.10'],
    ['semver with nothing semver-valid', ['latest', '1.2', 'stable'], settings('semver'), undefined],
    ['alphabetical: 26 after 225', ['26', '225'], settings('alphabetical'), '26'],
    ['a sort key: build numbers inside the tag', ['build-9-x', 'build-10-y', 'release'], settings('natural', { sortKey: '^build-(?<key>\\d+)' }), 'build-10-y'],
    ['a sort key with semver order', ['app-v1.9.0', 'app-v1.10.0', 'app-x'], settings('semver', { sortKey: '^app-(?<key>v.+)$' }), 'app-v1.10.0'],
    ['a filter that matches nothing', TRICKY, settings('natural', { include: '^nope$' }), undefined],
    ['a range: the newest version inside it', RELEASES, settings('semver', { range: '>=1.2.0 <2.0.0' }), 'v1.10.1'],
    ['a range that starts inside a minor line (not what 1\.2\.\d+ says)', RELEASES, settings('semver', { range: '>=1.2.5 <1.3.0' }), '1.2.10'],
    ['a tilde range, as Argo writes it', RELEASES, settings('semver', { range: '~1.2' }), '1.2.10'],
    ['a caret range leaves out the next major and its pre-releases', RELEASES, settings('semver', { range: '^1' }), 'v1.10.1'],
    ['a caret range with pre-releases asked for', RELEASES, settings('semver', { range: '^1', prereleases: true }), '1.11.0-rc.1'],
    ['a range with pre-releases never reaches past its bound', RELEASES, settings('semver', { range: '>=2.0.0-0', prereleases: true }), '2.0.0'],
    ['Flux\'s comma form', RELEASES, settings('semver', { range: '>=1.2.0, <1.3.0' }), '1.2.10'],
    ['alternatives', RELEASES, settings('semver', { range: '~1.2.0 || >=3' }), '1.2.10'],
    ['a range over the sort key', ['app-1.2.0', 'app-1.3.0', 'app-2.0.0'], settings('semver', { sortKey: '^app-(?<key>.+)$', range: '<2' }), 'app-1.3.0'],
    ['a range no tag satisfies', RELEASES, settings('semver', { range: '>=5' }), undefined],
  ])('%s', (_name, tags, selection, expected) => {
    expect(pickNewest(selectCandidates(tags, selection), selection.order)?.tag).toBe(expected);
  });

  describe('newest-build', () => {
    const created: Record<string, number> = { a: Date.parse('2026-01-02'), b: Date.parse('2026-03-01'), c: Date.parse('2026-03-01') };
    const createdOf = (tag: string) => created[tag];

    it.each<[string, string[], string]>([
      ['picks the latest creation time', ['a', 'b'], 'b'],
      ['breaks a tie by natural order', ['b', 'c'], 'c'],
      ['puts tags without a date last', ['a', 'zzz-undated'], 'a'],
      ['falls back to natural order when no tag has a date', ['x1', 'x2'], 'x2'],
    ])('%s', (_name, tags, expected) => {
      const selection = settings('newest-build');
      expect(pickNewest(selectCandidates(tags, selection), 'newest-build', createdOf)?.tag).toBe(expected);
    });
  });
});

describe('namedTag', () => {
  it.each<[string, string | undefined]>([
    ['latest', 'latest'],
    ['^stable$', 'stable'],
    ['^v1-lts$', 'v1-lts'],
    ['^1\\.0$', '1.0'],
    ['1\\.0', undefined],
    ['^v1.*$', undefined],
    ['latest|stable', undefined],
  ])('reads %p as %p', (pattern, expected) => {
    expect(namedTag(TagPattern.compile(pattern, 'the tag filter'))).toBe(expected);
  });

  it('answers undefined without a filter', () => {
    expect(namedTag(undefined)).toBeUndefined();
  });
});

describe('parseSemverRange', () => {
  it.each<[string, string, boolean, string, string]>([
    [
      'a malformed comparator',
      '>=1.2 <<2',
      false,
      '">=1.2 <<2" is not a semver range (Invalid comparator: <<2)',
      'write a range as Flux, Argo CD Image Updater and npm do, e.g. >=1.2.0 <2.0.0, ~1.26 or ^1; alternatives join with ||',
    ],
    [
      'a regular expression in the range field',
      '^1\\.',
      false,
      '"^1\\\\." is not a semver range (Invalid comparator: ^1\\.)',
      'write a range as Flux, Argo CD Image Updater and npm do, e.g. >=1.2.0 <2.0.0, ~1.26 or ^1; alternatives join with ||',
    ],
    [
      'a pre-release bound without pre-releases asked for',
      '>=1.0.0-0',
      false,
      'the semver range ">=1.0.0-0" names a pre-release, but pre-releases are not candidates',
      'set SEMVER_PRERELEASES to true to let pre-releases win (what a -0 suffix, as in >=1.0.0-0, asks for in Flux), or write the range without one',
    ],
  ])('refuses %s with the cause and an example', (_name, source, prereleases, message, fix) => {
    const err = thrown<InvalidFilterError>(() => parseSemverRange(source, prereleases));
    expect(err).toBeInstanceOf(InvalidFilterError);
    expect([err.message, err.fix]).toStrictEqual([message, fix]);
  });

  it('takes a pre-release bound when pre-releases are asked for', () => {
    expect(parseSemverRange('>=1.0.0-0', true).source).toBe('>=1.0.0-0');
  });
});
