/**
 * NVIDIA GPUs that have no hardware video encoder (NVENC) at all, so Jellyfin cannot transcode on them whatever
 * the driver and runtime (fallback-and-day2-facts §10, from NVIDIA's encode/decode support matrix and reports):
 * the data-centre compute GPUs A100 (GA100), A30 and H100 (GH100) decode video (NVDEC) but do not encode it. The
 * H200 is the same GH100 chip; that it lacks NVENC is inferred, not confirmed on hardware, and said so.
 * Jellyfin itself does not notice: it offers NVENC whenever its ffmpeg lists `h264_nvenc`.
 */
export interface NoEncoder {
  /** The chip family, as the message names it. */
  readonly family: string;
  /** Whether NVIDIA's matrix or a report confirms it (false: inferred from the chip). */
  readonly confirmed: boolean;
}

const KNOWN: ReadonlyArray<{ readonly name: RegExp; readonly family: string; readonly confirmed: boolean }> = [
  { name: /\bA100\b/i, family: 'A100 (GA100)', confirmed: true },
  { name: /\bA30\b/i, family: 'A30 (GA100)', confirmed: true },
  { name: /\bH100\b/i, family: 'H100 (GH100)', confirmed: true },
  { name: /\bH200\b/i, family: 'H200 (GH100, the H100’s chip)', confirmed: false },
];

/** The GPU (as nvidia-smi names it, e.g. "NVIDIA H200") has no video encoder; undefined when it has one or is not known. */
export function nvidiaWithoutEncoder(name: string): NoEncoder | undefined {
  const hit = KNOWN.find((k) => k.name.test(name));
  return hit ? { family: hit.family, confirmed: hit.confirmed } : undefined;
}
