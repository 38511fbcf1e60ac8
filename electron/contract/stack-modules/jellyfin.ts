import { z } from 'zod';
import { dataPathField } from '../preflight';
import { defineModule, hostId, portField } from './declare';

export const hwAccelKinds = ['nvidia', 'intel-qsv', 'vaapi', 'amd-vaapi', 'none'] as const;
export const HwAccel = z.enum(hwAccelKinds);
export type HwAccel = z.infer<typeof HwAccel>;

/** Each hardware acceleration method as the admin reads it. */
export const hwAccelLabels: Record<HwAccel, string> = {
  nvidia: 'NVIDIA (NVENC)',
  'intel-qsv': 'Intel Quick Sync (QSV)',
  vaapi: 'Intel VA-API',
  'amd-vaapi': 'AMD VA-API',
  none: 'None (software transcoding)',
};

/** The methods that open a render node (/dev/dri/renderD…) and so need its device and group. */
export const needsRenderNode = (h: unknown): boolean => h === 'intel-qsv' || h === 'vaapi' || h === 'amd-vaapi';

export const JellyfinSettings = z.object({
  enabled: z.literal(true).default(true),
  hwAccel: HwAccel.default('none'),
  /** For intel-qsv, vaapi, amd-vaapi: the render node passed to the container. */
  renderDevice: z
    .string()
    .regex(/^\/dev\/dri\/renderD[0-9]{1,4}$/, 'GPU render device: choose a render node such as /dev/dri/renderD128.')
    .default('/dev/dri/renderD128'),
  /** Host gid that owns the render node (`getent group render`); required for the VA-API/QSV variants. */
  renderGid: hostId('GPU render group id').nullable().default(null),
  /** Port on the server for Jellyfin on the home network (TV apps, phones at home). */
  lanPort: portField('Jellyfin port').default(8096),
  /** Read-only media folders on the server, mounted at /media/1, /media/2, … */
  mediaPaths: z.array(dataPathField('Media folder')).max(8, 'Media folders: choose at most 8 folders.').default([]),
});
export type JellyfinSettings = z.infer<typeof JellyfinSettings>;

export const jellyfin = defineModule({
  id: 'jellyfin',
  title: 'Jellyfin',
  description: 'Always on: your films, series and music, streamed at home and through the tunnel.',
  alwaysOn: true,
  settings: JellyfinSettings,
  hostname: { label: 'Jellyfin host name', default: 'media.example.com' },
  fields: [
    { kind: 'widget', widget: 'hw-accel', keys: ['hwAccel'], labels: { hwAccel: 'Hardware acceleration' } },
    {
      kind: 'row',
      when: (v) => needsRenderNode(v('modules.jellyfin.hwAccel')),
      fields: [
        { kind: 'text', key: 'renderDevice', label: 'GPU render device', placeholder: '/dev/dri/renderD128' },
        { kind: 'text', key: 'renderGid', label: 'GPU render group id', inputMode: 'numeric', hint: 'getent group render', value: 'number-or-null' },
      ],
    },
    { kind: 'text', key: 'lanPort', label: 'Jellyfin port', inputMode: 'numeric', value: 'number' },
    {
      kind: 'list',
      key: 'mediaPaths',
      label: 'Media folders',
      hint: 'Mounted read-only: Jellyfin can play them but never change them.',
      empty: 'No media folders yet.',
      itemLabel: 'Media folder',
      placeholder: '/srv/media/films',
      add: 'Add a media folder',
    },
  ],
  images: {
    jellyfin: { repository: 'jellyfin/jellyfin', tag: '10.11.11', releaseNotes: 'https://github.com/jellyfin/jellyfin/releases', updates: 'minor' },
  },
  services: {
    jellyfin: { role: 'the media server', health: 'answers /health on its port' },
  },
});
