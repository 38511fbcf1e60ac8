import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { aptEnsure } from './apt';
import { ensureDocker, stopDockerEngine, type DockerEngine } from './docker';
import { ensureFallbackNet, stopFallbackNet, type FallbackNet } from './fallback-net';
import { ensureStandInImages } from './images';
import { ensureKeychain, installKeychain, stopKeychain } from './keychain';
import { ensureWireGuardLab, installWireGuard, stopWireGuardLab, type WireGuardLab } from './netns';
import { ensureNetworkManager, installNetworkManager, stopNetworkManager, type NetworkManagerLab } from './networkmanager';
import { labDir, labPath } from './paths';
import { ensureRegistry, installRegistry, stopRegistry, type LabRegistry } from './registry';
import { ensureResticRepo, installRestic, type ResticRepo } from './restic';
import { ensureRouter, installRouter, stopRouter, type LabRouter } from './router';
import { ensureSshd, installSshd, stopSshd, type LabSshd } from './sshd';

/** Everything a test, a benchmark or a person needs to reach the lab's "home server". */
export interface LabInfo {
  readonly ssh: LabSshd;
  readonly docker: DockerEngine & { readonly compose: string };
  readonly keychain: { readonly env: Record<string, string> };
  readonly wireguard: WireGuardLab;
  /** The WireGuard fallback's lab network: the server's LAN address and the away/phone namespaces. */
  readonly fallbackNet: FallbackNet;
  readonly restic: ResticRepo;
  /** The home router (UPnP/NAT-PMP) between the server and a namespace playing the internet. */
  readonly router: LabRouter;
  /** Debian's NetworkManager in its own namespace and on its own system bus (the laptop's nmcli path). */
  readonly networkManager: NetworkManagerLab;
  /** Debian's docker-registry on a loopback port, holding stand-in images at two versions (StackSettings.imageRegistry). */
  readonly registry: LabRegistry;
  readonly timings: Readonly<Record<string, number>>;
}

const infoFile = (): string => labPath('lab.json');

/** Why the lab cannot run here, in words naming what is missing; undefined when it can. */
export function labPrecondition(): string | undefined {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push(`Linux (this is ${process.platform})`);
  if (process.getuid?.() !== 0) missing.push('root (run as root, e.g. in CI or with sudo)');
  if (!existsSync('/etc/debian_version')) missing.push('Debian (no /etc/debian_version; the lab installs Debian packages)');
  return missing.length ? `The home-server lab cannot start here: it needs ${missing.join(', ')}.` : undefined;
}

/** Install every Debian package and the Compose v2 plugin the lab uses (idempotent; root on Debian). */
export async function installLab(): Promise<void> {
  const why = labPrecondition();
  if (why) throw new Error(why);
  await installSshd();
  await installKeychain();
  await installWireGuard();
  await installRestic();
  await installRouter();
  await installNetworkManager();
  await installRegistry();
  await aptEnsure([{ bin: 'busybox', pkg: 'busybox-static' }], 'stand-in images');
  await aptEnsure([{ bin: 'zbarimg', pkg: 'zbar-tools' }], 'QR code checks');
  await ensureDocker();
}

const timed = async <T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
};

/** Bring the whole lab up (idempotent: parts already running are reused) and record its details. */
export async function labUp(): Promise<LabInfo> {
  const why = labPrecondition();
  if (why) throw new Error(why);
  mkdirSync(labDir, { recursive: true, mode: 0o700 });
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  // Docker and its images are the long pole; the other parts start meanwhile.
  const dockerPart = timed(timings, 'docker', async () => {
    const { engine, compose } = await ensureDocker();
    await timed(timings, 'images', () => ensureStandInImages());
    return { ...engine, compose };
  });
  // After the images: it pushes stand-ins (and builds their second versions).
  const registryPart = dockerPart.then(() => timed(timings, 'registry', () => ensureRegistry()));
  const [docker, registry, ssh, keychain, wireguard, restic, router, fallbackNet, networkManager] = await Promise.all([
    dockerPart,
    registryPart,
    timed(timings, 'sshd', () => ensureSshd()),
    timed(timings, 'keychain', () => ensureKeychain()),
    timed(timings, 'wireguard', () => ensureWireGuardLab()),
    timed(timings, 'restic', () => ensureResticRepo()),
    timed(timings, 'router', () => ensureRouter()),
    timed(timings, 'fallbackNet', () => ensureFallbackNet()),
    timed(timings, 'networkManager', () => ensureNetworkManager()),
  ]);
  timings.total = Math.round(performance.now() - t0);
  const info: LabInfo = { ssh, docker, keychain, wireguard, restic, router, fallbackNet, networkManager, registry, timings };
  writeFileSync(infoFile(), JSON.stringify(info, null, 2), { mode: 0o600 });
  return info;
}

export const readLabInfo = (): LabInfo | undefined => {
  try {
    return JSON.parse(readFileSync(infoFile(), 'utf8')) as LabInfo;
  } catch {
    return undefined;
  }
};

/** Stop everything the lab started, each by the pid it recorded (never by name). Keys and images stay. */
export async function labDown(): Promise<void> {
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled([stopSshd(), stopKeychain(), stopWireGuardLab(), stopRouter(), stopFallbackNet(), stopNetworkManager(), stopRegistry()]);
  // dockerd last: it stops the lab's containers on its way down.
  results.push(...(await Promise.allSettled([stopDockerEngine()])));
  rmSync(infoFile(), { force: true });
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) throw new AggregateError(failed.map((f) => f.reason as unknown), 'lab down: some parts did not stop cleanly');
}
