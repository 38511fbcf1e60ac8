import { z } from 'zod';
import { dataPathField } from '../preflight';
import { defineModule } from './declare';

export const BackupSettings = z.object({
  enabled: z.boolean().default(true),
  /** The restic repository: a folder on the server (another disk is best). */
  repository: dataPathField('Backup repository folder').default('/srv/m2-backup/restic'),
  /** Daily run time, server local time, HH:MM. */
  time: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'Backup time: use 24-hour HH:MM, for example 03:30.')
    .default('03:30'),
  keepDaily: z
    .number({ error: 'Keep daily: enter a whole number from 1 to 365.' })
    .int('Keep daily: use a whole number.').min(1, 'Keep daily: keep at least 1.').max(365, 'Keep daily: at most 365.').default(7),
  keepWeekly: z
    .number({ error: 'Keep weekly: enter a whole number from 0 to 260.' })
    .int('Keep weekly: use a whole number.').min(0, 'Keep weekly: use 0 or more.').max(260, 'Keep weekly: at most 260.').default(4),
  keepMonthly: z
    .number({ error: 'Keep monthly: enter a whole number from 0 to 120.' })
    .int('Keep monthly: use a whole number.').min(0, 'Keep monthly: use 0 or more.').max(120, 'Keep monthly: at most 120.').default(6),
  /** Live status warns when the last good backup is older than this: a daily run plus slack by default. */
  warnAfterHours: z
    .number({ error: 'Warn after: enter a whole number of hours.' })
    .int('Warn after: use a whole number of hours.')
    .min(2, 'Warn after: use at least 2 hours.')
    .max(720, 'Warn after: use at most 720 hours (30 days).')
    .default(26),
});
export type BackupSettings = z.infer<typeof BackupSettings>;

export const backup = defineModule({
  id: 'backup',
  title: 'Backups',
  description: 'restic snapshots of Nextcloud data, database dumps and service settings, every day.',
  settings: BackupSettings,
  fields: [
    { kind: 'text', key: 'repository', label: 'Backup repository folder', hint: 'Another disk is best.', placeholder: '/srv/m2-backup/restic' },
    { kind: 'text', key: 'time', label: 'Backup time', hint: '24-hour, server time.', placeholder: '03:30' },
    {
      kind: 'row',
      fields: [
        { kind: 'text', key: 'keepDaily', label: 'Keep daily', inputMode: 'numeric', value: 'number' },
        { kind: 'text', key: 'keepWeekly', label: 'Keep weekly', inputMode: 'numeric', value: 'number' },
        { kind: 'text', key: 'keepMonthly', label: 'Keep monthly', inputMode: 'numeric', value: 'number' },
      ],
    },
    {
      kind: 'text',
      key: 'warnAfterHours',
      label: 'Warn after (hours without a good backup)',
      inputMode: 'numeric',
      value: 'number',
      hint: 'The Dashboard and a notification warn when the last good backup is older than this.',
    },
  ],
  images: {
    restic: { repository: 'restic/restic', tag: '0.19.1', releaseNotes: 'https://github.com/restic/restic/releases', updates: 'minor' },
    postgres: { repository: 'postgres', tag: '16-alpine', releaseNotes: 'https://www.postgresql.org/docs/release/', updates: 'patch' },
  },
  services: {
    backup: { role: 'the daily restic run and its status file', health: 'the status file exists' },
    'nextcloud-db-dump': { role: 'dumps Nextcloud’s database before each backup', health: 'its database accepts connections' },
    'authentik-db-dump': { role: 'dumps Authentik’s database before each backup', health: 'its database accepts connections' },
  },
});
