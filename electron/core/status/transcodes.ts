/**
 * Jellyfin `/Sessions` (stack-facts §2.4) → what is playing, per stream, classified hardware / software /
 * direct: hardware ⇔ TranscodingInfo present ∧ IsVideoDirect false ∧ HardwareAccelerationType ∉ {null, "none"};
 * direct ⇔ no transcode, or the video is copied (remux / direct stream); software otherwise.
 */
import { z } from 'zod';
import type { StreamKind, TranscodeStream } from '../../contract/status';

const TranscodingInfo = z
  .object({
    VideoCodec: z.string().nullish(),
    AudioCodec: z.string().nullish(),
    IsVideoDirect: z.boolean().nullish(),
    IsAudioDirect: z.boolean().nullish(),
    Bitrate: z.number().nullish(),
    Framerate: z.number().nullish(),
    CompletionPercentage: z.number().nullish(),
    HardwareAccelerationType: z.string().nullish(),
    TranscodeReasons: z.union([z.array(z.string()), z.string()]).nullish(),
  })
  .loose();

const Session = z
  .object({
    Id: z.string().nullish(),
    UserName: z.string().nullish(),
    Client: z.string().nullish(),
    DeviceName: z.string().nullish(),
    PlayState: z.object({ PositionTicks: z.number().nullish(), IsPaused: z.boolean().nullish(), PlayMethod: z.string().nullish() }).loose().nullish(),
    NowPlayingItem: z
      .object({ Name: z.string().nullish(), SeriesName: z.string().nullish(), Type: z.string().nullish(), RunTimeTicks: z.number().nullish(), ProductionYear: z.number().nullish() })
      .loose()
      .nullish(),
    TranscodingInfo: TranscodingInfo.nullish(),
  })
  .loose();
export type JellyfinSession = z.infer<typeof Session>;

const hwNames: Readonly<Record<string, string>> = {
  nvenc: 'NVENC',
  qsv: 'Intel QSV',
  vaapi: 'VA-API',
  amf: 'AMD AMF',
  videotoolbox: 'VideoToolbox',
  v4l2m2m: 'V4L2',
  rkmpp: 'Rockchip MPP',
};

export function classifySession(s: JellyfinSession): { kind: StreamKind; detail: string; hwAccel: string | null } {
  const t = s.TranscodingInfo;
  const method = s.PlayState?.PlayMethod ?? '';
  if (!t) {
    if (method === 'Transcode') return { kind: 'software', detail: 'Transcoding; Jellyfin has not reported how yet.', hwAccel: null };
    return { kind: 'direct', detail: method === 'DirectStream' ? 'Direct stream (no transcode).' : 'Direct play (no transcode).', hwAccel: null };
  }
  if (t.IsVideoDirect === true) {
    return { kind: 'direct', detail: t.IsAudioDirect === false ? 'Remux: video copied, audio converted.' : 'Remux: video and audio copied.', hwAccel: null };
  }
  const hw = (t.HardwareAccelerationType ?? '').toLowerCase();
  if (hw !== '' && hw !== 'none') return { kind: 'hardware', detail: `${hwNames[hw] ?? hw} hardware transcode.`, hwAccel: hw };
  return { kind: 'software', detail: 'Software transcode on the CPU (no GPU acceleration).', hwAccel: null };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Only sessions that play something; logged-in devices without NowPlayingItem are not streams. */
export function streamsFromSessions(body: unknown): TranscodeStream[] | undefined {
  const parsed = z.array(z.unknown()).safeParse(body);
  if (!parsed.success) return undefined;
  const out: TranscodeStream[] = [];
  for (const raw of parsed.data) {
    const r = Session.safeParse(raw);
    if (!r.success || !r.data.NowPlayingItem) continue;
    const s = r.data;
    const item = s.NowPlayingItem;
    const c = classifySession(s);
    const t = s.TranscodingInfo;
    const reasons = t?.TranscodeReasons;
    const runtime = item?.RunTimeTicks ?? null;
    const pos = s.PlayState?.PositionTicks ?? null;
    const name = item?.Name ?? 'Unknown item';
    out.push({
      id: s.Id ?? `${s.DeviceName ?? ''}/${name}`,
      user: s.UserName ?? '',
      client: s.Client ?? '',
      device: s.DeviceName ?? '',
      title: item?.SeriesName ? `${item.SeriesName} – ${name}` : name,
      playMethod: s.PlayState?.PlayMethod ?? (t ? 'Transcode' : 'DirectPlay'),
      kind: c.kind,
      detail: c.detail,
      hwAccel: c.hwAccel,
      videoCodec: t?.VideoCodec ?? null,
      audioCodec: t?.AudioCodec ?? null,
      fps: typeof t?.Framerate === 'number' ? round1(t.Framerate) : null,
      bitrate: t?.Bitrate ?? null,
      reasons: Array.isArray(reasons) ? reasons : typeof reasons === 'string' && reasons !== '' ? reasons.split(',').map((x) => x.trim()) : [],
      progress: runtime && pos !== null && runtime > 0 ? round1(Math.min(100, (pos / runtime) * 100)) : null,
      paused: s.PlayState?.IsPaused === true,
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
