import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CredentialSourceError,
  CredentialsFileStore,
  credentialsFileSource,
  CredentialStore,
  EcrClientConfig,
  ecrSource,
  EcrTokens,
  parseEcrAddress,
} from '../../src/credentials';
import type { EcrAuthorizationAnswer } from '../../src/credentials/ecr';
import { parseRegistryUrl } from '../../src/registry';
import { capturingLogger } from '../support/deps';
import { rejection } from '../support/thrown';

const ACCOUNT = '123456789012';
const REGISTRY = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`;
const KEYS = { awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE', awsSecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const ENTRY = { address: REGISTRY, ...KEYS };
const START = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const token = (password: string) => Buffer.from(`AWS:${password}`).toString('base64');

/** A clock and timers the test moves by hand; due timers fire in order, and the promises they start settle. */
function fakeClock() {
  let now = START;
  const pending = new Set<{ at: number; callback: () => void }>();
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    now: () => now,
    timers: {
      setTimeout(callback: () => void, ms: number) {
        const timer = { at: now + ms, callback };
        pending.add(timer);
        return { cancel: () => pending.delete(timer) };
      },
    },
    pendingTimers: () => pending.size,
    async advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = [...pending].filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        pending.delete(due);
        now = due.at;
        due.callback();
        await settle();
      }
      now = until;
      await settle();
    },
  };
}

type Answer = EcrAuthorizationAnswer | Error;

/** An ECR API that answers from a script (the last answer repeats), records each call and can hold answers back. */
function fakeEcr(...script: ((at: number) => Answer)[]) {
  const calls: { config: EcrClientConfig; registryIds: string[] }[] = [];
  let held: (() => void)[] | undefined;
  return {
    calls,
    /** Answers wait until release(). */
    hold() {
      held = [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      waiting.forEach((go) => go());
    },
    factory: (config: EcrClientConfig) => ({
      async getAuthorizationToken(registryIds: string[]) {
        calls.push({ config, registryIds });
        if (held) await new Promise<void>((resolve) => held!.push(resolve));
        const answer = script[Math.min(calls.length, script.length) - 1]!(clock.now());
        if (answer instanceof Error) throw answer;
        return answer;
      },
    }),
  };
}

/** ECR's answer: a token that expires `lifetimeMs` after `at` (AWS: 12 hours). */
const validFor = (lifetimeMs: number, password: string) => (at: number) => ({
  authorizationData: [{ authorizationToken: token(password), expiresAt: new Date(at + lifetimeMs) }],
});

/** An SDK service error as @aws-sdk/client-ecr throws it. */
function awsError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

let clock: ReturnType<typeof fakeClock>;
let log: ReturnType<typeof capturingLogger>;
beforeEach(() => {
  clock = fakeClock();
  log = capturingLogger();
});

function tokens(ecr: ReturnType<typeof fakeEcr>, endpoint?: string) {
  return new EcrTokens({ log, now: clock.now, timers: clock.timers, createClient: ecr.factory, endpoint });
}

const warnings = () => log.lines.map((line) => JSON.parse(line)).filter((line) => line.level === 'warn');

describe('parseEcrAddress', () => {
  it.each([
    ['a commercial region', REGISTRY, { account: ACCOUNT, region: 'eu-west-1', isFips: false }],
    ['a FIPS registry', `${ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com`, { account: ACCOUNT, region: 'us-gov-west-1', isFips: true }],
    ['the China partition', `${ACCOUNT}.dkr.ecr.cn-northwest-1.amazonaws.com.cn`, { account: ACCOUNT, region: 'cn-northwest-1', isFips: false }],
  ])('reads %s', (_kind, address, expected) => {
    expect(parseEcrAddress(address)).toEqual({ host: address, ...expected });
  });

  it.each([
    ['an account id of 11 digits', '12345678901.dkr.ecr.eu-west-1.amazonaws.com'],
    ['a port', `${REGISTRY}:443`],
    ['a dual-stack name', `${ACCOUNT}.dkr-ecr.eu-west-1.on.aws`],
    ['ECR Public', 'public.ecr.aws'],
    ['a look-alike domain', `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com.example.org`],
    ['Docker Hub', 'docker.io'],
  ])('refuses %s', (_kind, address) => {
    expect(parseEcrAddress(address)).toBeUndefined();
  });
});

describe('EcrTokens', () => {
  it("exchanges the entry's keys for user and password, asking for the address's account in its region", async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    const registerSecret = jest.spyOn(log, 'registerSecret');
    await expect(tokens(ecr, 'http://127.0.0.1:1').credentialsForEntry(ENTRY)).resolves.toEqual({ username: 'AWS', password: 'ecr-password-1' });
    expect(ecr.calls).toEqual([
      {
        config: { region: 'eu-west-1', isFips: false, keys: { accessKeyId: KEYS.awsAccessKeyId, secretAccessKey: KEYS.awsSecretAccessKey }, endpoint: 'http://127.0.0.1:1' },
        registryIds: [ACCOUNT],
      },
    ]);
    expect(registerSecret).toHaveBeenCalledWith('ecr-password-1');
  });

  it("uses the SDK's default credential chain for an entry without keys, and the FIPS endpoint for a FIPS address", async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    await tokens(ecr).credentialsForEntry({ address: `${ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com` });
    expect(ecr.calls[0]!.config).toEqual({ region: 'us-east-1', isFips: true, keys: undefined, endpoint: undefined });
  });

  it('answers nothing for an entry of another registry, and asks nobody', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    await expect(tokens(ecr).credentialsForEntry({ address: 'docker.io', ...KEYS })).resolves.toBeUndefined();
    expect(ecr.calls).toEqual([]);
  });

  it('serves the cached token until half its lifetime without asking ECR again', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    const ecrTokens = tokens(ecr);
    for (let i = 0; i < 100; i += 1) {
      await ecrTokens.credentialsForEntry(ENTRY);
      await clock.advance(3 * MINUTE); // 5 hours in all
    }
    expect(ecr.calls).toHaveLength(1);
  });

  it('shares one request among concurrent first uses', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    ecr.hold();
    const ecrTokens = tokens(ecr);
    const answers = Promise.all(Array.from({ length: 10 }, () => ecrTokens.credentialsForEntry(ENTRY)));
    await clock.advance(0);
    ecr.release();
    expect(new Set((await answers).map((credentials) => credentials?.password))).toEqual(new Set(['ecr-password-1']));
    expect(ecr.calls).toHaveLength(1);
  });

  it('refreshes a token in use in the background at half its lifetime; callers get the old one meanwhile', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'), validFor(12 * HOUR, 'ecr-password-2'));
    const ecrTokens = tokens(ecr);
    await ecrTokens.credentialsForEntry(ENTRY);
    await clock.advance(HOUR);
    await ecrTokens.credentialsForEntry(ENTRY); // in use since the fetch
    ecr.hold();
    await clock.advance(5 * HOUR);
    expect(ecr.calls).toHaveLength(2); // the timer asked, and its answer is held back

    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toEqual({ username: 'AWS', password: 'ecr-password-1' });
    ecr.release();
    await clock.advance(0);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toEqual({ username: 'AWS', password: 'ecr-password-2' });
    expect(ecr.calls).toHaveLength(2);
  });

  it('lets a token nobody uses lapse, and refreshes it in the background on its next use', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'), validFor(12 * HOUR, 'ecr-password-2'));
    const ecrTokens = tokens(ecr);
    await ecrTokens.credentialsForEntry(ENTRY);
    await clock.advance(7 * HOUR);
    expect(ecr.calls).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);

    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-1' });
    await clock.advance(0);
    expect(ecr.calls).toHaveLength(2);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-2' });
  });

  it('keeps serving the token when a refresh fails, warns, and retries with growing backoff', async () => {
    const outage = () => awsError('ServiceUnavailableException', 'ECR is having a bad day', 503);
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'), outage, outage, validFor(12 * HOUR, 'ecr-password-2'));
    const ecrTokens = tokens(ecr);
    await ecrTokens.credentialsForEntry(ENTRY);
    await clock.advance(HOUR);
    await ecrTokens.credentialsForEntry(ENTRY);

    await clock.advance(5 * HOUR); // the refresh at 6 h fails
    expect(ecr.calls).toHaveLength(2);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-1' });
    expect(warnings()).toEqual([
      expect.objectContaining({ msg: expect.stringContaining('refresh failed'), registry: REGISTRY, problem: expect.stringContaining('ECR is having a bad day') }),
    ]);

    await clock.advance(10_000 - 1);
    expect(ecr.calls).toHaveLength(2);
    await clock.advance(1); // 10 s later: fails again
    expect(ecr.calls).toHaveLength(3);
    await clock.advance(20_000); // 20 s later: succeeds
    expect(ecr.calls).toHaveLength(4);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-2' });
  });

  it('takes an expiry already past (moto answers 2015) as 10 minutes: refreshed in the background, never per call', async () => {
    const in2015 = (password: string) => () => ({ authorizationData: [{ authorizationToken: token(password), expiresAt: new Date(Date.UTC(2015, 0, 1)) }] });
    const ecr = fakeEcr(in2015('ecr-password-1'), in2015('ecr-password-2'));
    const ecrTokens = tokens(ecr);
    for (let i = 0; i < 100; i += 1) {
      await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-1' });
      await clock.advance(2_000); // 200 s in all
    }
    expect(ecr.calls).toHaveLength(1);

    await clock.advance(5 * MINUTE - 200_000); // half of the 10 minutes: a refresh, while the first token is served
    expect(ecr.calls).toHaveLength(2);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-2' });
    expect(warnings()).toEqual([expect.objectContaining({ msg: expect.stringContaining('expiry is past, missing or less than 10 minutes away'), expiresAt: '2015-01-01T00:00:00.000Z' })]);
  });

  it('stops serving a token shortly before its expiry when every refresh fails, then names the failure', async () => {
    const refused = () => awsError('ServiceUnavailableException', 'ECR is having a bad day', 503);
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'), refused);
    const ecrTokens = tokens(ecr);
    await ecrTokens.credentialsForEntry(ENTRY);
    await clock.advance(HOUR);
    await ecrTokens.credentialsForEntry(ENTRY);
    await clock.advance(11 * HOUR - MINUTE - 1);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-1' });
    await clock.advance(1);
    const err = await rejection<CredentialSourceError>(ecrTokens.credentialsForEntry(ENTRY));
    expect(err).toBeInstanceOf(CredentialSourceError);
    expect(err.message).toContain('ECR is having a bad day');
  });

  it('fails with the registry, the region and the AWS error when no token exists, never a secret', async () => {
    const leaky = awsError('UnrecognizedClientException', `The security token included in the request is invalid (${KEYS.awsSecretAccessKey})`, 400);
    const ecr = fakeEcr(() => leaky);
    const err = await rejection<CredentialSourceError>(tokens(ecr).credentialsForEntry(ENTRY));
    expect(err).toBeInstanceOf(CredentialSourceError);
    expect(err.message).toBe(
      `no ECR token for ${REGISTRY} (region eu-west-1, with the AWS keys of its credentials-file entry): ` +
        'UnrecognizedClientException: The security token included in the request is invalid (***)',
    );
    expect(err.fix).toContain('ecr:GetAuthorizationToken');
    expect(err.retryable).toBe(false);
    expect(`${err.message} ${err.fix}`).not.toContain(KEYS.awsSecretAccessKey);
  });

  it('says how to give credentials when the default chain finds none', async () => {
    const ecr = fakeEcr(() => awsError('CredentialsProviderError', 'Could not load credentials from any providers', 0));
    const err = await rejection<CredentialSourceError>(tokens(ecr).credentialsForEntry({ address: REGISTRY }));
    expect(err.message).toContain("with the AWS SDK's default credential chain");
    expect(err.fix).toContain('add aws_access_key_id and aws_secret_access_key to the entry');
  });

  it('answers the last error without asking ECR again until the retry time', async () => {
    const ecr = fakeEcr(() => awsError('ThrottlingException', 'Rate exceeded', 400), validFor(12 * HOUR, 'ecr-password-1'));
    const ecrTokens = tokens(ecr);
    const first = await rejection(ecrTokens.credentialsForEntry(ENTRY));
    await clock.advance(9_999);
    expect(await rejection(ecrTokens.credentialsForEntry(ENTRY))).toBe(first);
    expect(ecr.calls).toHaveLength(1);
    await clock.advance(1);
    await expect(ecrTokens.credentialsForEntry(ENTRY)).resolves.toMatchObject({ password: 'ecr-password-1' });
    expect(ecr.calls).toHaveLength(2);
  });

  it('refuses an answer whose token is not base64 of user:password, quoting none of it', async () => {
    const ecr = fakeEcr(() => ({ authorizationData: [{ authorizationToken: Buffer.from('no-colon-secret').toString('base64'), expiresAt: new Date(START + HOUR) }] }));
    const err = await rejection<CredentialSourceError>(tokens(ecr).credentialsForEntry(ENTRY));
    expect(err.message).toBe(`ECR answered GetAuthorizationToken for ${REGISTRY} (region eu-west-1) without a usable token (base64 of user:password)`);
  });

  it('asks again for new keys of the same registry', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'), validFor(12 * HOUR, 'ecr-password-2'));
    const ecrTokens = tokens(ecr);
    await ecrTokens.credentialsForEntry(ENTRY);
    await expect(ecrTokens.credentialsForEntry({ ...ENTRY, awsSecretAccessKey: 'a-rotated-secret-key' })).resolves.toMatchObject({ password: 'ecr-password-2' });
    expect(ecr.calls).toHaveLength(2);
  });

  it('stops its timers on close', async () => {
    const ecrTokens = tokens(fakeEcr(validFor(12 * HOUR, 'ecr-password-1')));
    await ecrTokens.credentialsForEntry(ENTRY);
    expect(clock.pendingTimers()).toBe(1);
    ecrTokens.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('ecrSource in the credential store', () => {
  let dir: string;
  let file: CredentialsFileStore;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bridge-ecr-source-'));
    const yaml = [
      `- address: ${REGISTRY}`,
      `  aws_access_key_id: ${KEYS.awsAccessKeyId}`,
      `  aws_secret_access_key: ${KEYS.awsSecretAccessKey}`,
      `- address: ${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`,
      '  username: AWS',
      '  password: a-static-password',
      '',
    ].join('\n');
    writeFileSync(path.join(dir, 'credentials.yml'), yaml);
    chmodSync(path.join(dir, 'credentials.yml'), 0o600);
    file = await CredentialsFileStore.open(path.join(dir, 'credentials.yml'), { log: capturingLogger(), recheckMs: HOUR });
  });
  afterAll(() => {
    file.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const store = (ecr: ReturnType<typeof fakeEcr>) => new CredentialStore([credentialsFileSource(file), ecrSource(file, tokens(ecr))]);

  it('answers an ECR host listed with AWS keys with a token from ECR', async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    await expect(store(ecr).lookup(parseRegistryUrl(`https://${REGISTRY}`))).resolves.toEqual({
      credentials: { username: 'AWS', password: 'ecr-password-1' },
      source: `an ECR token for the AWS keys in the credentials file ${file.file}`,
    });
  });

  it("prefers an ECR host's username and password in the file, and asks ECR for no host it does not list", async () => {
    const ecr = fakeEcr(validFor(12 * HOUR, 'ecr-password-1'));
    const found = await store(ecr).lookup(parseRegistryUrl(`${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`));
    expect(found?.credentials).toEqual({ username: 'AWS', password: 'a-static-password' });
    await expect(store(ecr).lookup(parseRegistryUrl(`${ACCOUNT}.dkr.ecr.ap-south-1.amazonaws.com`))).resolves.toBeUndefined();
    await expect(store(ecr).lookup(parseRegistryUrl('docker.io'))).resolves.toBeUndefined();
    expect(ecr.calls).toEqual([]);
  });
});
