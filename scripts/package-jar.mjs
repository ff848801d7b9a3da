// Adds the sidecar to the shim jar Gradle built and writes dist/gocd-registry-bridge-<version>.jar: the bundle for a
// system Node, and (built on linux-x64) the single executable for GoCD servers without one, gzipped and stored as
// is (deflating it again would gain nothing), with its SHA-256.
// The jar keeps GoCD's rules: plugin.xml at the root, no Bundle-SymbolicName, no GoCD API classes;
// test/jar.test.ts checks them on the result.
import { readFile, writeFile } from 'node:fs/promises';
import JSZip from 'jszip';
import { buildSea, seaFiles } from './sea.mjs';

const { name, version } = JSON.parse(await readFile('package.json', 'utf8'));
const shimJar = `build/libs/${name}-${version}.jar`;
const sidecar = 'dist/gocd-registry-bridge.js';
const output = `dist/${name}-${version}.jar`;

const jar = await JSZip.loadAsync(await readFile(shimJar));
jar.file('sidecar/gocd-registry-bridge.js', await readFile(sidecar));
for (const platform of buildSea()) {
  const files = seaFiles(platform);
  jar.file(`sidecar/${platform}/gocd-registry-bridge.gz`, await readFile(files.executable), { compression: 'STORE' });
  jar.file(`sidecar/${platform}/gocd-registry-bridge.sha256`, await readFile(files.sha256));
}
const bytes = await jar.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 9 } });
await writeFile(output, bytes);
console.log(`${output} (${Math.round(bytes.length / 1024)} KiB)`);
