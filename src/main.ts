// The one executable (package.json bin, and the file the jar carries): routes a command to server/ or cli/.

import { parseArgs } from 'node:util';
import { version } from '../package.json';
import { CommandIo, EXIT, runGitOpsUpdate, runImages, runPoll, runStatusRegistry, UsageError } from './cli';
import { DEFAULT_LISTEN, ListenAddress, listenOnLoopbackPort, parseCallTimeout, parseClockSkew, parseListenAddress, serve, ServeOptionError } from './server';

// node-fetch 2 (the bundled HTTP client) hands each request URL, already normalised by WHATWG URL, to url.parse, and
// Node 24 warns about url.parse on the first request (DEP0169): a line in GoCD's plugin log an admin can do nothing
// about. Every other warning goes out as usual.
const DEPENDENCY_DEPRECATIONS: ReadonlySet<string> = new Set(['DEP0169']);
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
  const [typeOrOptions, code] = rest;
  const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
  if (typeof warningCode === 'string' && DEPENDENCY_DEPRECATIONS.has(warningCode)) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

const USAGE = `gocd-registry-bridge ${version}: Docker/OCI registry tags as GoCD package materials

Usage:
  gocd-registry-bridge serve [--listen HOST:PORT] [--token-stdin] [--exit-on-stdin-eof] [options]
  gocd-registry-bridge poll --registry URL --image NAME [options]
  gocd-registry-bridge images [--pull]
  gocd-registry-bridge status-registry --server URL --token-file FILE
  gocd-registry-bridge gitops-update --git-repo URL --destination-file PATH --image-tag TAG [options]
  gocd-registry-bridge --version
  gocd-registry-bridge <command> --help

Commands:
  serve    Run the sidecar the GoCD plugin forwards to (on 127.0.0.1 unless --listen says otherwise).
  poll     Poll a registry once and show what GoCD would get, env var names included.
  images   Inside a GoCD task: print (or pull) the image of each package material.
  status-registry
           Pipeline step of the build-status registry: register a package version (upstream) or report a
           downstream build, with drone-downstream-registry's environment contract.
  gitops-update
           Commit an image tag into an infrastructure repository (a GoCD task or a Drone step).
`;

const SERVE_USAGE = `Usage: gocd-registry-bridge serve [--listen HOST:PORT] [--token-stdin] [--exit-on-stdin-eof] [options]

Runs the sidecar. The GoCD plugin starts it by itself; run it by hand only for the plugin's external mode (set
GOCD_REGISTRY_BRIDGE_URL and GOCD_REGISTRY_BRIDGE_TOKEN on the GoCD server).

Options:
  --listen HOST:PORT       where to listen (default 127.0.0.1:0: loopback, any free port; the ready line names
                           it), e.g. 0.0.0.0:8787 or [::]:8787 for a sidecar in its own container, [::1]:8787
  --port N                 the same as --listen 127.0.0.1:N
  --allow-remote-gocd      accept GoCD calls (still with the token) from peers other than loopback: external
                           mode with the sidecar in another container, pod or host
  --status-token-file FILE /status and /metrics for peers other than loopback, with "Authorization: Bearer
                           <the token in FILE>"; without a status token they get 403
  --credentials FILE       the credentials file (a YAML list of registry address, username and password or
                           password_file/password_env; the format of drone-registry-plugin), read for every
                           package repository without a Username, and reloaded when it changes
  --drone-registry-secret-file FILE
                           serve Drone runners' registry-extension calls at POST /drone/registry, signed with
                           a secret in FILE (one a line, several while rotating; the runners'
                           DRONE_REGISTRY_PLUGIN_TOKEN); needs --credentials, whose entries it answers with
  --drone-allow-hmac-sha1  also accept Drone signatures made with hmac-sha1 (old clients; hmac-sha256 otherwise)
  --drone-max-clock-skew SECONDS
                           how far a Drone request's Date may be from this clock (default 300; 0: no check)
  --status-registry-token-file FILE
                           serve the build-status registry at /status-registry/… for clients with an API token
                           from FILE (one a line); records in SQLite in --data-dir unless --status-registry-db
  --data-dir DIR           the status registry's SQLite file and its handlers' secrets/ directory (default
                           ~/.local/share/gocd-registry-bridge)
  --status-registry-db postgres://USER@HOST:PORT/DB
                           keep the status registry's records in PostgreSQL, for several serve nodes; the
                           password from PGPASSWORD or ~/.pgpass, never the URL
  --status-registry-call-timeout SECONDS
                           one action call's limit (default 10); a claim three times as old is taken for lost
                           with its process and made again, with the same Idempotency-Key
  --gitops-token-file FILE serve POST /gitops/update (the gitops-update command over HTTP) to callers sending
                           "Authorization: Bearer <a token in FILE>" (one a line); git tokens come from the
                           --credentials entry of the repository's host, never from the request
  --gitops-allow-insecure-http
                           let the write-back use http:// and file:// repositories (tests, a local mirror)
  --gitops-signing-key FILE
                           sign every write-back commit with this SSH private key (gpg.format=ssh); a commit
                           that cannot be signed is not pushed
  --token-stdin            read the bearer token from the first line of stdin (what the plugin does);
                           otherwise the token comes from GOCD_REGISTRY_BRIDGE_TOKEN
  --exit-on-stdin-eof      exit when stdin closes (the plugin's JVM is gone)

Routes: POST /gocd/... needs the token (and a loopback peer unless --allow-remote-gocd); GET /health is open;
GET /status and /metrics are open to loopback peers and need the status token from others; POST /drone/registry
(with a Drone secret) needs a request signed with it, from any peer; POST /gitops/update (with
--gitops-token-file) needs one of its tokens, from any peer.

Environment:
  GOCD_REGISTRY_BRIDGE_TOKEN        the token, when --token-stdin is not given
  GOCD_REGISTRY_BRIDGE_STATUS_TOKEN the status token, instead of --status-token-file
  GOCD_REGISTRY_BRIDGE_CREDENTIALS  the credentials file, instead of --credentials
  GOCD_REGISTRY_BRIDGE_DRONE_SECRET the Drone secret(s), one a line, instead of --drone-registry-secret-file
  GOCD_REGISTRY_BRIDGE_LOG_LEVEL    debug | info | warn | error (default info); logs are JSON lines on stderr
  GOCD_REGISTRY_BRIDGE_STATUS_PORT  also serve /status and /metrics on this fixed loopback port
  DOCKER_CONFIG                     where docker's config.json is (credentials for repositories without any)
`;

const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
};

/** Answers the exit code, or undefined for a command that keeps running (serve). */
async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      processIo.stderr(USAGE);
      return EXIT.USAGE;
    case '--help':
    case '-h':
    case 'help':
      processIo.stdout(USAGE);
      return EXIT.OK;
    case '--version':
      processIo.stdout(`${version}\n`);
      return EXIT.OK;
    case 'poll':
      return runPoll(rest, processIo);
    case 'images':
      return runImages(rest, processIo);
    case 'gitops-update':
      return runGitOpsUpdate(rest, processIo);
    case 'serve':
      return runServe(rest);
    case 'status-registry':
      return runStatusRegistry(rest, processIo);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function runServe(argv: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      port: { type: 'string' },
      'allow-remote-gocd': { type: 'boolean', default: false },
      'status-token-file': { type: 'string' },
      credentials: { type: 'string' },
      'drone-registry-secret-file': { type: 'string' },
      'drone-allow-hmac-sha1': { type: 'boolean', default: false },
      'drone-max-clock-skew': { type: 'string' },
      'status-registry-token-file': { type: 'string' },
      'data-dir': { type: 'string' },
      'status-registry-db': { type: 'string' },
      'status-registry-call-timeout': { type: 'string' },
      'gitops-token-file': { type: 'string' },
      'gitops-allow-insecure-http': { type: 'boolean', default: false },
      'gitops-signing-key': { type: 'string' },
      'token-stdin': { type: 'boolean', default: false },
      'exit-on-stdin-eof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    processIo.stdout(SERVE_USAGE);
    return EXIT.OK;
  }
  const statusPort = process.env.GOCD_REGISTRY_BRIDGE_STATUS_PORT;
  if (statusPort !== undefined && !/^\d{1,5}$/.test(statusPort)) throw new UsageError(`GOCD_REGISTRY_BRIDGE_STATUS_PORT must be a port number, not "${statusPort}"`);
  await serve({
    listen: listenAddress(values.listen, values.port),
    allowRemoteGoCd: values['allow-remote-gocd'],
    statusTokenFile: values['status-token-file'],
    credentialsFile: values.credentials,
    droneSecretFile: values['drone-registry-secret-file'],
    droneAllowHmacSha1: values['drone-allow-hmac-sha1'],
    droneMaxClockSkewMs: values['drone-max-clock-skew'] === undefined ? undefined : parseClockSkew(values['drone-max-clock-skew']),
    statusRegistryTokenFile: values['status-registry-token-file'],
    dataDir: values['data-dir'],
    statusRegistryDb: values['status-registry-db'],
    statusRegistryCallTimeoutMs: values['status-registry-call-timeout'] === undefined ? undefined : parseCallTimeout(values['status-registry-call-timeout']),
    gitopsTokenFile: values['gitops-token-file'],
    gitopsAllowInsecureHttp: values['gitops-allow-insecure-http'],
    gitopsSigningKey: values['gitops-signing-key'],
    statusPort: statusPort === undefined ? undefined : Number(statusPort),
    tokenFromStdin: values['token-stdin'],
    exitOnStdinEof: values['exit-on-stdin-eof'],
    version,
  });
  return undefined;
}

function listenAddress(listen: string | undefined, port: string | undefined): ListenAddress {
  if (listen !== undefined && port !== undefined) throw new UsageError('give --listen or --port, not both (--port N is --listen 127.0.0.1:N)');
  if (listen !== undefined) return parseListenAddress(listen);
  return port === undefined ? DEFAULT_LISTEN : listenOnLoopbackPort(port);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    // parseArgs throws errors with an ERR_PARSE_ARGS_* code for unknown or malformed options: usage errors too.
    const isUsage = err instanceof UsageError || err instanceof ServeOptionError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    const text = err instanceof ServeOptionError ? err.describe() : (err as Error)?.message ?? String(err);
    processIo.stderr(`gocd-registry-bridge: ${text}\n`);
    if (isUsage) processIo.stderr(`Run gocd-registry-bridge ${argvCommand()} --help for usage.\n`);
    process.exitCode = isUsage ? EXIT.USAGE : EXIT.FAILED;
  },
);

function argvCommand(): string {
  const command = process.argv[2];
  return command === 'poll' || command === 'images' || command === 'serve' || command === 'status-registry' || command === 'gitops-update' ? command : '';
}

