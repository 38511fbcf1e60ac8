import { SECTION_BEGIN, SECTION_END } from './commands';

/**
 * Pure parsers for what the server printed. Servers vary (distro, Docker packaging, busybox vs GNU,
 * locale), so every parser answers with a tagged result and keeps the raw text when it did not
 * understand: the check then warns and quotes it. None of them throws.
 */

// ---------------------------------------------------------------------------------------------
// sections of the facts script

export interface Section {
  readonly text: string;
  /** The command's exit status; null when the end marker was missing (script cut short). */
  readonly rc: number | null;
}

/** Split the facts script's output into named sections (stdout and stderr of each command). */
export function parseSections(out: string): ReadonlyMap<string, Section> {
  const sections = new Map<string, Section>();
  const lines = out.split('\n');
  let name: string | undefined;
  let body: string[] = [];
  const close = (rc: number | null): void => {
    if (name === undefined) return;
    // The script prints a newline before each end marker, so a body always ends in one extra line.
    if (rc !== null && body.length > 0 && body[body.length - 1] === '') body.pop();
    sections.set(name, { text: body.join('\n'), rc });
    name = undefined;
    body = [];
  };
  for (const line of lines) {
    if (line.startsWith(SECTION_BEGIN)) {
      close(null);
      name = line.slice(SECTION_BEGIN.length).trim();
      continue;
    }
    if (name !== undefined && line.startsWith(`${SECTION_END}${name}:`)) {
      const rc = Number(line.slice(SECTION_END.length + name.length + 1).trim());
      close(Number.isInteger(rc) ? rc : null);
      continue;
    }
    if (name !== undefined) body.push(line);
  }
  close(null);
  return sections;
}

// ---------------------------------------------------------------------------------------------
// small helpers

/** Raw output shortened for a person to read in a check's "found" text. */
export function snippet(raw: string, max = 240): string {
  const flat = raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ⏎ ');
  if (flat === '') return '(no output)';
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The leading `major.minor.patch` of a version such as `v2.26.1-4` or `20.10.24+dfsg1`. */
export function versionTriple(v: string): readonly [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** a < b ⇒ negative, a = b ⇒ 0, a > b ⇒ positive; dotted numeric versions (any length). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first line (or the whole text) that parses as a JSON object; warnings on other lines are ignored. */
export function firstJsonObject(text: string): Record<string, unknown> | undefined {
  const candidates = [text.trim(), ...text.split('\n').filter((l) => l.trimStart().startsWith('{'))];
  for (const c of candidates) {
    try {
      const v: unknown = JSON.parse(c);
      if (isRecord(v)) return v;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

// ---------------------------------------------------------------------------------------------
// operating system

export type OsRelease = Readonly<Record<string, string>>;

/** /etc/os-release: `KEY=value` lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): OsRelease {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1]) continue;
    let v = m[2] ?? '';
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

export interface Uname {
  readonly kernel: string;
  readonly machine: string;
}

/** `uname -sm` → kernel name and machine, e.g. Linux x86_64. */
export function parseUname(text: string): Uname | undefined {
  const m = /^(\S+)\s+(\S+)\s*$/.exec(text.trim().split('\n')[0] ?? '');
  return m?.[1] && m[2] ? { kernel: m[1], machine: m[2] } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Docker

export type DockerProbe =
  | { readonly kind: 'ok'; readonly serverVersion: string; readonly runtimes: readonly string[]; readonly raw: string }
  | { readonly kind: 'missing'; readonly raw: string }
  | { readonly kind: 'permission-denied'; readonly raw: string }
  | { readonly kind: 'daemon-down'; readonly raw: string }
  | { readonly kind: 'sudo-refused'; readonly raw: string }
  | { readonly kind: 'timeout'; readonly raw: string }
  | { readonly kind: 'unknown'; readonly raw: string };

const PERMISSION_DENIED = /permission denied while trying to connect to the docker daemon|docker\.sock: connect: permission denied/i;
const DAEMON_DOWN = /cannot connect to the docker daemon|is the docker daemon running/i;
const NOT_FOUND = /command not found|: not found|no such file or directory|failed to run command/i;

/** `docker info --format '{{json .}}'` (as the user or through `sudo -n`), with its exit status. */
export function parseDockerInfo(text: string, rc: number | null, viaSudo = false): DockerProbe {
  const raw = text;
  const json = firstJsonObject(text);
  const serverErrors = Array.isArray(json?.ServerErrors) ? json.ServerErrors.filter((e): e is string => typeof e === 'string') : [];
  const errorText = [text, ...serverErrors].join('\n');
  const serverVersion = str(json?.ServerVersion);
  if (rc === 0 && serverVersion !== undefined && serverErrors.length === 0) {
    const runtimes = isRecord(json?.Runtimes) ? Object.keys(json.Runtimes).sort() : [];
    return { kind: 'ok', serverVersion, runtimes, raw };
  }
  if (viaSudo && /^sudo: /m.test(text)) return { kind: 'sudo-refused', raw };
  if (PERMISSION_DENIED.test(errorText)) return { kind: 'permission-denied', raw };
  if (DAEMON_DOWN.test(errorText)) return { kind: 'daemon-down', raw };
  if (rc === 124) return { kind: 'timeout', raw };
  if (rc === 127 || (rc !== 0 && NOT_FOUND.test(text) && /docker/.test(text) && json === undefined)) {
    return viaSudo && /sudo/.test(text) ? { kind: 'sudo-refused', raw } : { kind: 'missing', raw };
  }
  return { kind: 'unknown', raw };
}

export interface DockerVersion {
  readonly client?: string | undefined;
  readonly server?: string | undefined;
}

/** `docker version --format '{{json .}}'`: the client is there even when the daemon is not reachable. */
export function parseDockerVersion(text: string): DockerVersion {
  const json = firstJsonObject(text);
  const client = isRecord(json?.Client) ? str(json.Client.Version) : undefined;
  const server = isRecord(json?.Server) ? str(json.Server.Version) : undefined;
  return { client, server };
}

// ---------------------------------------------------------------------------------------------
// Compose

export type ComposeProbe =
  | { readonly kind: 'found'; readonly version: string; readonly triple: readonly [number, number, number] }
  | { readonly kind: 'missing'; readonly raw: string }
  | { readonly kind: 'unknown'; readonly raw: string };

/** `docker compose version --short` → `2.26.1-4`, `v2.20.2`, `5.5.0`; or the CLI saying there is no plugin. */
export function parseComposeVersion(text: string, rc: number | null): ComposeProbe {
  const first = text.trim().split('\n')[0]?.trim() ?? '';
  const triple = versionTriple(first);
  if (rc === 0 && triple) return { kind: 'found', version: first.replace(/^v/, ''), triple };
  if (rc === 127 || /is not a docker command|unknown command: docker compose/i.test(text)) {
    return { kind: 'missing', raw: text };
  }
  return { kind: 'unknown', raw: text };
}

/** Plain `docker-compose version`: v1 (`docker-compose version 1.29.2, build …`) or a standalone v2 binary. */
export function parseComposeStandalone(text: string, rc: number | null): ComposeProbe {
  if (rc === 127) return { kind: 'missing', raw: text };
  const m = /^(?:docker-compose version|Docker Compose version)\s+v?(\d+\.\d+(?:\.\d+)?\S*?),?(?:\s|$)/im.exec(text);
  const version = m?.[1];
  const triple = version === undefined ? undefined : versionTriple(version);
  if (version !== undefined && triple) return { kind: 'found', version, triple };
  return rc !== 0 && NOT_FOUND.test(text) ? { kind: 'missing', raw: text } : { kind: 'unknown', raw: text };
}

// ---------------------------------------------------------------------------------------------
// GPU

export interface NvidiaGpu {
  readonly driver: string;
  readonly name: string;
}

export type NvidiaProbe =
  | { readonly kind: 'gpus'; readonly gpus: readonly NvidiaGpu[] }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly raw: string };

/** `nvidia-smi --query-gpu=driver_version,name --format=csv,noheader`: one `driver, name` line per GPU. */
export function parseNvidiaSmi(text: string, rc: number | null): NvidiaProbe {
  if (rc === 127) return { kind: 'missing' };
  const gpus: NvidiaGpu[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+(?:\.\d+)+)\s*,\s*(.+?)\s*$/.exec(line);
    if (m?.[1] && m[2]) gpus.push({ driver: m[1], name: m[2] });
  }
  if (rc === 0 && gpus.length > 0) return { kind: 'gpus', gpus };
  return { kind: 'failed', raw: text };
}

export interface DriNode {
  readonly name: string;
  /** Owning group as `ls -l` prints it: a name, or a number when the group has no name. */
  readonly group: string;
}

/** `ls -l /dev/dri`: character devices and their owning group (`crw-rw----+ 1 root render 226, 128 … renderD128`). */
export function parseDriListing(text: string): readonly DriNode[] {
  const nodes: DriNode[] = [];
  for (const line of text.split('\n')) {
    if (!/^c[-rwxsStT]{9}/.test(line)) continue;
    const f = line.trim().split(/\s+/);
    const name = f[f.length - 1];
    const group = f[3];
    if (name && group && /^(renderD|card)\d+$/.test(name)) nodes.push({ name, group });
  }
  return nodes;
}

export interface RenderVendor {
  readonly node: string;
  /** PCI vendor id, lower-case `0x` form; undefined when the node has no PCI vendor (e.g. a Raspberry Pi's V3D). */
  readonly vendorId: string | undefined;
}

/** The facts script's `renderD128 0x8086` lines (from /sys/class/drm/<node>/device/vendor). */
export function parseRenderVendors(text: string): readonly RenderVendor[] {
  const out: RenderVendor[] = [];
  for (const line of text.split('\n')) {
    const m = /^(renderD\d+)\s+(\S+)\s*$/.exec(line.trim());
    if (!m?.[1]) continue;
    const v = m[2]?.toLowerCase() ?? '';
    out.push({ node: m[1], vendorId: /^0x[0-9a-f]{4}$/.test(v) ? v : undefined });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
}

/** `getent group render video` (or /etc/group lines) → name → gid. */
export function parseGroups(text: string): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):[^:]*:(\d+):/.exec(line.trim());
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

export const PCI_VENDORS = { intel: '0x8086', amd: '0x1002', nvidia: '0x10de' } as const;

// ---------------------------------------------------------------------------------------------
// clock

export type NtpState = 'yes' | 'no' | 'absent';

/** `timedatectl show -p NTPSynchronized --value`: yes / no; anything else (no systemd, no timedatectl) ⇒ absent. */
export function parseNtp(text: string, rc: number | null): NtpState {
  const v = text.trim().toLowerCase();
  if (rc === 0 && v === 'yes') return 'yes';
  if (rc === 0 && v === 'no') return 'no';
  return 'absent';
}

/** `date +%s` → seconds since the epoch. */
export function parseEpoch(text: string): number | undefined {
  const v = text.trim();
  return /^\d{9,12}$/.test(v) ? Number(v) : undefined;
}

// ---------------------------------------------------------------------------------------------
// disk

export interface DfRow {
  readonly sizeBytes: number;
  readonly availableBytes: number;
  readonly mountPoint: string;
}

/**
 * One data row of `df -P` (in `unit`-byte blocks). Read from the capacity column (`24%`) outwards, so
 * spaces in the filesystem name or the mount point do not shift the numbers.
 */
export function parseDfRow(text: string, unit: number): DfRow | undefined {
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const cap = f.findIndex((x, i) => i >= 4 && /^(\d+%|-)$/.test(x));
    if (cap < 4) continue;
    const [size, , avail] = f.slice(cap - 3, cap).map(Number);
    if (size === undefined || avail === undefined || !Number.isFinite(size) || !Number.isFinite(avail)) continue;
    return { sizeBytes: size * unit, availableBytes: avail * unit, mountPoint: f.slice(cap + 1).join(' ') };
  }
  return undefined;
}

export type PathState = 'ok' | 'missing' | 'not-dir' | 'not-writable';

export type DiskEntry =
  | { readonly kind: 'found'; readonly state: PathState; readonly df: DfRow | undefined; readonly raw: string }
  | { readonly kind: 'unknown'; readonly raw: string };

/** The disk script's output: one `@@m2:path:<n>` block per path, in argument order. */
export function parseDiskReport(text: string, count: number): readonly DiskEntry[] {
  const blocks = new Map<number, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^@@m2:path:(\d+)$/.exec(line);
    if (m) {
      current = [];
      blocks.set(Number(m[1]), current);
    } else current?.push(line);
  }
  return Array.from({ length: count }, (_, i): DiskEntry => {
    const lines = blocks.get(i + 1);
    if (lines === undefined) return { kind: 'unknown', raw: text };
    const raw = lines.join('\n');
    const state = /^state=(ok|missing|not-dir|not-writable)$/m.exec(raw)?.[1] as PathState | undefined;
    if (state === undefined) return { kind: 'unknown', raw };
    if (state === 'missing') return { kind: 'found', state, df: undefined, raw };
    const unit = /^unit=(\d+)$/m.exec(raw)?.[1];
    const dfText = raw.split(/^unit=\S+$/m)[1] ?? '';
    const df = unit === undefined ? undefined : parseDfRow(dfText.trim(), Number(unit));
    return { kind: 'found', state, df, raw };
  });
}

// ---------------------------------------------------------------------------------------------
// outbound TCP 7844

export type EgressProbe =
  | { readonly kind: 'open'; readonly method: string }
  | { readonly kind: 'blocked'; readonly method: string; readonly reason: 'refused' | 'timeout' | 'unreachable'; readonly raw: string }
  | { readonly kind: 'dns-failed'; readonly method: string; readonly raw: string }
  | { readonly kind: 'no-tool' }
  | { readonly kind: 'unknown'; readonly raw: string };

/** The egress script's output: `method=bash|nc|none`, the tool's error text, then `rc=<n>`. */
export function parseEgress(text: string): EgressProbe {
  const method = /^method=(\S+)$/m.exec(text)?.[1];
  if (method === 'none') return { kind: 'no-tool' };
  const rcText = /^rc=(\d+)$/m.exec(text)?.[1];
  if (method === undefined || rcText === undefined) return { kind: 'unknown', raw: text };
  const rc = Number(rcText);
  const raw = text
    .split('\n')
    .filter((l) => !/^(method|rc)=/.test(l))
    .join('\n');
  if (rc === 0) return { kind: 'open', method };
  if (rc === 124) return { kind: 'blocked', method, reason: 'timeout', raw };
  if (/name or service not known|temporary failure in name resolution|bad address|no address associated|could not resolve|getaddrinfo|nodename nor servname/i.test(raw)) {
    return { kind: 'dns-failed', method, raw };
  }
  if (/connection refused/i.test(raw)) return { kind: 'blocked', method, reason: 'refused', raw };
  if (/network is unreachable|no route to host|timed out/i.test(raw)) {
    return { kind: 'blocked', method, reason: /timed out/i.test(raw) ? 'timeout' : 'unreachable', raw };
  }
  return { kind: 'unknown', raw: text };
}
