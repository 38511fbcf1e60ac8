/**
 * The commands behind the Logs page, as argv (STYLE.md §3): `docker compose logs`, `restart`, `stop` and
 * `start` of one service, and the few container fields the page shows. The service name has been checked against
 * the live release's services before any builder sees it; time bounds and the line count come validated from the
 * contract. The admin's search text never reaches the server: it is matched in core, after masking.
 */
import { type Argv } from '../ssh/argv';
import { composeGlobalArgs, docker, PROJECT_LABEL, type ComposeFiles, type DockerAccessKind } from '../stack/compose-commands';

export interface LogsQuery {
  readonly follow: boolean;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly tail: number;
}

/** Seconds Compose gives a service to stop before it is killed (as the apply's `down` does). */
export const STOP_TIMEOUT_S = 10;

/** One tab between fields: the inspect format below never puts one inside a field. */
export const RUNTIME_FORMAT = [
  '{{.Id}}',
  '{{index .Config.Labels "com.docker.compose.service"}}',
  '{{index .Config.Labels "com.docker.compose.oneoff"}}',
  '{{.State.Status}}',
  '{{.State.Restarting}}',
  '{{.RestartCount}}',
  '{{.State.StartedAt}}',
  '{{.State.ExitCode}}',
  '{{with index .State "Health"}}{{.Status}}{{end}}',
].join('\t');

export const logCommands = (access: DockerAccessKind, files: ComposeFiles) => {
  const compose = (...args: string[]): Argv => docker(access, ['docker', 'compose', ...composeGlobalArgs(files), ...args]);
  // `--` ends the options: a service name is never read as one (it is validated anyway).
  return {
    logs: (service: string, q: LogsQuery): Argv =>
      compose(
        'logs',
        '--no-color',
        '--no-log-prefix',
        '--timestamps',
        '--tail',
        String(q.tail),
        ...(q.since !== undefined ? ['--since', q.since] : []),
        ...(q.until !== undefined ? ['--until', q.until] : []),
        ...(q.follow ? ['--follow'] : []),
        '--',
        service,
      ),
    restart: (service: string): Argv => compose('restart', '--timeout', String(STOP_TIMEOUT_S), '--', service),
    stop: (service: string): Argv => compose('stop', '--timeout', String(STOP_TIMEOUT_S), '--', service),
    /** Creates nothing: a service whose container is gone is brought back by an install, not here. */
    start: (service: string): Argv => compose('start', '--', service),
    /** The project's container ids (one-off ones too; they are told apart by their label). */
    containerIds: (): Argv => docker(access, ['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', `label=${PROJECT_LABEL}=${files.project}`]),
    /** Only the fields the page shows: a full inspect holds every container's environment, secrets included. */
    runtime: (ids: readonly string[]): Argv => docker(access, ['docker', 'inspect', '--type', 'container', '--format', RUNTIME_FORMAT, '--', ...ids]),
    /** The server's clock, to tell how long ago a container started. */
    now: (): Argv => ['date', '-u', '+%s'],
  };
};
export type LogCommands = ReturnType<typeof logCommands>;
