/**
 * What the status agent watches on a server, from the stack settings: the Compose project, the services the
 * release runs, where the backup status file is, and the data paths whose free space matters.
 */
import type { StackSettings } from '../../contract/stack';
import { DRILL_RESULT_FILE } from '../backups/drill-script';
import { Secret } from '../secrets/secret';
import { backupDirs, backupServiceName } from '../stack/modules/backup';
import { cloudflaredMetricsPort } from '../stack/modules/cloudflared';
import { defaultProject, renderStack, requiredSecrets } from '../stack/render';
import { isCloudflaredService } from './tunnel';

export interface StatusTarget {
  readonly project: string;
  /** Services the release runs (missing containers among them are errors). */
  readonly services: readonly string[];
  readonly cloudflared: readonly string[];
  readonly jellyfin: boolean;
  readonly hwAccel: boolean;
  readonly backup: { readonly enabled: boolean; readonly statusFile: string; readonly service: string; readonly maxAgeHours?: number; readonly drillFile?: string };
  readonly dataPaths: ReadonlyArray<{ readonly label: string; readonly path: string }>;
  readonly cloudflaredPort: number;
  readonly jellyfinPort: number;
  /** Docker through `sudo -n` (a user outside the docker group). */
  readonly sudo: boolean;
}

/** The services a render of these settings has: rendered with placeholder secrets (render is pure; nothing leaves). */
function servicesOf(settings: StackSettings, project: string): string[] {
  try {
    const secrets = new Map(requiredSecrets(settings).map((r) => [r.name, new Secret(`placeholder-${r.name}-0000000000`)]));
    return Object.keys(renderStack(settings, secrets, { m2Dir: '/m2-status-placeholder', project }).serviceModules).sort();
  } catch {
    return [];
  }
}

export function statusTargetFrom(settings: StackSettings, opts: { project?: string; sudo?: boolean } = {}): StatusTarget {
  const project = opts.project ?? defaultProject;
  const services = servicesOf(settings, project);
  const paths: Array<{ label: string; path: string }> = [{ label: 'Data', path: settings.dataRoot }];
  if (settings.modules.backup.enabled) paths.push({ label: 'Backups', path: settings.modules.backup.repository });
  settings.modules.jellyfin.mediaPaths.forEach((p, i) => paths.push({ label: settings.modules.jellyfin.mediaPaths.length > 1 ? `Media ${i + 1}` : 'Media', path: p }));
  if (settings.modules.mediaAutomation.enabled) paths.push({ label: 'Downloads', path: settings.modules.mediaAutomation.ingestPath });
  const seen = new Set<string>();
  return {
    project,
    services,
    cloudflared: services.filter(isCloudflaredService),
    jellyfin: settings.modules.jellyfin.enabled,
    hwAccel: settings.modules.jellyfin.hwAccel !== 'none',
    backup: {
      enabled: settings.modules.backup.enabled,
      statusFile: `${backupDirs(settings).status}/status.json`,
      drillFile: `${backupDirs(settings).status}/${DRILL_RESULT_FILE}`,
      service: backupServiceName,
      maxAgeHours: settings.modules.backup.warnAfterHours,
    },
    dataPaths: paths.filter((p) => (seen.has(p.path) ? false : (seen.add(p.path), true))),
    cloudflaredPort: cloudflaredMetricsPort,
    jellyfinPort: 8096,
    sudo: opts.sudo ?? false,
  };
}

/** The agent's argv after the script path (no secrets: the API key goes on stdin). */
export function agentArgs(t: StatusTarget, opts: { interval?: number; http?: 'auto' | 'curl' | 'wget' | 'docker' } = {}): string[] {
  return [
    '--project',
    t.project,
    '--interval',
    String(opts.interval ?? 1),
    '--cf-port',
    String(t.cloudflaredPort),
    '--jf-port',
    String(t.jellyfinPort),
    '--backup-service',
    t.backup.service,
    '--http',
    opts.http ?? 'auto',
    ...(t.backup.enabled ? ['--backup-status', t.backup.statusFile] : []),
    ...(t.backup.enabled && t.backup.drillFile ? ['--drill-status', t.backup.drillFile] : []),
    ...(t.sudo ? ['--sudo'] : []),
    ...t.dataPaths.flatMap((p) => ['--path', p.path]),
  ];
}
