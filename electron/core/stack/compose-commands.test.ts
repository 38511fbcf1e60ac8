import { describe, expect, it } from 'vitest';
import { composeCommands, composeGlobalArgs, dockerCommands, emptyPull, foldPullLine, parseComposePs, parseConfigHashes, parseImageIds, parseInspect, parseProcNet, pullPercent } from './compose-commands';

const files = { project: 'm2', projectDir: '/home/a/m2', dir: '/home/a/m2/releases/R', envFiles: ['env/nextcloud.env', 'env/authentik.env'] };

describe('compose argv', () => {
  it('passes project, project dir, file and every env file, in order, on every command', () => {
    expect(composeGlobalArgs(files)).toEqual([
      '--project-name', 'm2', '--project-directory', '/home/a/m2', '--file', '/home/a/m2/releases/R/compose.yaml',
      '--env-file', '/home/a/m2/releases/R/env/nextcloud.env', '--env-file', '/home/a/m2/releases/R/env/authentik.env',
    ]);
    const c = composeCommands('group', files);
    expect(c.up(120).slice(-8)).toEqual(['up', '--detach', '--wait', '--wait-timeout', '120', '--remove-orphans', '--pull', 'never']);
    expect(c.up(120)).not.toContain('--force-recreate');
    expect(c.configHash().slice(-3)).toEqual(['config', '--hash', '*']);
    expect(c.configQuiet().slice(-2)).toEqual(['config', '--quiet']);
    expect(c.logs('jellyfin', 20).slice(-6)).toEqual(['logs', '--no-color', '--no-log-prefix', '--tail', '20', 'jellyfin']);
  });

  it('prefixes sudo -n for a user outside the docker group, and filters containers by project label', () => {
    expect(composeCommands('sudo', files).ps().slice(0, 5)).toEqual(['sudo', '-n', '--', 'docker', 'compose']);
    const d = dockerCommands('group', 'm2');
    expect(d.projectContainerIds()).toEqual(['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', 'label=com.docker.compose.project=m2']);
    expect(dockerCommands('sudo', 'm2').imageIds(['a:1', 'b:2'])).toEqual(['sudo', '-n', '--', 'docker', 'image', 'inspect', '--format', '{{.Id}}{{range .RepoTags}} {{.}}{{end}}{{range .RepoDigests}} {{.}}{{end}}', 'a:1', 'b:2']);
  });
});

describe('parsers', () => {
  it('reads compose ps both as NDJSON (2.21+) and as one array (older)', () => {
    const a = '{"ID":"1","Name":"m2-a-1","Service":"a","State":"running","Health":"healthy","ExitCode":0,"Image":"x"}';
    const b = '{"ID":"2","Name":"m2-b-1","Service":"b","State":"exited","Health":"","ExitCode":1,"Image":"y"}';
    expect(parseComposePs(`${a}\n${b}\n`)).toEqual(parseComposePs(`[${a},${b}]`));
    expect(parseComposePs(`${a}\n${b}`).map((e) => [e.Service, e.State, e.ExitCode])).toEqual([['a', 'running', 0], ['b', 'exited', 1]]);
    expect(parseComposePs('')).toEqual([]);
  });

  it('reads config --hash lines and ignores anything else', () => {
    const h = 'a'.repeat(64);
    expect([...parseConfigHashes(`jellyfin ${h}\nwarning: something\nredis ${'b'.repeat(64)}\n`)]).toEqual([['jellyfin', h], ['redis', 'b'.repeat(64)]]);
  });

  it('reads docker inspect: labels, health, published host ports', () => {
    const json = JSON.stringify([
      {
        Id: 'abc123abc123abc123',
        Name: '/m2-jellyfin-1',
        RestartCount: 3,
        Image: 'sha256:1',
        Config: { Image: 'jellyfin/jellyfin:10.11.11', Labels: { 'com.docker.compose.project': 'm2', 'com.docker.compose.service': 'jellyfin', 'com.docker.compose.config-hash': 'h', 'com.docker.compose.oneoff': 'False' } },
        State: { Status: 'running', ExitCode: 0, StartedAt: '2026-01-01T00:00:00Z', Health: { Status: 'healthy' } },
        NetworkSettings: { Ports: { '8096/tcp': [{ HostIp: '127.0.0.1', HostPort: '8096' }, { HostIp: '::1', HostPort: '8096' }], '7359/udp': null, '51820/udp': [{ HostPort: '51820' }] } },
      },
      { Id: 'def', Name: '/m2-run-x', Config: { Labels: { 'com.docker.compose.oneoff': 'True' } }, State: { Status: 'exited' } },
    ]);
    const [a, b] = parseInspect(json);
    expect(a).toMatchObject({ name: 'm2-jellyfin-1', service: 'jellyfin', project: 'm2', configHash: 'h', health: 'healthy', state: 'running', oneoff: false, imageId: 'sha256:1', restartCount: 3 });
    expect(a?.published).toEqual([{ port: 8096, protocol: 'tcp' }, { port: 51820, protocol: 'udp' }]);
    expect(b).toMatchObject({ oneoff: true, health: '', published: [], restartCount: 0 });
  });

  it('maps image ids back to the refs as compose names them, absent ones as null', () => {
    const a = `sha256:${'a'.repeat(64)}`;
    const b = `sha256:${'b'.repeat(64)}`;
    const out = `${a} postgres:16-alpine \n${b} ghcr.io/goauthentik/server:2026.2.2 ghcr.io/goauthentik/server@sha256:${'c'.repeat(64)}\n`;
    expect([...parseImageIds(out, ['docker.io/library/postgres:16-alpine', 'ghcr.io/goauthentik/server:2026.2.2', 'redis:7', 'postgres'])]).toEqual([
      ['docker.io/library/postgres:16-alpine', a],
      ['ghcr.io/goauthentik/server:2026.2.2', b],
      ['redis:7', null],
      ['postgres', null],
    ]);
  });

  it('finds listening TCP ports (state 0A only) and bound UDP ports in /proc/net', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0',
      '   1: 0100007F:A3C2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 100 0 0 10 0',
      '   0: 00000000000000000000000001000000:1FA0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 3 1',
    ].join('\n');
    expect([...parseProcNet(tcp, 'tcp')].sort()).toEqual([8080, 8096]);
    const udp = '  sl  local_address rem_address   st\n  12: 00000000:CA6C 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 4 2';
    expect([...parseProcNet(udp, 'udp')]).toEqual([51820]);
  });

  it('turns docker pull line output into a percentage per image', () => {
    let s = emptyPull;
    expect(pullPercent(s)).toBeNull();
    for (const l of ['10.11.11: Pulling from jellyfin/jellyfin', 'aaaaaaaaaaaa: Pulling fs layer', 'bbbbbbbbbbbb: Pulling fs layer', 'aaaaaaaaaaaa: Download complete']) s = foldPullLine(s, l);
    expect(pullPercent(s)).toBe(25);
    s = foldPullLine(s, 'aaaaaaaaaaaa: Pull complete');
    s = foldPullLine(s, 'bbbbbbbbbbbb: Already exists');
    expect(pullPercent(s)).toBe(99);
    s = foldPullLine(s, 'Status: Downloaded newer image for jellyfin/jellyfin:10.11.11');
    expect(pullPercent(s)).toBe(100);
  });
});
