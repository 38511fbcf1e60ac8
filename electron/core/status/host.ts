/**
 * Host CPU and memory from /proc (as the agent read them), free space per data path (`df -Pk`), and GPU load:
 * `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` (stack-facts §1.5; `[N/A]` and `[Not Supported]`
 * are nulls) and AMD's sysfs `gpu_busy_percent`.
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

export function gpusFrom(nvidia: readonly string[], amdBusy: readonly (number | null)[]): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const l of nvidia) {
    const g = parseNvidiaLine(l);
    if (g) out.push(g);
  }
  amdBusy.forEach((busy, i) =>
    out.push({ index: i, name: `AMD GPU ${i}`, vendor: 'amd', utilization: busy, encoder: null, decoder: null, encoderSessions: null, encoderFps: null, memoryUsedMb: null, memoryTotalMb: null }),
  );
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
