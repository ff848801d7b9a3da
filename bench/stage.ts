// The real parts a benchmark stands up: the built jar in a JVM (GoCdHost, which starts the sidecar as GoCD would),
// Debian's docker-registry (token auth or none) behind the fault proxy, and a count of what the sidecar asked of
// them; plus the profiler switches (BENCH_*) that explain a number without changing the product.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FaultProxy, FaultProxyOptions, startFaultProxy } from '../test/support/fault-proxy';
import { GoCdHost } from '../test/support/gocd-host';
import { pidsMatching } from '../test/support/processes';
import { PushTarget } from '../test/support/push-image';
import { startRegistry, StartedRegistry } from '../test/support/registry-server';
import { TokenServer } from '../test/support/token-server';
import { REGISTRY_CLIENT_DEFAULTS } from '../src/registry';
import { diagnosisNodeFlags } from './support';

/**
 * How long the sidecar reuses a tag walk (src/registry/client.ts), read from the source the bundle is built from,
 * so "after the window" stays after it when the product changes the window.
 */
export const TAG_WALK_REUSE_MS = REGISTRY_CLIENT_DEFAULTS.tagListReuseMs;

export interface BenchHost {
  host: GoCdHost;
  workDir: string;
  /** The sidecar node process the shim started (its command line holds the work dir). */
  sidecarPid(): number;
  stop(): Promise<void>;
}

/** A GoCdHost JVM with its own work dir; the sidecar starts on the first call, as in GoCD. */
export async function startHost(env: Record<string, string> = {}, workDir = mkdtempSync(path.join(tmpdir(), 'bridge-bench-'))): Promise<BenchHost> {
  const host = await GoCdHost.start({
    GOCD_REGISTRY_BRIDGE_WORK_DIR: workDir,
    // What ~/.docker of whoever runs the benchmark holds must not change what the sidecar does.
    DOCKER_CONFIG: '/nonexistent/gocd-registry-bridge-bench',
    ...nodeWrapperEnv(workDir),
    ...env,
  });
  if (process.env.BENCH_JFR) startJfr(host.process.pid!, process.env.BENCH_JFR);
  return {
    host,
    workDir,
    sidecarPid() {
      const pids = pidsMatching(workDir);
      if (pids.length !== 1) throw new Error(`expected one sidecar process under ${workDir}, found ${pids.length}`);
      return pids[0]!;
    },
    async stop() {
      const timer = setTimeout(() => host.process.kill('SIGKILL'), 10_000);
      await host.exit();
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * Node flags for the sidecar, to explain or try out a number without changing the product: BENCH_NODE_FLAGS (e.g.
 * --max-semi-space-size=1); BENCH_CPU_PROF=<dir>, which makes the sidecar write a V8 CPU profile there when it
 * exits (open it in Chrome DevTools); BENCH_HEAP_SNAPSHOT=<dir>, where P4 has the sidecar write a heap snapshot
 * after the fleet cycles. Node 20 refuses these flags in NODE_OPTIONS, so the shim runs node through a wrapper
 * (GOCD_REGISTRY_BRIDGE_NODE). BENCH_JFR: see startJfr.
 */
function nodeWrapperEnv(workDir: string): Record<string, string> {
  const { BENCH_HEAP_SNAPSHOT } = process.env;
  const flags = [...diagnosisNodeFlags(), ...(BENCH_HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${path.resolve(BENCH_HEAP_SNAPSHOT)}`] : [])]
    .map((flag) => JSON.stringify(flag))
    .join(' ');
  if (flags === '') return {};
  const wrapper = path.join(workDir, 'bench-node'); // the shim's sidecar copy lives in a subdirectory: no clash
  writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${flags} "$@"\n`, { mode: 0o755 });
  return { GOCD_REGISTRY_BRIDGE_NODE: wrapper };
}

/**
 * BENCH_JFR=<dir>: the JVM records a Java Flight Recording into dir, written when it exits (read it with
 * `jfr print --events jdk.ExecutionSample <file>`). Started with jcmd once GoCdHost is up: started from the command
 * line, JFR prints to stdout, which is GoCdHost's protocol.
 */
function startJfr(pid: number, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(path.resolve(dir), `gocd-host-${pid}.jfr`);
  execFileSync('jcmd', [String(pid), 'JFR.start', 'settings=profile', 'dumponexit=true', `filename=${file}`], { stdio: 'ignore' });
}

/** What GoCdHost's BENCH line answers: handle() timed with System.nanoTime inside the JVM. */
export interface JvmTiming {
  requestName: string;
  calls: number;
  threads: number;
  wallMs: number;
  callsPerSecond: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  minUs: number;
  maxUs: number;
  failures: number;
  lastCode: number;
  firstFailure: string | null;
  lastBody: string;
}

/**
 * `calls` handle() calls spread over `threads` caller threads inside the JVM, after `warmup` untimed ones, so the
 * line protocol between this process and the JVM costs nothing that is measured. One BENCH at a time per host.
 */
export function benchInJvm(host: GoCdHost, requestName: string, calls: number, threads: number, warmup: number, body?: unknown): Promise<JvmTiming> {
  const stdout = host.process.stdout!;
  const encoded = body === undefined ? '-' : Buffer.from(JSON.stringify(body)).toString('base64');
  return new Promise((resolve, reject) => {
    let buffered = '';
    // A plain data listener beside GoCdHost's own reader: closing a second readline would pause the shared stream.
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [word, payload] = line.split(' ');
        if (word !== 'BENCH' && word !== 'BENCH_FAILED') continue;
        stdout.off('data', onData);
        const text = Buffer.from(payload ?? '', 'base64').toString('utf8');
        if (word === 'BENCH_FAILED') reject(new Error(`BENCH ${requestName} failed in the JVM: ${text}`));
        else resolve(JSON.parse(text) as JvmTiming);
        return;
      }
    };
    stdout.on('data', onData);
    host.process.stdin!.write(`BENCH ${requestName} ${calls} ${threads} ${warmup} ${encoded}\n`);
  });
}

export const CREDENTIALS = { username: 'bench', password: 'bench-pa55word-0123' };

export interface RegistryStack {
  registry: StartedRegistry;
  /** With token auth: the token server, which records every token request. */
  tokenServer?: TokenServer;
  /** With token auth: what the packages' repository configuration logs in with. */
  credentials?: typeof CREDENTIALS;
  /** What the sidecar talks to: every request it makes is recorded here. */
  proxy: FaultProxy;
  /** Seeding goes to the registry directly, so the proxy only sees the sidecar. */
  pushTarget: PushTarget;
  stop(): Promise<void>;
}

/**
 * docker-registry behind the fault proxy, with Bearer-token auth (a user and password, as private registries have)
 * or without any auth, which keeps the registry's own CPU use small (it verifies a JWT on every request).
 */
export async function startRegistryStack(auth: 'token' | 'none', proxyOptions: FaultProxyOptions = {}): Promise<RegistryStack> {
  const registry = await startRegistry(auth === 'token' ? { token: { users: [CREDENTIALS] } } : {});
  const proxy = await startFaultProxy(registry.url, proxyOptions);
  const credentials = auth === 'token' ? CREDENTIALS : undefined;
  return {
    registry,
    ...(registry.tokenServer && { tokenServer: registry.tokenServer }),
    ...(credentials && { credentials }),
    proxy,
    pushTarget: { url: registry.url, credentials },
    async stop() {
      await proxy.stop();
      await registry.stop();
    },
  };
}

/** GoCD's configuration-map shape: {"KEY": {"value": "..."}}. */
export function configMap(values: Record<string, string>): Record<string, { value: string }> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
}

/** The body GoCD sends with latest-revision for one package of the stack's registry (through the proxy). */
export function packageBody(stack: RegistryStack, image: string, settings: Record<string, string>): object {
  return {
    'repository-configuration': configMap({
      DOCKER_REGISTRY_URL: `${stack.proxy.url}/v2/`,
      DOCKER_REGISTRY_NAME: stack.proxy.host,
      ...(stack.credentials && { USERNAME: stack.credentials.username, PASSWORD: stack.credentials.password }),
    }),
    'package-configuration': configMap({ DOCKER_IMAGE: image, ...settings }),
  };
}

export interface RequestCounts {
  tagPages: number;
  heads: number;
  manifestGets: number;
  blobGets: number;
  /** Anything else (the /v2/ ping, uploads). */
  other: number;
  /** Answers 401 (challenge round trips); not counted in the categories above. */
  unauthorized: number;
  tokens: number;
  /** Tag-list GETs by repository. */
  tagPagesByImage: Record<string, number>;
}

/** Counts the sidecar's registry requests (at the proxy) and token requests (at the token server) since reset(). */
export function requestCounter(stack: RegistryStack): { reset(): void; counts(): RequestCounts } {
  const tokenRequests = () => stack.tokenServer?.requests.length ?? 0;
  let tokensBefore = tokenRequests();
  return {
    reset() {
      stack.proxy.requests.length = 0;
      tokensBefore = tokenRequests();
    },
    counts() {
      const counts: RequestCounts = { tagPages: 0, heads: 0, manifestGets: 0, blobGets: 0, other: 0, unauthorized: 0, tokens: 0, tagPagesByImage: {} };
      for (const { method, path: requestPath, status } of stack.proxy.requests) {
        const pathname = requestPath.split('?')[0] ?? '';
        const tags = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
        if (status === 401) {
          counts.unauthorized += 1; // retried with a token: the retry is what the categories count
          continue;
        }
        if (tags && method === 'GET') {
          counts.tagPages += 1;
          counts.tagPagesByImage[tags[1]!] = (counts.tagPagesByImage[tags[1]!] ?? 0) + 1;
        } else if (/\/manifests\//.test(pathname) && method === 'HEAD') counts.heads += 1;
        else if (/\/manifests\//.test(pathname) && method === 'GET') counts.manifestGets += 1;
        else if (/\/blobs\/sha256:/.test(pathname) && method === 'GET') counts.blobGets += 1;
        else counts.other += 1;
      }
      counts.tokens = tokenRequests() - tokensBefore;
      return counts;
    },
  };
}
