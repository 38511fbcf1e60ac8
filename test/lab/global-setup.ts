import type { TestProject } from 'vitest/node';
import { labDown, labUp, readLabInfo, type LabInfo } from '../../scripts/lab/lab';

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabInfo;
  }
}

/**
 * Brings the home-server lab up once for all lab and e2e tests. Where it cannot start (not root, not
 * Debian) this throws with what is missing, so the run fails: lab tests are never skipped.
 * A lab that was already up (npm run lab:up) is reused and left running; one started here is stopped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const wasUp = readLabInfo() !== undefined;
  const lab = await labUp();
  project.provide('lab', lab);
  process.env.DBUS_SESSION_BUS_ADDRESS = lab.keychain.env.DBUS_SESSION_BUS_ADDRESS;
  return async () => {
    if (!wasUp && process.env.M2_LAB_KEEP !== '1') await labDown();
  };
}
