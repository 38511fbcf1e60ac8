/**
 * `/usr/lib/jellyfin-ffmpeg/ffmpeg` in the Jellyfin stand-in: enough of FFmpeg for the app's one-second test encode
 * (fallback-and-day2-facts §10), behaving as the real one does on a machine without that hardware. It never makes
 * hardware "work": there is no GPU in the lab, so a hardware encoder fails with FFmpeg's own words for the case —
 *
 * - `h264_nvenc` with no NVIDIA driver in the container (no `/dev/nvidiactl`, which the NVIDIA runtime would pass):
 *   "Cannot load libcuda.so.1" (FFmpeg's dynlink loader); with the device node but no GPU behind it:
 *   "cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected".
 * - `-init_hw_device vaapi=<name>:<node>` with a node that is not there: "No VA display found for device <node>.",
 *   then "Device creation failed: -22." and the option-parsing lines (hwcontext_vaapi.c, as public bug reports
 *   quote it); with a node that is there: there is no VA driver here, so "Failed to initialise VAAPI connection".
 * - a software encoder (`libx264`, …) on the `lavfi` test source: exit 0, nothing written (`-f null -`).
 *
 * Exit codes: 1 for a failed encode (as the brief for this stand-in says; FFmpeg 7 may return other non-zero codes),
 * 234 (-EINVAL as a byte, FFmpeg ≥ 6.1 returning the error from main) for a device that fails while options are parsed.
 * Both UNVERIFIED against jellyfin-ffmpeg itself; the app only relies on "non-zero".
 */
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
const addr = (): string => `0x${(0x55d0_0000_0000 + Math.floor(Math.random() * 0xffff_ffff)).toString(16)}`;
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const SOFTWARE = new Set(['libx264', 'libx265', 'libsvtav1', 'libvpx', 'libvpx-vp9', 'mpeg4', 'mjpeg', 'rawvideo', 'wrapped_avframe', 'copy']);
const HARDWARE = new Set(['h264_nvenc', 'hevc_nvenc', 'av1_nvenc', 'h264_qsv', 'hevc_qsv', 'av1_qsv', 'h264_vaapi', 'hevc_vaapi', 'av1_vaapi']);

if (args.includes('-version')) {
  process.stdout.write('ffmpeg version 7.1.2-Jellyfin Copyright (c) 2000-2025 the FFmpeg developers (lab stand-in)\n');
  process.exit(0);
}
if (args.includes('-encoders')) {
  // What Jellyfin's EncoderValidator reads: the hardware encoders are listed whether or not a device can run them.
  const rows = [...SOFTWARE, ...HARDWARE].filter((e) => e !== 'copy').map((e) => ` V....D ${e.padEnd(20)} ${e}`);
  process.stdout.write(`Encoders:\n${rows.join('\n')}\n`);
  process.exit(0);
}

const value = (flag: string): string[] => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
const hwDevices = value('-init_hw_device');
const encoder = value('-c:v')[0] ?? value('-vcodec')[0] ?? value('-codec:v')[0];
const inputs = value('-i');

// Devices are created while the global options are parsed, before any input is opened.
const made = new Set<string>();
for (const spec of hwDevices) {
  const m = /^([a-z0-9]+)(?:=([^:@]*))?(?::([^@]*))?(?:@(.*))?$/.exec(spec);
  const type = m?.[1] ?? spec;
  const name = m?.[2] ?? type;
  const device = m?.[3];
  const parse = (why: string, code: number): never => {
    err(`Device creation failed: ${code}.`);
    err(`Failed to set value '${spec}' for option 'init_hw_device': ${why}`);
    err(`Error parsing global options: ${why}`);
    process.exit(234);
  };
  if (type === 'vaapi') {
    const node = device ?? '/dev/dri/renderD128';
    if (!existsSync(node)) {
      err(`[AVHWDeviceContext @ ${addr()}] No VA display found for device ${node}.`);
      parse('Invalid argument', -22);
    }
    err(`[AVHWDeviceContext @ ${addr()}] libva: vaInitialize failed with error code -1 (unknown libva error)`);
    err(`[AVHWDeviceContext @ ${addr()}] Failed to initialise VAAPI connection: -1 (unknown libva error).`);
    parse('Input/output error', -5);
  } else if (type === 'qsv') {
    const from = m?.[4];
    if (from !== undefined && !made.has(from)) {
      err(`Invalid device specification "${spec}": failed to find the parent device "${from}"`);
      parse('Invalid argument', -22);
    }
    err(`[AVHWDeviceContext @ ${addr()}] Error creating a MFX session: -9.`);
    parse('Unknown error occurred', -1313558101);
  } else if (type === 'cuda') {
    err(`[AVHWDeviceContext @ ${addr()}] Cannot load libcuda.so.1`);
    err(`[AVHWDeviceContext @ ${addr()}] Could not dynamically load CUDA`);
    parse('Operation not permitted', -1);
  } else {
    err(`Invalid device specification "${spec}": unknown device type`);
    parse('Invalid argument', -22);
  }
  made.add(name);
}

if (inputs.length === 0) {
  err('At least one output file must be specified');
  process.exit(1);
}
for (const i of inputs) {
  if (!(value('-f').includes('lavfi') && /^(testsrc2?|color|nullsrc|smptebars)(=|$)/.test(i)) && !existsSync(i)) {
    err(`[in#0 @ ${addr()}] Error opening input: No such file or directory`);
    err(`Error opening input file ${i}.`);
    err('Error opening input files: No such file or directory');
    process.exit(254);
  }
}

const failEncoder = (first: string[]): never => {
  const ost = `[vost#0:0/${encoder} @ ${addr()}]`;
  for (const l of first) err(`[${encoder} @ ${addr()}] ${l}`);
  err(`${ost} Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, width or height.`);
  err(`[vf#0:0 @ ${addr()}] Error sending frames to consumers: Operation not permitted`);
  err(`${ost} Could not open encoder before EOF`);
  err(`[out#0/null @ ${addr()}] Nothing was written into output file, because at least one of its streams received no packets.`);
  process.exit(1);
};

if (encoder === undefined || SOFTWARE.has(encoder)) process.exit(0);
if (!HARDWARE.has(encoder)) {
  err(`[vost#0:0 @ ${addr()}] Unknown encoder '${encoder}'`);
  err(`[vost#0:0 @ ${addr()}] Error selecting an encoder`);
  err('Error opening output file -.');
  err('Error opening output files: Encoder not found');
  process.exit(8);
}
if (encoder.endsWith('_nvenc')) {
  if (!existsSync('/dev/nvidiactl')) failEncoder(['Cannot load libcuda.so.1']);
  failEncoder(['cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected']);
}
// A VA-API or QSV encoder without its device: the upload filter has nothing to upload to.
err(`[hwupload @ ${addr()}] A hardware device reference is required to upload frames to.`);
err(`[Parsed_hwupload_1 @ ${addr()}] Query format failed for 'Parsed_hwupload_1': Invalid argument`);
err(`[vf#0:0 @ ${addr()}] Error reinitializing filters!`);
process.exit(1);
