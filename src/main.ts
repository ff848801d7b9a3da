// The one executable (package.json bin, and the file the jar carries): routes a command to server/ or cli/.

import { parseArgs } from 'node:util';
import { version } from '../package.json';
import { serve } from './server';

const USAGE = `gocd-registry-bridge ${version}: Docker/OCI registry tags as GoCD package materials

Usage:
  gocd-registry-bridge serve [--port N] [--token-stdin] [--exit-on-stdin-eof]
  gocd-registry-bridge --version
  gocd-registry-bridge <command> --help

Commands:
  serve   Run the sidecar the GoCD plugin forwards to, on 127.0.0.1 only.
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
`;

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (command === 'serve') {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string', default: '0' },
        'token-stdin': { type: 'boolean', default: false },
        'exit-on-stdin-eof': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(SERVE_USAGE);
      return 0;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, not "${values.port}"`);
    await serve({ port, tokenFromStdin: values['token-stdin'], exitOnStdinEof: values['exit-on-stdin-eof'], version });
    return -1; // keeps running
  }
  throw new UsageError(`unknown command "${command}"`);
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    // parseArgs throws TypeErrors with a code for unknown or malformed options: those are usage errors too.
    const isUsage = err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`gocd-registry-bridge: ${(err as Error)?.message ?? String(err)}\n`);
    if (isUsage) process.stderr.write('Run gocd-registry-bridge --help for usage.\n');
    process.exitCode = isUsage ? 2 : 1;
  },
);
