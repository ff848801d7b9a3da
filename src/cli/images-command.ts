// `gocd-registry-bridge images`: inside a GoCD task, one fully qualified image reference per package material of
// this plugin, pinned by digest where the revision carries one; --pull runs docker pull for each.

import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { CommandIo, EXIT } from './command-io';

export const IMAGES_USAGE = `Usage: gocd-registry-bridge images [--pull] [--material NAME]

Run inside a GoCD task: reads the GO_PACKAGE_*/GO_REPO_* variables GoCD sets for package materials and prints
one image reference per material, pinned by digest (registry/image@sha256:...) when the revision has one, else
registry/image:tag (materials polled by the old docker-registry plugin).

Options:
  --pull            run docker pull for each reference (stops at the first failure)
  --material NAME   only this material (its name as in the variables, e.g. REPO_PACKAGE)

Exit codes: 0 done, 1 no material found or a pull failed, 2 usage error.
`;

export interface MaterialImage {
  material: string;
  reference: string;
}

export async function runImages(argv: string[], io: CommandIo, pull = dockerPull): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      pull: { type: 'boolean', default: false },
      material: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(IMAGES_USAGE);
    return EXIT.OK;
  }
  const wanted = values.material?.toUpperCase();
  const images = materialImages(io.env).filter((image) => wanted === undefined || image.material === wanted);
  if (images.length === 0) {
    io.stderr(
      `gocd-registry-bridge: no ${wanted ? `material ${wanted}` : 'package material of this plugin'} in the environment ` +
        '(looked for GO_PACKAGE_<M>_IMAGE_REF, and GO_REPO_<M>_DOCKER_REGISTRY_NAME with GO_PACKAGE_<M>_DOCKER_IMAGE and _LABEL)\n' +
        'Fix: run this inside a GoCD job of a pipeline that has the package as a material\n',
    );
    return EXIT.FAILED;
  }
  for (const image of images) {
    io.stdout(`${image.reference}\n`);
    if (values.pull && (await pull(image.reference, io)) !== 0) {
      io.stderr(`gocd-registry-bridge: docker pull ${image.reference} failed (material ${image.material})\n`);
      return EXIT.FAILED;
    }
  }
  return EXIT.OK;
}

/** Every material in the environment, by name, with its pinned reference where one exists. */
export function materialImages(env: NodeJS.ProcessEnv): MaterialImage[] {
  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    const pinned = /^GO_PACKAGE_(.+)_IMAGE_REF$/.exec(name);
    if (pinned?.[1] && value) found.set(pinned[1], value);
  }
  for (const [name, image] of Object.entries(env)) {
    const legacy = /^GO_PACKAGE_(.+)_DOCKER_IMAGE$/.exec(name);
    const material = legacy?.[1];
    if (!material || !image || found.has(material)) continue;
    const registry = env[`GO_REPO_${material}_DOCKER_REGISTRY_NAME`];
    const tag = env[`GO_PACKAGE_${material}_LABEL`];
    if (registry && tag) found.set(material, `${registry.replace(/\/+$/, '')}/${image}:${tag}`);
  }
  return [...found].sort(([a], [b]) => (a < b ? -1 : 1)).map(([material, reference]) => ({ material, reference }));
}

function dockerPull(reference: string, io: CommandIo): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('docker', ['pull', reference], { stdio: ['ignore', 'inherit', 'inherit'], env: io.env });
    child.once('error', (err) => {
      io.stderr(`gocd-registry-bridge: cannot run docker (${err.message}); install the docker CLI on the agent\n`);
      resolve(EXIT.FAILED);
    });
    child.once('exit', (code) => resolve(code ?? EXIT.FAILED));
  });
}
