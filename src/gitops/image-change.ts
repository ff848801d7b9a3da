// What a write-back writes: a tag, and optionally the digest and image name, checked against the Docker grammar
// before any of it reaches a file (spec §3.1 step 1).

import { GitOpsInputError } from './errors';

export interface ImageChange {
  /** The Docker tag, e.g. 1.4.2. */
  tag: string;
  /** sha256:<64 hex>, for `:digest` markers, full references and kustomize's digest field. */
  digest?: string;
  /** The repository, e.g. registry.example/team/app: `:name` markers, full references, kustomize's newName. */
  image?: string;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// distribution/reference: lower-case path components, an optional host[:port] in front.
const IMAGE = /^(?:[A-Za-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** A tag may also be a digest when only digests are written (`:digest` markers): checked where that is known. */
export function checkImageChange(change: ImageChange): ImageChange {
  if (!TAG.test(change.tag) && !isDigest(change.tag)) {
    throw new GitOpsInputError({
      message: `the image tag "${change.tag}" is not a Docker tag`,
      fix: 'give up to 128 letters, digits, "_", "." and "-", not starting with "." or "-" (e.g. 1.4.2), or a digest sha256:<64 hex digits>',
    });
  }
  if (change.digest !== undefined && !isDigest(change.digest)) {
    throw new GitOpsInputError({ message: `the digest "${change.digest}" is not of the form sha256:<64 lower-case hex digits>`, fix: 'pass the digest the registry reports, e.g. from GO_PACKAGE_<M>_DIGEST' });
  }
  if (change.image !== undefined && !IMAGE.test(change.image)) {
    throw new GitOpsInputError({ message: `the image name "${change.image}" is not a repository name`, fix: 'give it without tag or digest, e.g. registry.example/team/app' });
  }
  return change;
}

/** name:tag, with @digest when one is given (a no-suffix marker's whole reference). */
export function fullReference(name: string, change: ImageChange): string {
  const tagged = isDigest(change.tag) ? name : `${name}:${change.tag}`;
  const digest = change.digest ?? (isDigest(change.tag) ? change.tag : undefined);
  return digest ? `${tagged}@${digest}` : tagged;
}

/** The repository part of a reference as written: registry.example:5000/app:1.4@sha256:… → registry.example:5000/app. */
export function referenceName(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}
