import { installLab, labDown, labUp } from './lab';

// `npm run lab:up` / `npm run lab:down`, and `install` for .ci/run.
const command = process.argv[2];

async function main(): Promise<void> {
  switch (command) {
    case 'install':
      await installLab();
      console.log('lab: everything installed');
      return;
    case 'up': {
      const lab = await labUp();
      console.log(
        [
          'M2 Companion lab is up.',
          `  SSH        ssh -i ${lab.ssh.admin.keyPath} -p ${lab.ssh.port} ${lab.ssh.admin.name}@${lab.ssh.host}   (admin, docker group)`,
          `             ssh -i ${lab.ssh.sudoUser.keyPath} -p ${lab.ssh.port} ${lab.ssh.sudoUser.name}@${lab.ssh.host}   (sudo user, not in docker group)`,
          `  host key   ${lab.ssh.hostKeyFingerprint}`,
          `  Docker     ${lab.docker.version ?? ''} with Compose ${lab.docker.compose}${lab.docker.startedByLab ? ' (dockerd started by the lab)' : ''}`,
          `  keychain   DBUS_SESSION_BUS_ADDRESS=${lab.keychain.env.DBUS_SESSION_BUS_ADDRESS ?? ''}`,
          `  WireGuard  laptop ${lab.wireguard.laptopWgIp} (netns ${lab.wireguard.laptopNs}) ↔ server ${lab.wireguard.serverWgIp} (netns ${lab.wireguard.serverNs})`,
          `  restic     RESTIC_REPOSITORY=${lab.restic.repo} RESTIC_PASSWORD_FILE=${lab.restic.passwordFile}`,
          `  registry   ${lab.registry.host} (docker-registry ${lab.registry.version}; ${Object.entries(lab.registry.images).map(([k, t]) => `${k} ${t.join(', ')}`).join('; ')})`,
          `  started in ${(lab.timings.total ?? 0) / 1000} s; details in .lab/lab.json; stop with npm run lab:down`,
        ].join('\n'),
      );
      return;
    }
    case 'down':
      await labDown();
      console.log('lab: stopped');
      return;
    default:
      console.error('usage: tsx scripts/lab/cli.ts install|up|down');
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
