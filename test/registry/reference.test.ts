import { parseRegistryUrl, parseRepositoryName, isValidTag, InvalidReferenceError } from '../../src/registry';
import { thrown } from '../support/thrown';

describe('parseRegistryUrl', () => {
  it.each([
    ['the old plugin form with /v2/', 'https://registry.example.com/v2/', 'https://registry.example.com', 'registry.example.com'],
    ['no /v2/', 'https://registry.example.com', 'https://registry.example.com', 'registry.example.com'],
    ['host:port without scheme means https', 'registry.example.com:5000', 'https://registry.example.com:5000', 'registry.example.com:5000'],
    ['plain http with port and /v2', 'http://127.0.0.1:5000/v2', 'http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['a path prefix before /v2/', 'https://art.example.com/artifactory/api/docker/repo/v2/', 'https://art.example.com/artifactory/api/docker/repo', 'art.example.com'],
    ['upper-case host', 'https://Registry.Example.com/', 'https://registry.example.com', 'registry.example.com'],
  ])('accepts %s', (_name, input, baseUrl, host) => {
    expect(parseRegistryUrl(input)).toEqual({ baseUrl, host, isDockerHub: false });
  });

  it.each(['docker.io', 'https://index.docker.io/v2/', 'registry-1.docker.io'])('maps the Docker Hub alias %s to its API host', (input) => {
    expect(parseRegistryUrl(input)).toEqual({ baseUrl: 'https://registry-1.docker.io', host: 'registry-1.docker.io', isDockerHub: true });
  });

  it.each([
    ['empty', '', /empty/],
    ['another scheme', 'ftp://registry.example.com', /uses ftp/],
    ['credentials in the URL', 'https://user:pw@registry.example.com', /contains credentials/],
    ['a query', 'https://registry.example.com/v2/?x=1', /query/],
    ['not a URL', 'http://exa mple', /not a URL/],
  ])('rejects %s with a fix', (_name, input, message) => {
    expect(() => parseRegistryUrl(input)).toThrow(InvalidReferenceError);
    expect(() => parseRegistryUrl(input)).toThrow(message);
  });

  it('never echoes the password of a URL with credentials', () => {
    expect(() => parseRegistryUrl('https://user:s3cret-pw@registry.example.com')).not.toThrow(/s3cret-pw/);
  });
});

describe('parseRepositoryName', () => {
  const plain = parseRegistryUrl('https://registry.example.com');
  const hub = parseRegistryUrl('docker.io');

  it('keeps a valid multi-component name', () => {
    expect(parseRepositoryName('backends/database', plain)).toBe('backends/database');
  });

  it('adds library/ to a one-component name on Docker Hub only', () => {
    expect(parseRepositoryName('nginx', hub)).toBe('library/nginx');
    expect(parseRepositoryName('nginx', plain)).toBe('nginx');
    expect(parseRepositoryName('team/app', hub)).toBe('team/app');
  });

  it('suggests the lower-case name for an upper-case one', () => {
    expect(thrown<InvalidReferenceError>(() => parseRepositoryName('Team/App', plain)).fix).toBe('image names are lower case: use "team/app"');
  });

  it.each(['team/app:1.0', 'team/app@sha256:abc', 'team//app', 'team/-app', 'a..b'])('rejects %s', (name) => {
    expect(() => parseRepositoryName(name, plain)).toThrow(InvalidReferenceError);
  });
});

describe('isValidTag', () => {
  it.each(['latest', '1.2.3', 'v1.2.3-rc.1', '_x', 'a'.repeat(128)])('accepts %s', (tag) => expect(isValidTag(tag)).toBe(true));
  it.each(['', '-x', '.x', '1.2.3+build', 'a:b', 'sha256:abc', 'a'.repeat(129)])('rejects %s', (tag) => expect(isValidTag(tag)).toBe(false));
});
