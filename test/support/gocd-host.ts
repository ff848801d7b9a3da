// Drives plugin-java-shim/src/testHost (GoCdHost): a real JVM that loads the built jar the way GoCD's plugin
// loader does and calls handle() with the real go-plugin-api. Line protocol: `<id> <request> <base64 body|->`
// in, `<id> <code> <base64 body>` out.

import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { onPath } from './processes';

const ROOT = path.resolve(__dirname, '../..');
const { name, version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
export const PLUGIN_JAR = path.join(ROOT, 'dist', `${name}-${version}.jar`);
const HOST_CLASSPATH = [path.join(ROOT, 'build/gocd-host/classes'), path.join(ROOT, 'build/gocd-host/lib/*')].join(path.delimiter);

// By its full path, so a test can hand the JVM a PATH without node (or java) on it.
const JAVA = onPath('java') ?? 'java';

export interface PluginReply {
  code: number;
  body: string;
}

export class GoCdHost {
  private nextId = 1;
  private readonly pending = new Map<string, (reply: PluginReply) => void>();
  /** Everything the JVM wrote to stderr: the plugin's log lines, including the sidecar's. */
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly process: ChildProcess,
    readonly pluginId: string,
  ) {
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)));
    createInterface({ input: process.stdout! }).on('line', (line) => this.onLine(line));
  }

  static async start(env: Record<string, string>, jar = PLUGIN_JAR): Promise<GoCdHost> {
    const child = spawn(JAVA, ['-cp', HOST_CLASSPATH, 'org.gocdregistrybridge.host.GoCdHost', jar], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        lines.close();
        resolve(line);
      });
      child.once('exit', (code) => reject(new Error(`GoCdHost exited with ${code} before loading the plugin: ${stderr}`)));
    });
    const [word, id] = ready.split(' ');
    if (word !== 'READY' || !id) throw new Error(`GoCdHost could not load the plugin: ${decodeLoadFailure(ready)}\n${stderr}`);
    const host = new GoCdHost(child, id);
    host.stderr = stderr;
    child.stderr!.on('data', (chunk: Buffer) => {
      host.stderr += chunk.toString();
    });
    return host;
  }

  /** One handle() call; body undefined is GoCD's null body. */
  handle(requestName: string, body?: unknown): Promise<PluginReply> {
    const id = String(this.nextId++);
    const encoded = body === undefined ? '-' : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64');
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.process.stdin!.write(`${id} ${requestName} ${encoded}\n`);
    });
  }

  /** Closes stdin like a GoCD shutdown: the host waits for in-flight calls and exits, running shutdown hooks. */
  async exit(): Promise<number | null> {
    this.process.stdin!.end('EXIT\n');
    return this.exited;
  }

  private onLine(line: string): void {
    const [id, code, body] = line.split(' ');
    const resolve = id ? this.pending.get(id) : undefined;
    if (!resolve) return;
    this.pending.delete(id!);
    const text = Buffer.from(body ?? '', 'base64').toString('utf8');
    resolve({ code: code === 'EXCEPTION' ? -1 : Number(code), body: code === 'EXCEPTION' ? `EXCEPTION ${text}` : text });
  }
}

function decodeLoadFailure(line: string): string {
  const [word, encoded] = line.split(' ');
  return word === 'LOAD_FAILED' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : line;
}
