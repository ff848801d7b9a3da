// The verifier on its own, with requests signed in TypeScript so each part can be tampered with alone: the
// spec's section 9 vectors and the stricter rules of its section 2.3. Compatibility with the real client is
// test/drone/drone-client.test.ts.

import { createHmac } from 'node:crypto';
import { SIGNATURE_DEFAULTS, SignatureOptions, SignedRequest, verifySignature } from '../../src/drone';
import { distinct, DRONE_SIGNED_HEADERS, droneSignature, DroneSigning, signDroneRequest } from '../support/drone-signer';

const SECRET = 'drone-shared-secret-0123456789abcdef';
const NOW = Date.parse('2026-03-02T08:00:12Z');
const BODY = '{"repo":{"slug":"octocat/hello"},"build":{"event":"push","target":"main"}}';
const OPTIONS: SignatureOptions = { ...SIGNATURE_DEFAULTS, secrets: [SECRET], now: () => NOW };

/** A request as the router hands it over: signed now with SECRET unless `signing` says otherwise. */
function request(signing: Partial<DroneSigning> = {}, change: (headers: Record<string, string[]>) => void = () => undefined): SignedRequest {
  const body = signing.body ?? BODY;
  const headers = distinct(signDroneRequest({ secret: SECRET, body, dateMs: NOW, ...signing }));
  change(headers);
  return { method: 'POST', target: '/drone/registry', headers, body: Buffer.from(body) };
}

const verify = (signed: SignedRequest, options: Partial<SignatureOptions> = {}) => verifySignature(signed, { ...OPTIONS, ...options });
const refusal = (reason: string, outcome = 'bad_signature') => ({ accepted: false, outcome, reason });

describe('verifySignature', () => {
  it('accepts a request signed as drone-go signs it, and names the secret that signed it', () => {
    expect(verify(request())).toEqual({ accepted: true, secret: SECRET });
  });

  it('reads the parameters from Authorization: Signature … when there is no Signature header', () => {
    expect(verify(request({ via: 'authorization' }))).toEqual({ accepted: true, secret: SECRET });
  });

  it('accepts any keyId, as drone-go does, but not an empty one', () => {
    expect(verify(request({}, (h) => (h.signature = [h.signature![0]!.replace('keyId="hmac-key"', 'keyId="whatever"')])))).toMatchObject({ accepted: true });
    expect(verify(request({}, (h) => (h.signature = [h.signature![0]!.replace('keyId="hmac-key"', 'keyId=""')])))).toEqual(refusal('the signature parameter keyId is missing'));
  });

  it('accepts every secret of a rotation, and names the one that signed', () => {
    const next = 'the-next-drone-secret-fedcba987654321';
    expect(verify(request({ secret: next }), { secrets: [SECRET, next] })).toEqual({ accepted: true, secret: next });
    expect(verify(request({ secret: next }))).toEqual(refusal('invalid signature'));
  });

  it.each(DRONE_SIGNED_HEADERS)('refuses a request whose signed %s header was changed after signing', (name) => {
    const verdict = verify(request({}, (h) => (h[name] = [`${h[name]![0]}x`])));
    expect(verdict).toEqual(refusal('invalid signature'));
  });

  it('refuses a request whose body was changed after signing, by its Digest', () => {
    const signed = request();
    expect(verify({ ...signed, body: Buffer.from(BODY.replace('octocat', 'mallory')) })).toEqual(refusal('the Digest does not match the body', 'bad_digest'));
  });

  it('hashes the body bytes as they arrived: a re-serialized body with the same JSON fails', () => {
    const sent = '{ "repo": {"slug": "octocat/hello"} }';
    const signed = request({ body: sent });
    expect(verify(signed)).toMatchObject({ accepted: true });
    expect(verify({ ...signed, body: Buffer.from(JSON.stringify(JSON.parse(sent))) })).toMatchObject({ accepted: false, outcome: 'bad_digest' });
  });

  it('refuses a changed signature', () => {
    expect(verify(request({}, (h) => (h.signature = [h.signature![0]!.replace(/signature="./, 'signature="A')])))).toEqual(refusal('invalid signature'));
  });

  it('refuses a wrong secret', () => {
    expect(verify(request({ secret: 'not-the-secret-0123456789abcdef0123' }))).toEqual(refusal('invalid signature'));
  });

  it('refuses a signature parameter it does not know, as drone-go does', () => {
    expect(verify(request({ extraParameters: 'created="1772438412"' }))).toEqual(refusal('unexpected signature parameter "created"'));
  });

  it.each([
    ['no Signature or Authorization header', (h: Record<string, string[]>) => delete h.signature, 'missing signature'],
    ['an Authorization header of another scheme', (h: Record<string, string[]>) => {
      delete h.signature;
      h.authorization = ['Bearer drone-shared-secret-0123456789abcdef'];
    }, 'missing signature'],
    ['a repeated Signature header', (h: Record<string, string[]>) => h.signature!.push(h.signature![0]!), 'the Signature header is repeated'],
    ['a repeated parameter', (h: Record<string, string[]>) => (h.signature = [`${h.signature![0]},algorithm="hmac-sha256"`]), 'the signature parameter algorithm is repeated'],
    ['parameters that do not parse', (h: Record<string, string[]>) => (h.signature = [`${h.signature![0]};x`]), expect.stringMatching(/^malformed signature parameters at character \d+$/)],
    ['no algorithm', (h: Record<string, string[]>) => (h.signature = [h.signature![0]!.replace('algorithm="hmac-sha256",', '')]), 'the signature parameter algorithm is missing'],
    ['an unknown algorithm', (h: Record<string, string[]>) => (h.signature = [h.signature![0]!.replace('hmac-sha256', 'rsa-sha256')]), 'unknown algorithm "rsa-sha256"'],
  ])('refuses %s', (_case, change, reason) => {
    expect(verify(request({}, change))).toEqual(refusal(reason as string));
  });

  it('refuses hmac-sha1 unless allowed, and then accepts it', () => {
    const signed = request({ algorithm: 'hmac-sha1' });
    expect(verify(signed)).toEqual(refusal('algorithm hmac-sha1 is refused; sign with hmac-sha256'));
    expect(verify(signed, { allowHmacSha1: true })).toEqual({ accepted: true, secret: SECRET });
  });

  it.each(['date', 'digest'])('refuses a signature that does not cover %s', (name) => {
    const signed = DRONE_SIGNED_HEADERS.filter((header) => header !== name);
    expect(verify(request({ signed }))).toEqual(refusal(`the signed headers do not include ${name}`));
  });

  it('refuses a signed header that is missing, as drone-go does', () => {
    expect(verify(request({ signed: [...DRONE_SIGNED_HEADERS, 'x-drone-extra'] }))).toEqual(refusal('the signed header x-drone-extra is missing'));
  });

  it.each(['date', 'digest', 'accept'])('refuses a repeated signed %s header: Go would read the first, node would join them', (name) => {
    expect(verify(request({}, (h) => h[name]!.push(h[name]![0]!)))).toEqual(refusal(`the signed header ${name} is repeated`));
  });

  it('takes the signed header names in any case, as httpsignatures-go lower-cases them', () => {
    const signed = request({}, (h) => (h.signature = [h.signature![0]!.replace(/headers="([^"]*)"/, (_m, list: string) => `headers="${list.toUpperCase()}"`)]));
    expect(verify(signed)).toMatchObject({ accepted: true });
  });

  it('checks a signed (request-target) against the method and path', () => {
    const signed = request({ signed: ['(request-target)', ...DRONE_SIGNED_HEADERS] });
    expect(verify(signed)).toMatchObject({ accepted: true });
    expect(verify({ ...signed, target: '/elsewhere' })).toEqual(refusal('invalid signature'));
  });

  describe('signing-string mistakes a verifier must not share (the spec\'s pitfall 5)', () => {
    const signedWith = (lines: (headers: Record<string, string>) => string) => {
      const headers = signDroneRequest({ secret: SECRET, body: BODY, dateMs: NOW });
      const signature = createHmac('sha256', SECRET).update(lines(headers)).digest('base64');
      headers.Signature = headers.Signature!.replace(/signature="[^"]*"/, `signature="${signature}"`);
      return { method: 'POST', target: '/drone/registry', headers: distinct(headers), body: Buffer.from(BODY) };
    };
    const line = (headers: Record<string, string>, name: string) => `${name}: ${Object.entries(headers).find(([key]) => key.toLowerCase() === name)![1]}`;

    it('accepts the right one: lower-case names, the listed order, \\n between lines and none after', () => {
      expect(verify(signedWith((h) => DRONE_SIGNED_HEADERS.map((name) => line(h, name)).join('\n')))).toMatchObject({ accepted: true });
    });

    it.each([
      ['a trailing newline', (h: Record<string, string>) => `${DRONE_SIGNED_HEADERS.map((name) => line(h, name)).join('\n')}\n`],
      ['\\r\\n between lines', (h: Record<string, string>) => DRONE_SIGNED_HEADERS.map((name) => line(h, name)).join('\r\n')],
      ['header names as sent (capitalized)', (h: Record<string, string>) => DRONE_SIGNED_HEADERS.map((name) => line(h, name).replace(/^./, (c) => c.toUpperCase())).join('\n')],
      ['another order than the list', (h: Record<string, string>) => [...DRONE_SIGNED_HEADERS].reverse().map((name) => line(h, name)).join('\n')],
    ])('refuses %s', (_case, lines) => {
      expect(verify(signedWith(lines))).toEqual(refusal('invalid signature'));
    });
  });

  describe('Date', () => {
    it.each([
      ['6 minutes old', -6 * 60_000],
      ['6 minutes ahead', 6 * 60_000],
    ])('refuses a Date %s, with the skew in the reason', (_case, offsetMs) => {
      expect(verify(request({ dateMs: NOW + offsetMs }))).toEqual(refusal(`the Date is 360 s ${offsetMs < 0 ? 'old' : 'ahead'}, beyond the 300 s allowed`, 'stale_date'));
    });

    it('accepts a Date within the window, and any Date when the window is 0', () => {
      expect(verify(request({ dateMs: NOW - 4 * 60_000 }))).toMatchObject({ accepted: true });
      expect(verify(request({ dateMs: NOW - 30 * 86_400_000 }), { maxClockSkewMs: 0 })).toMatchObject({ accepted: true });
      expect(verify(request({ dateMs: NOW - 90_000 }), { maxClockSkewMs: 60_000 })).toMatchObject({ accepted: false, outcome: 'stale_date' });
    });

    it('refuses a signed Date that is not an IMF-fixdate', () => {
      const headers = signDroneRequest({ secret: SECRET, body: BODY, dateMs: NOW });
      headers.Date = new Date(NOW).toISOString();
      headers.Signature = headers.Signature!.replace(/signature="[^"]*"/, `signature="${droneSignature(SECRET, 'hmac-sha256', DRONE_SIGNED_HEADERS, headers, '')}"`);
      const signed = { method: 'POST', target: '/drone/registry', headers: distinct(headers), body: Buffer.from(BODY) };
      expect(verify(signed)).toEqual(refusal('the Date header is not an HTTP date (IMF-fixdate)', 'stale_date'));
    });

    it('tells a caller without the secret nothing about its Date or Digest', () => {
      const stale = request({ secret: 'not-the-secret-0123456789abcdef0123', dateMs: NOW - 86_400_000 });
      expect(verify({ ...stale, body: Buffer.from('{}') })).toEqual(refusal('invalid signature'));
    });
  });
});
