// Marker mode (spec §4): the lines whose trailing comment is a Flux setter, {"$imagepolicy": "ns:name[:suffix]"}, or
// ours, {"$gitops": "id[:suffix]"}, get one scalar replaced; every other byte stays. This works on the text, since
// a YAML parse-and-dump loses comments and quoting.

import { GitOpsInputError } from './errors';
import { fullReference, ImageChange, isDigest, referenceName } from './image-change';
import type { TagGuard } from './monotonic';
import { ScalarStyle, writeScalar } from './scalar';

type Suffix = 'tag' | 'name' | 'digest' | undefined;

// A YAML comment starts after whitespace; the marker is the whole comment.
const MARKER = /(\s+#\s*\{\s*"\$(imagepolicy|gitops)"\s*:\s*"([^"]+)"\s*\}\s*)$/;
// Indentation, an optional "- ", an optional key (plain up to the first ": ", or quoted), then the value.
const LINE = /^(\s*(?:-\s+)?(?:"(?:[^"\\]|\\.)*"\s*:\s+|'(?:[^']|'')*'\s*:\s+|[^\s#'"-][^#]*?:\s+)?)(.*)$/;
const SUFFIXES: readonly string[] = ['tag', 'name', 'digest'];

/** The text with every line marked `markerId` rewritten; a marker that matches nothing is a configuration error. */
export function editMarkedLines(text: string, markerId: string, change: ImageChange, file: string, guard: TagGuard): string {
  let matches = 0;
  const lines = text.split('\n').map((line, index) => {
    const hasCr = line.endsWith('\r');
    const bare = hasCr ? line.slice(0, -1) : line;
    const marker = MARKER.exec(bare);
    if (!marker) return line;
    const { id, suffix } = parsePolicy(marker[2] as 'imagepolicy' | 'gitops', marker[3] as string);
    if (id !== markerId) return line;
    matches += 1;
    const where = `${file} line ${index + 1}`;
    const edited = editLine(bare.slice(0, marker.index), suffix, change, where, guard);
    return `${edited}${marker[1]}${hasCr ? '\r' : ''}`;
  });
  if (matches === 0) {
    throw new GitOpsInputError({
      message: `no line of ${file} carries the marker "${markerId}"`,
      fix: `mark the value with a trailing comment # {"$imagepolicy": "${markerId}:tag"} (or {"$gitops": "…"}), or pass the id a marker there has (the part before :tag, :name or :digest)`,
    });
  }
  return lines.join('\n');
}

/** `ns:app:tag` → id `ns:app`, suffix tag; a $gitops id has no namespace, so `app:tag` → `app`, tag. */
function parsePolicy(key: 'imagepolicy' | 'gitops', value: string): { id: string; suffix: Suffix } {
  const parts = value.split(':');
  const last = parts[parts.length - 1] as string;
  const hasSuffix = SUFFIXES.includes(last) && parts.length >= (key === 'imagepolicy' ? 3 : 2);
  return hasSuffix ? { id: parts.slice(0, -1).join(':'), suffix: last as Suffix } : { id: value, suffix: undefined };
}

function editLine(before: string, suffix: Suffix, change: ImageChange, where: string, guard: TagGuard): string {
  const [, prefix = '', token = ''] = LINE.exec(before) ?? [];
  const scalar = readScalar(token, where);
  const next = newValue(scalar.value, suffix, change, where);
  if (next !== scalar.value && (suffix === 'tag' || suffix === undefined)) guard(suffix === 'tag' ? scalar.value : referenceTag(scalar.value), where);
  return `${prefix}${writeScalar(next, scalar.style)}`;
}

function readScalar(token: string, where: string): { value: string; style: ScalarStyle } {
  const refuse = (what: string) =>
    new GitOpsInputError({ message: `the marked value on ${where} is ${what}`, fix: 'mark a single-line plain or quoted scalar, e.g. tag: 1.4.2 # {"$imagepolicy": "ns:app:tag"}' });
  if (token === '' || /^[|>]/.test(token)) throw refuse('a multi-line scalar (or on the next line)');
  if (/^[&*]/.test(token)) throw refuse('an anchor or an alias');
  if (/^[!{[]/.test(token)) throw refuse('a tagged value or a flow collection');
  const double = /^"((?:[^"\\]|\\.)*)"$/.exec(token);
  if (double) return { value: JSON.parse(`"${double[1]}"`) as string, style: 'double' };
  const single = /^'((?:[^']|'')*)'$/.exec(token);
  if (single) return { value: (single[1] as string).replace(/''/g, "'"), style: 'single' };
  if (/^["']/.test(token)) throw refuse('a quoted scalar that does not end on its line');
  return { value: token, style: 'plain' };
}

function newValue(current: string, suffix: Suffix, change: ImageChange, where: string): string {
  switch (suffix) {
    case 'tag':
      if (isDigest(change.tag)) throw new GitOpsInputError({ message: `the marker on ${where} takes a tag, and a digest was given as the tag`, fix: 'pass the tag, and the digest separately (--digest)' });
      return change.tag;
    case 'digest': {
      const digest = change.digest ?? (isDigest(change.tag) ? change.tag : undefined);
      if (!digest) throw new GitOpsInputError({ message: `the marker on ${where} takes a digest, and none was given`, fix: 'pass --digest sha256:… (PLUGIN_DIGEST), or the digest as the image tag' });
      return digest;
    }
    case 'name':
      if (!change.image) throw new GitOpsInputError({ message: `the marker on ${where} takes an image name, and none was given`, fix: 'pass --image NAME (PLUGIN_IMAGE)' });
      return change.image;
    default:
      return fullReference(change.image ?? referenceName(current), change);
  }
}

/** The tag of a reference as written (registry:5000/app:1.4@sha256:… → 1.4); '' when it has none. */
function referenceTag(reference: string): string {
  const name = referenceName(reference);
  const rest = (reference.split('@')[0] ?? '').slice(name.length);
  return rest.startsWith(':') ? rest.slice(1) : '';
}
