/**
 * Containers of the Compose project (as `docker inspect` showed them) → one line per service: state, health,
 * restarts, image version, and a severity with its reason.
 */
import type { ServiceStatus, Severity } from '../../contract/status';
import type { AgentContainer } from './agent-protocol';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The tag of an image reference (`repo:tag@digest` → tag), or `latest`. */
export function imageVersion(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : 'latest';
}

/** Services that exit by design are none in this stack; one-off containers (`compose run`) are left out. */
export function serviceStatuses(containers: readonly AgentContainer[], expected: readonly string[] = []): ServiceStatus[] {
  const out = new Map<string, ServiceStatus>();
  for (const c of containers) {
    if (c.oneoff === 'True') continue;
    const name = c.name.replace(/^\//, '');
    let severity: Severity = 'ok';
    let reason: string;
    if (c.state === 'running') {
      if (c.health === 'unhealthy') {
        severity = 'error';
        reason = 'Running but failing its health check.';
      } else if (c.health === 'starting') {
        severity = 'unknown';
        reason = 'Starting: the health check has not passed yet.';
      } else {
        reason = c.health === 'healthy' ? 'Running and healthy.' : 'Running.';
      }
    } else if (c.state === 'restarting') {
      severity = 'error';
      reason = `Restarting after exiting with code ${c.exitCode}${c.restarts > 0 ? ` (${c.restarts} restarts)` : ''}.`;
    } else if (c.state === 'paused') {
      severity = 'warning';
      reason = 'Paused.';
    } else if (c.state === 'created') {
      severity = 'warning';
      reason = 'Created but not started.';
    } else {
      severity = 'error';
      reason = c.oom ? 'Stopped: killed for using too much memory.' : c.state === 'exited' ? `Stopped (exit code ${c.exitCode}).` : `Not running (${c.state}).`;
    }
    if (severity === 'ok' && c.restarts >= 3) {
      severity = 'warning';
      reason = `${reason.replace(/\.$/, '')}, but restarted ${c.restarts} times.`;
    }
    const since = c.state === 'running' ? c.startedAt : c.finishedAt;
    const prev = out.get(c.service);
    const status: ServiceStatus = {
      service: c.service,
      container: name,
      state: c.state,
      health: c.health,
      restarts: c.restarts,
      image: c.image,
      version: imageVersion(c.image),
      since: since && since !== ZERO_TIME ? since : null,
      severity,
      reason,
    };
    // Scaled services: the worst container speaks for the service.
    if (!prev || rank(status.severity) > rank(prev.severity)) out.set(c.service, status);
  }
  for (const s of expected) {
    if (!out.has(s)) out.set(s, { service: s, container: '', state: 'missing', health: null, restarts: 0, image: '', version: '', since: null, severity: 'error', reason: 'No container: the service is not deployed.' });
  }
  return [...out.values()].sort((a, b) => rank(b.severity) - rank(a.severity) || a.service.localeCompare(b.service));
}

const rank = (s: Severity): number => ({ error: 3, warning: 2, unknown: 1, ok: 0 })[s];
