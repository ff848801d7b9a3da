import { setImmediate as nextTurn } from 'node:timers/promises';
import { RegistryResponseError } from '../../src/registry';
import { TagPageReader, TagPageReading } from '../../src/registry/tag-page';

const tooMany = () => new RegistryResponseError({ message: 'more than the cap', fix: 'raise it' });
// Both ways of reading a page must agree: held and parsed whole (small pages), or tokenized as it arrives, here
// in pieces of 3 bytes so that tokens and UTF-8 characters are split across writes.
const WAYS: Array<[string, { wholeParseMaxBytes: number; pieceBytes: number }]> = [
  ['parsed whole', { wholeParseMaxBytes: Infinity, pieceBytes: Infinity }],
  ['tokenized as it arrives', { wholeParseMaxBytes: 0, pieceBytes: 3 }],
];

async function read(body: string, way: { wholeParseMaxBytes?: number; pieceBytes?: number } = {}, maxEntries = 1000): Promise<unknown[]> {
  const reading: TagPageReading = { subject: 'the tag list of team/app', maxEntries, tooMany, wholeParseMaxBytes: way.wholeParseMaxBytes };
  const reader = new TagPageReader(reading);
  const bytes = Buffer.from(body);
  const piece = Math.min(way.pieceBytes ?? 64 * 1024, bytes.length) || 1;
  for (let offset = 0; offset < bytes.length; offset += piece) await reader.write(bytes.subarray(offset, offset + piece));
  return reader.end();
}

describe.each(WAYS)('TagPageReader, %s', (_name, way) => {
  it.each([
    ['the tags array, entries of every kind kept in order', '{"name":"team/app","tags":["1.0","latest",null,7,"sha256:abc"]}', ['1.0', 'latest', null, 7, 'sha256:abc']],
    ['null for an empty list', '{"name":"team/app","tags":null}', []],
    ['the tags of the top level only', '{"manifest":{"sha256:1":{"tags":["old"]}},"tags":["1.0"],"child":[]}', ['1.0']],
    ['escapes and UTF-8 decoded', '{"tags":["v\\u0031.0", "a\\"b", "é€😀"]}', ['v1.0', 'a"b', 'é€😀']],
    ['the last of repeated tags keys, as JSON.parse does', '{"tags":["1.0"],"tags":["2.0"]}', ['2.0']],
    ['whitespace anywhere', ' {\n  "tags" : [ "1.0" ,\n "2.0" ]\n}\n ', ['1.0', '2.0']],
  ])('answers %s', async (_case, body, expected) => {
    expect(await read(body, way)).toEqual(expected);
  });

  it('keeps an entry that is an object or array as one entry that is no tag', async () => {
    const entries = await read('{"tags":["1.0",{"a":["b"]},[1,2]]}', way);
    expect(entries).toHaveLength(3);
    expect(entries.filter((entry: unknown) => typeof entry === 'string')).toEqual(['1.0']);
  });

  it.each([
    ['no tags key', '{"name":"team/app"}'],
    ['tags that are not an array', '{"tags":"1.0"}'],
    ['an array at the top', '["1.0"]'],
  ])('refuses %s, naming the list', async (_case, body) => {
    const error = (await read(body, way).catch((e: unknown) => e)) as RegistryResponseError;
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error.message).toBe('the tag list of team/app has no "tags" array');
  });

  it.each([
    ['a body cut short', '{"tags":["1.0","2.'],
    ['bytes after the object', '{"tags":["1.0"]} trailing'],
    ['broken grammar', '{"tags" ["1.0"]}'],
  ])('refuses %s as malformed JSON, worth a retry', async (_case, body) => {
    const error = (await read(body, way).catch((e: unknown) => e)) as RegistryResponseError;
    expect(error).toBeInstanceOf(RegistryResponseError);
    // Read as it arrives, the page is refused where the fault shows, with the bytes read so far.
    const [, bytes, quoted] = /^the tag list of team\/app answered with malformed JSON \((\d+) bytes: (".*")\)$/.exec(error.message) ?? [];
    expect(Number(bytes)).toBeLessThanOrEqual(Buffer.byteLength(body));
    expect(body.startsWith(JSON.parse(quoted ?? '""'))).toBe(true);
    expect(error.retryable).toBe(true);
  });

  it('fails with the caller\'s error when the page has more entries than allowed', async () => {
    expect(await read('{"tags":["1","2","3"]}', way, 3)).toHaveLength(3);
    await expect(read('{"tags":["1","2","3","4"]}', way, 3)).rejects.toThrow('more than the cap');
  });
});

describe('TagPageReader on a big page', () => {
  it('reads it in slices, letting other work run between them', async () => {
    const body = JSON.stringify({ tags: Array.from({ length: 50_000 }, (_, i) => `1.0.${i}`) }); // ~600 KiB
    let turns = 0;
    let isReading = true;
    const count = async () => {
      while (isReading) {
        turns += 1;
        await nextTurn();
      }
    };
    const counting = count();
    const entries = await read(body, {}, 100_000);
    isReading = false;
    await counting;
    expect(entries).toHaveLength(50_000);
    expect(turns).toBeGreaterThan(5); // JSON.parse would have run it in one turn
  });

  it('stops at the first entry over the cap without reading the rest', async () => {
    // 10 MiB: a million short tags and then a body cut short. Reading it all would end in "not valid JSON".
    const body = `{"tags":[${'"abcdefg",'.repeat(1_000_000)}`;
    await expect(read(body, {}, 1000)).rejects.toThrow('more than the cap');
  });

  it('refuses nesting deeper than a tag list needs', async () => {
    const body = `{"tags":["1.0"],"x":${'['.repeat(400_000)}${']'.repeat(400_000)}}`;
    await expect(read(body, {})).rejects.toThrow('the tag list of team/app nests deeper than 32 levels');
  });
});
