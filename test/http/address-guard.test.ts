import { allowedAddresses, canonicalAddress, classifyAddress, ResolvedAddress } from '../../src/http';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['2001:4860::8888', 'public'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], // carrier-grade NAT
    ['fd00::1', 'private'], // unique local
    ['127.0.0.1', 'local'],
    ['127.0.0.2', 'local'],
    ['::1', 'local'],
    ['0.0.0.0', 'local'],
    ['::', 'local'],
    ['169.254.169.254', 'local'], // cloud metadata
    ['fe80::1', 'local'],
    ['224.0.0.1', 'local'],
    ['::ffff:127.0.0.1', 'local'],
    ['::ffff:7f00:1', 'local'],
    ['::ffff:a9fe:a9fe', 'local'], // 169.254.169.254 in IPv4-mapped form
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'local'], // IPv4-compatible
    ['64:ff9b::a9fe:a9fe', 'local'], // NAT64
    ['2002:a9fe:a9fe::1', 'local'], // 6to4
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('canonicalAddress', () => {
  it('spells every IPv6 form of an IPv4 address as that IPv4 address', () => {
    expect(canonicalAddress('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(canonicalAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalAddress('::7f00:1')).toBe('127.0.0.1');
  });
});

describe('allowedAddresses', () => {
  const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
  const publicRegistry = [v4('8.8.4.4')];
  const privateRegistry = [v4('10.0.0.5')];
  const loopbackRegistry = [v4('127.0.0.2')];

  it.each([
    ['a public address, from a public registry', publicRegistry, '8.8.8.8', true, true],
    ['a private address, from a public registry', publicRegistry, '10.0.0.6', true, false],
    ['a private address, from a private registry', privateRegistry, '10.0.0.6', true, true],
    ['a private address, from a registry on this machine', loopbackRegistry, '10.0.0.6', false, true],
    ['the metadata address, from a private registry', privateRegistry, '169.254.169.254', true, false],
    ['this machine, from a registry on another address of it', loopbackRegistry, '127.0.0.1', true, false],
    ["the registry's own address, as a realm", loopbackRegistry, '127.0.0.2', true, true],
    ["the registry's own address in IPv6 form, as a realm", loopbackRegistry, '::ffff:127.0.0.2', true, true],
    ["the registry's own address, as a redirect", loopbackRegistry, '127.0.0.2', false, false],
  ])('%s: allowed %s', (_name, registryAddresses, candidate, mayShareRegistryAddress, allowed) => {
    const family = candidate.includes(':') ? 6 : 4;
    expect(allowedAddresses([{ address: candidate, family }], { registryAddresses, mayShareRegistryAddress })).toHaveLength(allowed ? 1 : 0);
  });

  it('keeps only the allowed answers of a name that resolves to several addresses', () => {
    const answers = [v4('127.0.0.1'), v4('8.8.8.8')];
    expect(allowedAddresses(answers, { registryAddresses: publicRegistry, mayShareRegistryAddress: true })).toEqual([v4('8.8.8.8')]);
  });
});
