import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fixture } from './fixtures/load';
import {
  compareVersions,
  parseComposeStandalone,
  parseComposeVersion,
  parseDfRow,
  parseDiskReport,
  parseDockerInfo,
  parseDockerVersion,
  parseDriListing,
  parseEgress,
  parseEpoch,
  parseGroups,
  parseNtp,
  parseNvidiaSmi,
  parseOsRelease,
  parseRenderVendors,
  parseSections,
  parseUname,
  snippet,
  versionTriple,
} from './parse';

describe('the facts script output', () => {
  it('splits into every section with its exit code, from a lab recording', () => {
    const s = parseSections(fixture('facts/lab-debian12-admin.txt'));
    expect([...s.keys()]).toEqual([
      'os-release',
      'uname',
      'id',
      'tools',
      'docker-version',
      'docker-info',
      'compose',
      'compose-standalone',
      'nvidia-smi',
      'dri',
      'render-vendors',
      'groups',
      'ntp',
      'date',
    ]);
    expect(s.get('uname')).toEqual({ text: 'Linux x86_64', rc: 0 });
    expect(s.get('compose')).toEqual({ text: '2.26.1-4', rc: 0 });
    expect(s.get('dri')?.rc).toBe(2);
    expect(s.get('render-vendors')).toEqual({ text: '', rc: 0 });
  });

  it('keeps a section cut short (no end marker) with an unknown exit code', () => {
    const s = parseSections('\n@@m2:begin:uname\nLinux x86_64\n\n@@m2:end:uname:0\n\n@@m2:begin:docker-info\n{"ID":');
    expect(s.get('uname')).toEqual({ text: 'Linux x86_64', rc: 0 });
    expect(s.get('docker-info')).toEqual({ text: '{"ID":', rc: null });
  });

  it('never throws, whatever the server printed', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: -1, max: 255 }), (s, rc) => {
        parseSections(s);
        parseOsRelease(s);
        parseUname(s);
        parseDockerInfo(s, rc);
        parseDockerInfo(s, rc, true);
        parseDockerVersion(s);
        parseComposeVersion(s, rc);
        parseComposeStandalone(s, rc);
        parseNvidiaSmi(s, rc);
        parseDriListing(s);
        parseRenderVendors(s);
        parseGroups(s);
        parseNtp(s, rc);
        parseEpoch(s);
        parseDiskReport(s, 3);
        parseEgress(s);
        snippet(s);
      }),
      { numRuns: 500 },
    );
  });
});

describe('os-release and uname', () => {
  it('reads the fields of every recorded distribution', () => {
    const pick = (f: string): Record<string, string | undefined> => {
      const o = parseOsRelease(fixture(f));
      return { ID: o.ID, ID_LIKE: o.ID_LIKE, VERSION_ID: o.VERSION_ID, PRETTY_NAME: o.PRETTY_NAME };
    };
    expect(pick('os/debian-12.txt')).toEqual({ ID: 'debian', ID_LIKE: undefined, VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)' });
    expect(pick('os/ubuntu-24.04.txt')).toEqual({ ID: 'ubuntu', ID_LIKE: 'debian', VERSION_ID: '24.04', PRETTY_NAME: 'Ubuntu 24.04.1 LTS' });
    expect(pick('os/fedora-40.txt')).toEqual({ ID: 'fedora', ID_LIKE: undefined, VERSION_ID: '40', PRETTY_NAME: 'Fedora Linux 40 (Server Edition)' });
    expect(pick('os/alpine-3.20.txt')).toEqual({ ID: 'alpine', ID_LIKE: undefined, VERSION_ID: '3.20.3', PRETTY_NAME: 'Alpine Linux v3.20' });
    expect(pick('os/raspios-bookworm-arm64.txt')).toEqual({ ID: 'debian', ID_LIKE: undefined, VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)' });
    expect(pick('os/raspios-bullseye-armhf.txt')).toMatchObject({ ID: 'raspbian', ID_LIKE: 'debian', VERSION_ID: '11' });
    expect(parseOsRelease(fixture('os/fedora-40.txt')).VERSION_CODENAME).toBe('');
    expect(parseOsRelease(fixture('os/nixos-24.05.txt')).NAME).toBe('NixOS');
  });

  it('unescapes shell-quoted values and ignores comments and junk', () => {
    expect(parseOsRelease('# comment\nNAME="A \\"quoted\\" \\$name"\nID=\'x y\'\nnot a line\n=bad\n')).toEqual({ NAME: 'A "quoted" $name', ID: 'x y' });
  });

  it('reads uname -sm', () => {
    expect(parseUname(fixture('os/uname-linux-x86_64.txt'))).toEqual({ kernel: 'Linux', machine: 'x86_64' });
    expect(parseUname(fixture('os/uname-linux-aarch64.txt'))).toEqual({ kernel: 'Linux', machine: 'aarch64' });
    expect(parseUname(fixture('os/uname-darwin-arm64.txt'))).toEqual({ kernel: 'Darwin', machine: 'arm64' });
    expect(parseUname('sh: uname: not found')).toBeUndefined();
    expect(parseUname('')).toBeUndefined();
  });
});

describe('docker', () => {
  it('reads a working engine (lab: docker.io 20.10, no nvidia runtime)', () => {
    expect(parseDockerInfo(fixture('docker/info-lab-debian12-docker.io-20.10.txt'), 0)).toMatchObject({
      kind: 'ok',
      serverVersion: '20.10.24+dfsg1',
      runtimes: ['io.containerd.runc.v2', 'io.containerd.runtime.v1.linux', 'runc'],
    });
  });

  it('finds the nvidia runtime in Runtimes', () => {
    expect(parseDockerInfo(fixture('docker/info-ubuntu24-docker-ce-27-nvidia-runtime.txt'), 0)).toMatchObject({
      kind: 'ok',
      serverVersion: '27.3.1',
      runtimes: ['io.containerd.runc.v2', 'nvidia', 'runc'],
    });
  });

  it('tells permission denied from a stopped daemon from a missing CLI (lab recordings)', () => {
    expect(parseDockerInfo(fixture('docker/info-permission-denied-cli28.txt'), 1).kind).toBe('permission-denied');
    expect(parseDockerInfo(fixture('docker/info-daemon-down-cli28.txt'), 1).kind).toBe('daemon-down');
    expect(parseDockerInfo(fixture('docker/info-daemon-down-cli20.txt'), 1).kind).toBe('daemon-down');
    expect(parseDockerInfo(fixture('docker/info-docker-missing-dash.txt'), 127).kind).toBe('missing');
    expect(parseDockerInfo(fixture('docker/info-docker-missing-timeout.txt'), 127).kind).toBe('missing');
    expect(parseDockerInfo('', 124).kind).toBe('timeout');
    expect(parseDockerInfo('something else entirely', 1)).toEqual({ kind: 'unknown', raw: 'something else entirely' });
  });

  it('never calls an info with an empty ServerVersion or with ServerErrors a working engine', () => {
    expect(parseDockerInfo(fixture('docker/info-permission-denied-cli28.txt'), 0).kind).toBe('permission-denied');
    expect(parseDockerInfo('{"ServerVersion":"27.0.1","ServerErrors":["Cannot connect to the Docker daemon at unix:///var/run/docker.sock."]}', 0).kind).toBe(
      'daemon-down',
    );
  });

  it('reads sudo refusing (it needs a password) as sudo-refused', () => {
    expect(parseDockerInfo(fixture('docker/sudo-password-required.txt'), 1, true).kind).toBe('sudo-refused');
    expect(parseDockerInfo('sudo: docker: command not found', 1, true).kind).toBe('sudo-refused');
    expect(parseDockerInfo(fixture('docker/info-lab-debian12-docker.io-20.10.txt'), 0, true).kind).toBe('ok');
  });

  it('reads client and server versions, the client alone when the daemon is unreachable', () => {
    expect(parseDockerVersion(fixture('docker/version-lab-debian12-docker.io-20.10.txt'))).toEqual({ client: '28.2.2', server: '20.10.24+dfsg1' });
    expect(parseDockerVersion(fixture('docker/version-docker-ce-27.txt'))).toEqual({ client: '27.3.1', server: '27.3.1' });
    expect(parseDockerVersion(fixture('docker/version-permission-denied-cli28.txt'))).toEqual({ client: '28.2.2', server: undefined });
    expect(parseDockerVersion(fixture('docker/version-daemon-down-cli28.txt'))).toEqual({ client: '28.2.2', server: undefined });
    expect(parseDockerVersion('sh: 1: docker: not found')).toEqual({ client: undefined, server: undefined });
  });
});

describe('compose', () => {
  it('reads docker compose version --short, v2 and later', () => {
    for (const [f, version, triple] of [
      ['compose/plugin-2.20.2.txt', '2.20.2', [2, 20, 2]],
      ['compose/plugin-2.38.1.txt', '2.38.1', [2, 38, 1]],
      ['compose/plugin-5.5.0.txt', '5.5.0', [5, 5, 0]],
      ['compose/plugin-debian-trixie-2.26.1-4.txt', '2.26.1-4', [2, 26, 1]],
      ['compose/plugin-2.17.3.txt', '2.17.3', [2, 17, 3]],
    ] as const) {
      expect(parseComposeVersion(fixture(f), 0), f).toEqual({ kind: 'found', version, triple });
    }
    expect(parseComposeVersion('v2.20.2\n', 0)).toMatchObject({ kind: 'found', version: '2.20.2' });
  });

  it('reads a missing plugin, from old and new CLIs', () => {
    expect(parseComposeVersion(fixture('compose/plugin-missing-cli20.txt'), 1).kind).toBe('missing');
    expect(parseComposeVersion(fixture('compose/plugin-missing-cli28.txt'), 1).kind).toBe('missing');
    expect(parseComposeVersion('sh: 1: docker: not found', 127).kind).toBe('missing');
    expect(parseComposeVersion('segmentation fault', 139).kind).toBe('unknown');
  });

  it('reads the standalone docker-compose: v1, v2, or none', () => {
    expect(parseComposeStandalone(fixture('compose/standalone-v1-debian12.txt'), 0)).toEqual({ kind: 'found', version: '1.29.2', triple: [1, 29, 2] });
    expect(parseComposeStandalone(fixture('compose/standalone-v2.29.7.txt'), 0)).toEqual({ kind: 'found', version: '2.29.7', triple: [2, 29, 7] });
    expect(parseComposeStandalone(fixture('compose/standalone-missing.txt'), 127).kind).toBe('missing');
  });
});

describe('gpu', () => {
  it('reads nvidia-smi: one GPU, two GPUs, a failing driver, no nvidia-smi', () => {
    expect(parseNvidiaSmi(fixture('gpu/nvidia-smi-rtx3060.txt'), 0)).toEqual({ kind: 'gpus', gpus: [{ driver: '560.35.03', name: 'NVIDIA GeForce RTX 3060' }] });
    expect(parseNvidiaSmi(fixture('gpu/nvidia-smi-two-gpus.txt'), 0)).toEqual({
      kind: 'gpus',
      gpus: [
        { driver: '550.120', name: 'NVIDIA GeForce RTX 4060' },
        { driver: '550.120', name: 'NVIDIA T400 4GB' },
      ],
    });
    expect(parseNvidiaSmi(fixture('gpu/nvidia-smi-no-driver.txt'), 9)).toMatchObject({ kind: 'failed' });
    expect(parseNvidiaSmi(fixture('gpu/nvidia-smi-missing.txt'), 127)).toEqual({ kind: 'missing' });
  });

  it('reads the render and card nodes of ls -l /dev/dri with their groups', () => {
    expect(parseDriListing(fixture('gpu/dri-intel.txt'))).toEqual([
      { name: 'card0', group: 'video' },
      { name: 'renderD128', group: 'render' },
    ]);
    expect(parseDriListing(fixture('gpu/dri-numeric-group.txt'))).toEqual([
      { name: 'card0', group: '44' },
      { name: 'renderD128', group: '993' },
    ]);
    expect(parseDriListing(fixture('gpu/dri-missing.txt'))).toEqual([]);
  });

  it('reads PCI vendor ids per render node, and none for a platform GPU', () => {
    expect(parseRenderVendors(fixture('gpu/render-vendors-intel.txt'))).toEqual([{ node: 'renderD128', vendorId: '0x8086' }]);
    expect(parseRenderVendors(fixture('gpu/render-vendors-amd-and-intel.txt'))).toEqual([
      { node: 'renderD128', vendorId: '0x1002' },
      { node: 'renderD129', vendorId: '0x8086' },
    ]);
    expect(parseRenderVendors(fixture('gpu/render-vendors-raspberry-pi-5.txt'))).toEqual([{ node: 'renderD128', vendorId: undefined }]);
    expect(parseRenderVendors('renderD128 0X10DE')).toEqual([{ node: 'renderD128', vendorId: '0x10de' }]);
  });

  it('reads group ids from getent', () => {
    expect(parseGroups(fixture('gpu/getent-render-video-ubuntu.txt'))).toEqual(
      new Map([
        ['render', 993],
        ['video', 44],
      ]),
    );
    expect(parseGroups('video:x:44:alice,bob\n')).toEqual(new Map([['video', 44]]));
  });
});

describe('clock', () => {
  it('reads NTPSynchronized yes / no, and anything else as absent', () => {
    expect(parseNtp(fixture('clock/ntp-yes.txt'), 0)).toBe('yes');
    expect(parseNtp(fixture('clock/ntp-no.txt'), 0)).toBe('no');
    expect(parseNtp(fixture('clock/ntp-no-systemd.txt'), 1)).toBe('absent');
    expect(parseNtp(fixture('clock/ntp-missing.txt'), 127)).toBe('absent');
    expect(parseNtp('', 0)).toBe('absent');
  });

  it('reads date +%s', () => {
    expect(parseEpoch(fixture('clock/date.txt'))).toBe(1795630363);
    expect(parseEpoch('Tue Nov 25 18:00:00 UTC 2026')).toBeUndefined();
  });
});

describe('disk', () => {
  it('reads each path of a lab recording by position: missing, not a folder, not writable, fine', () => {
    const entries = parseDiskReport(fixture('disk/lab-mixed.txt'), 7);
    expect(entries.map((e) => (e.kind === 'found' ? e.state : e.kind))).toEqual(['not-writable', 'ok', 'missing', 'missing', 'not-dir', 'not-writable', 'missing']);
    expect(entries[1]).toMatchObject({ kind: 'found', df: { sizeBytes: 270553174016, availableBytes: 83587911680, mountPoint: '/' } });
    expect(entries[2]).toMatchObject({ kind: 'found', df: undefined });
  });

  it('reads busybox df -Pk in KiB blocks, mount points with spaces, and df errors', () => {
    expect(parseDiskReport(fixture('disk/busybox-df-Pk.txt'), 1)[0]).toMatchObject({
      df: { sizeBytes: 30787492 * 1024, availableBytes: 24685912 * 1024, mountPoint: '/' },
    });
    const e = parseDiskReport(fixture('disk/spaces-and-low.txt'), 5);
    expect(e[0]).toMatchObject({ df: { availableBytes: 487098679296, mountPoint: '/mnt/My Media' } });
    expect(e[3]).toMatchObject({ kind: 'found', state: 'ok', df: undefined });
    expect(e[4]).toMatchObject({ kind: 'unknown' });
  });

  it('reads a df row whose filesystem name has spaces', () => {
    expect(parseDfRow('Filesystem 1-blocks Used Available Capacity Mounted on\nmy nas:/share 1000 400 600 40% /mnt/nas', 1)).toEqual({
      sizeBytes: 1000,
      availableBytes: 600,
      mountPoint: '/mnt/nas',
    });
  });
});

describe('egress', () => {
  it('reads connected, refused, timed out, unreachable and DNS failures from bash and nc', () => {
    expect(parseEgress(fixture('egress/bash-open.txt'))).toEqual({ kind: 'open', method: 'bash' });
    expect(parseEgress(fixture('egress/nc-open.txt'))).toEqual({ kind: 'open', method: 'nc' });
    expect(parseEgress(fixture('egress/bash-refused.txt'))).toMatchObject({ kind: 'blocked', reason: 'refused' });
    expect(parseEgress(fixture('egress/bash-timeout.txt'))).toMatchObject({ kind: 'blocked', reason: 'timeout' });
    expect(parseEgress(fixture('egress/bash-unreachable.txt'))).toMatchObject({ kind: 'blocked', reason: 'unreachable' });
    expect(parseEgress(fixture('egress/bash-dns-failure.txt'))).toMatchObject({ kind: 'dns-failed', method: 'bash' });
    expect(parseEgress(fixture('egress/nc-busybox-bad-address.txt'))).toMatchObject({ kind: 'dns-failed', method: 'nc' });
    expect(parseEgress(fixture('egress/nc-openbsd-dns.txt'))).toMatchObject({ kind: 'dns-failed', method: 'nc' });
    expect(parseEgress(fixture('egress/none.txt'))).toEqual({ kind: 'no-tool' });
    expect(parseEgress('')).toEqual({ kind: 'unknown', raw: '' });
    expect(parseEgress('method=bash\nsomething odd\nrc=3')).toMatchObject({ kind: 'unknown' });
  });
});

describe('versions and snippets', () => {
  it('compares dotted versions numerically, ignoring packaging suffixes', () => {
    expect(versionTriple('2.26.1-4')).toEqual([2, 26, 1]);
    expect(versionTriple('20.10.24+dfsg1')).toEqual([20, 10, 24]);
    expect(versionTriple('v5.5')).toEqual([5, 5, 0]);
    expect(versionTriple('latest')).toBeUndefined();
    expect(compareVersions([2, 9, 0], [2, 20, 0])).toBeLessThan(0);
    expect(compareVersions([520, 56, 6], [520, 56, 6])).toBe(0);
    expect(compareVersions([550, 120], [520, 56, 6])).toBeGreaterThan(0);
  });

  it('shortens raw output to one readable line', () => {
    expect(snippet('  a\n\n b  \n')).toBe('a ⏎ b');
    expect(snippet('')).toBe('(no output)');
    expect(snippet('x'.repeat(500)).length).toBe(240);
  });
});
