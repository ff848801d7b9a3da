import { parseRegistryUrl, RegistryClient, RegistryTlsError } from '../../src/registry';
import { testDeps } from '../support/deps';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

describe('RegistryClient against a TLS registry with a private CA', () => {
  let registry: StartedRegistry;
  let tokenRegistry: StartedRegistry;
  const user = { username: 'tls-user', password: 'tls-pa55word' };

  beforeAll(async () => {
    [registry, tokenRegistry] = await Promise.all([startRegistry({ tls: true }), startRegistry({ tls: true, token: { users: [user] } })]);
    await pushImage(registry, 'secure/app', ['1.0']);
    await pushImage({ ...tokenRegistry, credentials: user }, 'secure/app', ['2.0']);
  });
  afterAll(() => Promise.all([registry.stop(), tokenRegistry.stop()]));

  const access = (target: StartedRegistry, tls?: { caFile?: string; isInsecure?: boolean }) => ({
    endpoint: parseRegistryUrl(target.url),
    repository: 'secure/app',
    tls,
  });

  it('trusts the registry with its CA file', async () => {
    const client = new RegistryClient(testDeps());
    expect((await client.listTags(access(registry, { caFile: registry.caFile }))).tags).toEqual(['1.0']);
  });

  it('names the TLS failure and the setting that fixes it', async () => {
    const client = new RegistryClient(testDeps());
    const error: RegistryTlsError = await client.ping(access(registry)).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryTlsError);
    expect(error.message).toMatch(new RegExp(`^TLS with ${registry.host.replace(/\./g, '\\.')} failed \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)$`));
    expect(error.fix).toMatch(/set TLS_CA_FILE on the package repository/);
  });

  it('skips verification only when told to', async () => {
    const client = new RegistryClient(testDeps());
    expect((await client.ping(access(registry, { isInsecure: true }))).auth.scheme).toBe('none');
  });

  it('reports a CA file it cannot read', async () => {
    const client = new RegistryClient(testDeps());
    const error: RegistryTlsError = await client.ping(access(registry, { caFile: '/nonexistent/ca.pem' })).catch((e) => e);
    expect(error.message).toBe(`the CA file /nonexistent/ca.pem configured for ${registry.host} does not exist (ENOENT)`);
  });

  it('runs the token flow over TLS with the same CA', async () => {
    const client = new RegistryClient(testDeps());
    const image = { ...access(tokenRegistry, { caFile: tokenRegistry.caFile }), credentials: user };
    expect((await client.listTags(image)).tags).toEqual(['2.0']);
  });

});
