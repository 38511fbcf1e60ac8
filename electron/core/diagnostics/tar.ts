/** A minimal ustar writer (regular files only) and gzip: enough for one diagnostics archive, no dependency. */
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  readonly name: string;
  readonly content: string | Buffer;
  readonly mtime?: Date;
}

const field = (buf: Buffer, offset: number, length: number, value: string): void => void buf.write(value, offset, length, 'utf8');
const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, '0')}\0`;

function header(name: string, size: number, mtime: Date): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100 || /[\0]/.test(name) || name.startsWith('/') || name.split('/').includes('..')) throw new Error(`bad tar entry name: ${name}`);
  field(h, 0, 100, name);
  field(h, 100, 8, octal(0o644, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(Math.floor(mtime.getTime() / 1000), 12));
  field(h, 148, 8, '        ');
  field(h, 156, 1, '0');
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.content === 'string' ? Buffer.from(e.content, 'utf8') : e.content;
    parts.push(header(e.name, body.length, e.mtime ?? new Date()), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const tarGz = (entries: readonly TarEntry[]): Buffer => gzipSync(tar(entries));
