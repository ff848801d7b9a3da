// The request signature of Drone's extension calls: draft-cavage HTTP Signatures with an HMAC over chosen headers,
// as drone-go's plugin client signs them (keyId="hmac-key", headers "accept accept-encoding content-type date
// digest"). Compatible with that client, and stricter than drone-go's own verifier where that costs a real runner
// nothing: hmac-sha256 only by default, Date and Digest must be signed, the Digest must be the body's SHA-256, the
// Date must be recent, and a signed header may appear once only.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Why a request was refused, for the metrics: a wrong or missing signature, a replay from long ago, a changed body. */
export type SignatureRefusalOutcome = 'bad_signature' | 'stale_date' | 'bad_digest';

/** The parts of a request the signature covers, with nothing from node:http. */
export interface SignedRequest {
  /** POST, as sent. */
  method: string;
  /** The path and query as sent: what a signed (request-target) stands for. */
  target: string;
  /** Every value of each header, by lower-case name (node's headersDistinct), so a repeated header shows. */
  headers: Readonly<Record<string, readonly string[] | undefined>>;
  /** The body's bytes as they arrived; the Digest is checked on these, never on re-serialized JSON. */
  body: Buffer;
}

export interface SignatureOptions {
  /** The shared secrets (DRONE_REGISTRY_PLUGIN_TOKEN on the runners); several while one is being rotated out. */
  secrets: readonly string[];
  /** false: a client may not choose the weaker hmac-sha1, which drone-go's verifier accepts when declared. */
  allowHmacSha1: boolean;
  /** 300 s: how far Date may be from our clock before a request counts as a replay; 0 turns the check off. */
  maxClockSkewMs: number;
  now(): number;
}

export const SIGNATURE_DEFAULTS: Omit<SignatureOptions, 'secrets'> = {
  allowHmacSha1: false,
  // drone-go does not check Date at all; five minutes covers runners whose clocks drift a little.
  maxClockSkewMs: 5 * 60_000,
  now: Date.now,
};

export type SignatureVerdict =
  | { accepted: true; /** the secret that signed the request: it also keys an aesgcm answer */ secret: string }
  | { accepted: false; outcome: SignatureRefusalOutcome; reason: string };

const PARAMETER_KEYS = ['keyId', 'algorithm', 'headers', 'signature'] as const;
type ParameterKey = (typeof PARAMETER_KEYS)[number];
const ALGORITHMS: Readonly<Record<string, 'sha256' | 'sha1'>> = { 'hmac-sha256': 'sha256', 'hmac-sha1': 'sha1' };
// key="value" pairs separated by commas (httpsignatures-go writes them without spaces; a space is tolerated).
const PARAMETER = /\s*(\w+)="([^"]*)"\s*(?:,|$)/y;
const REQUEST_TARGET = '(request-target)';
const AUTHORIZATION_SCHEME = /^Signature\s+/i;
const SHA256_PREFIX = 'sha-256=';

/**
 * Checks a request's signature, in an order that tells a caller without the secret nothing but "invalid": the
 * parameters and the signed header list first, then the HMAC, and only for a correctly signed request whether
 * its Digest matches the body and its Date is recent.
 */
export function verifySignature(request: SignedRequest, options: SignatureOptions): SignatureVerdict {
  const refuse = (reason: string, outcome: SignatureRefusalOutcome = 'bad_signature'): SignatureVerdict => ({ accepted: false, outcome, reason });
  const found = signatureParameters(request.headers);
  if ('problem' in found) return refuse(found.problem);
  const { algorithm, headers, signature } = found.parameters;
  const hash = ALGORITHMS[algorithm];
  if (hash === undefined) return refuse(`unknown algorithm "${algorithm.slice(0, 40)}"`);
  if (hash === 'sha1' && !options.allowHmacSha1) return refuse('algorithm hmac-sha1 is refused; sign with hmac-sha256');
  const names = headers.toLowerCase().split(' ');
  for (const required of ['date', 'digest']) {
    if (!names.includes(required)) return refuse(`the signed headers do not include ${required}`);
  }
  let signingString = '';
  for (const name of names) {
    if (signingString !== '') signingString += '\n';
    if (name === REQUEST_TARGET) {
      signingString += `${REQUEST_TARGET}: ${request.method.toLowerCase()} ${request.target}`;
      continue;
    }
    const values = request.headers[name];
    // Go's Header.Get reads the first value only: a second one could say something the signature never covered.
    if (values !== undefined && values.length > 1) return refuse(`the signed header ${name} is repeated`);
    const value = values?.[0];
    if (value === undefined || value === '') return refuse(`the signed header ${name.slice(0, 40)} is missing`);
    signingString += `${name}: ${value}`;
  }
  const secret = options.secrets.find((candidate) => isSameText(signature, createHmac(hash, candidate).update(signingString).digest('base64')));
  if (secret === undefined) return refuse('invalid signature');

  const digestProblem = checkDigest(request.headers.digest![0]!, request.body);
  if (digestProblem) return refuse(digestProblem, 'bad_digest');
  if (options.maxClockSkewMs > 0) {
    const dateProblem = checkDate(request.headers.date![0]!, options.now(), options.maxClockSkewMs);
    if (dateProblem) return refuse(dateProblem, 'stale_date');
  }
  return { accepted: true, secret };
}

/** From `Signature: …` or else `Authorization: Signature …` (httpsignatures-go FromRequest), parsed by key. */
function signatureParameters(headers: SignedRequest['headers']): { parameters: Record<ParameterKey, string> } | { problem: string } {
  let text: string;
  if (headers.signature !== undefined) {
    if (headers.signature.length > 1) return { problem: 'the Signature header is repeated' };
    text = headers.signature[0]!;
  } else {
    const authorization = headers.authorization;
    if (authorization === undefined || !AUTHORIZATION_SCHEME.test(authorization[0]!)) return { problem: 'missing signature' };
    if (authorization.length > 1) return { problem: 'the Authorization header is repeated' };
    text = authorization[0]!.replace(AUTHORIZATION_SCHEME, '');
  }
  const parameters: Partial<Record<ParameterKey, string>> = {};
  PARAMETER.lastIndex = 0;
  while (PARAMETER.lastIndex < text.length) {
    const start = PARAMETER.lastIndex;
    const match = PARAMETER.exec(text);
    if (!match) return { problem: `malformed signature parameters at character ${start + 1}` };
    const [, key = '', value = ''] = match;
    // As drone-go's verifier does: a parameter it does not know (created, expires …) is an error, not ignored.
    if (!(PARAMETER_KEYS as readonly string[]).includes(key)) return { problem: `unexpected signature parameter "${key.slice(0, 40)}"` };
    if (parameters[key as ParameterKey] !== undefined) return { problem: `the signature parameter ${key} is repeated` };
    parameters[key as ParameterKey] = value;
  }
  for (const key of ['keyId', 'algorithm', 'signature'] as const) {
    if (!parameters[key]) return { problem: `the signature parameter ${key} is missing` };
  }
  return { parameters: { headers: '', ...parameters } as Record<ParameterKey, string> };
}

/** `SHA-256=<base64>` of the body; other algorithms in a list (RFC 3230) are ignored, the SHA-256 one is required. */
function checkDigest(header: string, body: Buffer): string | undefined {
  let sha256Value: string | undefined;
  for (const entry of header.split(',')) {
    const trimmed = entry.trim();
    if (trimmed.length < SHA256_PREFIX.length || trimmed.slice(0, SHA256_PREFIX.length).toLowerCase() !== SHA256_PREFIX) continue;
    if (sha256Value !== undefined) return 'the Digest header has no single SHA-256 value';
    sha256Value = trimmed.slice(SHA256_PREFIX.length);
  }
  if (sha256Value === undefined) return 'the Digest header has no single SHA-256 value';
  // The body's hash is no secret (the sender has the body): a plain comparison leaks nothing.
  return sha256Value === createHash('sha256').update(body).digest('base64') ? undefined : 'the Digest does not match the body';
}

/** An IMF-fixdate (Go's http.TimeFormat, what drone-go sends) within maxSkewMs of now. */
function checkDate(header: string, nowMs: number, maxSkewMs: number): string | undefined {
  const dateMs = parseHttpDate(header);
  if (dateMs === undefined) return 'the Date header is not an HTTP date (IMF-fixdate)';
  const skewSeconds = Math.round((dateMs - nowMs) / 1000);
  if (Math.abs(dateMs - nowMs) <= maxSkewMs) return undefined;
  return `the Date is ${Math.abs(skewSeconds)} s ${skewSeconds < 0 ? 'old' : 'ahead'}, beyond the ${maxSkewMs / 1000} s allowed`;
}

// Runners sign with the current second, so under load most requests repeat the last Date header: its parse is kept.
let lastHttpDate: { header: string; ms: number } | undefined;

/** The time of an IMF-fixdate; undefined for any other form Date.parse would accept. */
function parseHttpDate(header: string): number | undefined {
  if (lastHttpDate?.header === header) return lastHttpDate.ms;
  const ms = Date.parse(header);
  // toUTCString() writes IMF-fixdate, so the round trip refuses every other form.
  if (Number.isNaN(ms) || new Date(ms).toUTCString() !== header) return undefined;
  lastHttpDate = { header, ms };
  return ms;
}

/**
 * Equal in constant time for inputs of one length. A length alone tells nothing: an HMAC's base64 length is fixed
 * by its algorithm.
 */
function isSameText(presented: string, expected: string): boolean {
  const presentedBytes = Buffer.from(presented);
  const expectedBytes = Buffer.from(expected);
  return presentedBytes.length === expectedBytes.length && timingSafeEqual(presentedBytes, expectedBytes);
}
