import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { runPoll } from '../../src/cli';
import { capturedIo } from '../support/command-io';
import { pushImage } from '../support/push-image';
import { startRegistry, StartedRegistry } from '../support/registry-server';

const credentials = { username: 'cli-user', password: 'cli-pa55word' };

describe('gocd-registry-bridge poll', () => {
  let registry: StartedRegistry;
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
    await pushImage({ ...registry, credentials }, 'backends/database', ['1.9.0'], { seed: 'a' });
    digest = await pushImage({ ...registry, credentials }, 'backends/database', ['1.10.0'], { seed: 'b' });
  });
  afterAll(() => registry.stop());

  const args = (...extra: string[]) => ['--registry', registry.url, '--image', 'backends/database', '--username', credentials.username, '--password-stdin', ...extra];

  it('prints the revision and the environment a job gets, named as GoCD names it', async () => {
    const io = capturedIo({}, `${credentials.password}\n`);
    expect(await runPoll(args('--repo-name', 'docker-hub', '--package-name', 'db.main'), io)).toBe(0);
    const out = io.out();
    expect(out).toContain('Revision GoCD would store for material docker-hub_db.main:\n  revision   1.10.0\n');
    expect(out).toContain('\n  GO_PACKAGE_DOCKER_HUB_DB_MAIN_LABEL=1.10.0\n');
    expect(out).toContain(`\n  GO_PACKAGE_DOCKER_HUB_DB_MAIN_IMAGE_REF=${registry.host}/backends/database@${digest}\n`);
    expect(out).toContain(`\n  GO_REPO_DOCKER_HUB_DB_MAIN_DOCKER_REGISTRY_NAME=${registry.host}\n`);
    expect(out).toContain('\n  GO_REPO_DOCKER_HUB_DB_MAIN_PASSWORD=(secure: not shown)\n');
    expect(out).toContain('\n  GO_MATERIAL_DOCKER_HUB_DB_MAIN_HAS_CHANGED=true\n');
    expect(`${out}${io.err()}`).not.toContain(credentials.password);
  });

  it('prints JSON for scripts', async () => {
    const io = capturedIo({}, credentials.password);
    expect(await runPoll(args('--json', '--filter', '^1\\.9'), io)).toBe(0);
    const parsed = JSON.parse(io.out());
    expect(parsed.material).toBe('repo_package');
    expect(parsed.revision).toMatchObject({ revision: '1.9.0', data: { TAG: '1.9.0' } });
    expect(parsed.environment.GO_PACKAGE_REPO_PACKAGE_TAG).toBe('1.9.0');
  });

  it.each([
    ['4 when no tag matches', ['--filter', '^3\\.'], 4, /none of the 2 tags .* passes the tag filter/],
    ['3 for invalid settings', ['--filter', '(['], 3, /DOCKER_TAG_FILTER: the tag filter "\(\[" is not a valid regular expression/],
    ['1 when the image has more tags than --max-tags', ['--max-tags', '1'], 1, /lists more than 1 tags for backends\/database \(the MAX_TAGS cap\)/],
    ['3 for a --max-tags that is no number', ['--max-tags', 'all'], 3, /MAX_TAGS: "all" is not a number of tags/],
    ['4 when no version is inside --semver-range', ['--semver-range', '>=2'], 4, /satisfies the semver range ">=2" \(newest versions: 1\.10\.0, 1\.9\.0\)/],
    ['4 when no image provides --platforms', ['--platforms', 'linux/arm64'], 4, /none of the 2 candidate tags .* provides linux\/arm64/],
    ['3 for a --semver-range that is no range', ['--semver-range', 'one'], 3, /SEMVER_RANGE: "one" is not a semver range/],
  ])('exits %s, with the cause and fix on stderr', async (_name, extra, code, message) => {
    const io = capturedIo({}, credentials.password);
    expect(await runPoll(args(...extra), io)).toBe(code);
    expect(io.err()).toMatch(message);
    expect(io.err()).toMatch(/\nFix: /);
    expect(io.out()).toBe('');
  });

  it('picks inside --semver-range among images that provide --platforms', async () => {
    const io = capturedIo({}, credentials.password);
    expect(await runPoll(args('--semver-range', '<1.10', '--platforms', 'linux/amd64', '--json'), io)).toBe(0);
    const parsed = JSON.parse(io.out());
    expect(parsed.revision.revision).toBe('1.9.0');
    expect(parsed.environment.GO_PACKAGE_REPO_PACKAGE_SEMVER_RANGE).toBe('<1.10');
  });

  it('lists as many tags as --max-tags allows', async () => {
    const io = capturedIo({}, credentials.password);
    expect(await runPoll(args('--max-tags', '2', '--json'), io)).toBe(0);
    expect(JSON.parse(io.out()).revision.revision).toBe('1.10.0');
  });

  it('exits 1 when the registry refuses the credentials', async () => {
    const io = capturedIo({}, 'wrong-password');
    expect(await runPoll(args(), io)).toBe(1);
    expect(io.err()).toMatch(/refused access to backends\/database with the configured credentials/);
  });
});

describe('the gocd-registry-bridge binary', () => {
  const binary = path.resolve(__dirname, '../../dist/gocd-registry-bridge.js');
  const run = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)('node', [binary, ...args]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it.each(['serve', 'poll', 'images'])('answers %s --help with its usage', async (command) => {
    const result = await run(command, '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: gocd-registry-bridge ${command}`));
  });

  it('exits 2 with a pointer to --help on a usage error', async () => {
    const result = await run('poll', '--no-such-option');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("gocd-registry-bridge: Unknown option '--no-such-option'\nRun gocd-registry-bridge poll --help for usage.\n");
  });
});
