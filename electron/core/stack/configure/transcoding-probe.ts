/**
 * What Jellyfin can really do with the GPU, found by doing it: a one-second test encode inside the Jellyfin
 * container with the method the settings chose (fallback-and-day2-facts §10). Jellyfin itself only lists
 * `ffmpeg -encoders` and would offer NVENC on a GPU that has none (an H100/H200), so this encode decides what it is
 * configured to use: `hardware-encoding` when it works, `decoding-only` when the device answers but its encoder
 * does not, `software` when the device cannot be used at all.
 *
 * The NVENC command is the one in the facts (§10, itself UNVERIFIED on hardware). The VA-API and QSV commands
 * follow how Jellyfin opens those devices (stack-facts §1.3/§1.4: `-init_hw_device vaapi=va:<render node>`, QSV
 * derived from it) and are UNVERIFIED on hardware. The failure texts are FFmpeg's own (NVENC: §10 and FFmpeg's
 * nvenc.c; VA-API: hwcontext_vaapi.c as quoted in public bug reports); matching is on fragments, case-insensitive,
 * anywhere in stdout or stderr, because the `[h264_nvenc @ 0x…]` prefixes and the lines around them change between
 * FFmpeg versions. Anything not recognised counts as not usable (software), with FFmpeg's line as the reason.
 */
import type { HwAccel, TranscodingCheck, TranscodingVerdict } from '../../../contract/stack';
import type { Argv } from '../../ssh/argv';
import type { ExecResult } from '../../ssh/runner';

/** The official image's ffmpeg (stack-facts §1.1, `JELLYFIN_FFMPEG`). */
export const JELLYFIN_FFMPEG = '/usr/lib/jellyfin-ffmpeg/ffmpeg';

/** The same rule as the settings' schema: nothing else may reach a command line as a device. */
const RENDER_NODE = /^\/dev\/dri\/renderD[0-9]{1,4}$/;

/** The encoder each method is tested with: H.264, which every GPU with an encoder of that vendor has. */
export const probeEncoder: Record<Exclude<HwAccel, 'none'>, string> = {
  nvidia: 'h264_nvenc',
  'intel-qsv': 'h264_qsv',
  vaapi: 'h264_vaapi',
  'amd-vaapi': 'h264_vaapi',
};

/** Methods in the admin's words. */
export const methodName: Record<HwAccel, string> = {
  nvidia: 'NVIDIA NVENC',
  'intel-qsv': 'Intel Quick Sync (QSV)',
  vaapi: 'VA-API',
  'amd-vaapi': 'AMD VA-API',
  none: 'software',
};

const SOURCE = ['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '1'];
const SINK = ['-f', 'null', '-'];

/**
 * The ffmpeg argv (to run inside the container) for the method. The render node is checked against the settings'
 * rule again here, so a value that did not come through validation can never reach a command line.
 */
export function probeFfmpegArgv(method: Exclude<HwAccel, 'none'>, renderDevice: string): Argv {
  const head = [JELLYFIN_FFMPEG, '-hide_banner', '-v', 'error'];
  if (method === 'nvidia') return [...head, ...SOURCE, '-c:v', 'h264_nvenc', ...SINK];
  if (!RENDER_NODE.test(renderDevice)) throw new TypeError('GPU render device: choose a render node such as /dev/dri/renderD128.');
  if (method === 'intel-qsv') {
    // QSV on Linux is opened through VA-API on the render node, as Jellyfin does (UNVERIFIED on hardware).
    return [
      ...head,
      '-init_hw_device',
      `vaapi=va:${renderDevice}`,
      '-init_hw_device',
      'qsv=qs@va',
      '-filter_hw_device',
      'qs',
      ...SOURCE,
      '-vf',
      'format=nv12,hwupload=extra_hw_frames=64,format=qsv',
      '-c:v',
      'h264_qsv',
      ...SINK,
    ];
  }
  return [...head, '-init_hw_device', `vaapi=va:${renderDevice}`, '-filter_hw_device', 'va', ...SOURCE, '-vf', 'format=nv12,hwupload', '-c:v', 'h264_vaapi', ...SINK];
}

/** `docker exec <container> <ffmpeg argv>`; the caller adds sudo where the target needs it. */
export const probeArgv = (containerId: string, method: Exclude<HwAccel, 'none'>, renderDevice: string): Argv => {
  if (!/^[0-9a-f]{12,64}$/.test(containerId)) throw new TypeError('a container id is 12 to 64 hex digits');
  return ['docker', 'exec', containerId, ...probeFfmpegArgv(method, renderDevice)];
};

export interface ProbeOutcome {
  readonly verdict: TranscodingVerdict;
  readonly reason: string;
  /** FFmpeg's own most telling line, for the admin who wants the words; null when it said nothing. */
  readonly detail: string | null;
}

interface Rule {
  readonly match: RegExp;
  readonly verdict: TranscodingVerdict;
  readonly reason: (device: string) => string;
}

const NVIDIA_RULES: readonly Rule[] = [
  {
    match: /cannot load libnvidia-encode/i,
    verdict: 'software',
    reason: () => 'the container has the NVIDIA driver but not its video libraries (NVIDIA_DRIVER_CAPABILITIES must include video).',
  },
  {
    match: /cannot load libcuda|cannot load nvcuda|could not dynamically load cuda/i,
    verdict: 'software',
    reason: () => 'there is no NVIDIA driver inside the Jellyfin container (libcuda is missing): the GPU is not passed through — check the NVIDIA driver and the NVIDIA Container Toolkit.',
  },
  {
    match: /cuda_error_no_device|no cuda.capable device|cuinit\(0\) failed/i,
    verdict: 'software',
    reason: () => 'the NVIDIA driver is there but no NVIDIA GPU is visible inside the Jellyfin container.',
  },
  {
    // NV_ENC_ERR_OUT_OF_MEMORY (10): reported when the session limit is reached (§10); the encoder exists but refused now.
    match: /openencodesessionex failed: out of memory \(10\)|nv_enc_err_out_of_memory/i,
    verdict: 'decoding-only',
    reason: () => 'the GPU’s encoder refused a session (NVENC error 10: its session limit was reached, or it ran out of memory), so hardware encoding was left off; hardware decoding is kept. Run the install again when nothing is transcoding.',
  },
  {
    match: /no nvenc capable devices found|openencodesessionex failed: unsupported device|no capable devices found/i,
    verdict: 'decoding-only',
    reason: () => 'the NVIDIA GPU is there but has no usable video encoder (NVENC), as on the A100, A30, H100 and H200; hardware decoding (NVDEC) is kept (UNVERIFIED on hardware).',
  },
  {
    match: /driver does not support the required nvenc api|minimum required nvidia driver/i,
    verdict: 'decoding-only',
    reason: () => 'the NVIDIA driver is too old for Jellyfin’s encoder; hardware decoding is kept. Update the driver on the server, then run the install again.',
  },
];

const VAAPI_DEVICE_RULES: readonly Rule[] = [
  {
    match: /no va display found|cannot open drm render node|failed to open the given device/i,
    verdict: 'software',
    reason: (d) => `the render node ${d} could not be opened inside the Jellyfin container (no VA display): check that the device exists on the server and is passed to the container.`,
  },
  {
    match: /failed to initialise vaapi connection|vainitialize failed|libva.*(?:init failed|failed to load)/i,
    verdict: 'software',
    reason: (d) => `${d} is there but no VA-API driver could use it (the GPU’s media driver did not start).`,
  },
];

const VAAPI_ENCODE_RULES: readonly Rule[] = [
  {
    match: /no usable encoding (?:entrypoint|profile)|encoding profile not found|does not support (?:encoding|the entrypoint)/i,
    verdict: 'decoding-only',
    reason: (d) => `${d} decodes but offers no H.264 encoder through VA-API; hardware decoding is kept (UNVERIFIED on hardware).`,
  },
];

const QSV_RULES: readonly Rule[] = [
  {
    match: /mfx session|failed to create a qsv device|error creating a qsv device|mfxinit/i,
    verdict: 'software',
    reason: (d) => `Intel Quick Sync could not start on ${d} (no MFX/VPL session): the GPU may be too old or not Intel — VA-API may work instead.`,
  },
  {
    match: /error initializing the encoder|current profile is unsupported|selected ratecontrol mode is unsupported|low power mode is unsupported|error during encoding: unsupported/i,
    verdict: 'decoding-only',
    reason: (d) => `Quick Sync started on ${d} but its H.264 encoder did not; hardware decoding is kept (UNVERIFIED on hardware).`,
  },
];

const rulesFor = (method: Exclude<HwAccel, 'none'>): readonly Rule[] =>
  method === 'nvidia' ? NVIDIA_RULES : method === 'intel-qsv' ? [...VAAPI_DEVICE_RULES, ...QSV_RULES] : [...VAAPI_DEVICE_RULES, ...VAAPI_ENCODE_RULES];

/** Strip `[h264_nvenc @ 0x55…]`-style prefixes and carriage returns; keep the first 300 characters of a line. */
const cleanLine = (l: string): string =>
  l
    .replace(/\r/g, '')
    .replace(/^(\[[^\]]*@ ?0x[0-9a-f]+\]\s*)+/i, '')
    .trim()
    .slice(0, 300);

/** Lines that only say "an earlier step failed". */
const CONSEQUENCE = /^(device creation failed|failed to set value|error parsing global options|error while opening encoder|error sending frames|task finished with error|terminating thread|could not open encoder before eof|nothing was written|conversion failed|error initializing output stream)/i;

/** The line that names the cause: the first matching a rule, else the first that is not a consequence, else the first. */
function tellingLine(text: string, rule?: Rule): string | null {
  const lines = text.split('\n').map(cleanLine).filter((l) => l !== '');
  const hit = rule ? lines.find((l) => rule.match.test(l)) : undefined;
  return hit ?? lines.find((l) => !CONSEQUENCE.test(l)) ?? lines[0] ?? null;
}

/** Classify the test encode's result for the method. Tolerant: any wording, any order, extra lines, no lines. */
export function classifyProbe(method: Exclude<HwAccel, 'none'>, renderDevice: string, r: Pick<ExecResult, 'code' | 'stdout' | 'stderr'>): ProbeOutcome {
  const device = method === 'nvidia' ? 'the NVIDIA GPU' : renderDevice;
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.code === 0) {
    return { verdict: 'hardware-encoding', reason: `a one-second test encode with ${probeEncoder[method]} (${methodName[method]}) worked inside the Jellyfin container.`, detail: null };
  }
  if (r.code === null) {
    return { verdict: 'software', reason: `the test encode with ${probeEncoder[method]} did not finish in time, so ${methodName[method]} was not trusted.`, detail: tellingLine(text) };
  }
  if (r.code === 126 || r.code === 127 || /executable file not found|jellyfin-ffmpeg\/ffmpeg: (?:not found|no such file)/i.test(text)) {
    return { verdict: 'software', reason: 'Jellyfin’s own ffmpeg could not be run inside its container, so the GPU could not be tested.', detail: tellingLine(text) };
  }
  if (/unknown encoder|encoder not found/i.test(text)) {
    return { verdict: 'software', reason: `this Jellyfin’s ffmpeg has no ${probeEncoder[method]} encoder.`, detail: tellingLine(text) };
  }
  const rule = rulesFor(method).find((x) => x.match.test(text));
  if (rule) return { verdict: rule.verdict, reason: rule.reason(device), detail: tellingLine(text, rule) };
  return { verdict: 'software', reason: `the test encode with ${probeEncoder[method]} failed (exit ${r.code}), so ${methodName[method]} is not used.`, detail: tellingLine(text) };
}

/** The check as reported, once Jellyfin is configured by it. */
export function transcodingCheck(method: HwAccel, outcome: ProbeOutcome | undefined): TranscodingCheck {
  if (method === 'none' || !outcome) {
    return { method, verdict: 'software', jellyfinType: 'none', hardwareEncoding: false, reason: 'hardware acceleration is off in the settings, so Jellyfin transcodes in software.', detail: null };
  }
  const type = method === 'nvidia' ? 'nvenc' : method === 'intel-qsv' ? 'qsv' : 'vaapi';
  return {
    method,
    verdict: outcome.verdict,
    jellyfinType: outcome.verdict === 'software' ? 'none' : type,
    hardwareEncoding: outcome.verdict === 'hardware-encoding',
    reason: outcome.reason,
    detail: outcome.detail,
  };
}
