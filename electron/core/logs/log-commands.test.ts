import { describe, expect, it } from 'vitest';
import { toShell } from '../ssh/argv';
import { logCommands, RUNTIME_FORMAT } from './log-commands';

const files = { project: 'm2', projectDir: '/home/a/m2', dir: '/home/a/m2/releases/r1', envFiles: ['env/nextcloud.env', 'env/authentik.env'] };
const globals = ['--project-name', 'm2', '--project-directory', '/home/a/m2', '--file', '/home/a/m2/releases/r1/compose.yaml', '--env-file', '/home/a/m2/releases/r1/env/nextcloud.env', '--env-file', '/home/a/m2/releases/r1/env/authentik.env'];

describe('log and service commands are argv with the live release’s compose files', () => {
  const c = logCommands('group', files);

  it('reads logs with timestamps, the range, the line count and follow, the service after --', () => {
    expect(c.logs('nextcloud', { follow: true, since: '15m', tail: 500 })).toEqual([
      'docker', 'compose', ...globals, 'logs', '--no-color', '--no-log-prefix', '--timestamps', '--tail', '500', '--since', '15m', '--follow', '--', 'nextcloud',
    ]);
    expect(c.logs('jellyfin', { follow: false, since: '2026-12-05T01:00:00Z', until: '2026-12-05T02:00:00Z', tail: 20 })).toEqual([
      'docker', 'compose', ...globals, 'logs', '--no-color', '--no-log-prefix', '--timestamps', '--tail', '20', '--since', '2026-12-05T01:00:00Z', '--until', '2026-12-05T02:00:00Z', '--', 'jellyfin',
    ]);
  });

  it('restarts, stops and starts one service', () => {
    expect(c.restart('authentik-server')).toEqual(['docker', 'compose', ...globals, 'restart', '--timeout', '10', '--', 'authentik-server']);
    expect(c.stop('jellyfin')).toEqual(['docker', 'compose', ...globals, 'stop', '--timeout', '10', '--', 'jellyfin']);
    expect(c.start('jellyfin')).toEqual(['docker', 'compose', ...globals, 'start', '--', 'jellyfin']);
  });

  it('asks Docker only for the fields it shows (never a container’s environment)', () => {
    expect(c.containerIds()).toEqual(['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', 'label=com.docker.compose.project=m2']);
    expect(c.runtime(['abc123abc123'])).toEqual(['docker', 'inspect', '--type', 'container', '--format', RUNTIME_FORMAT, '--', 'abc123abc123']);
    expect(RUNTIME_FORMAT).not.toMatch(/Env|Config\.Cmd|Args/);
  });

  it('goes through sudo -n for a user outside the docker group', () => {
    expect(logCommands('sudo', files).restart('jellyfin').slice(0, 5)).toEqual(['sudo', '-n', '--', 'docker', 'compose']);
  });

  it('quotes whatever reaches the command line as one word (the service is checked before this anyway)', () => {
    const line = toShell(c.logs("x'; rm -rf ~; $(id) `id`\nnext", { follow: false, tail: 1 }));
    expect(line.endsWith(`-- 'x'\\''; rm -rf ~; $(id) \`id\`\nnext'`)).toBe(true);
  });
});
