import { DOCKER_HUB, InvalidRegistryAddressError, normalizeRegistryAddress } from '../../src/credentials/registry-address';
import { thrown } from '../support/thrown';

/**
 * The Drone runner's side (drone-runner-docker MatchHostname, docker/distribution v2.7.1 splitDockerDomain): the
 * domain of an image, which it compares with the address we send by exact string equality.
 */
function imageDomain(image: string): string {
  const slash = image.indexOf('/');
  const first = image.slice(0, slash);
  if (slash < 0 || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) return 'docker.io';
  return first === 'index.docker.io' ? 'docker.io' : first;
}

describe('normalizeRegistryAddress', () => {
  it.each([
    ['a Hub address as the README writes it', 'docker.io', 'docker.io'],
    ["the reference plugin's example address", 'index.docker.io', 'docker.io'],
    ['the docker CLI key for Hub, which the runner would never match', 'https://index.docker.io/v1/', 'docker.io'],
    ["Hub's API host", 'registry-1.docker.io', 'docker.io'],
    ['an old Hub alias', 'registry.hub.docker.com', 'docker.io'],
    ['a host in upper case', 'GCR.io', 'gcr.io'],
    ['a host with a port', 'registry.local:5000', 'registry.local:5000'],
    ['an ECR proxy URL', 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
    ['a URL with a path, query and fragment', 'http://registry.local:5000/v2/x?y=1#z', 'registry.local:5000'],
    ['a URL with an explicit default port, kept as the runner keeps it', 'HTTPS://Registry.Example.com:443/', 'registry.example.com:443'],
    ['an IPv6 address with a port', '[FD00::1]:5000', '[fd00::1]:5000'],
    ['localhost with a port', 'localhost:5000', 'localhost:5000'],
    ['an IPv4 address', '127.0.0.1:5000', '127.0.0.1:5000'],
  ])('turns %s into bare host[:port]', (_name, address, expected) => {
    expect(normalizeRegistryAddress(address)).toBe(expected);
  });

  it.each([
    ['an empty address', '', 'is empty'],
    ['a path after a bare host, which the runner never matches', 'registry.gitlab.com/group', 'has a path after the host'],
    ['another scheme', 'oci://registry.local', 'has a scheme other than'],
    ['white space', 'registry local', 'white space'],
    ['no host before the port', ':5000', 'has no host name'],
    ['port 0', 'registry.local:0', 'port that is not a number from 1 to 65535'],
    ['a port above 65535', 'registry.local:70000', 'port that is not a number from 1 to 65535'],
    ['a port that is not a number', 'registry.local:http', 'port that is not a number'],
    ['an underscore in the host', 'my_registry.local', 'is not a host name'],
    ['a label ending in a hyphen', 'registry-.local', 'is not a host name'],
    ['an IPv6 address that does not parse', '[fd00::g]:5000', 'IPv6 address that does not parse'],
  ])('refuses %s', (_name, address, problem) => {
    const err = thrown(() => normalizeRegistryAddress(address));
    expect(err).toBeInstanceOf(InvalidRegistryAddressError);
    expect((err as InvalidRegistryAddressError).message).toContain(problem);
    expect((err as InvalidRegistryAddressError).fix).not.toBe('');
  });

  it('refuses a user name and password in the address without repeating them', () => {
    const err = thrown(() => normalizeRegistryAddress('https://octocat:hunter2-secret@registry.local')) as InvalidRegistryAddressError;
    expect(err.message).toContain('holds a user name or password');
    expect(`${err.message} ${err.fix}`).not.toContain('hunter2-secret');
    expect(err.message).toContain('https://***@registry.local');
  });
});

describe('normalized addresses against the runner', () => {
  // Each consequence of the runner's exact-match rule: what we send must equal the domain it computes for the image.
  it.each([
    { image: 'alpine', address: 'docker.io', matches: true },
    { image: 'library/golang', address: 'index.docker.io', matches: true },
    { image: 'docker.io/library/golang:1.0.0', address: 'https://index.docker.io/v1/', matches: true },
    { image: 'index.docker.io/library/golang', address: 'docker.io', matches: true },
    { image: 'gcr.io/x', address: 'docker.io', matches: false },
    { image: 'gcr.io/golang:1.0.0', address: 'gcr.io', matches: true },
    { image: 'registry.local:5000/app', address: 'registry.local:5000', matches: true },
    { image: 'registry.local:5000/app', address: 'registry.local', matches: false },
    { image: 'registry.example.com/app', address: 'REGISTRY.Example.COM', matches: true },
    { image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/app', address: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com', matches: true },
  ])('image $image against address $address: matches is $matches', ({ image, address, matches }) => {
    expect(imageDomain(image) === normalizeRegistryAddress(address)).toBe(matches);
  });

  it('files Docker Hub under the domain the runner gives Hub images', () => {
    expect(imageDomain('alpine')).toBe(DOCKER_HUB);
  });
});
