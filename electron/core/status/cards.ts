/**
 * The dashboard's cards, worst first, each with its reason in words; the worst one is the tray's state.
 */
import type { OutageState } from '../../contract/fallback';
import { severityRank, type BackupStatus, type CardId, type HostStatus, type ServiceStatus, type Severity, type StatusCard, type TranscodesStatus, type TunnelStatus } from '../../contract/status';

const cardOrder: readonly CardId[] = ['tunnel', 'services', 'backups', 'transcodes', 'host'];

export function tunnelSeverity(t: TunnelStatus, configured: boolean): Severity {
  if (!configured && t.replicas.length === 0) return 'ok';
  switch (t.state) {
    case 'healthy':
      return 'ok';
    case 'degraded':
      return 'warning';
    case 'down':
      return 'error';
    case 'unknown':
      return 'unknown';
    default: {
      const never: never = t.state;
      return never;
    }
  }
}

export function transcodesCard(t: TranscodesStatus, hwAccelConfigured: boolean): { severity: Severity; reason: string } {
  if (!t.available) return { severity: 'unknown', reason: t.reason };
  const { hardware, software, direct } = t.counts;
  const total = hardware + software + direct;
  if (total === 0) return { severity: 'ok', reason: 'Nothing is playing.' };
  const parts = [hardware > 0 ? `${hardware} hardware` : '', software > 0 ? `${software} software` : '', direct > 0 ? `${direct} direct` : ''].filter(Boolean).join(', ');
  const head = `${total} ${total === 1 ? 'stream' : 'streams'}: ${parts}.`;
  if (software > 0 && hwAccelConfigured) {
    return { severity: 'warning', reason: `${head} ${software === 1 ? 'One stream is' : `${software} streams are`} transcoding on the CPU although GPU acceleration is on.` };
  }
  return { severity: 'ok', reason: head };
}

export function servicesCard(services: readonly ServiceStatus[]): { severity: Severity; reason: string } {
  if (services.length === 0) return { severity: 'unknown', reason: 'No containers of the stack were found.' };
  const bad = services.filter((s) => s.severity !== 'ok');
  if (bad.length === 0) return { severity: 'ok', reason: `All ${services.length} services are running${services.every((s) => s.health === null || s.health === 'healthy') ? ' and healthy' : ''}.` };
  const worst = bad.reduce((a, b) => (severityRank[b.severity] > severityRank[a.severity] ? b : a));
  const others = bad.length - 1;
  return { severity: worst.severity, reason: `${worst.service}: ${worst.reason}${others > 0 ? ` (${others} more ${others === 1 ? 'service needs' : 'services need'} attention)` : ''}` };
}

export function hostCard(h: HostStatus): { severity: Severity; reason: string } {
  if (h.memoryUsedPercent === null && h.disks.length === 0) return { severity: 'unknown', reason: 'Waiting for the server’s numbers.' };
  let severity: Severity = 'ok';
  const notes: string[] = [];
  const present = h.disks.filter((d) => d.present && d.usedPercent !== null);
  const fullest = present.reduce<(typeof present)[number] | undefined>((a, d) => (!a || (d.usedPercent ?? 0) > (a.usedPercent ?? 0) ? d : a), undefined);
  for (const d of h.disks.filter((x) => !x.present)) {
    severity = 'warning';
    notes.push(`${d.label} (${d.path}) does not exist.`);
  }
  if (fullest && fullest.usedPercent !== null && fullest.usedPercent >= 90) {
    const free = 100 - fullest.usedPercent;
    const s: Severity = fullest.usedPercent >= 97 ? 'error' : 'warning';
    if (severityRank[s] > severityRank[severity]) severity = s;
    notes.unshift(`Only ${free.toFixed(0)}% free on ${fullest.label} (${fullest.path}).`);
  }
  if (h.memoryUsedPercent !== null && h.memoryUsedPercent >= 95) {
    if (severityRank.warning > severityRank[severity]) severity = 'warning';
    notes.push(`Memory is ${h.memoryUsedPercent.toFixed(0)}% used.`);
  }
  const summary = [
    h.cpuPercent === null ? null : `CPU ${h.cpuPercent.toFixed(0)}%`,
    h.memoryUsedPercent === null ? null : `memory ${h.memoryUsedPercent.toFixed(0)}%`,
    fullest && fullest.usedPercent !== null ? `${(100 - fullest.usedPercent).toFixed(0)}% free on ${fullest.label}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  return { severity, reason: notes.length > 0 ? notes.join(' ') : `${summary.charAt(0).toUpperCase()}${summary.slice(1)}.` };
}

export function buildCards(input: {
  readonly tunnel: TunnelStatus;
  readonly tunnelConfigured: boolean;
  readonly transcodes: TranscodesStatus;
  readonly hwAccelConfigured: boolean;
  readonly backup: BackupStatus;
  readonly services: readonly ServiceStatus[];
  readonly host: HostStatus;
}): StatusCard[] {
  const tc = transcodesCard(input.transcodes, input.hwAccelConfigured);
  const sc = servicesCard(input.services);
  const hc = hostCard(input.host);
  const cards: StatusCard[] = [
    { id: 'tunnel', title: 'Tunnel', severity: tunnelSeverity(input.tunnel, input.tunnelConfigured), reason: input.tunnel.reason },
    { id: 'services', title: 'Services', ...sc },
    { id: 'backups', title: 'Backups', severity: input.backup.severity, reason: input.backup.reason },
    { id: 'transcodes', title: 'Transcodes', ...tc },
    { id: 'host', title: 'Server', ...hc },
  ];
  return sortWorstFirst(cards);
}

/**
 * The tunnel card's words for an outage, as the tray and notifications say them. The fallback is named only by
 * whoever knows its state (the tray does; a snapshot does not), so the words never promise a switch that is not there.
 */
export function outageHeadline(o: OutageState, fallback?: { readonly ready: boolean; readonly on: boolean }): string | null {
  switch (o.kind) {
    case 'healthy':
    case 'unknown':
      return null;
    case 'cloudflare-outage':
      if (fallback?.on) return 'Cloudflare is down — the fallback is on.';
      return fallback?.ready ? 'Cloudflare is down — the fallback can be turned on.' : 'Cloudflare is down.';
    case 'tunnel-broken':
      return 'The tunnel is broken.';
    case 'home-offline':
      return 'The home server is offline.';
    default: {
      const never: never = o.kind;
      return never;
    }
  }
}

/** When the path from the internet is broken, the tunnel card is an error and says so first, with the reason. */
export function outageOnTunnelCard(cards: readonly StatusCard[], outage: OutageState | null): StatusCard[] {
  const headline = outage ? outageHeadline(outage) : null;
  if (!outage || !headline) return [...cards];
  // A reason that already opens with the headline's words ("The tunnel is broken: …") is not said twice.
  const reason = outage.reason.startsWith(headline.replace(/\.$/, '')) ? outage.reason : `${headline} ${outage.reason}`;
  return sortWorstFirst(cards.map((c) => (c.id === 'tunnel' ? { ...c, severity: 'error' as const, reason } : c)));
}

export const sortWorstFirst = (cards: readonly StatusCard[]): StatusCard[] =>
  [...cards].sort((a, b) => severityRank[b.severity] - severityRank[a.severity] || cardOrder.indexOf(a.id) - cardOrder.indexOf(b.id));

export const worstOf = (cards: readonly StatusCard[]): Severity =>
  cards.reduce<Severity>((w, c) => (severityRank[c.severity] > severityRank[w] ? c.severity : w), 'ok');
