// The one executable (package.json bin, and the file the jar carries): routes a command to server/ or cli/.

import { parseArgs } from 'node:util';
import { version } from '../package.json';
import { CommandIo, EXIT, runImages, runPoll, UsageError } from './cli';
import { serve } from './server';

const USAGE = `gocd-registry-bridge ${version}: Docker/OCI registry tags as GoCD package materials

Usage:
  gocd-registry-bridge serve [--port N] [--token-stdin] [--exit-on-stdin-eof]
  gocd-registry-bridge poll --registry URL --image NAME [options]
  gocd-registry-bridge images [--pull]
  gocd-registry-bridge --version
  gocd-registry-bridge <command> --help

Commands:
  serve    Run the sidecar the GoCD plugin forwards to, on 127.0.0.1 only.
  poll     Poll a registry once and show what GoCD would get, env var names included.
  images   Inside a GoCD task: print (or pull) the image of each package material.
`;

const SERVE_USAGE = `Usage: gocd-registry-bridge serve [--port N] [--token-stdin] [--exit-on-stdin-eof]

Runs the sidecar on 127.0.0.1. The GoCD plugin starts it by itself; run it by hand only for the plugin's
external mode (set GOCD_REGISTRY_BRIDGE_URL and GOCD_REGISTRY_BRIDGE_TOKEN on the GoCD server).

Options:
  --port N              port to listen on (default 0: any free port; the ready line names it)
  --token-stdin         read the bearer token from the first line of stdin (what the plugin does);
                        otherwise the token comes from GOCD_REGISTRY_BRIDGE_TOKEN
  --exit-on-stdin-eof   exit when stdin closes (the plugin's JVM is gone)

Environment:
  GOCD_REGISTRY_BRIDGE_TOKEN       the token, when --token-stdin is not given
  GOCD_REGISTRY_BRIDGE_LOG_LEVEL   debug | info | warn | error (default info); logs are JSON lines on stderr
  GOCD_REGISTRY_BRIDGE_STATUS_PORT also serve /status and /metrics on this fixed loopback port
  DOCKER_CONFIG                    where docker's config.json is (credentials for repositories without any)
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
    case 'serve':
      return runServe(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function runServe(argv: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
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
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, not "${values.port}"`);
  const statusPort = process.env.GOCD_REGISTRY_BRIDGE_STATUS_PORT;
  if (statusPort !== undefined && !/^\d{1,5}$/.test(statusPort)) throw new UsageError(`GOCD_REGISTRY_BRIDGE_STATUS_PORT must be a port number, not "${statusPort}"`);
  await serve({
    port,
    statusPort: statusPort === undefined ? undefined : Number(statusPort),
    tokenFromStdin: values['token-stdin'],
    exitOnStdinEof: values['exit-on-stdin-eof'],
    version,
  });
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    // parseArgs throws errors with an ERR_PARSE_ARGS_* code for unknown or malformed options: usage errors too.
    const isUsage = err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    processIo.stderr(`gocd-registry-bridge: ${(err as Error)?.message ?? String(err)}\n`);
    if (isUsage) processIo.stderr(`Run gocd-registry-bridge ${argvCommand()} --help for usage.\n`);
    process.exitCode = isUsage ? EXIT.USAGE : EXIT.FAILED;
  },
);

function argvCommand(): string {
  const command = process.argv[2];
  return command === 'poll' || command === 'images' || command === 'serve' ? command : '';
}

