/**
 * Host CPU and memory from /proc (as the agent read them), free space per data path (`df -Pk`), and GPU load:
 * `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` (stack-facts §1.5; `[N/A]` and `[Not Supported]`
 * are nulls), AMD's sysfs `gpu_busy_percent`, and one `intel_gpu_top -J` sample per Intel GPU (stack-facts §1.3).
 */
import type { GpuInfo } from '../../contract/status';

/** The query the agent runs, in this order. */
export const NVIDIA_FIELDS = [
  'index',
  'name',
  'utilization.gpu',
  'utilization.encoder',
  'utilization.decoder',
  'encoder.stats.sessionCount',
  'encoder.stats.averageFps',
  'memory.used',
  'memory.total',
] as const;

const num = (s: string | undefined): number | null => {
  const t = (s ?? '').trim();
  if (t === '' || t.startsWith('[') || !/^-?\d+(\.\d+)?$/.test(t)) return null;
  return Number(t);
};

/** One CSV line of the query; names have no commas in practice, but a line with extra fields keeps them in the name. */
export function parseNvidiaLine(line: string): GpuInfo | undefined {
  const f = line.split(',').map((x) => x.trim());
  if (f.length < NVIDIA_FIELDS.length) return undefined;
  const extra = f.length - NVIDIA_FIELDS.length;
  const name = f.slice(1, 2 + extra).join(', ');
  const rest = f.slice(2 + extra);
  const index = num(f[0]);
  if (index === null) return undefined;
  return {
    index,
    name,
    vendor: 'nvidia',
    utilization: num(rest[0]),
    encoder: num(rest[1]),
    decoder: num(rest[2]),
    encoderSessions: num(rest[3]),
    encoderFps: num(rest[4]),
    memoryUsedMb: num(rest[5]),
    memoryTotalMb: num(rest[6]),
  };
}

const percent = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.round(Math.min(100, Math.max(0, n)) * 10) / 10 : null;
};

/**
 * One `intel_gpu_top -J` sample (an object as the agent forwards it, without its "clients" member). Its engines
 * are classes ("Render/3D", "Blitter", "Video", "VideoEnhance", "Compute") or, from older versions and with `-p`,
 * instances ("Video/0", "Video/1"), each with a `busy` percentage. The Video engine does Quick Sync / VA-API
 * decode and encode, so it is the encoder load (the decoder has no engine of its own: null); utilization is the
 * busiest engine, so a transcode that keeps only Video busy still shows. Anything unexpected gives undefined.
 */
export function parseIntelGpuTop(sample: string, index: number): GpuInfo | undefined {
  let json: unknown;
  try {
    json = JSON.parse(sample);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const engines = (json as { engines?: unknown }).engines;
  if (typeof engines !== 'object' || engines === null) return undefined;
  const byClass = new Map<string, number>();
  for (const [name, e] of Object.entries(engines as Record<string, unknown>)) {
    const busy = percent(typeof e === 'object' && e !== null ? (e as { busy?: unknown }).busy : undefined);
    if (busy === null) continue;
    const cls = name.replace(/\/\d+$/, '');
    byClass.set(cls, Math.max(byClass.get(cls) ?? 0, busy));
  }
  if (byClass.size === 0) return undefined;
  return {
    index,
    name: `Intel GPU ${index}`,
    vendor: 'intel',
    utilization: Math.max(...byClass.values()),
    encoder: byClass.get('Video') ?? null,
    decoder: null,
    encoderSessions: null,
    encoderFps: null,
    memoryUsedMb: null,
    memoryTotalMb: null,
  };
}

export function gpusFrom(nvidia: readonly string[], amdBusy: readonly (number | null)[], intel: readonly string[] = []): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const l of nvidia) {
    const g = parseNvidiaLine(l);
    if (g) out.push(g);
  }
  amdBusy.forEach((busy, i) =>
    out.push({ index: i, name: `AMD GPU ${i}`, vendor: 'amd', utilization: busy, encoder: null, decoder: null, encoderSessions: null, encoderFps: null, memoryUsedMb: null, memoryTotalMb: null }),
  );
  intel.forEach((sample, i) => {
    const g = parseIntelGpuTop(sample, i);
    if (g) out.push(g);
  });
  return out;
}

/** /proc/stat's first line: user nice system idle iowait irq softirq steal. */
export type CpuTimes = readonly number[];

/** Busy share between two samples, in percent of all CPUs; null without a previous sample or across a reboot. */
export function cpuPercent(prev: CpuTimes | undefined, cur: CpuTimes): number | null {
  if (!prev || prev.length < 8 || cur.length < 8) return null;
  const total = (t: CpuTimes): number => t.reduce((a, b) => a + b, 0);
  const idle = (t: CpuTimes): number => (t[3] ?? 0) + (t[4] ?? 0);
  const dt = total(cur) - total(prev);
  const di = idle(cur) - idle(prev);
  if (dt <= 0 || di < 0) return null;
  return Math.round(((dt - di) / dt) * 1000) / 10;
}
