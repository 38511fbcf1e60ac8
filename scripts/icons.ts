/**
 * The app icon for every platform, drawn here from one description (no image tools needed):
 *   resources/build/icon.png            1024 px, the source electron-builder falls back to
 *   resources/build/icons/<N>x<N>.png   Linux (AppImage, deb) sizes
 *   resources/build/icon.ico            Windows (PNG-compressed entries 16–256)
 *   resources/build/icon.icns           macOS (PNG entries 16–1024)
 * Run: npm run icons. The output is committed; rerun after changing the drawing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';

/** CRC-32 as PNG chunks use it. */
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf: Buffer): number => {
  let c = 0xffffffff;
  for (const b of buf) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

const chunk = (type: string, data: Buffer): Buffer => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};

/** An RGBA image (8 bits a channel, non-interlaced) as a PNG file. */
export function encodePng(size: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

type Rgb = readonly [number, number, number];
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/** Signed distance (in units of the icon's side) to a rounded rectangle centred at (cx, cy). */
const roundedRect = (x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};

/**
 * The drawing, in unit coordinates: a rounded tile in the app's blue; on it a white server box with two drive bays
 * and a green status light, under a shield-like arch (the zero-trust door).
 */
function shade(x: number, y: number): { rgb: Rgb; alpha: number; d: number }[] {
  const top: Rgb = [52, 120, 246];
  const bottom: Rgb = [28, 64, 160];
  const white: Rgb = [246, 247, 249];
  const slot: Rgb = [40, 86, 190];
  const green: Rgb = [52, 211, 120];
  return [
    { rgb: mix(top, bottom, y), alpha: 1, d: roundedRect(x, y, 0.5, 0.5, 0.44, 0.44, 0.1) },
    // The arch: a ring segment above the box.
    { rgb: white, alpha: 0.9, d: Math.max(Math.abs(Math.hypot(x - 0.5, y - 0.56) - 0.26) - 0.035, y - 0.56) },
    { rgb: white, alpha: 1, d: roundedRect(x, y, 0.5, 0.62, 0.2, 0.13, 0.03) },
    { rgb: slot, alpha: 1, d: roundedRect(x, y, 0.46, 0.57, 0.12, 0.022, 0.012) },
    { rgb: slot, alpha: 1, d: roundedRect(x, y, 0.46, 0.67, 0.12, 0.022, 0.012) },
    { rgb: green, alpha: 1, d: Math.hypot(x - 0.63, y - 0.57) - 0.025 },
  ];
}

/** Renders the icon at `size` pixels, 4×4 supersampled. */
export function drawIcon(size: number): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  const ss = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size;
          const y = (py + (sy + 0.5) / ss) / size;
          // Paint layers bottom-up ("over" compositing, premultiplied).
          let cr = 0;
          let cg = 0;
          let cb = 0;
          let ca = 0;
          for (const layer of shade(x, y)) {
            if (layer.d > 0) continue;
            const la = layer.alpha;
            cr = layer.rgb[0] * la + cr * (1 - la);
            cg = layer.rgb[1] * la + cg * (1 - la);
            cb = layer.rgb[2] * la + cb * (1 - la);
            ca = la + ca * (1 - la);
          }
          r += cr;
          g += cg;
          b += cb;
          a += ca;
        }
      }
      const n = ss * ss;
      const i = (py * size + px) * 4;
      const alpha = a / n;
      out[i] = alpha > 0 ? Math.round(r / n / alpha) : 0;
      out[i + 1] = alpha > 0 ? Math.round(g / n / alpha) : 0;
      out[i + 2] = alpha > 0 ? Math.round(b / n / alpha) : 0;
      out[i + 3] = Math.round(alpha * 255);
    }
  }
  return out;
}

/** A Windows .ico whose entries are PNGs (supported since Vista; electron-builder needs a 256 px entry). */
export function encodeIco(pngs: readonly { size: number; png: Buffer }[]): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // icon
  header.writeUInt16LE(pngs.length, 4);
  const dir = Buffer.alloc(16 * pngs.length);
  let offset = 6 + dir.length;
  pngs.forEach(({ size, png }, i) => {
    const e = i * 16;
    dir[e] = size >= 256 ? 0 : size;
    dir[e + 1] = size >= 256 ? 0 : size;
    dir.writeUInt16LE(1, e + 4); // planes
    dir.writeUInt16LE(32, e + 6); // bits per pixel
    dir.writeUInt32LE(png.length, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += png.length;
  });
  return Buffer.concat([header, dir, ...pngs.map((p) => p.png)]);
}

/** A macOS .icns of PNG entries (OSType per size, as Apple's iconutil writes them). */
export function encodeIcns(pngs: readonly { size: number; png: Buffer }[]): Buffer {
  const types: Record<number, string> = { 16: 'icp4', 32: 'icp5', 64: 'icp6', 128: 'ic07', 256: 'ic08', 512: 'ic09', 1024: 'ic10' };
  const entries = pngs.map(({ size, png }) => {
    const type = types[size];
    if (!type) throw new Error(`icns has no entry type for ${String(size)} px`);
    const h = Buffer.alloc(8);
    h.write(type, 0, 'ascii');
    h.writeUInt32BE(8 + png.length, 4);
    return Buffer.concat([h, png]);
  });
  const body = Buffer.concat(entries);
  const h = Buffer.alloc(8);
  h.write('icns', 0, 'ascii');
  h.writeUInt32BE(8 + body.length, 4);
  return Buffer.concat([h, body]);
}

export function writeIcons(dir: string): string[] {
  const sizes = [16, 32, 48, 64, 128, 256, 512, 1024];
  const png = new Map(sizes.map((s) => [s, encodePng(s, drawIcon(s))]));
  const get = (s: number): { size: number; png: Buffer } => ({ size: s, png: png.get(s) as Buffer });
  mkdirSync(path.join(dir, 'icons'), { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: Buffer): void => {
    writeFileSync(path.join(dir, name), data);
    written.push(name);
  };
  put('icon.png', png.get(1024) as Buffer);
  for (const s of sizes.filter((s) => s <= 512)) put(path.join('icons', `${String(s)}x${String(s)}.png`), png.get(s) as Buffer);
  put('icon.ico', encodeIco([16, 32, 48, 64, 128, 256].map(get)));
  put('icon.icns', encodeIcns([16, 32, 64, 128, 256, 512, 1024].map(get)));
  return written;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const dir = path.resolve('resources/build');
  for (const f of writeIcons(dir)) console.log(`wrote resources/build/${f}`);
}
