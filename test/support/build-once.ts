// jest globalSetup: builds the plugin jar (and the GoCD host harness) when it is missing or older than its
// sources, so `npx jest` alone tests what the sources say. The README's test command builds first anyway.

import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PLUGIN_JAR } from './gocd-host';

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = ['src', 'plugin-java-shim/src', 'scripts', 'build.gradle', 'package.json'];

function newestMtime(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(entry).map((child) => newestMtime(path.join(entry, child))));
}

export default function buildOnce(): void {
  const hostBuilt = existsSync(path.join(ROOT, 'build/gocd-host/classes'));
  if (hostBuilt && existsSync(PLUGIN_JAR) && statSync(PLUGIN_JAR).mtimeMs >= Math.max(...SOURCES.map((s) => newestMtime(path.join(ROOT, s))))) return;
  execSync('npm run build', { cwd: ROOT, stdio: 'inherit' });
}
