// Kustomize mode: the `images:` entry of a kustomization.yaml, set as `kustomize edit set image NAME=NEWNAME:TAG`
// would set it (newName, newTag, digest; a new entry when the image has none). The yaml package only finds the
// places; the bytes are spliced into the text, so comments, quoting and layout elsewhere stay as they were.

import { isMap, isScalar, isSeq, Pair, parseDocument, Scalar, YAMLMap } from 'yaml';
import { GitOpsInputError } from './errors';
import { ImageChange, isDigest } from './image-change';
import type { TagGuard } from './monotonic';
import { ScalarStyle, writeScalar } from './scalar';

interface Splice {
  start: number;
  end: number;
  text: string;
}

const FIX = 'keep the images: list in block style (- name: …), as kustomize writes it, or run kustomize edit set image once by hand';

export function editKustomization(text: string, change: ImageChange, file: string, guard: TagGuard): string {
  if (!change.image) throw new GitOpsInputError({ message: 'kustomize mode needs the image name the images: entry is filed under', fix: 'pass --image NAME (PLUGIN_IMAGE), e.g. registry.example/team/app' });
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new GitOpsInputError({ message: `${file} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`, fix: 'repair the file' });
  const root = doc.contents;
  if (!isMap(root)) throw new GitOpsInputError({ message: `${file} is not a kustomization (its top level is not a mapping)`, fix: 'point --destination-file at the kustomization.yaml' });
  const images = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'images');
  if (!images) return appendImagesKey(text, change.image, change);
  if (!isSeq(images.value) || images.value.flow) throw new GitOpsInputError({ message: `images: in ${file} is not a block list`, fix: FIX });
  const seq = images.value;
  const entry = (seq.items as unknown[]).filter(isMap).find((item) => item.get('name') === change.image);
  if (!entry) {
    const last = seq.items[seq.items.length - 1];
    if (!isMap(last) || last.flow) throw new GitOpsInputError({ message: `the last images: entry of ${file} is not a block mapping`, fix: FIX });
    return splice(text, [appendEntry(text, last, change.image, change)]);
  }
  if (entry.flow) throw new GitOpsInputError({ message: `the images: entry for ${change.image} in ${file} is a flow mapping`, fix: FIX });
  const digest = change.digest ?? (isDigest(change.tag) ? change.tag : undefined);
  const tag = isDigest(change.tag) ? undefined : change.tag;
  // As written: YAML reads a plain newTag: 1.10 as the number 1.1.
  const oldTag = (entry.get('newTag', true) as Scalar | undefined)?.source;
  if (tag !== undefined && oldTag !== undefined && oldTag !== tag) guard(oldTag, `${file} (${change.image})`);
  return splice(text, [setOrDrop(text, entry, 'newTag', tag), setOrDrop(text, entry, 'digest', digest)].flat());
}

/** Sets `key` to `value` (in place, or as a new line under the entry's name), or drops its line when undefined. */
function setOrDrop(text: string, entry: YAMLMap, key: string, value: string | undefined): Splice[] {
  const pair = entry.items.find((item) => isScalar(item.key) && item.key.value === key) as Pair<Scalar, Scalar> | undefined;
  if (!pair) {
    if (value === undefined) return [];
    const anchor = entry.items[entry.items.length - 1] as Pair<Scalar, Scalar>;
    const end = lineEnd(text, valueEnd(anchor));
    return [{ start: end, end, text: `\n${' '.repeat(column(text, anchor.key.range![0]))}${key}: ${writeScalar(value, 'plain')}` }];
  }
  if (!isScalar(pair.value) || !pair.value.range) throw new GitOpsInputError({ message: `${key} in the images: entry is not a single value`, fix: FIX });
  const [start, end] = pair.value.range;
  if (value === undefined) {
    const lineStart = text.lastIndexOf('\n', pair.key.range![0]) + 1;
    return [{ start: lineStart === 0 ? 0 : lineStart - 1, end: lineEnd(text, end), text: '' }];
  }
  return [{ start, end, text: writeScalar(value, styleOf(pair.value)) }];
}

function appendEntry(text: string, last: YAMLMap, name: string, change: ImageChange): Splice {
  const firstKey = (last.items[0] as Pair<Scalar, Scalar>).key.range![0];
  const keyColumn = column(text, firstKey);
  const lineStart = text.lastIndexOf('\n', firstKey) + 1;
  const dashColumn = text.slice(lineStart, firstKey).indexOf('-');
  const end = lineEnd(text, valueEnd(last.items[last.items.length - 1] as Pair<Scalar, Scalar>));
  const lines = entryLines(name, change, ' '.repeat(dashColumn), ' '.repeat(keyColumn - dashColumn - 1));
  return { start: end, end, text: `\n${lines.join('\n')}` };
}

function appendImagesKey(text: string, name: string, change: ImageChange): string {
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${separator}images:\n${entryLines(name, change, '', ' ').join('\n')}\n`;
}

/** A new entry as kustomize writes one: "- name:" at the list's indentation, then newTag and digest. */
function entryLines(name: string, change: ImageChange, indent: string, afterDash: string): string[] {
  const keyIndent = `${indent} ${afterDash}`;
  const digest = change.digest ?? (isDigest(change.tag) ? change.tag : undefined);
  return [
    `${indent}-${afterDash}name: ${writeScalar(name, 'plain')}`,
    ...(isDigest(change.tag) ? [] : [`${keyIndent}newTag: ${writeScalar(change.tag, 'plain')}`]),
    ...(digest ? [`${keyIndent}digest: ${digest}`] : []),
  ];
}

function styleOf(scalar: Scalar): ScalarStyle {
  if (scalar.type === Scalar.QUOTE_DOUBLE) return 'double';
  if (scalar.type === Scalar.QUOTE_SINGLE) return 'single';
  if (scalar.type !== Scalar.PLAIN) throw new GitOpsInputError({ message: 'a value in the images: entry is a block scalar', fix: FIX });
  return 'plain';
}

function valueEnd(pair: Pair<Scalar, Scalar>): number {
  const node = pair.value ?? pair.key;
  if (!isScalar(node) || !node.range) throw new GitOpsInputError({ message: 'an images: entry holds a nested value', fix: FIX });
  return node.range[1];
}

function lineEnd(text: string, position: number): number {
  const newline = text.indexOf('\n', position);
  return newline === -1 ? text.length : newline;
}

function column(text: string, position: number): number {
  return position - (text.lastIndexOf('\n', position - 1) + 1);
}

/** Splices applied from the end, so earlier offsets stay valid; two inserts at one place keep their order. */
function splice(text: string, splices: Splice[]): string {
  return [...splices].reverse().sort((a, b) => b.start - a.start).reduce((out, { start, end, text: replacement }) => out.slice(0, start) + replacement + out.slice(end), text);
}
