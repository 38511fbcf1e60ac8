/**
 * The lines the status agent (resources/status/m2-status-agent.sh) writes, one JSON object a line. Every line is
 * checked here before it touches any state: an invalid one is dropped (and logged by the caller), never thrown.
 */
import { z } from 'zod';

const Hello = z.object({
  t: z.literal('hello'),
  v: z.literal(1),
  pid: z.number().int().positive(),
  host: z.string(),
  http: z.enum(['curl', 'wget', 'docker']),
  ncpu: z.number().int().min(0),
  caps: z.object({ nvidia: z.boolean(), amd: z.boolean(), intel: z.boolean().optional() }),
  interval: z.number().positive(),
});

export const AgentContainer = z.object({
  id: z.string().min(1),
  name: z.string(),
  service: z.string(),
  oneoff: z.string().optional(),
  image: z.string(),
  state: z.string(),
  health: z.string().nullable(),
  restarts: z.number().int().min(0),
  exitCode: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  oom: z.boolean(),
});
export type AgentContainer = z.infer<typeof AgentContainer>;

const Containers = z.object({ t: z.literal('containers'), ok: z.boolean(), list: z.array(AgentContainer) });

export const AgentReplica = z.object({
  service: z.string(),
  readyCode: z.number().int(),
  /** The /ready body as text (JSON when cloudflared answered). */
  ready: z.string(),
  metricsCode: z.number().int(),
  /** The few /metrics lines the app reads, as exposition text lines. */
  metrics: z.array(z.string()),
});
export type AgentReplica = z.infer<typeof AgentReplica>;

const Tunnel = z.object({ t: z.literal('tunnel'), replicas: z.array(AgentReplica) });
const Jellyfin = z.object({ t: z.literal('jellyfin'), configured: z.boolean(), code: z.number().int(), body: z.string() });
const Backup = z.object({ t: z.literal('backup'), present: z.boolean(), status: z.string() });
/** The restore drill's result file (`drill.json`, one line) as the agent read it. */
const Drill = z.object({ t: z.literal('drill'), present: z.boolean(), result: z.string() });
const Snapshots = z.object({ t: z.literal('snapshots'), code: z.number().int(), body: z.string() });
const Gpu = z.object({
  t: z.literal('gpu'),
  nvidia: z.array(z.string()),
  amdBusy: z.array(z.number().nullable()),
  /** `intel_gpu_top -J` samples, one JSON object text per Intel GPU (absent from agents before it). */
  intel: z.array(z.string().max(65_536)).optional(),
});
const Host = z.object({
  t: z.literal('host'),
  cpu: z.array(z.number()).length(8),
  memTotalKb: z.number(),
  memAvailableKb: z.number(),
  load: z.array(z.number()).length(3),
  uptimeS: z.number(),
});
const Disk = z.object({
  t: z.literal('disk'),
  paths: z.array(z.object({ i: z.number().int().min(0), sizeKb: z.number(), usedKb: z.number(), availKb: z.number() })),
  count: z.number().int(),
});
const Ready = z.object({ t: z.literal('ready') });
const Heartbeat = z.object({ t: z.literal('hb'), n: z.number() });
const AgentErrorLine = z.object({ t: z.literal('error'), what: z.string(), message: z.string() });

export const AgentLine = z.discriminatedUnion('t', [Hello, Containers, Tunnel, Jellyfin, Backup, Drill, Snapshots, Gpu, Host, Disk, Ready, Heartbeat, AgentErrorLine]);
export type AgentLine = z.infer<typeof AgentLine>;
export type AgentLineOf<T extends AgentLine['t']> = Extract<AgentLine, { t: T }>;

export type ParsedLine = { readonly ok: true; readonly line: AgentLine } | { readonly ok: false; readonly reason: string };

/** One line of agent output → a validated message, or why it was dropped (without echoing the line: it may be long). */
export function parseAgentLine(text: string): ParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: `not JSON (${text.length} characters)` };
  }
  const r = AgentLine.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, line: r.data };
}

/**
 * Splits a byte stream into lines. A line longer than `maxLine` is dropped whole (reported once) instead of
 * growing a buffer without bound.
 */
export class LineSplitter {
  #buf = '';
  #skipping = false;
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: (length: number) => void,
    private readonly maxLine = 4 * 1024 * 1024,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      const part = chunk.slice(start, nl);
      start = nl + 1;
      if (this.#skipping) {
        this.#skipping = false;
        this.#buf = '';
        continue;
      }
      const line = this.#buf + part;
      this.#buf = '';
      if (line.length > 0) this.onLine(line);
    }
    if (this.#skipping) return;
    this.#buf += chunk.slice(start);
    if (this.#buf.length > this.maxLine) {
      this.onOversize(this.#buf.length);
      this.#buf = '';
      this.#skipping = true;
    }
  }
}
