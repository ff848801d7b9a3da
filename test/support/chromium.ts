// Headless Debian Chromium, with the flags this machine needs (no sandbox as root; no background networking,
// whose connections the closed network refuses).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const CHROMIUM = process.env.CHROMIUM_BINARY ?? 'chromium';

async function runChromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(path.join(tmpdir(), 'bridge-chromium-'));
  try {
    const { stdout } = await promisify(execFile)(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM Chromium rendered, serialised. */
export function dumpDom(url: string): Promise<string> {
  return runChromium(['--dump-dom', url]);
}

export async function screenshot(url: string, file: string, width: number, height: number): Promise<void> {
  await runChromium([`--screenshot=${file}`, `--window-size=${width},${height}`, '--hide-scrollbars', url]);
}

export interface PngSummary {
  width: number;
  height: number;
  /** Distinct byte values in the decompressed scanlines: a blank page has a handful. */
  distinctBytes: number;
}

/** Reads just enough of a PNG to tell its size and whether anything is drawn on it. */
export function summarisePng(png: Buffer): PngSummary {
  if (png.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.subarray(offset + 4, offset + 8).toString('latin1');
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
    } else if (type === 'IDAT') {
      data.push(body);
    }
    offset += 12 + length;
  }
  return { width, height, distinctBytes: new Set(inflateSync(Buffer.concat(data))).size };
}
