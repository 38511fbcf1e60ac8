/**
 * What the tray shows (issue 7): the worst state of every watched server, as an icon whose shape (not only its
 * colour) tells the state, a tooltip in words, and one menu line per server. Pure: the Electron shell draws it.
 */
import { deflateSync } from 'node:zlib';
import { severityRank, type Severity, type StatusSnapshot } from '../../contract/status';
import { outageHeadline } from './cards';

export interface TrayLine {
  readonly profileId: string;
  readonly label: string;
  readonly severity: Severity;
  /** The worst card's reason, in words. */
  readonly reason: string;
  /** The outage fallback's switch for this server, once the app knows it can be used there. */
  readonly fallback?: { readonly on: boolean };
}

export interface TrayView {
  readonly severity: Severity;
  readonly tooltip: string;
  /** Worst first, then by name. */
  readonly lines: readonly TrayLine[];
}

export const severityWord: Readonly<Record<Severity, string>> = { ok: 'OK', unknown: 'Unknown', warning: 'Warning', error: 'Problem' };

function lineOf(profileId: string, label: string, snap: StatusSnapshot, fallback: { ready: boolean; on: boolean } | undefined): TrayLine {
  // A broken path from the internet is the worst news and is known even while the agent is away.
  const outage = snap.outage ? outageHeadline(snap.outage, fallback) : null;
  if (outage) return { profileId, label, severity: 'error', reason: outage.replace(/\.$/, '') };
  if (snap.agent.kind === 'restarting') {
    return { profileId, label, severity: 'unknown', reason: `Not connected: ${snap.agent.reason}` };
  }
  if (snap.agent.kind !== 'running' && !snap.complete) return { profileId, label, severity: 'unknown', reason: 'Connecting…' };
  const worst = snap.cards[0];
  if (!worst || snap.overall === 'ok') return { profileId, label, severity: 'ok', reason: 'Everything is working.' };
  return { profileId, label, severity: snap.overall, reason: `${worst.title}: ${worst.reason}` };
}

/** Keeps the last snapshot per server and answers the tray's view; `update` says whether the view changed. */
export class TrayModel {
  readonly #appName: string;
  readonly #lines = new Map<string, TrayLine>();
  /** Servers whose fallback is ready, and whether it is on: the menu offers the switch for these. */
  readonly #fallback = new Map<string, boolean>();
  /** The last snapshot per server, so a change of the fallback redraws its line's words. */
  readonly #snaps = new Map<string, { label: string; snap: StatusSnapshot }>();
  #last = '';

  constructor(appName = 'M2 Companion') {
    this.#appName = appName;
  }

  /** Take a server's new snapshot; the new view when what the tray shows changed, undefined otherwise. */
  update(profileId: string, label: string, snap: StatusSnapshot): TrayView | undefined {
    this.#snaps.set(profileId, { label, snap });
    this.#lines.set(profileId, lineOf(profileId, label, snap, this.#fallbackOf(profileId)));
    return this.#changed();
  }

  #fallbackOf(profileId: string): { ready: boolean; on: boolean } | undefined {
    const on = this.#fallback.get(profileId);
    return on === undefined ? undefined : { ready: true, on };
  }

  /** A server that cannot be watched now (not connected): shown as unknown, with why. */
  unwatched(profileId: string, label: string, reason: string): TrayView | undefined {
    this.#snaps.delete(profileId);
    this.#lines.set(profileId, { profileId, label, severity: 'unknown', reason });
    return this.#changed();
  }

  forget(profileId: string): TrayView | undefined {
    this.#lines.delete(profileId);
    this.#snaps.delete(profileId);
    this.#fallback.delete(profileId);
    return this.#changed();
  }

  /** The fallback of a server: ready and on or off, or not usable (no switch in the menu). */
  fallback(profileId: string, state: { ready: boolean; on: boolean }): TrayView | undefined {
    if (state.ready || state.on) this.#fallback.set(profileId, state.on);
    else this.#fallback.delete(profileId);
    const last = this.#snaps.get(profileId);
    if (last) this.#lines.set(profileId, lineOf(profileId, last.label, last.snap, this.#fallbackOf(profileId)));
    return this.#changed();
  }

  /** The servers the tray has a line for. */
  ids(): string[] {
    return [...this.#lines.keys()];
  }

  view(): TrayView {
    const lines = [...this.#lines.values()]
      .map((l) => (this.#fallback.has(l.profileId) ? { ...l, fallback: { on: this.#fallback.get(l.profileId) === true } } : l))
      .sort((a, b) => severityRank[b.severity] - severityRank[a.severity] || a.label.localeCompare(b.label));
    const worst = lines[0];
    if (!worst) return { severity: 'unknown', tooltip: `${this.#appName}: no server is watched yet.`, lines };
    const bad = lines.filter((l) => l.severity !== 'ok');
    const tooltip =
      bad.length === 0
        ? `${this.#appName}: ${lines.length === 1 ? `${worst.label} is` : `all ${lines.length} servers are`} working.`
        : `${this.#appName}: ${bad.map((l) => `${l.label}: ${l.reason}`).join(' · ')}`;
    return { severity: worst.severity, tooltip, lines };
  }

  #changed(): TrayView | undefined {
    const v = this.view();
    const key = JSON.stringify(v);
    if (key === this.#last) return undefined;
    this.#last = key;
    return v;
  }
}

// ---- the icon -------------------------------------------------------------------------------------------------

type Rgb = readonly [number, number, number];
const colours: Readonly<Record<Severity, Rgb>> = {
  ok: [0x1e, 0x8e, 0x3e],
  unknown: [0x80, 0x86, 0x8b],
  warning: [0xe3, 0x74, 0x00],
  error: [0xd9, 0x30, 0x25],
};

/** Coverage of a shape at a point in the unit square (0..1 both ways), by severity: the shape carries the meaning. */
function cover(sev: Severity, x: number, y: number): { fill: boolean; mark: boolean } {
  const dx = x - 0.5;
  const dy = y - 0.5;
  const r = Math.hypot(dx, dy);
  switch (sev) {
    case 'ok': {
      // A filled disc with a tick.
      const onTick = distToSegment(x, y, 0.28, 0.52, 0.44, 0.68) < 0.07 || distToSegment(x, y, 0.44, 0.68, 0.73, 0.36) < 0.07;
      return { fill: r <= 0.46, mark: r <= 0.46 && onTick };
    }
    case 'unknown':
      // A ring: hollow, nothing known.
      return { fill: r <= 0.46 && r >= 0.3, mark: false };
    case 'warning': {
      // A triangle with an exclamation mark.
      const inTri = y >= 0.1 && y <= 0.9 && Math.abs(dx) <= ((y - 0.1) / 0.8) * 0.46;
      const bang = (Math.abs(dx) < 0.06 && y > 0.38 && y < 0.68) || Math.hypot(dx, y - 0.78) < 0.06;
      return { fill: inTri, mark: inTri && bang };
    }
    case 'error': {
      // A filled disc with a cross.
      const onCross = distToSegment(x, y, 0.32, 0.32, 0.68, 0.68) < 0.075 || distToSegment(x, y, 0.68, 0.32, 0.32, 0.68) < 0.075;
      return { fill: r <= 0.46, mark: r <= 0.46 && onCross };
    }
  }
}

function distToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const vx = bx - ax;
  const vy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - (ax + t * vx), py - (ay + t * vy));
}

/** RGBA pixels of the icon for a severity, anti-aliased by 4×4 supersampling. */
export function trayIconPixels(sev: Severity, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const [r, g, b] = colours[sev];
  const n = 4;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let fill = 0;
      let mark = 0;
      for (let sj = 0; sj < n; sj++) {
        for (let si = 0; si < n; si++) {
          const c = cover(sev, (i + (si + 0.5) / n) / size, (j + (sj + 0.5) / n) / size);
          if (c.mark) mark++;
          else if (c.fill) fill++;
        }
      }
      const total = fill + mark;
      const o = (j * size + i) * 4;
      if (total === 0) continue;
      // The mark is white on the shape.
      const w = mark / total;
      px[o] = Math.round(r * (1 - w) + 255 * w);
      px[o + 1] = Math.round(g * (1 - w) + 255 * w);
      px[o + 2] = Math.round(b * (1 - w) + 255 * w);
      px[o + 3] = Math.round((255 * total) / (n * n));
    }
  }
  return px;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) c = (crcTable[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG (8-bit RGBA) of the tray icon: the shell hands it to nativeImage.createFromBuffer, so no asset ships. */
export function trayIconPng(sev: Severity, size = 32): Buffer {
  const px = trayIconPixels(sev, size);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(px.buffer, px.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
