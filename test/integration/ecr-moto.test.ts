// ECR tokens from moto (a local stand-in for the AWS APIs, test/support/moto-server.ts): real GetAuthorizationToken
// round trips through @aws-sdk/client-ecr, counted by a recording proxy in front of moto. Nothing leaves loopback.

import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CredentialsFileStore, credentialsFileSource, CredentialStore, ecrSource, EcrTokens } from '../../src/credentials';
import { parseRegistryUrl } from '../../src/registry';
import { capturingLogger } from '../support/deps';
import { FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { startMoto, StartedMoto } from '../support/moto-server';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
// AWS's documented example keys: moto accepts any.
const KEYS = { awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE', awsSecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const ROOT = path.resolve(__dirname, '../..');

describe('ECR tokens from moto', () => {
  let moto: StartedMoto;
  let proxy: FaultProxy;
  let dir: string;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.url);
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-ecr-moto-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await proxy?.stop();
    await moto?.stop();
  });
  beforeEach(() => {
    proxy.requests.length = 0;
  });

  // Every ECR API call is a POST to / (the action is in X-Amz-Target); moto's own API is not asked here.
  const ecrRequests = () => proxy.requests.filter((request) => request.method === 'POST');

  it("exchanges an entry's keys for user AWS and moto's token", async () => {
    const tokens = new EcrTokens({ log: capturingLogger(), endpoint: proxy.url });
    await expect(tokens.credentialsForEntry({ address: REGISTRY, ...KEYS })).resolves.toEqual({ username: 'AWS', password: '123456789012-auth-token' });
    expect(ecrRequests()).toEqual([{ method: 'POST', path: '/', status: 200 }]);
    tokens.close();
  });

  it('asks moto once for 100 lookups through the credential store, although its token says it expired in 2015', async () => {
    const file = path.join(dir, 'credentials.yml');
    writeFileSync(file, `- address: ${REGISTRY}\n  aws_access_key_id: ${KEYS.awsAccessKeyId}\n  aws_secret_access_key: ${KEYS.awsSecretAccessKey}\n`);
    chmodSync(file, 0o600);
    const log = capturingLogger();
    const fileStore = await CredentialsFileStore.open(file, { log, recheckMs: 60_000 });
    const tokens = new EcrTokens({ log, endpoint: proxy.url });
    const store = new CredentialStore([credentialsFileSource(fileStore), ecrSource(fileStore, tokens)]);
    const registry = parseRegistryUrl(`https://${REGISTRY}`);

    for (let i = 0; i < 100; i += 1) {
      expect((await store.lookup(registry))?.credentials).toEqual({ username: 'AWS', password: '123456789012-auth-token' });
    }
    expect(ecrRequests()).toHaveLength(1);
    expect(log.lines.filter((line) => line.includes('expiry is past'))).toEqual([expect.stringContaining('"expiresAt":"2015-01-01T00:00:00.000Z"')]);
    tokens.close();
    fileStore.close();
  });

  it('keeps serving the token when the background refresh meets an ECR outage', async () => {
    let now = Date.now();
    const timers: (() => void)[] = [];
    const log = capturingLogger();
    const tokens = new EcrTokens({
      log,
      endpoint: proxy.url,
      now: () => now,
      timers: { setTimeout: (callback) => (timers.push(callback), { cancel: () => undefined }) },
    });
    const first = await tokens.credentialsForEntry({ address: REGISTRY, ...KEYS });
    // More 503s than the SDK's own attempts (3), so the refresh as a whole fails.
    proxy.setFaults([{ match: /^\/$/, method: 'POST', fault: { status: 503 }, times: 10 }]);
    now += 5 * 60_000;
    await tokens.credentialsForEntry({ address: REGISTRY, ...KEYS }); // marks it in use
    timers.shift()!(); // the refresh at half the (10-minute) lifetime
    while (!log.lines.some((line) => line.includes('refresh failed'))) await new Promise((resolve) => setTimeout(resolve, 20));

    await expect(tokens.credentialsForEntry({ address: REGISTRY, ...KEYS })).resolves.toEqual(first);
    expect(ecrRequests().map((request) => request.status)).toEqual([200, 503, 503, 503]);
    proxy.setFaults([]);
    tokens.close();
  });

  it("finds moto through the SDK's AWS_ENDPOINT_URL_ECR and signs with the default chain's keys, from a bundle built as the sidecar's is", async () => {
    // The sidecar's build (scripts/bundle.mjs) stores the SDK compressed and loads it on first use: build an entry
    // with the same plugin and run it in a fresh node, its module search paths emptied as the sidecar's are.
    const out = path.join(dir, 'ecr-token.js');
    const entry = [
      "import { EcrTokens } from './src/credentials';",
      "import { silentLogger } from './src/log';",
      'const tokens = new EcrTokens({ log: silentLogger });',
      `tokens.credentialsForEntry({ address: '${REGISTRY}' }).then((credentials) => { console.log(JSON.stringify(credentials)); tokens.close(); });`,
    ].join('\n');
    const script = [
      "import { build } from 'esbuild';",
      "import { lazyPackages } from './scripts/lazy-packages.mjs';",
      "const minify = { target: 'node20', minifyWhitespace: true, minifySyntax: true };",
      `await build({ stdin: { contents: ${JSON.stringify(entry)}, resolveDir: '.', loader: 'ts' }, outfile: ${JSON.stringify(out)}, bundle: true, platform: 'node', format: 'cjs', ...minify, plugins: [lazyPackages(['@aws-sdk/client-ecr'], minify)], banner: { js: 'module.paths = [];' }, logLevel: 'error' });`,
    ].join('\n');
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(readFileSync(out, 'utf8')).not.toContain('node_modules/@smithy');

    const env = {
      PATH: process.env.PATH,
      HOME: dir, // no ~/.aws of the user running the tests
      AWS_ENDPOINT_URL_ECR: proxy.url,
      AWS_ACCESS_KEY_ID: KEYS.awsAccessKeyId,
      AWS_SECRET_ACCESS_KEY: KEYS.awsSecretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true', // were the chain to get that far, it must not ask for an instance role
    };
    // Not execFileSync: the proxy it asks runs in this process.
    const { stdout } = await promisify(execFile)(process.execPath, [out], { cwd: dir, env, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ username: 'AWS', password: '123456789012-auth-token' });
    expect(ecrRequests()).toHaveLength(1);
  });
});
