// What `serve` is told to do, checked before it listens: the address (--listen, --port), the status token
// (--status-token-file, GOCD_REGISTRY_BRIDGE_STATUS_TOKEN) and the Drone extension's secrets and clock window
// (--drone-registry-secret-file, GOCD_REGISTRY_BRIDGE_DRONE_SECRET, --drone-max-clock-skew). A bad value stops
// serve with its cause and fix.

import { isIP } from 'node:net';
import { InvalidCredentialsFileError, readSecretFile } from '../credentials';
import { BridgeError, BridgeErrorInit } from '../errors';

export class ServeOptionError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('INVALID_CONFIGURATION', init);
  }
}

export interface ListenAddress {
  /** An IP address without brackets, or a host name. */
  host: string;
  /** 0: any free port (the ready line names it). */
  port: number;
}

/** Managed mode: the shim is the one client, on the same machine. */
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 0 };

const LISTEN_FIX = 'give HOST:PORT, e.g. 127.0.0.1:8787, 0.0.0.0:8787 (every IPv4 interface) or [::1]:8787 (IPv6 in brackets)';
// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// Status tokens travel in an Authorization header: visible ASCII, and long enough not to be guessed.
const STATUS_TOKEN = /^[\x21-\x7e]{16,}$/;
const MAX_TOKEN_FILE_BYTES = 4096;
const STATUS_TOKEN_FIX = 'use a random token of at least 16 visible ASCII characters (e.g. openssl rand -hex 32)';

/** `--listen HOST:PORT`: 127.0.0.1:8787, [::1]:8787, 0.0.0.0:0, gocd-sidecar:8787. */
export function parseListenAddress(text: string): ListenAddress {
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(text);
  if (bracketed) {
    const [, host = '', port = ''] = bracketed;
    if (isIP(host) !== 6) throw new ServeOptionError({ message: `--listen "${text}": "${host}" is not an IPv6 address`, fix: LISTEN_FIX });
    return { host, port: parsePort(port, `--listen "${text}"`) };
  }
  const colon = text.lastIndexOf(':');
  if (colon === -1) throw new ServeOptionError({ message: `--listen "${text}" has no port`, fix: LISTEN_FIX });
  const host = text.slice(0, colon);
  if (host.includes(':')) throw new ServeOptionError({ message: `--listen "${text}": an IPv6 address needs brackets`, fix: LISTEN_FIX });
  const isAddress = /^[\d.]+$/.test(host) ? isIP(host) === 4 : HOST_NAME.test(host);
  if (!isAddress) throw new ServeOptionError({ message: `--listen "${text}": "${host}" is neither an IP address nor a host name`, fix: LISTEN_FIX });
  return { host, port: parsePort(text.slice(colon + 1), `--listen "${text}"`) };
}

/** `--port N`, kept from before --listen: the same as --listen 127.0.0.1:N. */
export function listenOnLoopbackPort(text: string): ListenAddress {
  return { host: DEFAULT_LISTEN.host, port: parsePort(text, `--port "${text}"`) };
}

/** How a URL writes the address: IPv6 in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ServeOptionError({ message: `${what}: the port must be a number from 0 to 65535`, fix: '0 picks a free port; external mode needs a fixed one, e.g. 8787' });
  return Number(text);
}

/**
 * The status token from --status-token-file or GOCD_REGISTRY_BRIDGE_STATUS_TOKEN, or undefined when neither is set.
 * The file's trailing newline is dropped; its contents never appear in a message.
 */
export async function readStatusToken(file: string | undefined, fromEnv: string | undefined, uid: number | undefined): Promise<string | undefined> {
  if (file !== undefined && fromEnv !== undefined) {
    throw new ServeOptionError({
      message: 'a status token is given twice: --status-token-file and GOCD_REGISTRY_BRIDGE_STATUS_TOKEN',
      fix: 'keep one of them',
    });
  }
  const token = file === undefined ? fromEnv : await readTokenFile(file, uid);
  if (token !== undefined && !STATUS_TOKEN.test(token)) {
    const source = file === undefined ? 'GOCD_REGISTRY_BRIDGE_STATUS_TOKEN' : `the status token in ${file}`;
    throw new ServeOptionError({ message: `${source} is shorter than 16 characters or holds spaces or control characters`, fix: STATUS_TOKEN_FIX });
  }
  return token;
}

/** The token file under the rules of every secret file the sidecar reads (readSecretFile): owned by us, closed to others. */
async function readTokenFile(file: string, uid: number | undefined): Promise<string> {
  try {
    return (await readSecretFile(file, '--status-token-file', { uid, maxBytes: MAX_TOKEN_FILE_BYTES })).replace(/\r?\n$/, '');
  } catch (err) {
    if (!(err instanceof InvalidCredentialsFileError)) throw err;
    throw new ServeOptionError({ message: err.message, fix: err.fix, cause: err });
  }
}

// A Drone secret keys an HMAC that anyone who captures one signed request can attack offline: short ones fall.
const MIN_DRONE_SECRET_LENGTH = 16;
const MAX_DRONE_SECRET_FILE_BYTES = 64 * 1024;
const DRONE_SECRET_FIX =
  'put each secret (DRONE_REGISTRY_PLUGIN_TOKEN of the runners) on a line of its own, at least 16 characters and without ' +
  'spaces at either end; 32 or more also allow aesgcm answers (openssl rand -hex 16)';

/**
 * The Drone registry extension's shared secrets from --drone-registry-secret-file (owned by the sidecar's user,
 * unreadable by others) or GOCD_REGISTRY_BRIDGE_DRONE_SECRET: one a line, several while one is rotated out, blank
 * lines ignored. Undefined when neither is set (the extension is off). No secret ever appears in a message.
 */
export async function readDroneSecrets(file: string | undefined, fromEnv: string | undefined, uid: number | undefined): Promise<string[] | undefined> {
  if (file !== undefined && fromEnv !== undefined) {
    throw new ServeOptionError({
      message: 'the Drone secret is given twice: --drone-registry-secret-file and GOCD_REGISTRY_BRIDGE_DRONE_SECRET',
      fix: 'keep one of them',
    });
  }
  const source = file === undefined ? 'GOCD_REGISTRY_BRIDGE_DRONE_SECRET' : `--drone-registry-secret-file ${file}`;
  let text = fromEnv;
  if (file !== undefined) {
    try {
      text = await readSecretFile(file, '--drone-registry-secret-file', { uid, maxBytes: MAX_DRONE_SECRET_FILE_BYTES });
    } catch (err) {
      if (!(err instanceof InvalidCredentialsFileError)) throw err;
      throw new ServeOptionError({ message: err.message, fix: err.fix, cause: err });
    }
  }
  if (text === undefined) return undefined;
  return secretLines(text, source, DRONE_SECRET_FIX);
}

/** `--drone-max-clock-skew SECONDS`: whole seconds, 0 turning the Date check off; in milliseconds. */
export function parseClockSkew(text: string): number {
  if (!/^\d{1,6}$/.test(text)) {
    throw new ServeOptionError({
      message: `--drone-max-clock-skew "${text}" is not a whole number of seconds`,
      fix: 'give seconds, e.g. 300 (the default: 5 minutes), or 0 to accept any Date',
    });
  }
  return Number(text) * 1000;
}

/** Secrets one a line (blank lines skipped), each at least 16 visible characters; no secret in any message. */
function secretLines(text: string, source: string, fix: string): string[] {
  const secrets: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    const secret = line.replace(/\r$/, '');
    if (secret.trim() === '') continue;
    const problem =
      secret.trim() !== secret
        ? 'has spaces at its start or end'
        : /[\u0000-\u001f\u007f]/.test(secret)
          ? 'holds control characters'
          : secret.length < MIN_DRONE_SECRET_LENGTH
            ? `is shorter than ${MIN_DRONE_SECRET_LENGTH} characters`
            : undefined;
    if (problem) throw new ServeOptionError({ message: `${source}: the secret on line ${index + 1} ${problem}`, fix });
    secrets.push(secret);
  }
  if (secrets.length === 0) throw new ServeOptionError({ message: `${source} holds no secret`, fix });
  return secrets;
}

const API_TOKEN_FIX = 'put each API token on a line of its own, at least 16 characters without spaces at either end (openssl rand -hex 32); several while one is rotated out';

/** A service's API tokens, one a line, from a secret file (--status-registry-token-file, --gitops-token-file). */
async function readApiTokens(file: string, flag: string, uid: number | undefined): Promise<string[]> {
  let text: string;
  try {
    text = await readSecretFile(file, flag, { uid, maxBytes: MAX_DRONE_SECRET_FILE_BYTES });
  } catch (err) {
    if (!(err instanceof InvalidCredentialsFileError)) throw err;
    throw new ServeOptionError({ message: err.message, fix: err.fix, cause: err });
  }
  return secretLines(text, `${flag} ${file}`, API_TOKEN_FIX);
}

/** --status-registry-token-file: the build-status registry's API tokens. */
export const readStatusRegistryTokens = (file: string, uid: number | undefined): Promise<string[]> => readApiTokens(file, '--status-registry-token-file', uid);

/** --gitops-token-file: the GitOps write-back's API tokens. */
export const readGitOpsTokens = (file: string, uid: number | undefined): Promise<string[]> => readApiTokens(file, '--gitops-token-file', uid);

/** `--status-registry-call-timeout SECONDS`: 1 to 300 whole seconds; in milliseconds. */
export function parseCallTimeout(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 300) {
    throw new ServeOptionError({ message: `--status-registry-call-timeout "${text}" is not 1 to 300 seconds`, fix: 'give whole seconds, e.g. 10 (the default)' });
  }
  return Number(text) * 1000;
}

// One GoCD cycle shares a walk per image; beyond five minutes a pushed tag would wait longer than GoCD's own polls.
const MAX_TAG_REUSE_SECONDS = 300;

/**
 * GOCD_REGISTRY_BRIDGE_TAG_REUSE_SECONDS: how long one tag walk serves the other materials of its image, in whole
 * seconds (0: every poll walks); undefined when unset, which keeps the client's default.
 */
export function parseTagReuseMs(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,3}$/.test(text) || Number(text) > MAX_TAG_REUSE_SECONDS) {
    throw new ServeOptionError({
      message: `GOCD_REGISTRY_BRIDGE_TAG_REUSE_SECONDS "${text}" is not a whole number of seconds from 0 to ${MAX_TAG_REUSE_SECONDS}`,
      fix: 'give the seconds one tag walk may serve the materials of an image (default 10: one GoCD cycle), or unset it',
    });
  }
  return Number(text) * 1000;
}
