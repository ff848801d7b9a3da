import { InvalidFilterError, missingPlatforms, normalisePlatform, parsePlatforms } from '../../src/selection';
import { thrown } from '../support/thrown';

describe('normalisePlatform', () => {
  it.each<[string, string, string]>([
    ['arm64 needs no variant: v8 is its default', 'linux/arm64/v8', 'linux/arm64'],
    ['aarch64 is arm64', 'linux/aarch64', 'linux/arm64'],
    ['arm64 v9 stays apart', 'linux/arm64/v9', 'linux/arm64/v9'],
    ['x86_64 is amd64', 'Linux/x86_64', 'linux/amd64'],
    ['amd64 v1 is plain amd64', 'linux/amd64/v1', 'linux/amd64'],
    ['amd64 v3 stays apart', 'linux/amd64/v3', 'linux/amd64/v3'],
    ['arm without a variant is v7', 'linux/arm', 'linux/arm/v7'],
    ['armhf is arm/v7', 'linux/armhf', 'linux/arm/v7'],
    ['a bare arm variant number gets its v', 'linux/arm/6', 'linux/arm/v6'],
    ['i386 is 386', 'linux/i386', 'linux/386'],
    ['macos is darwin', 'macos/arm64', 'darwin/arm64'],
    ['anything else stays as written, in lower case', 'linux/S390X', 'linux/s390x'],
  ])('%s', (_name, platform, expected) => {
    expect(normalisePlatform(platform)).toBe(expected);
  });
});

describe('parsePlatforms', () => {
  it('reads a comma list, normalised, without repeats', () => {
    expect(parsePlatforms('linux/amd64, linux/arm64/v8,linux/arm64')).toStrictEqual(['linux/amd64', 'linux/arm64']);
  });

  it.each([['linux'], ['linux/arm64,'], ['linux/arm64/v8/extra'], ['linux arm64']])('refuses %j, naming the form it wants', (source) => {
    const err = thrown(() => parsePlatforms(source));
    expect(err).toBeInstanceOf(InvalidFilterError);
    expect((err as InvalidFilterError).fix).toBe(
      'list platforms as os/architecture[/variant], separated by commas, e.g. linux/arm64 or linux/amd64,linux/arm64/v8',
    );
  });
});

describe('missingPlatforms', () => {
  it.each<[string, string[], string[], string[]]>([
    ['an index with both', ['linux/amd64', 'linux/arm64/v8'], ['linux/arm64'], []],
    ['an amd64-only image asked for arm64', ['linux/amd64'], ['linux/arm64'], ['linux/arm64']],
    ['one of two missing', ['linux/arm64'], ['linux/amd64', 'linux/arm64'], ['linux/amd64']],
    ['an image whose platform is unknown', [], ['linux/amd64'], ['linux/amd64']],
  ])('%s', (_name, available, wanted, expected) => {
    expect(missingPlatforms(available, wanted)).toStrictEqual(expected);
  });
});
