import { defineConfig } from 'vitest/config';

// Three layers (STYLE.md §10): pure units, services against the real lab, the renderer in Chromium.
// Lab and e2e tests form one project and run one file at a time: they share one lab (sshd, Docker Engine, namespaces).
// Budgets leave headroom for a loaded two-core CI machine: a unit test that needs more than its budget is a bug (or
// belongs in a bench), not a slow machine — vitest's 5 s default once failed a property test on a busy clean-clone run.
export default defineConfig({
  test: {
    // The default report, then the whole run's time and the slowest files (also kept in artifacts/test-timing.json).
    reporters: ['default', './test/support/suite-timing-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['electron/**/*.test.ts', 'renderer/**/*.test.{ts,tsx}', 'scripts/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/lab/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
