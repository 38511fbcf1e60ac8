import { rmSync } from 'node:fs';
import { defineBenchmark, time } from './harness';
import { labDown, labUp } from '../../scripts/lab/lab';
import { removeStandInImages } from '../../scripts/lab/images';
import { labPath } from '../../scripts/lab/paths';

/**
 * The lab's start times. Cold: no lab state, no stand-in images (Debian packages stay installed: they
 * cannot be fetched twice in a fair way). Warm: daemons stopped, state and images kept. Hot: already up.
 */
export default defineBenchmark({
  name: 'lab start',
  async run() {
    await labDown();
    await removeStandInImages();
    for (const part of ['ssh', 'keychain', 'restic']) rmSync(labPath(part), { recursive: true, force: true });
    const cold = await time(() => labUp());
    await labDown();
    const warm = await time(() => labUp());
    const hot = await time(() => labUp());
    return [
      { name: 'cold start', value: cold.ms / 1000, unit: 's', bar: '< 180 s', meetsBar: cold.ms < 180_000, note: `parts (ms): ${JSON.stringify(cold.value.timings)}` },
      { name: 'warm start', value: warm.ms / 1000, unit: 's', bar: '< 20 s', meetsBar: warm.ms < 20_000, note: `parts (ms): ${JSON.stringify(warm.value.timings)}` },
      { name: 'already up (idempotent check)', value: hot.ms / 1000, unit: 's' },
    ];
  },
});
