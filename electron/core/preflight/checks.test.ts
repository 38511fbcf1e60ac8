import { nvidiaWithoutEncoder } from './gpu-encoders';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PreflightCheck } from '../../contract/preflight';
import {
  DISK_FAIL_BYTES,
  DISK_WARN_BYTES,
  checkClock,
  checkCompose,
  checkDisk,
  checkDockerEngine,
  checkEgress,
  checkOs,
  detectGpu,
  distroFamily,
  formatBytes,
  minClockSkewSeconds,
  parseFacts,
  resolveDockerAccess,
} from './checks';
import { type Part, type SectionName, factsOutput, fixture, ubuntuNvidia } from './fixtures/load';
import { parseDiskReport, parseDockerInfo, parseEgress, parseOsRelease } from './parse';

const facts = (over: Partial<Record<SectionName, Part>> = {}) => parseFacts(factsOutput({ ...ubuntuNvidia, ...over }));
const labAdmin = () => parseFacts(fixture('facts/lab-debian12-admin.txt'));
const labSudoUser = () => parseFacts(fixture('facts/lab-debian12-sudo-user.txt'));
const valid = (c: PreflightCheck): PreflightCheck => PreflightCheck.parse(c);

describe('operating system', () => {
  it('passes Debian, Ubuntu, Raspberry Pi OS 64-bit, Fedora and Alpine on 64-bit machines', () => {
    expect(checkOs(labAdmin())).toMatchObject({ id: 'os', status: 'pass', found: 'Debian GNU/Linux 12 (bookworm) on x86_64.' });
    expect(checkOs(facts())).toMatchObject({ status: 'pass', found: 'Ubuntu 24.04.1 LTS on x86_64.' });
    expect(checkOs(facts({ 'os-release': ['@os/raspios-bookworm-arm64.txt', 0], uname: ['@os/uname-linux-aarch64.txt', 0] }))).toMatchObject({
      status: 'pass',
      found: 'Debian GNU/Linux 12 (bookworm) on aarch64.',
    });
    expect(checkOs(facts({ 'os-release': ['@os/fedora-40.txt', 0] })).status).toBe('pass');
    expect(checkOs(facts({ 'os-release': ['@os/alpine-3.20.txt', 0] })).status).toBe('pass');
  });

  it('fails a system that is not Linux, or 32-bit, and warns on a distribution it does not know', () => {
    expect(checkOs(facts({ uname: ['@os/uname-darwin-arm64.txt', 0] }))).toMatchObject({ status: 'fail', found: expect.stringMatching(/Darwin.*Linux only/) });
    const pi32 = checkOs(facts({ 'os-release': ['@os/raspios-bullseye-armhf.txt', 0], uname: ['@os/uname-linux-armv7l.txt', 0] }));
    expect(pi32).toMatchObject({ status: 'fail', found: expect.stringMatching(/32-bit/), fix: { kind: 'link', url: expect.stringMatching(/raspberrypi\.com/) } });
    expect(checkOs(facts({ 'os-release': ['@os/nixos-24.05.txt', 0] }))).toMatchObject({ status: 'warn', found: expect.stringMatching(/ID=nixos/) });
    expect(checkOs(facts({ 'os-release': ['cat: /usr/lib/os-release: No such file or directory', 1] }))).toMatchObject({
      status: 'warn',
      found: expect.stringMatching(/os-release could not be read/),
    });
    expect(checkOs(facts({ uname: ['', 127] })).status).toBe('warn');
    expect(checkOs(facts({ 'os-release': ['ID=debian\nVERSION_ID="10"\nPRETTY_NAME="Debian GNU/Linux 10 (buster)"', 0] })).status).toBe('warn');
  });

  it('sorts distributions into families by ID and ID_LIKE', () => {
    expect(distroFamily(parseOsRelease(fixture('os/raspios-bullseye-armhf.txt')))).toBe('debian');
    expect(distroFamily(parseOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"'))).toBe('ubuntu');
    expect(distroFamily(parseOsRelease('ID=rocky\nID_LIKE="rhel centos fedora"'))).toBe('rhel');
    expect(distroFamily(parseOsRelease(fixture('os/fedora-40.txt')))).toBe('fedora');
    expect(distroFamily(parseOsRelease('ID="opensuse-leap"\nID_LIKE="suse opensuse"'))).toBe('suse');
    expect(distroFamily(parseOsRelease(fixture('os/nixos-24.05.txt')))).toBe('unknown');
  });
});

describe('Docker Engine', () => {
  it('passes a running engine of 20.10 or later (lab: docker.io 20.10.24)', () => {
    const f = labAdmin();
    expect(checkDockerEngine(f, f.dockerInfo)).toMatchObject({ status: 'pass', found: 'Docker Engine 20.10.24+dfsg1 is running.' });
  });

  it('fails with the install command when Docker is missing, per distribution', () => {
    const missing = { 'docker-info': ['@docker/info-docker-missing-dash.txt', 127], 'docker-version': ['sh: 1: docker: not found', 127] } as const;
    const deb = facts(missing);
    expect(checkDockerEngine(deb, deb.dockerInfo)).toMatchObject({
      status: 'fail',
      found: 'Docker is not installed on the server.',
      fix: { kind: 'command', command: 'curl -fsSL https://get.docker.com | sudo sh' },
    });
    const alpine = facts({ ...missing, 'os-release': ['@os/alpine-3.20.txt', 0] });
    expect(checkDockerEngine(alpine, alpine.dockerInfo).fix).toMatchObject({ kind: 'command', command: expect.stringMatching(/^sudo apk add docker docker-cli-compose/) });
    const nix = facts({ ...missing, 'os-release': ['@os/nixos-24.05.txt', 0] });
    expect(checkDockerEngine(nix, nix.dockerInfo).fix).toEqual({ kind: 'link', url: 'https://docs.docker.com/engine/install/', label: expect.any(String) });
  });

  it('fails with the start command when the engine is not running (lab recording)', () => {
    const f = parseFacts(fixture('facts/lab-debian12-daemon-down.txt'));
    expect(checkDockerEngine(f, f.dockerInfo)).toMatchObject({
      status: 'fail',
      found: expect.stringMatching(/^Docker 28\.2\.2 is installed, but the Docker Engine is not running/),
      fix: { kind: 'command', command: 'sudo systemctl enable --now docker' },
    });
  });

  it('fails an engine older than 20.10 and warns when only sudo could have told the version', () => {
    const old = facts({ 'docker-info': ['{"ServerVersion":"19.03.13","Runtimes":{"runc":{"path":"runc"}}}', 0] });
    expect(checkDockerEngine(old, old.dockerInfo)).toMatchObject({ status: 'fail', found: expect.stringMatching(/19\.03\.13 is too old/) });
    const f = labSudoUser();
    expect(checkDockerEngine(f, f.dockerInfo)).toMatchObject({ status: 'warn', found: expect.stringMatching(/cannot reach it/) });
    const viaSudo = parseDockerInfo(fixture('docker/info-lab-debian12-docker.io-20.10.txt'), 0, true);
    expect(checkDockerEngine(f, viaSudo).status).toBe('pass');
  });
});

describe('Docker Compose', () => {
  it('passes Compose 2.20 and later, including 5.x and distribution builds', () => {
    expect(checkCompose(labAdmin())).toMatchObject({ status: 'pass', found: 'Docker Compose 2.26.1-4 (the docker compose plugin).' });
    for (const f of ['compose/plugin-2.20.2.txt', 'compose/plugin-2.38.1.txt', 'compose/plugin-5.5.0.txt']) {
      expect(checkCompose(facts({ compose: [`@${f}`, 0] })).status, f).toBe('pass');
    }
  });

  it('fails older v2, v1 only, a standalone binary without the plugin, and no Compose at all, each with a fix', () => {
    expect(checkCompose(facts({ compose: ['@compose/plugin-2.17.3.txt', 0] }))).toMatchObject({ status: 'fail', found: expect.stringMatching(/2\.17\.3 is too old/) });
    const v1 = checkCompose(facts({ compose: ['@compose/plugin-missing-cli20.txt', 1], 'compose-standalone': ['@compose/standalone-v1-debian12.txt', 0] }));
    expect(v1).toMatchObject({ status: 'fail', found: expect.stringMatching(/Compose v1 is installed \(docker-compose 1\.29\.2\)/), fix: { kind: 'command' } });
    expect(v1.fix?.kind === 'command' && v1.fix.command).toBe('sudo apt-get update && sudo apt-get install -y docker-compose-plugin');
    const standalone = checkCompose(facts({ compose: ['@compose/plugin-missing-cli28.txt', 1], 'compose-standalone': ['@compose/standalone-v2.29.7.txt', 0] }));
    expect(standalone).toMatchObject({ status: 'fail', found: expect.stringMatching(/separate program/) });
    expect(checkCompose(facts({ compose: ['@compose/plugin-missing-cli28.txt', 1] }))).toMatchObject({ status: 'fail', found: expect.stringMatching(/not installed/) });
    expect(checkCompose(facts({ compose: ['@compose/plugin-missing-cli28.txt', 1], 'os-release': ['@os/nixos-24.05.txt', 0] })).fix).toMatchObject({ kind: 'link' });
  });

  it('warns, quoting the server, on output it does not understand', () => {
    expect(checkCompose(facts({ compose: ['panic: runtime error', 2] }))).toMatchObject({ status: 'warn', found: expect.stringMatching(/panic: runtime error/) });
  });
});

describe('access to Docker', () => {
  it("is 'group' for the lab admin", () => {
    expect(resolveDockerAccess(labAdmin(), undefined, 'm2admin')).toMatchObject({
      access: { kind: 'group' },
      check: { status: 'pass', found: 'm2admin can use Docker as a member of the docker group, without sudo.' },
    });
  });

  it("is 'sudo' (a warning with the usermod fix) when the group is missing but sudo -n works", () => {
    const sudo = parseDockerInfo(fixture('docker/info-lab-debian12-docker.io-20.10.txt'), 0, true);
    const r = resolveDockerAccess(labSudoUser(), sudo, 'm2sudo');
    expect(r.access).toEqual({ kind: 'sudo' });
    expect(r.check).toMatchObject({ status: 'warn', found: expect.stringMatching(/sudo -n/), fix: { kind: 'command', command: 'sudo usermod -aG docker m2sudo' } });
    expect(r.check.fix?.kind === 'command' && r.check.fix.explain).toMatch(/log out and back in/);
  });

  it("is 'none' (a failure saying exactly what to run) when neither works", () => {
    const sudo = parseDockerInfo(fixture('docker/sudo-password-required.txt'), 1, true);
    const r = resolveDockerAccess(labSudoUser(), sudo, 'm2sudo');
    expect(r.access).toEqual({ kind: 'none' });
    expect(r.check).toMatchObject({
      status: 'fail',
      found: expect.stringMatching(/m2sudo is not in the docker group, and sudo needs a password/),
      fix: { kind: 'command', command: 'sudo usermod -aG docker m2sudo' },
    });
    expect(resolveDockerAccess(labSudoUser(), undefined, 'm2sudo').check.found).toMatch(/sudo is not available/);
  });

  it('quotes a user name that needs quoting in the fix', () => {
    expect(resolveDockerAccess(labSudoUser(), undefined, 'o$car').check.fix).toMatchObject({ command: "sudo usermod -aG docker 'o$car'" });
  });

  it('is not checked while Docker is missing or stopped', () => {
    const r = resolveDockerAccess(parseFacts(fixture('facts/lab-debian12-daemon-down.txt')), undefined, 'm2admin');
    expect(r).toMatchObject({ access: { kind: 'none' }, check: { status: 'warn', found: expect.stringMatching(/^Not checked: Docker Engine is not running\. m2admin is already in the docker group/) } });
    expect(r.check.fix).toBeUndefined();
  });
});

describe('free space at a data path', () => {
  const entry = (n: number, file: string, count: number) => parseDiskReport(fixture(file), count)[n];

  it('passes 50 GiB or more, warns under it, fails under 10 GiB', () => {
    expect(checkDisk('/srv/m2', entry(0, 'disk/busybox-df-PB1.txt', 1), 'admin')).toMatchObject({ id: 'disk:/srv/m2', status: 'pass', found: '77.7 GiB free of 252 GiB on /.' });
    expect(checkDisk('/mnt/My Media', entry(0, 'disk/spaces-and-low.txt', 5), 'admin')).toMatchObject({ status: 'pass', found: expect.stringMatching(/on \/mnt\/My Media\.$/) });
    expect(checkDisk('/srv', entry(1, 'disk/spaces-and-low.txt', 5), 'admin')).toMatchObject({ status: 'fail', found: expect.stringMatching(/^Only 7\.5 GiB free/) });
    expect(checkDisk('/srv', entry(2, 'disk/spaces-and-low.txt', 5), 'admin')).toMatchObject({ status: 'warn', found: expect.stringMatching(/^44\.1 GiB free/) });
    expect(checkDisk('/srv', entry(0, 'disk/busybox-df-Pk.txt', 1), 'admin').status).toBe('warn');
  });

  it('fails a path that does not exist, naming it, with the command that creates it', () => {
    const c = checkDisk("/srv/it's $(x)", entry(2, 'disk/lab-mixed.txt', 7), 'm2admin');
    expect(c).toMatchObject({
      id: "disk:/srv/it's $(x)",
      title: "Free space at /srv/it's $(x)",
      status: 'fail',
      found: `'/srv/it'\\''s $(x)' does not exist on the server.`,
      fix: { kind: 'command', command: `sudo mkdir -p -- '/srv/it'\\''s $(x)' && sudo chown -- m2admin: '/srv/it'\\''s $(x)'` },
    });
  });

  it('fails a file, and a folder the user cannot write (with chown only below the top level)', () => {
    expect(checkDisk('/etc/passwd', entry(4, 'disk/lab-mixed.txt', 7), 'm2sudo')).toMatchObject({ status: 'fail', found: '/etc/passwd is a file, not a folder. Choose a folder for the data.' });
    const root = checkDisk('/', entry(0, 'disk/lab-mixed.txt', 7), 'm2sudo');
    expect(root).toMatchObject({ status: 'fail', found: expect.stringMatching(/^m2sudo cannot write to \/ \(77\.8 GiB free/) });
    expect(root.fix).toBeUndefined();
    expect(checkDisk('/srv/media', entry(0, 'disk/lab-mixed.txt', 7), 'm2sudo').fix).toMatchObject({ command: 'sudo chown -- m2sudo: /srv/media' });
  });

  it('warns when the disk could not be read', () => {
    expect(checkDisk('/srv', entry(3, 'disk/spaces-and-low.txt', 5), 'a')).toMatchObject({ status: 'warn', found: expect.stringMatching(/free space could not be read/) });
    expect(checkDisk('/srv', undefined, 'a').status).toBe('warn');
  });

  it('puts the thresholds where the words say', () => {
    expect(DISK_FAIL_BYTES).toBe(10 * 1024 ** 3);
    expect(DISK_WARN_BYTES).toBe(50 * 1024 ** 3);
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(4 * 1024 ** 4)).toBe('4.0 TiB');
  });
});

describe('GPU', () => {
  it('finds NVIDIA with its driver and Docker runtime', () => {
    const f = facts();
    const runtimes = f.dockerInfo.kind === 'ok' ? f.dockerInfo.runtimes : undefined;
    expect(detectGpu(f, runtimes)).toMatchObject({
      gpu: { kind: 'nvidia', driver: '560.35.03', name: 'NVIDIA GeForce RTX 3060', runtime: true },
      check: { status: 'pass', found: expect.stringMatching(/NVENC/) },
    });
  });

  it('warns about NVIDIA without the container runtime (with the nvidia-ctk fix), with an old driver, or a broken one', () => {
    const f = facts();
    expect(detectGpu(f, ['runc'])).toMatchObject({
      gpu: { kind: 'nvidia', runtime: false },
      check: { status: 'warn', fix: { kind: 'command', command: 'sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker' } },
    });
    expect(detectGpu(facts({ tools: ['bash', 0] }), ['runc']).check.fix).toMatchObject({ kind: 'link', url: expect.stringMatching(/container-toolkit/) });
    expect(detectGpu(f, undefined).check).toMatchObject({ status: 'warn', found: expect.stringMatching(/could not be checked/) });
    expect(detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-old-driver.txt', 0] }), ['nvidia']).check).toMatchObject({ status: 'warn', found: expect.stringMatching(/520\.56\.06/) });
    expect(detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-two-gpus.txt', 0] }), ['nvidia']).check.found).toMatch(/RTX 4060 \(and 1 more\)/);
    expect(detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-no-driver.txt', 9] }), ['runc'])).toMatchObject({
      gpu: { kind: 'none' },
      check: { status: 'warn', found: expect.stringMatching(/couldn't communicate with the NVIDIA driver/) },
    });
    expect(detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-missing.txt', 127] }), ['runc'])).toMatchObject({
      gpu: { kind: 'none' },
      check: { status: 'warn', found: expect.stringMatching(/driver \(nvidia-smi\) is not installed/) },
    });
  });

  it('never promises NVENC on a GPU known to have no video encoder, and says so before install', () => {
    // As a real H200 answers nvidia-smi (driver 580.159.04): it decodes only, like the H100 whose chip it shares.
    const h200 = detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-h200.txt', 0] }), ['nvidia']);
    expect(h200.gpu).toMatchObject({ kind: 'nvidia', name: 'NVIDIA H200', driver: '580.159.04', runtime: true, encoder: 'none' });
    expect(h200.check.status).toBe('warn');
    expect(h200.check.found).toBe(
      'NVIDIA H200 with NVIDIA driver 580.159.04: the H200 (GH100, the H100’s chip) is expected to have no hardware video encoder (NVENC), like the H100: it decodes video but cannot encode it. Jellyfin will use software transcoding (on the CPU); the GPU stays free for other work.',
    );
    expect(h200.check.fix).toMatchObject({ kind: 'link', url: expect.stringMatching(/video-encode-and-decode-gpu-support-matrix/) });
    expect(h200.check.found).not.toMatch(/can transcode with NVENC/);
    // With a GPU that can encode beside it, that one is what Jellyfin uses: no warning.
    const mixed = detectGpu(facts({ 'nvidia-smi': ['@gpu/nvidia-smi-a100-and-rtx3060.txt', 0] }), ['nvidia']);
    expect(mixed).toMatchObject({ gpu: { encoder: 'unknown' }, check: { status: 'pass' } });
    // The everyday GPU is unchanged.
    expect(detectGpu(facts(), ['nvidia']).gpu).toMatchObject({ encoder: 'unknown' });
  });

  it('knows the data-centre GPUs without an encoder by the names nvidia-smi gives them, and nothing else', () => {
    for (const name of ['NVIDIA A100-SXM4-80GB', 'NVIDIA A100 80GB PCIe', 'NVIDIA A30', 'NVIDIA H100 80GB HBM3', 'NVIDIA H100 PCIe', 'NVIDIA H200']) expect(nvidiaWithoutEncoder(name), name).toBeDefined();
    for (const name of ['NVIDIA GeForce RTX 3060', 'NVIDIA GeForce RTX 4060', 'Tesla T4', 'NVIDIA L4', 'NVIDIA A10', 'Quadro P2000', 'NVIDIA RTX A2000']) expect(nvidiaWithoutEncoder(name), name).toBeUndefined();
    expect(nvidiaWithoutEncoder('NVIDIA H100 PCIe')?.confirmed).toBe(true);
    expect(nvidiaWithoutEncoder('NVIDIA H200')?.confirmed).toBe(false);
  });

  it('finds Intel and AMD by render node, vendor id and the gid of the group that owns the node', () => {
    const intel = { 'nvidia-smi': ['@gpu/nvidia-smi-missing.txt', 127], 'render-vendors': ['@gpu/render-vendors-intel.txt', 0] } as const;
    expect(detectGpu(facts(intel), ['runc'])).toMatchObject({
      gpu: { kind: 'intel', renderNode: '/dev/dri/renderD128', vendorId: '0x8086', renderGid: 993 },
      check: { status: 'pass', found: expect.stringMatching(/group render, gid 993.*Quick Sync/) },
    });
    expect(detectGpu(facts({ ...intel, dri: ['@gpu/dri-numeric-group.txt', 0] }), ['runc']).gpu).toMatchObject({ renderGid: 993 });
    expect(detectGpu(facts({ ...intel, groups: ['@gpu/getent-video-only.txt', 0] }), ['runc'])).toMatchObject({
      gpu: { kind: 'intel', renderGid: null },
      check: { status: 'warn' },
    });
    expect(detectGpu(facts({ ...intel, 'render-vendors': ['@gpu/render-vendors-amd.txt', 0] }), ['runc']).gpu).toEqual({
      kind: 'amd',
      renderNode: '/dev/dri/renderD128',
      vendorId: '0x1002',
      renderGid: 993,
    });
    expect(
      detectGpu(facts({ ...intel, dri: ['@gpu/dri-intel-and-amd.txt', 0], 'render-vendors': ['@gpu/render-vendors-amd-and-intel.txt', 0] }), ['runc']).gpu,
    ).toMatchObject({ kind: 'intel', renderNode: '/dev/dri/renderD129' });
  });

  it('reports no GPU as a pass with software transcoding (the lab, and a Raspberry Pi 5)', () => {
    expect(detectGpu(labAdmin(), ['runc'])).toMatchObject({ gpu: { kind: 'none' }, check: { status: 'pass', found: expect.stringMatching(/software transcoding/) } });
    const pi = facts({ 'nvidia-smi': ['@gpu/nvidia-smi-missing.txt', 127], dri: ['@gpu/dri-raspberry-pi-5.txt', 0], 'render-vendors': ['@gpu/render-vendors-raspberry-pi-5.txt', 0] });
    expect(detectGpu(pi, ['runc'])).toMatchObject({ gpu: { kind: 'none' }, check: { status: 'pass', found: expect.stringMatching(/renderD128 \(no PCI vendor\).*software transcoding/) } });
  });
});

describe('clock', () => {
  const at = (s: number): Date => new Date(s * 1000);
  const epoch = 1795630363;

  it('passes when NTP is synchronised, warns with the fix when it is not', () => {
    expect(checkClock(facts(), { before: at(epoch), after: at(epoch + 1) })).toMatchObject({ status: 'pass', found: "The server's clock is synchronised (NTP)." });
    expect(checkClock(facts({ ntp: ['@clock/ntp-no.txt', 0] }), { before: at(epoch), after: at(epoch) })).toMatchObject({
      status: 'warn',
      fix: { kind: 'command', command: 'sudo timedatectl set-ntp true' },
    });
  });

  it('without timedatectl, compares with this computer and warns over 5 s (lab: no systemd)', () => {
    const f = labAdmin();
    expect(f.ntp).toBe('absent');
    const e = f.epoch as number;
    expect(checkClock(f, { before: at(e), after: at(e + 0.3) }).status).toBe('pass');
    expect(checkClock(f, { before: at(e + 6), after: at(e + 6.5) }).status).toBe('pass');
    expect(checkClock(f, { before: at(e + 7), after: at(e + 7.2) })).toMatchObject({ status: 'warn', found: expect.stringMatching(/about 6 s/), fix: { command: 'sudo apt-get install -y chrony' } });
    expect(checkClock(f, { before: at(e - 30), after: at(e - 29) }).status).toBe('warn');
    expect(checkClock(facts({ ntp: ['@clock/ntp-missing.txt', 127], date: ['', 127] }), { before: at(e), after: at(e) }).status).toBe('warn');
  });

  it('bounds the skew from below by the window the command ran in', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1e9, max: 3e9 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), (server, frac, width) => {
        // A server clock that agrees with ours prints a second inside [before, after]: never a skew.
        const before = new Date((server + frac - width / 2) * 1000);
        const after = new Date((server + frac + width / 2) * 1000);
        expect(minClockSkewSeconds(server, before, after)).toBe(0);
      }),
    );
    expect(minClockSkewSeconds(100, at(110), at(111))).toBe(9);
    expect(minClockSkewSeconds(120, at(110), at(111))).toBe(9);
  });
});

describe('outbound TCP 7844', () => {
  it('passes when connected; fails on DNS and no route; warns when blocked or unknown', () => {
    expect(checkEgress(parseEgress(fixture('egress/bash-open.txt')))).toMatchObject({ id: 'cloudflare-egress', status: 'pass' });
    expect(checkEgress(parseEgress(fixture('egress/bash-dns-failure.txt')))).toMatchObject({
      status: 'fail',
      found: expect.stringMatching(/could not look up region1\.v2\.argotunnel\.com/),
      fix: { kind: 'link', url: expect.stringMatching(/^https:\/\/developers\.cloudflare\.com\//) },
    });
    expect(checkEgress(parseEgress(fixture('egress/bash-unreachable.txt'))).status).toBe('fail');
    expect(checkEgress(parseEgress(fixture('egress/bash-timeout.txt')))).toMatchObject({ status: 'warn', found: expect.stringMatching(/No answer within 5 s.*UDP 7844/) });
    expect(checkEgress(parseEgress(fixture('egress/bash-refused.txt')))).toMatchObject({ status: 'warn', found: expect.stringMatching(/refused/) });
    expect(checkEgress(parseEgress(fixture('egress/none.txt'))).status).toBe('warn');
    expect(checkEgress(parseEgress('garbage'))).toMatchObject({ status: 'warn', found: expect.stringMatching(/garbage/) });
  });
});

describe('every check', () => {
  it('fits the contract schema, whatever the facts', { timeout: 60_000 }, () => {
    const parts = [labAdmin(), labSudoUser(), parseFacts(fixture('facts/lab-debian12-daemon-down.txt')), facts(), parseFacts('')];
    for (const f of parts) {
      const w = { before: new Date(0), after: new Date(1000) };
      const info = f.dockerInfo;
      [checkOs(f), checkDockerEngine(f, info), checkCompose(f), resolveDockerAccess(f, undefined, 'u').check, detectGpu(f, undefined).check, checkClock(f, w)].forEach(valid);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (raw, user) => {
        const f = parseFacts(raw);
        valid(checkOs(f));
        valid(checkCompose(f));
        valid(resolveDockerAccess(f, parseDockerInfo(raw, 1, true), user || 'u').check);
        valid(checkEgress(parseEgress(raw)));
        valid(checkDisk('/x', parseDiskReport(raw, 1)[0], user || 'u'));
      }),
      { numRuns: 300 },
    );
  });
});
