// The Drone registry extension (POST /drone/registry): the HMAC request signature Drone's extension clients send,
// and the answer from the credentials file's entries and filters. Imports credentials, log and errors; never gocd
// or server, which mounts it.

export { DroneRegistryExtension } from './registry-extension';
export type { DroneAnswer, DroneRegistryExtensionOptions, DroneRequestOutcome, RegistryLogin } from './registry-extension';
export { SIGNATURE_DEFAULTS, verifySignature } from './signature';
export type { SignatureOptions, SignatureRefusalOutcome, SignatureVerdict, SignedRequest } from './signature';
