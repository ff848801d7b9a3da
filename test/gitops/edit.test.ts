// The pure edits of the three modes and the destination path rules: what changes, and that every other byte stays.

import { checkDestination, editText, EditSpec } from '../../src/gitops';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const edit = (text: string | undefined, spec: Partial<EditSpec> & Pick<EditSpec, 'change'>, file = 'f.yaml') => editText(text, { mode: 'whole-file', ...spec }, file);

describe('editText whole-file', () => {
  it.each([
    ['a missing file', undefined, '1.4.2\n'],
    ['another tag', '1.4.1\n', '1.4.2\n'],
    ['the tag with its newline', '1.4.2\n', '1.4.2\n'],
    ['the tag without a newline (left alone)', '1.4.2', '1.4.2'],
    ['the tag with two newlines', '1.4.2\n\n', '1.4.2\n'],
  ])('%s', (_name, current, expected) => {
    expect(edit(current, { change: { tag: '1.4.2' } })).toBe(expected);
  });

  it('refuses a digest as the tag', () => {
    expect(() => edit('x\n', { change: { tag: DIGEST } })).toThrow('whole-file mode does not write');
  });
});

const MANIFEST = [
  '# deployment of app',
  'apiVersion: apps/v1',
  'kind: Deployment',
  'spec:',
  '  template:',
  '    spec:',
  '      containers:',
  '        - name: app',
  "          image: 'registry.example/app:1.4.1'   # {\"$imagepolicy\": \"apps:app\"}",
  '          env:',
  '            - {name: KEEP, value: "x"}   # not a marker',
  '---',
  'image:',
  '  repository: registry.example/app # {"$imagepolicy": "apps:app:name"}',
  '  tag: "1.4.1" # {"$imagepolicy": "apps:app:tag"}',
  '  digest: sha256:0000 # {"$imagepolicy": "apps:app:digest"}',
  '  other: 9.9.9 # {"$imagepolicy": "apps:other:tag"}',
  'sidecar: 1.0 # {"$gitops": "side:tag"}',
  '',
].join('\n');

describe('editText marker', () => {
  const markerEdit = (text: string, marker: string, change: EditSpec['change']) => edit(text, { mode: 'marker', marker, change });

  it('replaces only the marked scalars of every document, keeping quotes, spacing and comments', () => {
    const out = markerEdit(MANIFEST, 'apps:app', { tag: '1.4.2', digest: DIGEST, image: 'registry.example/team/app' });
    const expected = MANIFEST.replace("'registry.example/app:1.4.1'", `'registry.example/team/app:1.4.2@${DIGEST}'`)
      .replace('repository: registry.example/app #', 'repository: registry.example/team/app #')
      .replace('tag: "1.4.1"', 'tag: "1.4.2"')
      .replace('digest: sha256:0000', `digest: ${DIGEST}`);
    expect(out).toBe(expected);
  });

  it('keeps the name of a full reference when no image name is given', () => {
    const out = markerEdit('image: reg.example:5000/app:1.0 # {"$imagepolicy": "ns:app"}\n', 'ns:app', { tag: '2.0' });
    expect(out).toBe('image: reg.example:5000/app:2.0 # {"$imagepolicy": "ns:app"}\n');
  });

  it('writes our own $gitops marker, and quotes a plain tag YAML would read as a number', () => {
    expect(markerEdit(MANIFEST, 'side', { tag: '1.10' })).toBe(MANIFEST.replace('sidecar: 1.0 #', 'sidecar: "1.10" #'));
  });

  it('keeps CRLF line ends', () => {
    expect(markerEdit('a: 1\r\ntag: x # {"$gitops": "app:tag"}\r\n', 'app', { tag: 'y' })).toBe('a: 1\r\ntag: y # {"$gitops": "app:tag"}\r\n');
  });

  it.each([
    ['a marker that matches nothing', 'tag: x # {"$gitops": "app:tag"}\n', 'nothing', 'carries the marker "nothing"'],
    ['a block scalar', 'tag: | # {"$gitops": "app:tag"}\n  x\n', 'app', 'multi-line'],
    ['an alias', 'tag: *x # {"$gitops": "app:tag"}\n', 'app', 'an anchor or an alias'],
    ['an unterminated quote', 'tag: "x # {"$gitops": "app:tag"}\n', 'app', 'does not end on its line'],
    ['a :name marker without an image name', 'r: a/b # {"$gitops": "app:name"}\n', 'app', 'takes an image name'],
    ['a :digest marker without a digest', 'd: x # {"$gitops": "app:digest"}\n', 'app', 'takes a digest'],
  ])('refuses %s', (_name, text, marker, message) => {
    expect(() => markerEdit(text, marker, { tag: '1.0.0' })).toThrow(message);
  });

  it('refuses a missing file', () => {
    expect(() => edit(undefined, { mode: 'marker', marker: 'app', change: { tag: '1' } })).toThrow('does not exist');
  });
});

const KUSTOMIZATION = [
  'apiVersion: kustomize.config.k8s.io/v1beta1',
  'kind: Kustomization',
  'resources:',
  '- deployment.yaml # the app',
  'images:',
  '# pinned by the pipeline',
  '- name: registry.example/app',
  "  newName: 'mirror.example/app'  # mirror",
  '  newTag: "1.4.1"',
  `  digest: sha256:${'00'.repeat(32)}`,
  '- name: registry.example/db',
  '  newTag: 15.2',
  '',
].join('\n');

describe('editText kustomize', () => {
  const kustomize = (text: string, change: EditSpec['change']) => edit(text, { mode: 'kustomize', change }, 'kustomization.yaml');

  it('sets newTag in place, keeps its quotes and drops the digest, as kustomize edit set image NAME:TAG does', () => {
    const expected = KUSTOMIZATION.replace('newTag: "1.4.1"', 'newTag: "1.4.2"').replace(`\n  digest: sha256:${'00'.repeat(32)}`, '');
    expect(kustomize(KUSTOMIZATION, { tag: '1.4.2', image: 'registry.example/app' })).toBe(expected);
  });

  it('adds newTag and the digest to an entry that has neither', () => {
    const text = 'images:\n  - name: app # ours\nresources: [a.yaml]\n';
    expect(kustomize(text, { tag: '2.0.0', image: 'app', digest: DIGEST })).toBe(`images:\n  - name: app # ours\n    newTag: 2.0.0\n    digest: ${DIGEST}\nresources: [a.yaml]\n`);
  });

  it('appends an entry at the list\'s indentation for an image it does not list', () => {
    expect(kustomize(KUSTOMIZATION, { tag: '3.1', image: 'registry.example/cache' })).toBe(`${KUSTOMIZATION}- name: registry.example/cache\n  newTag: "3.1"\n`);
  });

  it('adds images: to a kustomization without one', () => {
    expect(kustomize('resources:\n- a.yaml', { tag: 'v1', image: 'app' })).toBe('resources:\n- a.yaml\nimages:\n- name: app\n  newTag: v1\n');
  });

  it('leaves a kustomization that already says the tag unchanged', () => {
    const text = 'images:\n- name: app\n  newTag: v1 # keep\n';
    expect(kustomize(text, { tag: 'v1', image: 'app' })).toBe(text);
  });

  it.each([
    ['no image name', 'images: []\n', undefined, 'needs the image name'],
    ['a flow list', 'images: [{name: app}]\n', 'app', 'not a block list'],
    ['invalid YAML', 'images: [\n', 'app', 'not valid YAML'],
  ])('refuses %s', (_name, text, image, message) => {
    expect(() => kustomize(text, { tag: 'v1', image })).toThrow(message);
  });
});

describe('editText --monotonic', () => {
  const monotonic = (mode: EditSpec['mode'], text: string, tag: string, extra: Partial<EditSpec> = {}) => edit(text, { mode, monotonic: true, change: { tag, image: 'app' }, ...extra }, 'f');

  it.each([
    ['whole-file', 'whole-file' as const, '1.10.0\n', {}],
    ['a :tag marker', 'marker' as const, 'tag: v1.10.0 # {"$gitops": "app:tag"}\n', { marker: 'app' }],
    ['a full-reference marker', 'marker' as const, 'image: reg/app:1.10.0 # {"$gitops": "app"}\n', { marker: 'app' }],
    ['kustomize newTag', 'kustomize' as const, 'images:\n- name: app\n  newTag: 1.10.0\n', {}],
  ])('refuses to write an older semver tag over %s', (_name, mode, text, extra) => {
    expect(() => monotonic(mode, text, '1.9.0', extra)).toThrow('newer than 1.9.0; --monotonic does not go back');
    expect(monotonic(mode, text, '1.11.0', extra)).toContain('1.11.0');
  });

  it('writes tags that are not semver, either way', () => {
    expect(monotonic('whole-file', '1.10.0\n', 'a6b6e8')).toBe('a6b6e8\n');
    expect(monotonic('whole-file', 'latest\n', '1.0.0')).toBe('1.0.0\n');
  });
});

describe('checkDestination', () => {
  it.each(['../../etc/passwd', '/etc/passwd', '.git/config', 'a/.git/hooks/x', 'a/../b', './a', 'a//b', 'a/', '', 'a\\b'])('refuses %j', (file) => {
    expect(() => checkDestination(file)).toThrow(/destination file/);
  });

  it.each(['deployed_tags/prod_image_tag', 'a.git/b', '.gitignore-not/x', 'kustomization.yaml'])('accepts %j', (file) => {
    expect(checkDestination(file)).toBe(file);
  });
});
