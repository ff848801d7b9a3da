// `gocd-registry-bridge status-registry`: the pipeline step of the build-status registry, a thin client of the
// service that keeps drone-downstream-registry's environment contract (spec §2): PLUGIN_ACTION package-build |
// downstream-build, PLUGIN_PARAMS (a dotenv file; variables already set win), the REGISTRY_DOWNSTREAM gate, DRONE_*
// build variables, exit 0 / 1. In a GoCD task the GoCD variables stand in for the Drone ones.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseDotenv } from 'dotenv';
import { createLogger } from '../log';
import { BridgeError } from '../errors';
import { defaultDataDir, importEntries, openStore, PackageView, RecordStore, StatusRegistry, StatusRegistryError, statusRegistryLocation } from '../status-registry';
import { CommandIo, EXIT, UsageError } from './command-io';

export const STATUS_REGISTRY_USAGE = `Usage: gocd-registry-bridge status-registry --server URL (--token-file FILE | env STATUS_REGISTRY_TOKEN) [--status S]

A pipeline step for the build-status registry (serve --status-registry-token-file). It reads what the Drone plugin
drone-downstream-registry read, from the environment (and the dotenv file PLUGIN_PARAMS names; variables already set
win), and does nothing unless REGISTRY_DOWNSTREAM is true:

  PLUGIN_ACTION=package-build     register REGISTRY_PACKAGE@REGISTRY_VERSION as waiting on PLUGIN_REPOSITORIES (a
                                  comma list); PLUGIN_SUCCESS / PLUGIN_FAILURE (JSON maps) name the handlers, by
                                  default a Drone 0.8 deploy of this build to downstream-success / downstream-failure
                                  on PLUGIN_SERVER (PLUGIN_DRONE_API=1: a Drone 1.x promote); PLUGIN_FAIL_FAST=false
                                  waits for every repo. Prints REGISTRY_WAVE=N for the downstream builds.
  PLUGIN_ACTION=downstream-build  report this build (DRONE_REPO, DRONE_BUILD_NUMBER, DRONE_BUILD_STATUS; in GoCD
                                  GO_PIPELINE_NAME, GO_PIPELINE_COUNTER and --status) for REGISTRY_WAVE if set. A
                                  report that beats the registration (404) is retried.

Options:
  --server URL          the serve address (or PLUGIN_STATUS_REGISTRY_URL)
  --token-file FILE     the API token (or PLUGIN_STATUS_REGISTRY_TOKEN_FILE, or STATUS_REGISTRY_TOKEN)
  --status S            the build's status where no DRONE_BUILD_STATUS is set: success | failure (a GoCD task
                        knows it from run_if: one task with run_if passed, one with run_if failed)
  --retries N           tries for a report of a package not registered yet, and for no answer (default 6)
  --retry-delay SECONDS the first wait between them, doubled each time (default 2)

Exit codes: 0 done (or REGISTRY_DOWNSTREAM not true), 1 refused or failed, 2 usage error.

gocd-registry-bridge status-registry import DIR [--data-dir DIR | --status-registry-db URL]
  imports drone-downstream-registry's entry files from DIR (its registry_path) into the store serve uses (run it
  with serve stopped, or against PostgreSQL): each as wave 1; a handler the original ran is done, a final verdict
  whose handler never ran is imported as failed, for POST …/action/retry. Records already there are left alone.
`;

export interface StatusRegistryClientDeps {
  fetch: typeof fetch;
  sleep(ms: number): Promise<void>;
}

const REAL_DEPS: StatusRegistryClientDeps = { fetch: (...args) => fetch(...args), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
// The service answers from its database in milliseconds; this long only when it is unreachable or stuck.
const REQUEST_TIMEOUT_MS = 30_000;

export async function runStatusRegistry(argv: string[], io: CommandIo, deps: StatusRegistryClientDeps = REAL_DEPS): Promise<number> {
  if (argv[0] === 'import') return runImport(argv.slice(1), io);
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      server: { type: 'string' },
      'token-file': { type: 'string' },
      status: { type: 'string' },
      retries: { type: 'string', default: '6' },
      'retry-delay': { type: 'string', default: '2' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout(STATUS_REGISTRY_USAGE);
    return EXIT.OK;
  }
  const env = withParams(io.env);
  if (typeof env === 'string') return fail(io, [env]);
  // The gate: a downstream repo keeps this step for good; it acts only in builds the upstream started (spec §2).
  if ((env.REGISTRY_DOWNSTREAM ?? '').trim().toLowerCase() !== 'true') {
    io.stdout('Assume normal build\n');
    return EXIT.OK;
  }
  const problems: string[] = [];
  const required = (name: string, value: string | undefined) => {
    const text = value?.trim() ?? '';
    if (text === '') problems.push(`${name} is not set`);
    return text;
  };
  const action = required('PLUGIN_ACTION', env.PLUGIN_ACTION);
  if (action !== '' && action !== 'package-build' && action !== 'downstream-build') problems.push(`PLUGIN_ACTION "${action}" is neither package-build nor downstream-build`);
  const pkg = required('REGISTRY_PACKAGE', env.REGISTRY_PACKAGE);
  const version = required('REGISTRY_VERSION', env.REGISTRY_VERSION);
  const repo = required('DRONE_REPO (or GO_PIPELINE_NAME)', env.DRONE_REPO ?? env.GO_PIPELINE_NAME);
  const numberText = required('DRONE_BUILD_NUMBER (or GO_PIPELINE_COUNTER)', env.DRONE_BUILD_NUMBER ?? env.GO_PIPELINE_COUNTER);
  const number = Number(numberText);
  if (numberText !== '' && !(Number.isInteger(number) && number >= 1)) problems.push(`the build number "${numberText}" is not a whole number of at least 1`);
  const server = (values.server ?? env.PLUGIN_STATUS_REGISTRY_URL)?.trim() || undefined;
  const registryPath = env.PLUGIN_REGISTRY_PATH?.trim() || undefined;
  if (!server && !registryPath) problems.push('--server (or PLUGIN_STATUS_REGISTRY_URL) is not set, nor PLUGIN_REGISTRY_PATH for the file mode');
  const token = server ? readToken(values['token-file'] ?? env.PLUGIN_STATUS_REGISTRY_TOKEN_FILE, env.STATUS_REGISTRY_TOKEN, problems) : '';
  const retries = Number(values.retries);
  const retryDelayMs = Number(values['retry-delay']) * 1000;
  if (!(Number.isInteger(retries) && retries >= 1) || !(retryDelayMs >= 0)) problems.push('--retries must be a whole number of at least 1 and --retry-delay a number of seconds');
  const isRegistration = action === 'package-build';
  const body = isRegistration
    ? registrationBody(env, { repo, number }, problems)
    : { repo, status: required('DRONE_BUILD_STATUS (or --status)', env.DRONE_BUILD_STATUS ?? values.status), number, ...waveOf(env, problems) };
  if (problems.length > 0) return fail(io, problems);

  const key = { package: pkg, version };
  const outcome = server
    ? await viaService({ server, token, key, body, isRegistration, retries, retryDelayMs }, io, deps)
    : await viaFiles({ dir: registryPath as string, key, body, isRegistration, droneToken: env.SECRET_SERVER_TOKEN }, io);
  if ('problem' in outcome) return fail(io, [outcome.problem]);
  const { view } = outcome;
  if (isRegistration) io.stdout(`registered ${pkg}@${version}, waiting on ${view.repositories.join(', ')}\nREGISTRY_WAVE=${view.wave}\n`);
  else io.stdout(`reported ${repo} for ${pkg}@${version}: verdict ${view.verdict}, action ${view.action.state}\n`);
  return EXIT.OK;
}

type View = Pick<PackageView, 'wave' | 'verdict' | 'repositories' | 'action'>;
type Outcome = { view: View } | { problem: string };

interface Step {
  key: { package: string; version: string };
  body: object;
  isRegistration: boolean;
}

async function viaService(step: Step & { server: string; token: string; retries: number; retryDelayMs: number }, io: CommandIo, deps: StatusRegistryClientDeps): Promise<Outcome> {
  const base = `${step.server.replace(/\/+$/, '')}/status-registry/packages/${encodeURIComponent(step.key.package)}/${encodeURIComponent(step.key.version)}`;
  const request = () => send(deps, step.isRegistration ? 'PUT' : 'POST', step.isRegistration ? base : `${base}/builds`, step.token, step.body);
  let answer = await request();
  // A downstream report may beat the registration, and the service may be restarting: both pass, so wait and retry.
  for (let attempt = 1; attempt < step.retries && (answer.status === 0 || answer.status >= 500 || (!step.isRegistration && answer.status === 404)); attempt += 1) {
    io.stderr(`status-registry: ${answer.text}; trying again (${attempt + 1} of ${step.retries})\n`);
    await deps.sleep(step.retryDelayMs * 2 ** (attempt - 1));
    answer = await request();
  }
  return answer.status >= 200 && answer.status < 300 ? { view: answer.json as View } : { problem: answer.text };
}

/**
 * The file mode, as the original plugin worked (PLUGIN_REGISTRY_PATH, no service): the registry directory under a
 * lock, the Drone call made by this step with SECRET_SERVER_TOKEN. A failed call fails the step (exit 1), and the
 * next downstream step tries it again, as in the original; a report before the registration fails at once (§7.2).
 */
async function viaFiles(step: Step & { dir: string; droneToken: string | undefined }, io: CommandIo): Promise<Outcome> {
  const store = await openStore({ engine: 'files', dir: step.dir });
  const log = createLogger((line) => io.stderr(`${line}\n`), 'warn');
  const env = step.droneToken === undefined ? {} : { STATUS_REGISTRY_DRONE_TOKEN: step.droneToken };
  const registry = new StatusRegistry({ store, log, secretsDir: step.dir, env, uid: process.getuid?.(), policy: { maxAttempts: 1 } });
  try {
    const text = JSON.stringify(step.body);
    if (step.isRegistration) return { view: await registry.register(step.key, text) };
    const reported = await registry.report(step.key, text);
    if (reported.action.state === 'failed') await registry.retry(step.key);
    await registry.idle();
    const view = await registry.get(step.key);
    return view.action.state === 'failed' ? { problem: `the ${view.action.verdict} handler failed: ${view.action.lastError}` } : { view };
  } catch (err) {
    if (err instanceof StatusRegistryError) return { problem: `${err.message}. Fix: ${err.fix}` };
    throw err;
  } finally {
    await registry.stop();
    await store.close();
  }
}

async function runImport(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { 'data-dir': { type: 'string' }, 'status-registry-db': { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('status-registry import takes one directory: the original plugin\'s registry_path');
  let store: RecordStore;
  try {
    store = await openStore(statusRegistryLocation(values['data-dir'] ?? defaultDataDir(io.env), values['status-registry-db']));
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    return fail(io, [err.describe()]);
  }
  try {
    const report = await importEntries(store, positionals[0] as string, Date.now());
    io.stdout(`imported ${report.imported.length}, already present ${report.present.length}, unreadable ${report.unreadable.length}\n`);
    for (const { file, reason } of report.unreadable) io.stderr(`status-registry import: ${file}: ${reason}\n`);
    return report.unreadable.length > 0 ? EXIT.FAILED : EXIT.OK;
  } finally {
    await store.close();
  }
}

/** The environment with PLUGIN_PARAMS' dotenv file under it (dotenv does not override), or the problem. */
function withParams(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | string {
  if (!env.PLUGIN_PARAMS) return env;
  try {
    return { ...parseDotenv(readFileSync(env.PLUGIN_PARAMS)), ...env };
  } catch (err) {
    return `PLUGIN_PARAMS ${env.PLUGIN_PARAMS} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it is a dotenv file relative to the workspace, e.g. .entry`;
  }
}

function readToken(file: string | undefined, fromEnv: string | undefined, problems: string[]): string {
  if (file === undefined) {
    if (!fromEnv) problems.push('no API token: give --token-file FILE (or PLUGIN_STATUS_REGISTRY_TOKEN_FILE) or the secret STATUS_REGISTRY_TOKEN');
    return fromEnv?.trim() ?? '';
  }
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    problems.push(`the token file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    return '';
  }
}

function waveOf(env: NodeJS.ProcessEnv, problems: string[]): { wave?: number } {
  const text = env.REGISTRY_WAVE?.trim();
  if (!text) return {};
  const wave = Number(text);
  if (!(Number.isInteger(wave) && wave >= 1)) problems.push(`REGISTRY_WAVE "${text}" is not a wave number`);
  return { wave };
}

/**
 * PUT's body from the plugin's settings. A handler map without a kind is the original's {repository, build,
 * environment}, with its defaults: this repo, this build, downstream-success / downstream-failure, on PLUGIN_SERVER.
 * Its token is the service's STATUS_REGISTRY_DRONE_TOKEN unless the map names tokenFile or tokenEnv.
 */
function registrationBody(env: NodeJS.ProcessEnv, build: { repo: string; number: number }, problems: string[]): object {
  const repositories = (env.PLUGIN_REPOSITORIES ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
  if (repositories.length === 0) problems.push('PLUGIN_REPOSITORIES lists no repository: a package-build waits on at least one');
  const handlers: Record<string, object> = {};
  for (const verdict of ['success', 'failure'] as const) {
    const name = `PLUGIN_${verdict.toUpperCase()}`;
    let map: Record<string, unknown> = {};
    try {
      map = env[name] ? (JSON.parse(env[name] as string) as Record<string, unknown>) : {};
    } catch {
      problems.push(`${name} is not JSON (a map such as {"repository": "owner/name", "build": 17, "environment": "prod"})`);
      continue;
    }
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      problems.push(`${name} is not a JSON map`);
      continue;
    }
    if (map.kind !== undefined && map.kind !== 'drone' && map.kind !== 'drone-0.8') {
      handlers[verdict] = map;
      continue;
    }
    const server = map.server ?? env.PLUGIN_SERVER;
    if (!server) continue; // no Drone to call: the verdict is recorded and shown, nothing is triggered
    const token = map.tokenFile !== undefined || map.tokenEnv !== undefined ? {} : { tokenEnv: 'STATUS_REGISTRY_DRONE_TOKEN' };
    handlers[verdict] = {
      kind: map.kind ?? (env.PLUGIN_DRONE_API?.trim() === '1' ? 'drone' : 'drone-0.8'),
      repository: build.repo,
      environment: `downstream-${verdict}`,
      ...token,
      ...map,
      // YAML settings may arrive as strings ("17"); the service wants the number.
      build: Number(map.build ?? build.number),
      server,
    };
  }
  const failFast = env.PLUGIN_FAIL_FAST?.trim().toLowerCase();
  return { repositories, handlers, ...(failFast ? { failFast: failFast !== 'false' } : {}) };
}

async function send(deps: StatusRegistryClientDeps, method: string, url: string, token: string, body: object): Promise<{ status: number; json?: unknown; text: string }> {
  try {
    const response = await deps.fetch(url, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const refusal = json as { error?: string; fix?: string } | undefined;
    const described = refusal?.error ? `${refusal.error}. Fix: ${refusal.fix}` : text.trim();
    return { status: response.status, json, text: `${method} ${new URL(url).pathname} answered ${response.status}: ${described}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { status: 0, text: `no answer from ${new URL(url).origin} (${cause})` };
  }
}

function fail(io: CommandIo, problems: string[]): number {
  for (const problem of problems) io.stderr(`status-registry: ${problem}\n`);
  return EXIT.FAILED;
}
