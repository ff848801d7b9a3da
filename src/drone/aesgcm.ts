// The optional encrypted answer of drone-go's extension handlers (plugin/internal/aesgcm): AES-256-GCM keyed with
// the first 32 bytes of the shared secret, a random 12-byte nonce, written as nonce ‖ ciphertext ‖ tag, no AAD.
// A runner asks for it with `Accept-Encoding: aesgcm`; the docker runner never does, but other clients may.

import { createCipheriv, randomBytes } from 'node:crypto';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;

/** drone-go's aesgcm.Key counts bytes (Go's len of a string): a secret of fewer than 32 cannot key AES-256. */
export function isAesGcmKeyable(secret: string): boolean {
  return Buffer.byteLength(secret, 'utf8') >= KEY_BYTES;
}

export function encryptAesGcm(plaintext: Buffer, secret: string): Buffer {
  const key = Buffer.from(secret, 'utf8').subarray(0, KEY_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}
