import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { drawIcon, encodeIcns, encodeIco, encodePng } from './icons';

const build = path.resolve(import.meta.dirname, '../resources/build');

/** Reads a PNG back: chunk CRCs, size, and the pixel rows (filter byte + RGBA). */
function decodePng(png: Buffer): { size: number; rows: Buffer } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let at = 8;
  let size = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') size = data.readUInt32BE(0);
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  return { size, rows: inflateSync(Buffer.concat(idat)) };
}

describe('app icons (scripts/icons.ts)', () => {
  it('writes PNGs that decode to the drawn pixels', () => {
    const pixels = drawIcon(32);
    const { size, rows } = decodePng(encodePng(32, pixels));
    expect(size).toBe(32);
    expect(rows.length).toBe(32 * (32 * 4 + 1));
    expect(rows.subarray(1, 1 + 32 * 4).equals(Buffer.from(pixels.subarray(0, 32 * 4)))).toBe(true);
    // Transparent corners, an opaque centre.
    expect(pixels[3]).toBe(0);
    expect(pixels[(16 * 32 + 16) * 4 + 3]).toBe(255);
  });

  it('packs .ico and .icns entries that point at the PNGs', () => {
    const a = { size: 16, png: encodePng(16, drawIcon(16)) };
    const b = { size: 256, png: encodePng(256, drawIcon(256)) };
    const ico = encodeIco([a, b]);
    expect(ico.readUInt16LE(2)).toBe(1);
    expect(ico.readUInt16LE(4)).toBe(2);
    expect(ico[6 + 16]).toBe(0); // 256 px is written as 0
    const off = ico.readUInt32LE(6 + 16 + 12);
    expect(ico.subarray(off, off + b.png.length).equals(b.png)).toBe(true);
    const icns = encodeIcns([a, b]);
    expect(icns.toString('ascii', 0, 4)).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    expect(icns.toString('ascii', 8, 12)).toBe('icp4');
    expect(icns.toString('ascii', 16 + a.png.length, 20 + a.png.length)).toBe('ic08');
  });

  it('the committed icons are what the script draws now (rerun npm run icons after changing it)', () => {
    for (const s of [16, 64, 256]) {
      expect(readFileSync(path.join(build, 'icons', `${String(s)}x${String(s)}.png`)).equals(encodePng(s, drawIcon(s)))).toBe(true);
    }
    expect(decodePng(readFileSync(path.join(build, 'icon.png'))).size).toBe(1024);
    expect(readFileSync(path.join(build, 'icon.ico')).readUInt16LE(4)).toBe(6);
    expect(readFileSync(path.join(build, 'icon.icns')).toString('ascii', 0, 4)).toBe('icns');
  });
});
