// The three edit modes as one pure function from the file's bytes (undefined: no such file) to its new bytes. The
// caller compares the two to decide between a commit and a no-op.

import { GitOpsInputError } from './errors';
import { ImageChange, isDigest } from './image-change';
import { editKustomization } from './kustomize-edit';
import { editMarkedLines } from './marker-edit';
import { ANY_TAG, refuseOlderThan } from './monotonic';

export const EDIT_MODES = ['whole-file', 'marker', 'kustomize'] as const;
export type EditMode = (typeof EDIT_MODES)[number];

export interface EditSpec {
  mode: EditMode;
  /** Marker mode: the policy id before the suffix, e.g. apps:app for {"$imagepolicy": "apps:app:tag"}. */
  marker?: string;
  change: ImageChange;
  /** Refuse a tag semver orders below the one it replaces (--monotonic). */
  monotonic?: boolean;
}

export function editText(current: string | undefined, spec: EditSpec, file: string): string {
  const { change } = spec;
  if (spec.mode !== 'marker' && isDigest(change.tag)) {
    throw new GitOpsInputError({ message: `a digest is given as the image tag, which ${spec.mode} mode does not write`, fix: 'pass the tag; digests go into marker mode :digest markers or kustomize (--digest)' });
  }
  const guard = spec.monotonic ? refuseOlderThan(change.tag) : ANY_TAG;
  switch (spec.mode) {
    case 'whole-file':
      // The original's echo writes TAG and a newline; a file that holds the tag without one is left alone (§3.1 step 4).
      if (current === change.tag || current === `${change.tag}\n`) return current;
      if (current !== undefined) guard(current.trim(), file);
      return `${change.tag}\n`;
    case 'marker':
      if (!spec.marker) throw new GitOpsInputError({ message: 'marker mode needs the marker id to update', fix: 'pass --marker ID (PLUGIN_MARKER), e.g. apps:app for # {"$imagepolicy": "apps:app:tag"}' });
      if (current === undefined) throw new GitOpsInputError({ message: `${file} does not exist, so no marker in it can match`, fix: 'check --destination-file and --branch' });
      return editMarkedLines(current, spec.marker, change, file, guard);
    case 'kustomize':
      if (current === undefined) throw new GitOpsInputError({ message: `${file} does not exist`, fix: 'point --destination-file at the kustomization.yaml of the overlay' });
      return editKustomization(current, change, file, guard);
  }
}
