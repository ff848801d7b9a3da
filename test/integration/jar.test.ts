import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import JSZip from 'jszip';
import { PLUGIN_JAR } from '../support/gocd-host';

// GoCD's rules for a plugin jar.
describe('the plugin jar', () => {
  let jar: JSZip;
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

  beforeAll(async () => {
    jar = await JSZip.loadAsync(readFileSync(PLUGIN_JAR));
  });

  const names = () => Object.keys(jar.files).filter((n) => !jar.files[n]!.dir);

  it('has plugin.xml at the root with the old plugin\'s id, descriptor version 1 and this release', async () => {
    const xml = await jar.file('plugin.xml')!.async('string');
    expect(xml).toMatch(/<go-plugin id="docker-registry" version="1">/);
    expect(xml).toContain(`<version>${version}</version>`);
    expect(xml).toMatch(/<target-go-version>20\.1\.0<\/target-go-version>/);
    expect(xml).not.toContain('target-os');
  });

  it('carries the sidecar as one bundled file', async () => {
    const sidecar = await jar.file('sidecar/gocd-registry-bridge.js')!.async('string');
    expect(sidecar.startsWith('#!/usr/bin/env node')).toBe(true);
    expect(sidecar).toContain('GOCD_REGISTRY_BRIDGE_READY');
  });

  it('carries the linux-x64 single executable, gzipped, with the SHA-256 the shim checks it against', async () => {
    const executable = gunzipSync(await jar.file('sidecar/linux-x64/gocd-registry-bridge.gz')!.async('nodebuffer'));
    const expected = (await jar.file('sidecar/linux-x64/gocd-registry-bridge.sha256')!.async('string')).trim();
    expect(createHash('sha256').update(executable).digest('hex')).toBe(expected);
    expect(executable.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(executable.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true); // the blob is injected
  });

  it('contains no GoCD API classes and no bundled dependencies', () => {
    expect(names().filter((n) => n.startsWith('com/thoughtworks/') || n.startsWith('lib/'))).toEqual([]);
    expect(names().filter((n) => n.endsWith('.class')).every((n) => n.startsWith('org/gocdregistrybridge/shim/'))).toBe(true);
  });

  it('has a manifest without Bundle-SymbolicName, which GoCD would reject', async () => {
    const manifest = await jar.file('META-INF/MANIFEST.MF')!.async('string');
    expect(manifest).not.toMatch(/Bundle-SymbolicName/i);
  });
});
