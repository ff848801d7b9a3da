import { namedTag, pickNewest, selectCandidates, SelectionSettings, TagOrder, TagPattern } from '../../src/selection';

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

function settings(order: TagOrder, options: { include?: string; exclude?: string; sortKey?: string; prereleases?: boolean } = {}): SelectionSettings {
  const compile = (pattern: string | undefined, keyGroup = false) => (pattern ? TagPattern.compile(pattern, 'pattern', { keyGroup }) : undefined);
  return {
    order,
    include: compile(options.include),
    exclude: compile(options.exclude),
    sortKey: compile(options.sortKey, true),
    includePrereleases: options.prereleases ?? false,
  };
}

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
