// Throwaway keys and certificates made with the openssl CLI (the project takes no npm dependency for this):
// a CA plus a loopback server certificate for TLS mode, and a self-signed certificate for signing tokens.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ServerCertificate {
  /** PEM of the CA that signed the server certificate: what a client must trust. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface SigningCertificate {
  certFile: string;
  keyFile: string;
}

// A day is plenty for a test run, and short enough that a leaked file is useless.
const DAYS = '1';
// P-256 keys generate in milliseconds, where RSA keys of a useful size take a noticeable fraction of a second.
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA, and a server certificate it signed for 127.0.0.1 and localhost, written into dir. */
export function makeServerCertificate(dir: string): ServerCertificate {
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  const csrFile = path.join(dir, 'server.csr');
  const extFile = path.join(dir, 'server.ext');
  openssl(['req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', caFile, '-days', DAYS, '-subj', '/CN=gocd-registry-bridge test CA']);
  openssl(['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=localhost']);
  // Clients check the address they dialled against subjectAltName, never the CN.
  writeFileSync(extFile, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', DAYS, '-extfile', extFile, '-out', certFile]);
  return { caFile, certFile, keyFile };
}

/** A self-signed P-256 certificate and its key, written into dir, for ES256 token signatures. */
export function makeSigningCertificate(dir: string): SigningCertificate {
  const certFile = path.join(dir, 'signing.pem');
  const keyFile = path.join(dir, 'signing-key.pem');
  openssl(['req', '-x509', ...EC_KEY, '-keyout', keyFile, '-out', certFile, '-days', DAYS, '-subj', '/CN=gocd-registry-bridge test token issuer']);
  return { certFile, keyFile };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
