// Where a write-back may write: a relative, normalized path inside the clone, never under .git/ and never through
// a symbolic link (a link committed to the repository could point anywhere on this machine).

import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { GitOpsInputError } from './errors';

const PATH_FIX = 'give a path relative to the repository root, without "..", e.g. deployed_tags/prod_image_tag';

/** The destination as given, checked without touching the disk (spec §3.1 step 1). */
export function checkDestination(file: string): string {
  const refuse = (why: string) => new GitOpsInputError({ message: `the destination file "${file}" ${why}`, fix: PATH_FIX });
  if (file === '') throw refuse('is empty');
  if (/[\u0000-\u001f\\]/.test(file)) throw refuse('holds a backslash or a control character');
  if (path.posix.isAbsolute(file)) throw refuse('is absolute');
  const segments = file.split('/');
  if (segments.includes('..')) throw refuse('climbs out of the repository with ".."');
  if (path.posix.normalize(file) !== file || segments.includes('.') || file.endsWith('/')) throw refuse('is not normalized (".", "//" or a trailing "/")');
  if (segments.some((segment) => segment.toLowerCase() === '.git')) throw refuse('is inside .git/, which holds the clone\'s own configuration');
  return file;
}

/** The absolute path of `file` in `root`, refused when a part of it that exists is a symbolic link or no directory. */
export async function resolveInClone(root: string, file: string): Promise<string> {
  const segments = checkDestination(file).split('/');
  let current = root;
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    const stat = await lstat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (stat === undefined) break;
    if (stat.isSymbolicLink()) {
      throw new GitOpsInputError({
        message: `the destination file "${file}" goes through the symbolic link "${segments.slice(0, index + 1).join('/')}" in the repository`,
        fix: 'name the real file the link points to',
      });
    }
    const isLast = index === segments.length - 1;
    if (!isLast && !stat.isDirectory()) throw new GitOpsInputError({ message: `"${segments.slice(0, index + 1).join('/')}" in "${file}" is a file, not a directory`, fix: PATH_FIX });
    if (isLast && !stat.isFile()) throw new GitOpsInputError({ message: `the destination "${file}" is a directory, not a file`, fix: PATH_FIX });
  }
  return path.join(root, ...segments);
}
